"""Caps: per-period counts, concurrent load and per-criteria counts (pure checks).

The counts themselves are kept incrementally in the store (``routing_counters`` and
``routing_load``, updated in the decision's transaction) and recounted from the source tables
by :func:`ropilot.core.routing.engine.rebuild_counters`. A period cap counts decisions, so a
lead later lost or closed still counts (marking a lead lost does not earn a new one).
"""

from __future__ import annotations

from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

from ropilot.core.routing.models import GRAINS, Lead, MemberFacts, PoolRules
from ropilot.core.timeutil import from_epoch_us, to_epoch_us


def period_start(now_us: int, grain: str, zone: ZoneInfo) -> date:
    """First day of the day/week/month holding ``now`` in ``zone``."""
    local = from_epoch_us(now_us).astimezone(zone).date()
    if grain == "day":
        return local
    if grain == "week":
        return local - timedelta(days=local.weekday())
    if grain == "month":
        return local.replace(day=1)
    raise ValueError(f"unknown period {grain!r}; one of {', '.join(GRAINS)}")


def period_end(start: date, grain: str) -> date:
    """First day after the period starting on ``start``."""
    if grain == "day":
        return start + timedelta(days=1)
    if grain == "week":
        return start + timedelta(days=7)
    return date(start.year + start.month // 12, start.month % 12 + 1, 1)


def period_key(now_us: int, grain: str, zone: ZoneInfo) -> str:
    """A stable label of the current period, e.g. ``day:2026-03-02``."""
    return f"{grain}:{period_start(now_us, grain, zone).isoformat()}"


def period_bounds_us(key: str, zone: ZoneInfo) -> tuple[int, int]:
    """``[start, end)`` in epoch µs of a period key made by :func:`period_key`."""
    grain, _, first = key.partition(":")
    start = date.fromisoformat(first)
    end = period_end(start, grain)

    def at(d: date) -> int:
        return to_epoch_us(datetime(d.year, d.month, d.day, tzinfo=zone))

    return at(start), at(end)


def load_of(member: MemberFacts, pool: PoolRules) -> float:
    """Concurrent load: weighted open deals plus weighted open tasks."""
    return pool.deal_load_weight * member.open_deals + pool.task_load_weight * member.open_tasks


def cap_violation(member: MemberFacts, pool: PoolRules, lead: Lead) -> tuple[str, str] | None:
    """The first cap one more lead would break, as (rule, detail), or ``None``.

    A member is under a cap when the count *after* this lead stays within it, so a cap of N
    admits exactly N leads.
    """
    for grain in GRAINS:
        cap = pool.period_caps.get(grain)
        if cap is not None:
            n = member.period_counts.get(grain, 0)
            if n + 1 > cap:
                return "cap_period", f"{n} leads this {grain}, cap {cap}"
    if pool.max_load is not None:
        load = load_of(member, pool)
        if load + pool.deal_load_weight > pool.max_load:
            return "cap_load", f"load {load:g} + {pool.deal_load_weight:g} > {pool.max_load:g}"
    for cc in pool.criteria_caps:
        if lead.value(cc.field) != cc.value:
            continue
        n = member.criteria_counts.get(cc.name, 0)
        if n + 1 > cc.limit:
            return "cap_criteria", f"{n} leads with {cc.name} this {cc.grain}, cap {cc.limit}"
    return None
