"""The SQLite store's background WAL checkpointer (``ropilot.core.store.checkpoint``)."""

from __future__ import annotations

import multiprocessing
import sqlite3
import time
from collections.abc import Callable
from pathlib import Path

import pytest
from sqlalchemy import text

from ropilot.core.store import Store
from ropilot.core.store.checkpoint import SAFETY_AUTOCHECKPOINT_PAGES, WalCheckpointer

PAGE = 4096


def _wait(predicate: Callable[[], bool], seconds: float = 10.0) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.01)
    return predicate()


def _write(store: Store, commits: int, kb_each: int = 40) -> None:
    """``commits`` transactions of ``kb_each`` kB each into a scratch table."""
    with store.begin() as c:
        c.execute(text("CREATE TABLE IF NOT EXISTS scratch (id INTEGER PRIMARY KEY, body BLOB)"))
    for _ in range(commits):
        with store.begin() as c:
            c.execute(text("INSERT INTO scratch (body) VALUES (:b)"), {"b": b"x" * kb_each * 1024})


def _wal_pages(path: Path) -> int:
    return (path.with_name(path.name + "-wal").stat().st_size - 32) // (PAGE + 24)


def test_a_file_store_checkpoints_on_its_own_thread_and_commits_do_not(tmp_path: Path) -> None:
    path = tmp_path / "s.db"
    store = Store.open(f"sqlite:///{path}")
    try:
        cp = store.checkpointer
        assert cp is not None
        with store.engine.connect() as c:
            auto = c.execute(text("PRAGMA wal_autocheckpoint")).scalar()
        assert auto == SAFETY_AUTOCHECKPOINT_PAGES
        _write(store, 60)  # ~600 pages
        assert _wait(lambda: cp.last is not None and cp.last[1] == cp.last[2] > 0)
    finally:
        store.close()
    assert not cp.running


def test_without_the_thread_commits_let_the_wal_grow_to_the_safety_size(tmp_path: Path) -> None:
    """SQLite's default would checkpoint inside the commit crossing 1,000 pages and restart
    the log; the store raises that to the safety size, so 1,500 pages stay in the WAL."""
    path = tmp_path / "s.db"
    store = Store.open(f"sqlite:///{path}")
    try:
        assert store.checkpointer is not None
        store.checkpointer.stop()  # no thread from here on
        _write(store, 150)  # 150 × 40 kB ≈ 1,500 pages
        assert _wal_pages(path) >= 1_400
    finally:
        store.close()


def test_sqlite_own_checkpointing_when_asked(tmp_path: Path) -> None:
    path = tmp_path / "s.db"
    store = Store.open(f"sqlite:///{path}", background_checkpoint=False)
    try:
        assert store.checkpointer is None
        _write(store, 150)
        assert _wal_pages(path) < 1_400  # the commit past 1,000 pages checkpointed inline
    finally:
        store.close()


def test_the_thread_ends_when_idle_and_the_next_commit_starts_another(tmp_path: Path) -> None:
    path = tmp_path / "s.db"
    store = Store.open(f"sqlite:///{path}", background_checkpoint=False)
    cp = WalCheckpointer(str(path), interval=0.01, idle=0.05)
    cp.install(store.engine)
    store.engine.dispose()
    try:
        _write(store, 1)
        assert cp.running
        assert _wait(lambda: not cp.running)
        done = cp.checkpoints
        assert done >= 1
        _write(store, 1)
        assert cp.running
        assert _wait(lambda: cp.checkpoints > done)
    finally:
        cp.stop()
        store.close()


def _forked_child(store: Store, out: multiprocessing.Queue) -> None:  # type: ignore[type-arg]
    cp = store.checkpointer
    assert cp is not None
    store.engine.dispose(close=False)  # the parent's connections are the parent's
    before = cp.checkpoints
    with store.begin() as c:
        c.execute(text("INSERT INTO scratch (body) VALUES (x'00')"))
    out.put(cp.running and _wait(lambda: cp.checkpoints > before, 10))


def test_a_forked_worker_gets_its_own_thread(tmp_path: Path) -> None:
    if "fork" not in multiprocessing.get_all_start_methods():
        pytest.skip("fork is not available here")
    path = tmp_path / "s.db"
    store = Store.open(f"sqlite:///{path}")
    try:
        _write(store, 1)
        ctx = multiprocessing.get_context("fork")
        out = ctx.Queue()
        proc = ctx.Process(target=_forked_child, args=(store, out))
        proc.start()
        assert out.get(timeout=30) is True
        proc.join(30)
        assert proc.exitcode == 0
    finally:
        store.close()


def test_no_checkpointer_for_memory_or_postgresql_urls() -> None:
    store = Store.open("sqlite://")
    try:
        assert store.checkpointer is None
    finally:
        store.close()


def test_a_thread_that_fails_is_replaced_on_the_next_commit(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "s.db"
    store = Store.open(f"sqlite:///{path}", background_checkpoint=False)
    cp = WalCheckpointer(str(path), interval=0.01, idle=5)
    cp.install(store.engine)
    store.engine.dispose()
    real = WalCheckpointer.checkpoint_once
    failures = [sqlite3.DatabaseError("disk I/O error")]

    def flaky(self: WalCheckpointer, conn: sqlite3.Connection) -> tuple[int, int, int]:
        if failures:
            raise failures.pop()
        return real(self, conn)

    monkeypatch.setattr(WalCheckpointer, "checkpoint_once", flaky)
    try:
        _write(store, 1)
        assert _wait(lambda: not failures and not cp.running)  # the thread died, and says so
        _write(store, 1)
        assert cp.running
        assert _wait(lambda: cp.checkpoints >= 1)
    finally:
        cp.stop()
        store.close()


def test_a_deleted_database_is_not_created_again(tmp_path: Path) -> None:
    path = tmp_path / "s.db"
    store = Store.open(f"sqlite:///{path}")
    try:
        _write(store, 1)
        for suffix in ("", "-wal", "-shm"):
            Path(f"{path}{suffix}").unlink(missing_ok=True)
        _write(store, 1)  # the pool's open connection still commits into the unlinked file
        cp = store.checkpointer
        assert cp is not None
        assert _wait(lambda: not cp.running, 5)
        assert not path.exists()
    finally:
        store.close()
