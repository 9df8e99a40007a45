"""The connections a routing engine keeps between decisions.

Checking a connection out of the pool and back in (with its reset) cost about a quarter of a
SQLite decision; a worker routing lead after lead keeps one instead. A connection found in
another process (the engine was forked) is never used or closed there: it belongs to the
parent, and closing an inherited SQLite handle can drop the parent's file locks.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager

from sqlalchemy import Connection, Engine

_INHERITED: list[Connection] = []  # held, never closed: see the module docstring


class KeptConnections:
    """At most one plain and one autocommit connection, per process."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self._pid = os.getpid()
        self._conns: dict[bool, Connection] = {}

    def get(self, *, autocommit: bool = False) -> Connection:
        """The kept connection (opened on first use, again after it was invalidated)."""
        if self._pid != os.getpid():
            _INHERITED.extend(self._conns.values())
            self._conns, self._pid = {}, os.getpid()
        conn = self._conns.get(autocommit)
        if conn is None or conn.closed or conn.invalidated:
            conn = self.engine.connect()
            if autocommit:
                conn = conn.execution_options(isolation_level="AUTOCOMMIT")
            self._conns[autocommit] = conn
        return conn

    @contextmanager
    def write(self) -> Iterator[Connection]:
        """A write transaction on the kept connection: committed at the end of the block,
        rolled back if it raises. On SQLite it takes the write lock at once (``BEGIN
        IMMEDIATE``), so two workers never both read and then both write.
        """
        conn = self.get()
        if conn.in_transaction():  # left open by an earlier failure
            conn.rollback()
        if conn.dialect.name == "sqlite":
            conn.exec_driver_sql("BEGIN IMMEDIATE")
        try:
            yield conn
        except BaseException:
            if not conn.closed and not conn.invalidated:
                conn.rollback()
            raise
        conn.commit()

    def close(self) -> None:
        """Return the connections to the pool (this process's only)."""
        if self._pid == os.getpid():
            for conn in self._conns.values():
                conn.close()
        self._conns = {}
