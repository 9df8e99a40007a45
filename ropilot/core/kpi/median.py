"""Median and mean of durations in SQL, the same on SQLite and PostgreSQL.

Neither database shares a median aggregate with the other, so the durations of each group are
ranked by a window function; the one or two middle rows (the mean of the two middle values for
an even count, sales_definitions.md) are summed with a filtered aggregate. Sums of integer
microseconds stay exact; days = µs ÷ 86,400,000,000.
"""

from __future__ import annotations

from collections.abc import Sequence
from decimal import Decimal
from typing import Any

from sqlalchemy import ColumnElement, and_, func, select

US_PER_DAY = Decimal(86_400_000_000)


def ranked(
    columns: Sequence[ColumnElement[Any]],
    duration: ColumnElement[Any],
    partition: Sequence[ColumnElement[Any]],
) -> Any:
    """``columns`` plus ``us`` (the duration), its rank ``rn`` and the group size ``n``."""
    return select(
        *columns,
        duration.label("us"),
        func.row_number().over(partition_by=list(partition) or None, order_by=duration).label("rn"),
        func.count().over(partition_by=list(partition) or None).label("n"),
    )


def aggregates(r: Any) -> list[ColumnElement[Any]]:
    """Per group of a ``ranked`` subquery: ``samples``, ``total``, ``mid_total``, ``mid_n``."""
    middle = and_(r.c.rn >= (r.c.n + 1) // 2, r.c.rn <= (r.c.n + 2) // 2)
    return [
        func.count().label("samples"),
        func.sum(r.c.us).label("total"),
        func.sum(r.c.us).filter(middle).label("mid_total"),
        func.count().filter(middle).label("mid_n"),
    ]


def mean_days(row: Any) -> Decimal | None:
    """Mean in days of an ``aggregates`` row (None without samples)."""
    n = int(row["samples"])
    return None if not n else Decimal(int(row["total"])) / n / US_PER_DAY


def median_days(row: Any) -> Decimal | None:
    """Median in days of an ``aggregates`` row (None without samples)."""
    mid = int(row["mid_n"] or 0)
    return None if not mid else Decimal(int(row["mid_total"])) / mid / US_PER_DAY
