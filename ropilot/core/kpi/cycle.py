"""Sales cycle: median and mean of ``closed_at − created_at`` over deals won in the period.

Computed in the database with window functions (the same SQL on SQLite and PostgreSQL); sums of
integer microseconds come back exact, and days = seconds ÷ 86,400. The median of an even count is
the mean of the two middle values (sales_definitions.md). Deals in another currency count.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from sqlalchemy import BigInteger, select, type_coerce

from ropilot.core.kpi import median
from ropilot.core.kpi.scope import closed_in, deal_source, dimension_columns
from ropilot.core.periods import Period
from ropilot.core.store import Store
from ropilot.core.store.schema import deals


@dataclass(frozen=True)
class CycleRow:
    """Sales cycle of one group, in days."""

    keys: dict[str, str | None]
    won: int
    mean_days: Decimal | None
    median_days: Decimal | None


def sales_cycle(
    store: Store, account_id: str, period: Period, by: Sequence[str] = ()
) -> list[CycleRow]:
    """Median and mean cycle (days) of deals won in ``period``, grouped by ``by``.

    Raises:
        ConfigurationError: for an unknown dimension.
    """
    dims = dimension_columns(by)
    duration = type_coerce(deals.c.closed_at, BigInteger) - type_coerce(
        deals.c.created_at, BigInteger
    )
    r = (
        median.ranked([c.label(n) for n, c in dims.items()], duration, list(dims.values()))
        .select_from(deal_source(by))
        .where(closed_in(account_id, period, ("won",)))
        .subquery()
    )
    keys = [r.c[name] for name in dims]
    stmt = select(*keys, *median.aggregates(r)).group_by(*keys)
    with store.engine.connect() as conn:
        rows: list[Any] = list(conn.execute(stmt).mappings())
    out = [
        CycleRow(
            keys={name: row[name] for name in dims},
            won=int(row["samples"]),
            mean_days=median.mean_days(row),
            median_days=median.median_days(row),
        )
        for row in rows
    ]
    return sorted(out, key=lambda row: tuple(str(v or "") for v in row.keys.values()))
