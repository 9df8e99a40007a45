"""Helpers run in child processes (multiprocessing, spawn): importable by module name.

The tests put this folder on ``sys.path`` before starting the processes.
"""

from __future__ import annotations

import secrets
import sqlite3
import time
import traceback
from datetime import UTC, datetime, timedelta
from typing import Any

from ropilot.connectors.ratelimit import StoreRateLimiter
from ropilot.connectors.tokens import TokenManager, TokenPair
from ropilot.core.errors import AuthenticationError
from ropilot.core.store import Store

ACCOUNT = "acc1"
SECRET = "test-secret-key-for-the-token-store"


class StrictRotationServer:
    """A fake OAuth server in a SQLite file shared by processes: refresh tokens work once.

    After a refresh the previous access token is invalid too (Bitrix24's documented
    behaviour, the strictest case).
    """

    def __init__(self, path: str, *, delay: float = 0.2) -> None:
        self.path = path
        self.delay = delay

    def _db(self) -> sqlite3.Connection:
        return sqlite3.connect(self.path, timeout=30, isolation_level=None)

    def setup(self, *, expires_at: datetime) -> TokenPair:
        db = self._db()
        try:
            db.execute(
                "CREATE TABLE refresh_tokens (token TEXT PRIMARY KEY, used INTEGER NOT NULL)"
            )
            db.execute("CREATE TABLE state (k TEXT PRIMARY KEY, v TEXT)")
            db.execute("CREATE TABLE refreshes (n INTEGER PRIMARY KEY AUTOINCREMENT, used TEXT)")
            pair = self._issue(db, expires_at)
        finally:
            db.close()
        return pair

    def _issue(self, db: sqlite3.Connection, expires_at: datetime) -> TokenPair:
        access = "at-" + secrets.token_hex(8)
        refresh = "rt-" + secrets.token_hex(8)
        db.execute("INSERT INTO refresh_tokens VALUES (?, 0)", (refresh,))
        db.execute("INSERT OR REPLACE INTO state VALUES ('access', ?)", (access,))
        return TokenPair(access, refresh, expires_at)

    def refresh(self, refresh_token: str) -> TokenPair:
        db = self._db()
        try:
            db.execute("BEGIN IMMEDIATE")
            row = db.execute(
                "SELECT used FROM refresh_tokens WHERE token = ?", (refresh_token,)
            ).fetchone()
            if row is None or row[0]:
                db.execute("INSERT INTO refreshes (used) VALUES ('REUSED ' || ?)", (refresh_token,))
                db.execute("COMMIT")
                raise AuthenticationError("Token has been revoked")
            db.execute("UPDATE refresh_tokens SET used = 1 WHERE token = ?", (refresh_token,))
            db.execute("INSERT INTO refreshes (used) VALUES (?)", (refresh_token,))
            pair = self._issue(db, datetime.now(UTC) + timedelta(hours=1))
            db.execute("COMMIT")
        finally:
            db.close()
        time.sleep(self.delay)  # widen the window in which a careless client would race
        return pair

    def is_valid(self, access_token: str) -> bool:
        db = self._db()
        try:
            row = db.execute("SELECT v FROM state WHERE k = 'access'").fetchone()
        finally:
            db.close()
        return row is not None and row[0] == access_token

    def refreshes(self) -> list[str]:
        db = self._db()
        try:
            return [r[0] for r in db.execute("SELECT used FROM refreshes ORDER BY n")]
        finally:
            db.close()


def rate_worker(url: str, key: str, rate: float, n: int, barrier: Any, queue: Any) -> None:
    """Acquire ``n`` slots; report (slot, time after acquire) pairs."""
    try:
        store = Store.open(url, upgrade=False)
        limiter = StoreRateLimiter(store, key, rate)
        barrier.wait(timeout=60)
        out = []
        for _ in range(n):
            slot = limiter.acquire()
            out.append((slot, time.time()))
        store.close()
        queue.put(("ok", out))
    except BaseException:  # noqa: BLE001 - report everything to the parent
        queue.put(("error", traceback.format_exc()))


def token_worker(url: str, auth_path: str, barrier: Any, queue: Any) -> None:
    """Two rounds: an expired token at start, then a 401 on the new one, all at once."""
    try:
        store = Store.open(url, upgrade=False)
        server = StrictRotationServer(auth_path)
        manager = TokenManager(store, ACCOUNT, SECRET, server.refresh)
        barrier.wait(timeout=60)
        first = manager.access_token()
        first_valid = server.is_valid(first)
        barrier.wait(timeout=60)
        second = manager.refresh(first).access_token  # every worker got a 401 with `first`
        second_valid = server.is_valid(second)
        barrier.wait(timeout=60)
        store.close()
        queue.put(("ok", (first, first_valid, second, second_valid)))
    except BaseException:  # noqa: BLE001 - report everything to the parent
        queue.put(("error", traceback.format_exc()))
