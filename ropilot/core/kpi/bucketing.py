"""Time buckets assigned in SQL (the same SQL on SQLite and PostgreSQL).

Buckets are local-midnight intervals of the account's zone (``periods.buckets``); local months
have no fixed length in UTC, so the database cannot find them by arithmetic on timestamps. The
bucket bounds (UTC microseconds) are computed in Python and written into the query as a
balanced ``CASE WHEN t < bound THEN … ELSE … END`` tree, so each row finds its bucket in
log₂(buckets) integer comparisons inside the database — one aggregate query, no per-row Python.

Why not a join against a ``VALUES`` table of bounds: SQLite has no hash join and does not index
such a table, so a range join compares every row with every bucket (measured: 1M deals × 731
day buckets = 15 s on SQLite; the CASE tree takes 0.3 s there and is as fast on PostgreSQL).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import BigInteger, ColumnElement, Integer, and_, case, literal_column, null
from sqlalchemy import type_coerce as coerce

from ropilot.core.periods import Period


def _int(value: int) -> ColumnElement[Any]:
    # Inlined integer literals: no bind-parameter limits for long series of buckets.
    return literal_column(str(int(value)), BigInteger)


def bucket_index(timestamp: ColumnElement[Any], spans: Sequence[Period]) -> ColumnElement[int]:
    """The index in ``spans`` of the span holding the (UtcTimestamp) ``timestamp``, else NULL.

    ``spans`` must be in time order and must not overlap (gaps are allowed).

    Raises:
        ValueError: for no spans, or spans out of order or overlapping.
    """
    if not spans:
        raise ValueError("bucket_index needs at least one span")
    t = coerce(timestamp, BigInteger)
    pieces: list[tuple[int, int | None]] = []  # (start µs, index or None for a gap)
    end = spans[0].start_us
    for i, span in enumerate(spans):
        if span.start_us < end or span.end_us <= span.start_us:
            raise ValueError("bucket spans must be ordered, non-empty and must not overlap")
        if span.start_us > end:
            pieces.append((end, None))
        pieces.append((span.start_us, i))
        end = span.end_us

    def tree(a: int, b: int) -> ColumnElement[Any]:
        if b - a == 1:
            value = pieces[a][1]
            return null() if value is None else literal_column(str(value), Integer)
        m = (a + b) // 2
        return case((t < _int(pieces[m][0]), tree(a, m)), else_=tree(m, b))

    inside = and_(t >= _int(spans[0].start_us), t < _int(end))
    return coerce(case((inside, tree(0, len(pieces))), else_=null()), Integer)
