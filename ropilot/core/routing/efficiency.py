"""Efficiency factors: win rate and speed to first contact, shrunk and bounded.

For each manager over the lookback: ``won``/``closed`` deals (closed in the window) and the
mean speed to first contact (business seconds from a deal's creation to the first activity by
its responsible, deals created in the window). Both are shrunk towards the team mean with prior
strength k: ``(n × own + k × team) ÷ (n + k)``. The factor is
``clamp(a × win ÷ team_win + b × team_speed ÷ speed, min_factor, max_factor)`` with
``a + b`` normalised to 1, so the best get more leads but never everything.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import Connection, and_, func, select

from ropilot.core.routing.models import EfficiencyRules
from ropilot.core.store.schema import activities, deals, stages


@dataclass(frozen=True)
class Measured:
    """Raw efficiency of one manager over the lookback."""

    won: int = 0
    closed: int = 0
    contacted: int = 0
    speed_seconds_sum: float = 0.0


def shrink(own: float | None, n: float, team: float, k: float) -> float:
    """``(n × own + k × team) ÷ (n + k)``; the team value when there is no sample."""
    if own is None or n + k == 0:
        return team
    return (n * own + k * team) / (n + k)


def factors(measured: Mapping[str, Measured], rules: EfficiencyRules) -> dict[str, float]:
    """The bounded factor per manager (1.0 for everyone when disabled or without data)."""
    if not rules.enabled or not measured:
        return {m: 1.0 for m in measured}
    won = sum(x.won for x in measured.values())
    closed = sum(x.closed for x in measured.values())
    contacted = sum(x.contacted for x in measured.values())
    speed_sum = sum(x.speed_seconds_sum for x in measured.values())
    team_win = won / closed if closed else None
    team_speed = speed_sum / contacted if contacted else None
    a, b = rules.win_rate_weight, rules.speed_weight
    total = a + b
    a, b = (a / total, b / total) if total else (0.5, 0.5)
    k = rules.prior_strength
    out: dict[str, float] = {}
    for manager, x in measured.items():
        win_part = 1.0
        if team_win:
            own = x.won / x.closed if x.closed else None
            win_part = shrink(own, x.closed, team_win, k) / team_win
        speed_part = 1.0
        if team_speed:
            own_s = x.speed_seconds_sum / x.contacted if x.contacted else None
            shrunk = shrink(own_s, x.contacted, team_speed, k)
            speed_part = team_speed / shrunk if shrunk > 0 else rules.max_factor
        raw = a * win_part + b * speed_part
        out[manager] = min(rules.max_factor, max(rules.min_factor, raw))
    return out


def measure(
    conn: Connection,
    account_id: str,
    manager_ids: list[str],
    since: datetime,
    until: datetime,
    business_seconds: Callable[[str, datetime, datetime], float],
) -> dict[str, Measured]:
    """Win/closed counts by SQL; first-contact moments by SQL, converted to business seconds.

    ``business_seconds(manager_id, start, end)`` measures on the manager's working hours.
    """
    counts: dict[str, list[int]] = {m: [0, 0] for m in manager_ids}
    closed_q = (
        select(deals.c.responsible_id, stages.c.kind, func.count())
        .join(
            stages, and_(stages.c.account_id == deals.c.account_id, stages.c.id == deals.c.stage_id)
        )
        .where(
            deals.c.account_id == account_id,
            deals.c.closed_at >= since,
            deals.c.closed_at < until,
            deals.c.responsible_id.in_(manager_ids),
            stages.c.kind.in_(("won", "lost")),
        )
        .group_by(deals.c.responsible_id, stages.c.kind)
    )
    for manager, kind, n in conn.execute(closed_q):
        counts[manager][1] += int(n)
        if kind == "won":
            counts[manager][0] += int(n)
    first = (
        select(activities.c.at)
        .where(
            activities.c.account_id == deals.c.account_id,
            activities.c.deal_id == deals.c.id,
            activities.c.manager_id == deals.c.responsible_id,
        )
        .order_by(activities.c.at)
        .limit(1)
        .scalar_subquery()
    )
    speed_q = select(deals.c.responsible_id, deals.c.created_at, first.label("first_at")).where(
        deals.c.account_id == account_id,
        deals.c.created_at >= since,
        deals.c.created_at < until,
        deals.c.responsible_id.in_(manager_ids),
    )
    speed: dict[str, list[float]] = {m: [0, 0.0] for m in manager_ids}
    for manager, created, first_at in conn.execute(speed_q):
        if first_at is None:
            continue
        from ropilot.core.timeutil import from_epoch_us

        start = created
        end = from_epoch_us(int(first_at)) if isinstance(first_at, int) else first_at
        if end < start:
            continue
        speed[manager][0] += 1
        speed[manager][1] += business_seconds(manager, start, end)
    return {
        m: Measured(counts[m][0], counts[m][1], int(speed[m][0]), speed[m][1]) for m in manager_ids
    }
