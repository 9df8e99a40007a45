"""The routing decision as a pure function of its inputs.

``decide(inputs, strategy)`` applies, in order: presence (a member absent or deactivated is
marked away; a member back from an absence rejoins at the pool's minimum level among present
members, or keeps their level and catches up at most ``catch_up_per_day`` extra leads a day;
a member without state joins at that minimum), eligibility (``eligibility.py``), account
management (a known client's lead goes to the client's owner when eligible), then the
strategy. It reads no clock and no database, so a stored decision replays exactly.
"""

from __future__ import annotations

from dataclasses import replace

from ropilot.core.routing.capacity import load_of
from ropilot.core.routing.eligibility import exclusion
from ropilot.core.routing.fairness import joining_level, same, stable_hash
from ropilot.core.routing.models import (
    Candidate,
    DecisionInputs,
    MemberFacts,
    Outcome,
    PoolRules,
    StateChange,
)
from ropilot.core.routing.strategies import RoutingStrategy


def _present(m: MemberFacts) -> bool:
    return m.active and not m.absent


def decide(inputs: DecisionInputs, strategy: RoutingStrategy) -> Outcome:
    """Decide who gets the lead; see the module docstring for the order of the rules."""
    pool, lead = inputs.pool, inputs.lead
    day = inputs.period_keys.get("day", "")
    settled = [
        m.level
        for m in inputs.members
        if m.in_pool and _present(m) and m.level is not None and not m.away and not m.catch_up
    ]
    floor = joining_level(settled)

    members: list[MemberFacts] = []
    changes: dict[str, StateChange] = {}
    rejoined: list[tuple[str, float | None, float]] = []
    for m in inputs.members:
        if not m.in_pool:
            members.append(m)
            continue
        level, away, catch = m.level, m.away, m.catch_up
        if not _present(m):
            away = True
        elif level is None:
            level = floor
            rejoined.append((m.id, None, level))
        elif away:
            away = False
            if pool.rejoin == "catch_up":
                catch = level < floor and not same(level, floor)
            else:
                rejoined.append((m.id, level, max(level, floor)))
                level = max(level, floor)
        level = floor if level is None else level
        if catch and (level >= floor or same(level, floor)):
            catch = False
        used = m.catch_up_used if m.catch_up_day == day else 0
        new = replace(
            m, level=level, away=away, catch_up=catch, catch_up_day=day, catch_up_used=used
        )
        if (level, away, catch) != (m.level, m.away, m.catch_up):
            changes[m.id] = _change(new)
        members.append(new)

    excluded: list[tuple[str, str, str]] = []
    eligible: dict[str, MemberFacts] = {}
    for m in members:
        why = exclusion(m, pool, lead, inputs.exclude)
        if why is None:
            eligible[m.id] = m
        elif m.in_pool or m.id == lead.company_owner_id:
            excluded.append((m.id, why[0], why[1]))

    candidates = [_candidate(m, floor, pool) for m in eligible.values()]
    explained = tuple(
        (c.id, c.level, c.load, c.weight, c.declared_weight, c.factor) for c in candidates
    )
    owner = lead.company_owner_id
    owner_facts = next((m for m in members if m.id == owner), None)
    owner_ok = owner in eligible or (
        not pool.owner_must_be_eligible and owner_facts is not None and owner_facts.active
    )
    if pool.account_management and owner is not None and owner_facts is not None and owner_ok:
        m = owner_facts
        changes[owner] = replace(_change(m), assigned=True)
        return Outcome(
            manager_id=owner,
            rule="account_management",
            strategy=strategy.name,
            eligible=explained,
            excluded=tuple(excluded),
            tie=None,
            changes=tuple(changes.values()),
            rejoined=tuple(rejoined),
            note=f"company {lead.company_id} is owned by {owner}",
        )
    pooled = [c for c in candidates if eligible[c.id].in_pool]
    choice = strategy.choose(lead, pooled, pool) if pooled else None
    if choice is None:
        return Outcome(
            manager_id=None,
            rule="no_eligible",
            strategy=strategy.name,
            eligible=explained,
            excluded=tuple(excluded),
            tie=None,
            changes=tuple(changes.values()),
            rejoined=tuple(rejoined),
            note="no eligible manager" if not pooled else "the strategy left it unassigned",
        )
    chosen = eligible[choice.manager_id]
    assert chosen.level is not None
    extra = any(c.id == chosen.id and c.catching_up for c in pooled)
    used = chosen.catch_up_used + (1 if extra else 0)
    after = replace(chosen, level=chosen.level + choice.increment, catch_up_used=used)
    changes[chosen.id] = replace(_change(after), assigned=True)
    return Outcome(
        manager_id=chosen.id,
        rule="fairness",
        strategy=strategy.name,
        eligible=explained,
        excluded=tuple(excluded),
        tie=choice.tie,
        changes=tuple(changes.values()),
        rejoined=tuple(rejoined),
        note=choice.note,
    )


def _change(m: MemberFacts) -> StateChange:
    return StateChange(
        manager_id=m.id,
        level=0.0 if m.level is None else m.level,
        away=m.away,
        catch_up=m.catch_up,
        catch_up_day=m.catch_up_day,
        catch_up_used=m.catch_up_used,
    )


def _candidate(m: MemberFacts, floor: float, pool: PoolRules) -> Candidate:
    level = 0.0 if m.level is None else m.level
    catching = m.catch_up and m.catch_up_used < pool.catch_up_per_day
    if m.catch_up and not catching:
        level = max(level, floor)  # today's extra allowance is spent: compete at par
    return Candidate(
        id=m.id,
        level=level,
        load=load_of(m, pool),
        declared_weight=pool.weight_of(m.id),
        factor=m.factor,
        last_assigned_us=m.last_assigned_us,
        tie_hash=stable_hash(pool.name, m.id),
        catching_up=catching,
    )
