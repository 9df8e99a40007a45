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

from sqlalchemy import BigInteger, and_, func, select, type_coerce

from ropilot.core.kpi.scope import closed_in, deal_source, dimension_columns
from ropilot.core.periods import Period
from ropilot.core.store import Store
from ropilot.core.store.schema import deals

US_PER_DAY = Decimal(86_400_000_000)


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
    partition = list(dims.values())
    ranked = (
        select(
            *[col.label(name) for name, col in dims.items()],
            duration.label("us"),
            func.row_number().over(partition_by=partition or None, order_by=duration).label("rn"),
            func.count().over(partition_by=partition or None).label("n"),
        )
        .select_from(deal_source(by))
        .where(closed_in(account_id, period, ("won",)))
        .subquery()
    )
    middle = and_(ranked.c.rn >= (ranked.c.n + 1) // 2, ranked.c.rn <= (ranked.c.n + 2) // 2)
    keys = [ranked.c[name] for name in dims]
    stmt = select(
        *keys,
        func.count().label("won"),
        func.sum(ranked.c.us).label("total"),
        func.sum(ranked.c.us).filter(middle).label("mid_total"),
        func.count().filter(middle).label("mid_n"),
    ).group_by(*keys)
    with store.engine.connect() as conn:
        rows: list[Any] = list(conn.execute(stmt).mappings())
    out = []
    for r in rows:
        won = int(r["won"])
        out.append(
            CycleRow(
                keys={name: r[name] for name in dims},
                won=won,
                mean_days=None if not won else Decimal(int(r["total"])) / won / US_PER_DAY,
                median_days=None
                if not r["mid_n"]
                else Decimal(int(r["mid_total"])) / int(r["mid_n"]) / US_PER_DAY,
            )
        )
    return sorted(out, key=lambda row: tuple(str(v or "") for v in row.keys.values()))
