"""The connections a routing engine keeps between decisions.

Checking a connection out of the pool and back in (with its reset) cost about a quarter of a
SQLite decision; a worker routing lead after lead keeps one instead. A connection found in
another process (the engine was forked) is never used or closed there: it belongs to the
parent, and closing an inherited SQLite handle can drop the parent's file locks.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager, suppress

from sqlalchemy import Connection, Engine

_INHERITED: list[Connection] = []  # held, never closed: see the module docstring


@contextmanager
def write_transaction(conn: Connection) -> Iterator[Connection]:
    """A routing write transaction on ``conn``: committed at the end of the block, rolled back
    if the block or the commit raises. On SQLite it takes the write lock at once (``BEGIN
    IMMEDIATE``), so two workers never both read and then both write.
    """
    if conn.get_transaction() is not None:  # should not happen: start clean anyway
        conn.rollback()
    try:
        if conn.dialect.name == "sqlite":
            conn.exec_driver_sql("BEGIN IMMEDIATE")
        yield conn
        conn.commit()
    except BaseException:
        with suppress(Exception):  # the error that got us here is the one to report
            if not conn.closed and not conn.invalidated:
                conn.rollback()
        raise


class KeptConnections:
    """At most one plain and one autocommit connection, per process."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self._pid = os.getpid()
        self._conns: dict[bool, Connection] = {}

    def get(self, *, autocommit: bool = False) -> Connection:
        """The kept connection (opened on first use, again after it was dropped)."""
        if self._pid != os.getpid():
            _INHERITED.extend(self._conns.values())
            self._conns, self._pid = {}, os.getpid()
            # The pool's connections were copied from the parent too: open new ones.
            self.engine.dispose(close=False)
        conn = self._conns.get(autocommit)
        if conn is None or conn.closed or conn.invalidated:
            conn = self.engine.connect()
            if autocommit:
                conn = conn.execution_options(isolation_level="AUTOCOMMIT")
            self._conns[autocommit] = conn
        return conn

    def drop(self, *, autocommit: bool = False) -> None:
        """Let go of a kept connection after a failure (the next ``get`` opens another)."""
        conn = self._conns.pop(autocommit, None)
        if conn is not None and self._pid == os.getpid():
            with suppress(Exception):  # it failed already; its own error is the one to report
                conn.close()

    @contextmanager
    def write(self) -> Iterator[Connection]:
        """:func:`write_transaction` on the kept connection, dropped if anything raises."""
        conn = self.get()
        try:
            with write_transaction(conn):
                yield conn
        except BaseException:
            self.drop()
            raise

    def close(self) -> None:
        """Return the connections to the pool (this process's only)."""
        for autocommit in list(self._conns):
            self.drop(autocommit=autocommit)
