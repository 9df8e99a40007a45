"""Time buckets as a small table of bounds joined in SQL (the same SQL on SQLite and PostgreSQL).

Buckets are local-midnight intervals of the account's zone (``periods.buckets``); local months
have no fixed length in UTC, so the database cannot compute them by arithmetic. Instead the
bounds (UTC microseconds) go into a ``WITH b(n, lo, hi) AS (VALUES …)`` table and rows are
joined to the bucket with ``lo <= t < hi``: one aggregate query, no per-row Python.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import BigInteger, ColumnElement, Integer, and_, column, type_coerce, values

from ropilot.core.periods import Period


def bucket_table(spans: Sequence[Period], name: str = "bk") -> Any:
    """A CTE with one row per span: ``n`` (its index in ``spans``), ``lo`` and ``hi`` (µs, UTC).

    Spans may overlap (a row then falls in each); ``spans`` must not be empty.
    """
    if not spans:
        raise ValueError("bucket_table needs at least one span")
    table = values(
        column("n", Integer), column("lo", BigInteger), column("hi", BigInteger), name=name
    ).data([(i, p.start_us, p.end_us) for i, p in enumerate(spans)])
    return table.cte(name)


def in_bucket(timestamp: ColumnElement[Any], table: Any) -> ColumnElement[bool]:
    """Join condition: the (UtcTimestamp) ``timestamp`` falls in ``[lo, hi)`` of the bucket row."""
    t = type_coerce(timestamp, BigInteger)
    return and_(t >= table.c.lo, t < table.c.hi)
