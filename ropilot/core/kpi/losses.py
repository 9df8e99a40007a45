"""Loss analysis: deals lost in the period by loss stage × loss reason (× dimensions).

The loss stage is the stage a deal left when it moved into its lost stage (the last such move);
it is None when the deal was created lost or has no history. An empty reason is None.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from sqlalchemy import case, func, select
from sqlalchemy.sql.functions import coalesce

from ropilot.core.kpi.scope import closed_in, deal_source, dimension_columns
from ropilot.core.periods import Period
from ropilot.core.store import Store
from ropilot.core.store.schema import accounts, deals, stage_changes
from ropilot.core.store.types import Money


@dataclass(frozen=True)
class LossRow:
    """Lost deals of one (loss stage, reason, dimensions) group."""

    loss_stage_id: str | None
    loss_reason: str | None
    keys: dict[str, str | None]
    lost: int
    amount: Decimal
    """Lost amount in the account currency (empty = 0; other currencies left out)."""


def loss_stage() -> Any:
    """The stage each deal left on its last move into its current stage (a scalar subquery)."""
    return (
        select(stage_changes.c.from_stage_id)
        .where(
            stage_changes.c.account_id == deals.c.account_id,
            stage_changes.c.deal_id == deals.c.id,
            stage_changes.c.to_stage_id == deals.c.stage_id,
        )
        .order_by(stage_changes.c.changed_at.desc(), stage_changes.c.id.desc())
        .limit(1)
        .scalar_subquery()
    )


def losses(store: Store, account_id: str, period: Period, by: Sequence[str] = ()) -> list[LossRow]:
    """Deals lost in ``period`` grouped by loss stage, reason and the ``by`` dimensions.

    Raises:
        ConfigurationError: for an unknown dimension.
    """
    dims = dimension_columns(by)
    stage = loss_stage().label("loss_stage")
    reason = func.nullif(deals.c.loss_reason, "").label("loss_reason")
    currency = select(accounts.c.currency).where(accounts.c.id == account_id).scalar_subquery()
    in_currency = deals.c.currency.is_(None) | (deals.c.currency == currency)
    inner = (
        select(
            stage,
            reason,
            *[col.label(name) for name, col in dims.items()],
            case((in_currency, coalesce(deals.c.amount, 0)), else_=0).label("amount"),
        )
        .select_from(deal_source(by))
        .where(closed_in(account_id, period, ("lost",)))
        .subquery()
    )
    keys = [inner.c.loss_stage, inner.c.loss_reason, *[inner.c[name] for name in dims]]
    stmt = select(
        *keys,
        func.count().label("lost"),
        coalesce(func.sum(inner.c.amount), 0).cast(Money).label("amount"),
    ).group_by(*keys)
    with store.engine.connect() as conn:
        rows = list(conn.execute(stmt).mappings())
    out = [
        LossRow(
            loss_stage_id=r["loss_stage"],
            loss_reason=r["loss_reason"],
            keys={name: r[name] for name in dims},
            lost=int(r["lost"]),
            amount=r["amount"],
        )
        for r in rows
    ]
    return sorted(
        out, key=lambda x: (-x.lost, str(x.loss_stage_id or ""), str(x.loss_reason or ""))
    )
