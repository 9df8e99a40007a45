"""Copy SQLite's write-ahead log back into the database off the committing thread.

By default SQLite checkpoints inside whichever commit makes the WAL cross 1,000 pages: that
commit pays a copy and an fsync (4–6 ms on the benchmark machine) while every other commit in
WAL mode with ``synchronous=NORMAL`` pays none, so one short transaction in ~60 is slow
(routing's p99). The checkpointer moves that work to a daemon thread with its own connection:
after commits it runs ``PRAGMA wal_checkpoint(PASSIVE)``, which never waits for readers or
writers. The connections keep an automatic checkpoint at a much larger size as a safety net
(a process whose thread cannot run, a forked child), so the WAL stays bounded either way.
"""

from __future__ import annotations

import os
import sqlite3
import threading
import weakref
from typing import Any
from urllib.parse import quote

from sqlalchemy import Engine, event

# Pages (4 kB each): ~40 MB of WAL before a committing thread checkpoints by itself.
SAFETY_AUTOCHECKPOINT_PAGES = 10_000
# How often the thread looks for new commits; a checkpoint per commit would fsync 1,000×/s.
INTERVAL_SECONDS = 0.05
# An idle thread ends (the next commit starts another), so stores left open cost nothing.
IDLE_SECONDS = 2.0


_LIVE: weakref.WeakSet[WalCheckpointer] = weakref.WeakSet()


def _after_fork_in_child() -> None:
    # A lock the parent's thread held at fork time (ours, or the events' internal ones, taken
    # on every wait) would stay held in the child forever.
    for checkpointer in list(_LIVE):
        checkpointer._lock = threading.Lock()
        stopping = checkpointer._stopping.is_set()
        checkpointer._wake = threading.Event()
        checkpointer._stopping = threading.Event()
        if stopping:
            checkpointer._stopping.set()


os.register_at_fork(after_in_child=_after_fork_in_child)


class WalCheckpointer:
    """A background thread that checkpoints the WAL of one SQLite database file.

    Attach it with :meth:`install` before the engine opens connections. The thread starts on
    a commit when none runs in this process (first commit, after idling, in a forked child),
    ends after ``idle`` seconds without commits, and for good with :meth:`stop`.
    """

    def __init__(
        self, path: str, interval: float = INTERVAL_SECONDS, idle: float = IDLE_SECONDS
    ) -> None:
        self.path = path
        self.interval = interval
        self.idle = idle
        self.checkpoints = 0
        self.last: tuple[int, int, int] | None = None  # (busy, WAL pages, pages copied back)
        self._commits = 0
        self._seen = 0
        self._lock = threading.Lock()
        self._wake = threading.Event()
        self._stopping = threading.Event()
        self._thread: threading.Thread | None = None
        self._pid = 0
        _LIVE.add(self)

    def install(self, engine: Engine) -> None:
        """Raise the engine's automatic checkpoint and listen for its commits."""
        event.listen(engine, "connect", self._on_connect)
        event.listen(engine, "commit", self._on_commit)

    def _on_connect(self, dbapi_connection: Any, _record: Any) -> None:
        cursor = dbapi_connection.cursor()
        cursor.execute(f"PRAGMA wal_autocheckpoint={SAFETY_AUTOCHECKPOINT_PAGES}")
        cursor.close()

    def _on_commit(self, _conn: Any) -> None:
        with self._lock:
            self._commits += 1
            if self._stopping.is_set():
                return
            if self._thread is not None and self._pid == os.getpid():
                return
            # Not running here: never started, ended idle, or this is a forked child.
            thread = threading.Thread(
                target=self._run, name=f"ropilot-wal-checkpoint:{self.path}", daemon=True
            )
            try:
                thread.start()
            except RuntimeError:  # no thread now (a thread limit, interpreter shutdown):
                return  # this commit must not fail for it; the safety checkpoint still works
            self._pid, self._thread = os.getpid(), thread

    def _run(self) -> None:
        conn: sqlite3.Connection | None = None
        idle_rounds = 0
        try:
            # mode=rw: never create the file again if the database was deleted meanwhile.
            conn = sqlite3.connect(
                f"file:{quote(self.path)}?mode=rw",
                uri=True,
                isolation_level=None,
                check_same_thread=False,
            )
            conn.execute("PRAGMA busy_timeout=0")
            while True:
                self._wake.wait(self.interval)
                stopping = self._stopping.is_set()
                with self._lock:
                    commits = self._commits
                    if commits == self._seen and not stopping:
                        idle_rounds += 1
                        if idle_rounds * self.interval >= self.idle:
                            self._thread = None  # decided under the lock a commit takes
                            return
                        continue
                idle_rounds = 0
                if commits != self._seen:
                    self._seen = commits
                    self.checkpoint_once(conn)
                if stopping:
                    return
        except sqlite3.Error:
            return  # the file is gone or unreadable: the next commit tries with a new thread
        finally:
            with self._lock:
                if self._thread is threading.current_thread():
                    self._thread = None  # the next commit starts a new one
            if conn is not None:
                conn.close()

    def checkpoint_once(self, conn: sqlite3.Connection) -> tuple[int, int, int]:
        """One PASSIVE checkpoint: (busy, pages in the WAL, pages copied back)."""
        try:
            row = conn.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchone()
        except sqlite3.OperationalError:  # e.g. locked during recovery: try next time
            return (1, -1, -1)
        self.last = (int(row[0]), int(row[1]), int(row[2]))
        self.checkpoints += 1
        return self.last

    @property
    def running(self) -> bool:
        """Whether this process has a checkpoint thread now."""
        with self._lock:
            return self._thread is not None and self._pid == os.getpid()

    def stop(self) -> None:
        """Run a last checkpoint for commits not yet copied and end the thread."""
        self._stopping.set()
        self._wake.set()
        with self._lock:
            thread = self._thread if self._pid == os.getpid() else None
        if thread is not None:
            thread.join()
        with self._lock:
            self._thread = None
