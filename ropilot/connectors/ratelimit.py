"""Client-side rate limiting shared by every thread and process of a deployment.

CRMs publish a request rate per account (amoCRM: 7 requests per second; Bitrix24: 2 per
second on most plans) and punish those who exceed it (amoCRM blocks the account's API after
repeated 429s). Every worker process of one deployment therefore has to draw from the same
budget. :class:`StoreRateLimiter` keeps that budget in the store (table ``rate_limits``), so
all processes on all machines that share the database share the limit.

The scheme is the "next free slot" form of GCRA: each :meth:`~StoreRateLimiter.acquire`
reserves the slot ``max(now, next_free)`` and moves ``next_free`` on by ``1 / rate``, then
sleeps until its slot. Reservations are taken atomically: on PostgreSQL under a row lock
(``SELECT … FOR UPDATE`` in a short transaction), on SQLite under the database write lock
(``BEGIN IMMEDIATE``); an in-process lock keeps the threads of one process from queueing on
the database. Consecutive slots are at least ``1 / rate`` apart, so no window of one second
holds more than ``rate`` slots.

Clocks: slots are wall-clock times (``time.time``). Processes on several machines must keep
their clocks in sync (NTP); a machine whose clock runs ahead takes slots early.

:class:`MemoryRateLimiter` is the same scheme inside one process (tests, single-process use).
"""

from __future__ import annotations

import logging
import math
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import Any, Protocol

from sqlalchemy import Connection, Engine, Table, select, update
from sqlalchemy.dialects import postgresql, sqlite

from ropilot.core.errors import ConfigurationError, RateLimitedError, StoreError
from ropilot.core.store import Store
from ropilot.core.store.schema import rate_limits

__all__ = [
    "MemoryRateLimiter",
    "RateLimiter",
    "StoreRateLimiter",
    "insert_if_missing",
    "locked_transaction",
]

log = logging.getLogger(__name__)

_US = 1_000_000


class RateLimiter(Protocol):
    """What :class:`~ropilot.connectors.http.HttpClient` needs from a rate limiter."""

    def acquire(self) -> float:
        """Block until the caller may send one request; return the slot time (epoch seconds)."""
        ...


@contextmanager
def locked_transaction(engine: Engine) -> Iterator[Connection]:
    """A short write transaction that serialises writers of the rows it locks.

    On SQLite it starts with ``BEGIN IMMEDIATE``, which takes the database write lock at once
    (a plain ``BEGIN`` would let two readers both decide and then collide on the write). On
    PostgreSQL it is an ordinary transaction; lock the rows you read with
    ``select(...).with_for_update()``. Commits when the block ends, rolls back if it raises.

    Args:
        engine: the store's engine.

    Yields:
        The connection, inside the transaction.
    """
    with engine.connect() as conn:
        if conn.dialect.name == "sqlite":
            conn.exec_driver_sql("BEGIN IMMEDIATE")
        try:
            yield conn
        except BaseException:
            conn.rollback()
            raise
        conn.commit()


def insert_if_missing(conn: Connection, table: Table, row: dict[str, Any]) -> None:
    """``INSERT … ON CONFLICT DO NOTHING`` of one row, keyed by the table's primary key."""
    key = [c.name for c in table.primary_key.columns]
    if conn.dialect.name == "postgresql":
        conn.execute(
            postgresql.insert(table).values(row).on_conflict_do_nothing(index_elements=key)
        )
    elif conn.dialect.name == "sqlite":
        conn.execute(sqlite.insert(table).values(row).on_conflict_do_nothing(index_elements=key))
    else:  # pragma: no cover - make_engine refuses other databases
        raise StoreError(f"{conn.dialect.name} is not supported")


def _interval_us(rate: float) -> int:
    if not (isinstance(rate, int | float) and math.isfinite(rate) and rate > 0):
        raise ConfigurationError(f"a rate limit must be a positive number per second, not {rate!r}")
    # Round the spacing up: rounding down would let slightly more than `rate` through.
    return math.ceil(_US / rate)


def _too_long(key: str, wait: float, max_wait: float | None) -> None:
    if max_wait is not None and wait > max_wait:
        raise RateLimitedError(
            f"rate limit {key!r}: the next free slot is {wait:.1f}s away (more than "
            f"{max_wait:.1f}s); try again later or lower the number of workers",
            retry_after=wait,
        )


class MemoryRateLimiter:
    """A next-free-slot rate limiter for the threads of one process.

    Args:
        rate: requests per second allowed.
        clock: seconds since the epoch (injectable for tests).
        sleep: how to wait (injectable for tests).
        max_wait: raise :class:`RateLimitedError` instead of waiting longer than this.
        key: a name used in messages.
    """

    def __init__(
        self,
        rate: float,
        *,
        clock: Callable[[], float] = time.time,
        sleep: Callable[[float], None] = time.sleep,
        max_wait: float | None = None,
        key: str = "memory",
    ) -> None:
        self.rate = rate
        self.key = key
        self._interval = _interval_us(rate)
        self._clock = clock
        self._sleep = sleep
        self._max_wait = max_wait
        self._next_free = 0
        self._lock = threading.Lock()

    def reserve(self) -> float:
        """Reserve the next free slot without waiting; return it (epoch seconds)."""
        with self._lock:
            now = round(self._clock() * _US)
            slot = max(now, self._next_free)
            _too_long(self.key, (slot - now) / _US, self._max_wait)
            self._next_free = slot + self._interval
        return slot / _US

    def acquire(self) -> float:
        """Reserve a slot and sleep until it comes; return the slot (epoch seconds).

        Raises:
            RateLimitedError: when the slot is further away than ``max_wait``.
        """
        slot = self.reserve()
        delay = slot - self._clock()
        if delay > 0:
            self._sleep(delay)
        return slot


_PROCESS_LOCKS: dict[tuple[str, str], threading.Lock] = {}
_PROCESS_LOCKS_GUARD = threading.Lock()


def _process_lock(engine: Engine, key: str) -> threading.Lock:
    ident = (engine.url.render_as_string(hide_password=True), key)
    with _PROCESS_LOCKS_GUARD:
        return _PROCESS_LOCKS.setdefault(ident, threading.Lock())


class StoreRateLimiter:
    """A next-free-slot rate limiter whose state lives in the store, shared by all processes.

    Use one key per budget the CRM enforces, e.g. ``amocrm:<account id>`` at 7 per second.
    Every :class:`StoreRateLimiter` with the same key over the same database shares the budget,
    in any thread or process.

    Args:
        store: the store (or its engine) holding the ``rate_limits`` table.
        key: the budget's name.
        rate: requests per second allowed for this key.
        clock: seconds since the epoch (injectable for tests).
        sleep: how to wait (injectable for tests).
        max_wait: raise :class:`RateLimitedError` (without reserving) instead of waiting longer
            than this many seconds; None waits as long as needed.
    """

    def __init__(
        self,
        store: Store | Engine,
        key: str,
        rate: float,
        *,
        clock: Callable[[], float] = time.time,
        sleep: Callable[[float], None] = time.sleep,
        max_wait: float | None = None,
    ) -> None:
        self.engine = store.engine if isinstance(store, Store) else store
        self.key = key
        self.rate = rate
        self._interval = _interval_us(rate)
        self._clock = clock
        self._sleep = sleep
        self._max_wait = max_wait
        self._lock = _process_lock(self.engine, key)

    def reserve(self) -> float:
        """Reserve the next free slot in the store without waiting; return it (epoch seconds).

        Raises:
            RateLimitedError: when the slot is further away than ``max_wait`` (nothing is
                reserved then).
        """
        table = rate_limits
        where = table.c.key == self.key
        with self._lock, locked_transaction(self.engine) as conn:
            current = conn.execute(
                select(table.c.next_free_at).where(where).with_for_update()
            ).scalar_one_or_none()
            if current is None:
                insert_if_missing(
                    conn,
                    table,
                    {"key": self.key, "next_free_at": 0, "updated_at": datetime.now(UTC)},
                )
                current = conn.execute(
                    select(table.c.next_free_at).where(where).with_for_update()
                ).scalar_one()
            # Read the clock only once the lock is held: waiting for it takes time.
            now = round(self._clock() * _US)
            slot = max(now, int(current))
            _too_long(self.key, (slot - now) / _US, self._max_wait)
            conn.execute(
                update(table)
                .where(where)
                .values(next_free_at=slot + self._interval, updated_at=datetime.now(UTC))
            )
        return slot / _US

    def acquire(self) -> float:
        """Reserve a slot and sleep until it comes; return the slot (epoch seconds).

        Raises:
            RateLimitedError: when the slot is further away than ``max_wait``.
        """
        slot = self.reserve()
        delay = slot - self._clock()
        if delay > 0:
            if delay > 1:
                log.debug("rate limit %r: waiting %.2fs for a slot", self.key, delay)
            self._sleep(delay)
        return slot
