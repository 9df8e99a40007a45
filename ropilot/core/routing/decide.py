"""The routing decision as a pure function of its inputs.

``decide(inputs, strategy)`` applies, in order: presence (a member absent or deactivated is
marked away; a member back from an absence rejoins at the pool's minimum level among present
members, or keeps their level and catches up at most ``catch_up_per_day`` extra leads a day;
a member without state joins at that minimum), eligibility (``eligibility.py``), account
management (a known client's lead goes to the client's owner when eligible), then the
strategy. It reads no clock and no database, so a stored decision replays exactly.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from itertools import compress
from operator import is_not

from ropilot.core.routing.candidates import Candidates, tie_hash, tie_hashes, tie_key
from ropilot.core.routing.eligibility import exclusion
from ropilot.core.routing.fairness import same
from ropilot.core.routing.models import (
    GRAINS,
    SPECIALISATION_FIELDS,
    DecisionInputs,
    MemberFacts,
    Outcome,
    PoolRules,
    StateChange,
)
from ropilot.core.routing.strategies import RoutingStrategy

INF = float("inf")


@dataclass(eq=False)
class DecideMemo:
    """What a pass learned about each member of one pool, reused by the next pass.

    The engine keeps one per pool and replaces a member's :class:`MemberFacts` object whenever
    anything about the member changes, so a member whose object is the one seen last time is
    known: :func:`decide` reuses their eligibility and exclusion and re-evaluates only the
    changed members and those not settled (absent, away, new, catching up, outside the pool:
    their presence depends on the pool's floor and the day). The outcome is the same as
    without a memo: a member's result depends only on its facts and on the parameters in
    ``key``; another key, pool or member count starts afresh.
    """

    pool: PoolRules | None = None
    key: tuple[object, ...] = ()
    facts: tuple[MemberFacts, ...] = ()
    settled: list[float] = field(default_factory=list)  # level if settled, else inf
    unsettled: set[int] = field(default_factory=set)
    ok: list[bool] = field(default_factory=list)
    why: dict[int, tuple[str, str, str] | None] = field(default_factory=dict)
    index: dict[str, int] = field(default_factory=dict)  # manager id → position
    levels: list[float] = field(default_factory=list)  # level after presence (None → 0)
    tie_keys: list[int] = field(default_factory=list)  # candidates.tie_key per member
    ids: list[str] = field(default_factory=list)


def decide(
    inputs: DecisionInputs, strategy: RoutingStrategy, memo: DecideMemo | None = None
) -> Outcome:
    """Decide who gets the lead; see the module docstring for the order of the rules.

    Written as one pass over the members with the common case (present, settled, under every
    cap) inlined: the engine calls it with 500 members per decision. A member failing the
    inlined test goes through :func:`~ropilot.core.routing.eligibility.exclusion`, which names
    the rule; the inlined test mirrors it exactly. With a ``memo`` (see :class:`DecideMemo`)
    the pass visits only members that changed or are not settled; the result is the same.
    """
    pool, lead = inputs.pool, inputs.lead
    day = inputs.period_keys.get("day", "")
    members = inputs.members
    n = len(members)

    exclude = frozenset(inputs.exclude)
    specs = tuple(
        (SPECIALISATION_FIELDS.get(name, name), wanted)
        for name in pool.specialisation_match
        if (wanted := lead.value(name)) is not None
    )
    period_caps = [(g, pool.period_caps[g]) for g in GRAINS if g in pool.period_caps]
    max_load = pool.max_load
    dw, tw = pool.deal_load_weight, pool.task_load_weight
    crit = tuple(
        (cc.name, cc.limit) for cc in pool.criteria_caps if lead.value(cc.field) == cc.value
    )
    owner = lead.company_owner_id
    key = (specs, crit, exclude, owner)

    if memo is None:
        memo = DecideMemo()
    before = memo.facts
    todo: Iterable[int] = range(n)
    if memo.pool is pool and memo.key == key and len(before) == n:
        todo = list(compress(range(n), map(is_not, members, before)))
        if any(members[i].id != before[i].id for i in todo):
            before = ()  # another member at some position: start afresh
    else:
        before = ()
    if not before:
        memo.pool, memo.key = pool, key
        memo.settled = [INF] * n
        memo.unsettled = set()
        memo.ok = [False] * n
        memo.why = {}
        memo.index = {m.id: i for i, m in enumerate(members)}
        memo.levels = [0.0] * n
        memo.tie_keys = [0] * n
        memo.ids = [m.id for m in members]
        todo = range(n)
    settled, unsettled, ok_at, why_at = memo.settled, memo.unsettled, memo.ok, memo.why
    levels, tie_keys = memo.levels, memo.tie_keys
    pool_hashes = tie_hashes(pool.name)
    for i in todo:
        (mid, active, _, _, absent, _, level, last, away, catch_up, *_, in_pool) = members[i]
        levels[i] = 0.0 if level is None else level
        tie_keys[i] = tie_key(last, pool_hashes.get(mid) or tie_hash(pool.name, mid))
        if in_pool and active and not absent and level is not None and not away and not catch_up:
            settled[i] = level
            unsettled.discard(i)
        else:
            settled[i] = INF
            unsettled.add(i)
    low = min(settled) if n else INF
    floor = 0.0 if low == INF else low  # fairness.joining_level
    visit = sorted(unsettled.union(todo)) if before else todo
    memo.facts = members

    current: list[MemberFacts] = list(members)
    changes: dict[str, StateChange] = {}
    rejoined: list[tuple[str, float | None, float]] = []
    outsiders = False  # an eligible member outside the pool (the client's owner)
    catching_up = False
    no_load_cap = max_load is None
    limit_load = 0.0 if max_load is None else max_load
    for i in visit:
        m = members[i]
        # Unpacked once: local names are much cheaper than named-tuple attributes here.
        (mid, active, role, on_shift, absent, specialisations, level, _, away, catch_up, _, _,
         open_deals, open_tasks, period_counts, criteria_counts, _, in_pool) = m  # fmt: skip
        if in_pool and not (
            active and not absent and level is not None and not away and not catch_up
        ):
            m = current[i] = _presence(m, floor, day, pool.rejoin, changes, rejoined)
            levels[i] = 0.0 if m.level is None else m.level
        if m.catch_up:
            catching_up = True
        ok = active and role != "assistant" and not absent and on_shift and mid not in exclude
        if ok and specs:
            for fname, wanted in specs:
                offered = specialisations.get(fname, ())
                if offered and wanted not in offered:
                    ok = False
                    break
        if ok and period_caps:
            for g, cap in period_caps:
                if period_counts.get(g, 0) + 1 > cap:
                    ok = False
                    break
        if ok and not no_load_cap and dw * open_deals + tw * open_tasks + dw > limit_load:
            ok = False
        if ok and crit:
            for cname, limit in crit:
                if criteria_counts.get(cname, 0) + 1 > limit:
                    ok = False
                    break
        if not ok:
            why = exclusion(m, pool, lead, exclude)
            if why is None:  # pragma: no cover - the inlined test mirrors exclusion()
                ok = True
            else:
                why_at[i] = (mid, why[0], why[1]) if in_pool or mid == owner else None
        ok_at[i] = ok
        if ok:
            why_at.pop(i, None)
            if not in_pool:
                outsiders = True

    eligible = list(compress(range(n), ok_at))
    excluded = tuple(e for i in sorted(why_at) if (e := why_at[i]) is not None)
    # Copies: the memo's lists change with the next decision; this outcome's view must not.
    candidates = Candidates(
        pool, current, eligible, floor, catching_up, memo.index, levels[:], tie_keys[:], memo.ids
    )
    owner_pos = None if owner is None else memo.index.get(owner)
    owner_facts = None if owner_pos is None else current[owner_pos]
    owner_ok = owner_pos is not None and (
        ok_at[owner_pos]
        or (not pool.owner_must_be_eligible and owner_facts is not None and owner_facts.active)
    )
    common = {
        "strategy": strategy.name,
        "candidates": candidates,
        "excluded": tuple(excluded),
        "rejoined": tuple(rejoined),
    }
    if pool.account_management and owner is not None and owner_facts is not None and owner_ok:
        m = _on(owner_facts, day)
        changes[m.id] = _change(m, assigned=True)
        return Outcome(
            manager_id=owner,
            rule="account_management",
            tie=None,
            changes=tuple(changes.values()),
            note=f"company {lead.company_id} is owned by {owner}",
            **common,  # type: ignore[arg-type]
        )
    pooled = (
        candidates.only([k for k, i in enumerate(eligible) if current[i].in_pool])
        if outsiders
        else candidates
    )
    choice = strategy.choose(lead, pooled, pool) if pooled else None
    if choice is None:
        return Outcome(
            manager_id=None,
            rule="no_eligible",
            tie=None,
            changes=tuple(changes.values()),
            note="no eligible manager" if not pooled else "the strategy left it unassigned",
            **common,  # type: ignore[arg-type]
        )
    chosen = _on(current[memo.index[choice.manager_id]], day)
    assert chosen.level is not None
    extra = chosen.in_pool and chosen.catch_up and chosen.catch_up_used < pool.catch_up_per_day
    used = chosen.catch_up_used + (1 if extra else 0)
    after = chosen._replace(level=chosen.level + choice.increment, catch_up_used=used)
    changes[chosen.id] = _change(after, assigned=True)
    return Outcome(
        manager_id=chosen.id,
        rule="fairness",
        tie=choice.tie,
        changes=tuple(changes.values()),
        note=choice.note,
        **common,  # type: ignore[arg-type]
    )


def _on(m: MemberFacts, day: str) -> MemberFacts:
    """A pool member's catch-up counter as of ``day`` (the allowance is per day)."""
    if not m.in_pool or m.catch_up_day == day:
        return m
    return m._replace(catch_up_day=day, catch_up_used=0)


def _presence(
    m: MemberFacts,
    floor: float,
    day: str,
    rejoin: str,
    changes: dict[str, StateChange],
    rejoined: list[tuple[str, float | None, float]],
) -> MemberFacts:
    """Presence for a member who is absent, away, new or catching up (the rest keep state)."""
    level, away, catch = m.level, m.away, m.catch_up
    if not (m.active and not m.absent):
        away = True
    elif level is None:
        level = floor
        rejoined.append((m.id, None, level))
    elif away:
        away = False
        if rejoin == "catch_up":
            catch = level < floor and not same(level, floor)
        else:
            rejoined.append((m.id, level, max(level, floor)))
            level = max(level, floor)
    level = floor if level is None else level
    if catch and (level >= floor or same(level, floor)):
        catch = False
    used = m.catch_up_used if m.catch_up_day == day else 0
    new = m._replace(level=level, away=away, catch_up=catch, catch_up_day=day, catch_up_used=used)
    if (level, away, catch) != (m.level, m.away, m.catch_up):
        changes[m.id] = _change(new)
    return new


def _change(m: MemberFacts, *, assigned: bool = False) -> StateChange:
    return StateChange(
        manager_id=m.id,
        level=0.0 if m.level is None else m.level,
        away=m.away,
        catch_up=m.catch_up,
        catch_up_day=m.catch_up_day,
        catch_up_used=m.catch_up_used,
        assigned=assigned,
    )
