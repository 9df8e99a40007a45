"""Re-route leads not taken into work within the pool's ``take_into_work_minutes``.

A lead is taken into work when its assignee records an activity on it, or its stage changes
(by the assignee, or by someone unknown), after the decision. Candidates are found by SQL (the
latest decision of each open deal still held by the decided manager, with neither); the
deadline is ``take_into_work_minutes`` of business time on the assignee's schedule. Each is
routed again excluding the previous assignee, recorded with reason ``reroute``.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlalchemy import and_, exists, or_, select

from ropilot.core.business_hours import add_business_time
from ropilot.core.routing.engine import Decision, RoutingEngine
from ropilot.core.store.schema import activities, deals, routing_decisions, stage_changes, stages


def overdue(engine: RoutingEngine, now: datetime, lookback_days: int = 30) -> list[tuple[str, str]]:
    """(deal id, assignee) of leads past their take-into-work deadline at ``now``."""
    d, later = routing_decisions, routing_decisions.alias("later")
    acct = engine.account_id
    since = now - timedelta(days=lookback_days)
    q = (
        select(d.c.deal_id, d.c.manager_id, d.c.decided_at, d.c.pool)
        .select_from(d)
        .join(deals, and_(deals.c.account_id == d.c.account_id, deals.c.id == d.c.deal_id))
        .join(
            stages, and_(stages.c.account_id == deals.c.account_id, stages.c.id == deals.c.stage_id)
        )
        .where(
            d.c.account_id == acct,
            d.c.manager_id.is_not(None),
            d.c.decided_at >= since,
            deals.c.responsible_id == d.c.manager_id,
            stages.c.kind == "open",
            ~exists().where(
                later.c.account_id == d.c.account_id,
                later.c.deal_id == d.c.deal_id,
                later.c.decided_at > d.c.decided_at,
            ),
            ~exists().where(
                activities.c.account_id == d.c.account_id,
                activities.c.deal_id == d.c.deal_id,
                activities.c.manager_id == d.c.manager_id,
                activities.c.at >= d.c.decided_at,
            ),
            ~exists().where(
                stage_changes.c.account_id == d.c.account_id,
                stage_changes.c.deal_id == d.c.deal_id,
                stage_changes.c.changed_at >= d.c.decided_at,
                or_(
                    stage_changes.c.changed_by == d.c.manager_id,
                    stage_changes.c.changed_by.is_(None),
                ),
            ),
        )
        .order_by(d.c.decided_at, d.c.deal_id)
    )
    pools = {p.name: p for p in engine.regulations.routing.pools}
    out = []
    with engine.store.engine.connect() as conn:
        for deal_id, manager, decided_at, pool_name in conn.execute(q):
            pool = pools.get(pool_name)
            if pool is None or pool.take_into_work_minutes is None:
                continue
            person = engine.person(manager)
            if person is None:
                continue
            deadline = add_business_time(
                person.schedule, decided_at, pool.take_into_work_minutes * 60
            )
            if deadline <= now:
                out.append((str(deal_id), str(manager)))
    return out


def reroute(
    engine: RoutingEngine, now: datetime | None = None, *, dry_run: bool = False
) -> list[Decision]:
    """Route every overdue lead again, excluding whoever let it sit."""
    moment = now or datetime.now(UTC)
    return [
        engine.route(deal_id, now=moment, dry_run=dry_run, exclude=(manager,), reason="reroute")
        for deal_id, manager in overdue(engine, moment)
    ]


__all__ = ["overdue", "reroute"]
