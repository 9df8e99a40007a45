"""Forgotten deals (sales_definitions.md): as of T with a threshold of N days, a deal open at T
whose last activity (any type; its creation when it has none) is before T − N days and that has
no uncompleted task due after T.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import and_, exists, func, or_, select
from sqlalchemy.sql.functions import coalesce

from ropilot.core.kpi.history import held_if_open_at
from ropilot.core.store import Store
from ropilot.core.store.schema import activities, deals, stages, tasks
from ropilot.core.store.types import UtcTimestamp


@dataclass(frozen=True)
class ForgottenDeal:
    """A deal nobody has touched for too long."""

    deal_id: str
    responsible_id: str | None
    stage_id: str
    last_touch_at: datetime
    idle_days: float


def forgotten_deals(
    store: Store, account_id: str, as_of: datetime, *, days: int
) -> list[ForgottenDeal]:
    """Deals forgotten as of ``as_of`` (aware) with a threshold of ``days``, oldest first."""
    held = held_if_open_at(account_id, as_of)
    last_activity = (
        select(func.max(activities.c.at))
        .where(
            activities.c.account_id == deals.c.account_id,
            activities.c.deal_id == deals.c.id,
            activities.c.at <= as_of,
        )
        .scalar_subquery()
    )
    touch = coalesce(last_activity, deals.c.created_at).cast(UtcTimestamp)
    future_task = exists().where(
        tasks.c.account_id == deals.c.account_id,
        tasks.c.deal_id == deals.c.id,
        tasks.c.created_at <= as_of,
        tasks.c.due_at > as_of,
        or_(tasks.c.completed_at.is_(None), tasks.c.completed_at > as_of),
    )
    stmt = (
        select(deals.c.id, deals.c.responsible_id, held.c.stage_id, touch.label("touch"))
        .select_from(
            deals.join(held, held.c.deal_id == deals.c.id).join(
                stages,
                and_(stages.c.account_id == deals.c.account_id, stages.c.id == held.c.stage_id),
            )
        )
        .where(
            deals.c.account_id == account_id,
            stages.c.kind == "open",
            touch < as_of - timedelta(days=days),
            ~future_task,
        )
        .order_by(touch, deals.c.id)
    )
    with store.engine.connect() as conn:
        rows = conn.execute(stmt).all()
    return [
        ForgottenDeal(
            deal_id=r[0],
            responsible_id=r[1],
            stage_id=r[2],
            last_touch_at=r[3],
            idle_days=(as_of - r[3]).total_seconds() / 86_400,
        )
        for r in rows
    ]
