"""Outcome KPIs of deals closed in a period: won and lost counts, revenue, average check,
win rate by count and by value — as sales_definitions.md fixes them.

* A deal's outcome is its current stage kind, at ``closed_at``; a deal closed in the period is one
  whose ``closed_at`` falls in ``[start, end)`` of the account's time zone.
* Money is in the account currency: deals in another currency count in won/lost counts but not in
  revenue, average check or win rate by value; their amounts are listed apart per currency.
  An empty amount is 0 in sums and counts in the average check's denominator.
* Ratios with a zero denominator are None.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from sqlalchemy import ColumnElement, case, func, select
from sqlalchemy.sql.functions import coalesce

from ropilot.core.kpi.scope import closed_in, deal_source, dimension_columns
from ropilot.core.periods import Period
from ropilot.core.store import Store
from ropilot.core.store.schema import accounts, deals, stages
from ropilot.core.store.types import Money

CENT = Decimal("0.01")


@dataclass(frozen=True)
class OutcomeRow:
    """The outcome figures of one group (``keys`` maps each dimension to its value)."""

    keys: dict[str, str | None]
    won: int
    lost: int
    won_in_currency: int
    revenue: Decimal
    lost_amount: Decimal
    other_currencies: dict[str, Decimal] = field(default_factory=dict)

    @property
    def average_check(self) -> Decimal | None:
        """Revenue ÷ won deals in the account currency (empty amounts count), to the kopeck."""
        if not self.won_in_currency:
            return None
        return (self.revenue / self.won_in_currency).quantize(CENT, ROUND_HALF_UP)

    @property
    def win_rate(self) -> Decimal | None:
        """Won ÷ (won + lost) among deals closed in the period, by count."""
        closed = self.won + self.lost
        return None if closed == 0 else Decimal(self.won) / Decimal(closed)

    @property
    def win_rate_value(self) -> Decimal | None:
        """Won amount ÷ (won amount + lost amount), account currency."""
        total = self.revenue + self.lost_amount
        return None if total == 0 else self.revenue / total


def outcomes(
    store: Store, account_id: str, period: Period, by: Sequence[str] = ()
) -> list[OutcomeRow]:
    """Outcome figures of the deals closed in ``period``, grouped by the ``by`` dimensions.

    Without dimensions there is always one row (the company), zeros for an empty period;
    with dimensions, one row per group that closed something.

    Raises:
        ConfigurationError: for an unknown dimension.
    """
    dims = dimension_columns(by)
    currency = select(accounts.c.currency).where(accounts.c.id == account_id).scalar_subquery()
    in_currency = deals.c.currency.is_(None) | (deals.c.currency == currency)
    won = stages.c.kind == "won"
    lost = stages.c.kind == "lost"
    amount = coalesce(deals.c.amount, 0)

    def money_sum(condition: ColumnElement[bool]) -> ColumnElement[Decimal]:
        return coalesce(func.sum(case((condition, amount), else_=0)), 0).cast(Money)

    group = [dims[d].label(d) for d in by]
    source = deal_source(by)
    where = closed_in(account_id, period)
    stmt = (
        select(
            *group,
            func.count().filter(won).label("won"),
            func.count().filter(lost).label("lost"),
            func.count().filter(won & in_currency).label("won_in_currency"),
            money_sum(won & in_currency).label("revenue"),
            money_sum(lost & in_currency).label("lost_amount"),
        )
        .select_from(source)
        .where(where)
        .group_by(*[dims[d] for d in by])
    )
    others = (
        select(*group, deals.c.currency, func.sum(amount).cast(Money).label("amount"))
        .select_from(source)
        .where(where, won, ~in_currency)
        .group_by(*[dims[d] for d in by], deals.c.currency)
    )
    with store.engine.connect() as conn:
        rows = conn.execute(stmt).mappings().all()
        extra: dict[tuple[Any, ...], dict[str, Decimal]] = {}
        for r in conn.execute(others).mappings():
            extra.setdefault(tuple(r[d] for d in by), {})[r["currency"]] = r["amount"]
    out = [
        OutcomeRow(
            keys={d: r[d] for d in by},
            won=r["won"],
            lost=r["lost"],
            won_in_currency=r["won_in_currency"],
            revenue=r["revenue"],
            lost_amount=r["lost_amount"],
            other_currencies=extra.get(tuple(r[d] for d in by), {}),
        )
        for r in rows
    ]
    return sorted(
        out, key=lambda row: tuple("" if v is None else str(v) for v in row.keys.values())
    )
