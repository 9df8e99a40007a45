"""The memo of ``decide`` changes nothing but speed (hypothesis).

A random pool and member table, then a random walk: each step replaces some members' facts
wholesale or changes one field (presence, level, counters, load, catch-up) the way the engine
does — a new ``MemberFacts``
object for a changed member, the same object otherwise — and routes a random lead, sometimes
with another client's owner, specialisation or excluded manager. The decision with a memo
kept across steps must equal the decision computed from scratch, in every part that is shown
or stored.
"""

from __future__ import annotations

from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from ropilot.core.routing.decide import DecideMemo, decide
from ropilot.core.routing.models import (
    CriteriaCap,
    DecisionInputs,
    Lead,
    MemberFacts,
    Outcome,
    PoolRules,
)
from ropilot.core.routing.strategies import LeastLoaded, RoundRobin, WeightedFair

NOW = 1_772_442_000_000_000
IDS = [f"m{i}" for i in range(8)]
PRODUCTS = ["loans", "cards"]


def _view(o: Outcome) -> dict[str, Any]:
    return {
        "explanation": o.explanation(),
        "compact": o.compact(),
        "changes": o.changes,
        "positions": list(o.candidates.positions),
        "members": list(o.candidates.members),
    }


member = st.builds(
    MemberFacts,
    id=st.just(""),
    active=st.booleans() | st.just(True),
    role=st.sampled_from(["manager", "manager", "assistant"]),
    on_shift=st.booleans() | st.just(True),
    absent=st.booleans(),
    specialisations=st.sampled_from([{}, {"products": ("loans",)}, {"products": ("cards",)}]),
    level=st.none() | st.sampled_from([0.0, 0.5, 1.0, 1.0 + 1e-12, 2.0, 1 / 3]),
    last_assigned_us=st.none() | st.integers(0, 3),
    away=st.booleans(),
    catch_up=st.booleans(),
    catch_up_day=st.sampled_from([None, "2026-03-02", "2026-03-01"]),
    catch_up_used=st.integers(0, 2),
    open_deals=st.integers(0, 4),
    open_tasks=st.integers(0, 3),
    period_counts=st.fixed_dictionaries({}, optional={"day": st.integers(0, 3)}),
    criteria_counts=st.fixed_dictionaries({}, optional={"product=loans": st.integers(0, 2)}),
    factor=st.sampled_from([1.0, 0.5, 1.5]),
    in_pool=st.just(True),
)

pool_rules = st.builds(
    PoolRules,
    name=st.just("p"),
    members=st.just(tuple(IDS)),
    weights=st.sampled_from([{}, {"m0": 2.0, "m1": 3.0}]),
    period_caps=st.sampled_from([{}, {"day": 2}, {"day": 3, "week": 9}]),
    max_load=st.none() | st.sampled_from([3.0, 5.0]),
    task_load_weight=st.sampled_from([0.0, 0.5]),
    criteria_caps=st.sampled_from([(), (CriteriaCap("product", "loans", "day", 1),)]),
    rejoin=st.sampled_from(["min_level", "catch_up"]),
    catch_up_per_day=st.sampled_from([0.0, 1.0]),
    account_management=st.booleans(),
    owner_must_be_eligible=st.booleans(),
    specialisation_match=st.sampled_from([(), ("product",)]),
)

lead = st.builds(
    Lead,
    deal_id=st.just("d"),
    product=st.none() | st.sampled_from(PRODUCTS),
    company_id=st.just("c"),
    company_owner_id=st.none() | st.sampled_from([*IDS[:3], "outsider"]),
)

# One field of one member changed, as the engine's counters, loads and levels move.
bump = st.one_of(
    st.tuples(st.just("level"), st.sampled_from([0.0, 1.0, 1.0 + 1e-12, 2.0])),
    st.tuples(st.just("open_deals"), st.integers(0, 6)),
    st.tuples(st.just("open_tasks"), st.integers(0, 6)),
    st.tuples(st.just("period_counts"), st.sampled_from([{}, {"day": 1}, {"day": 3}])),
    st.tuples(st.just("criteria_counts"), st.sampled_from([{}, {"product=loans": 1}])),
    st.tuples(st.just("last_assigned_us"), st.integers(0, 3)),
    st.tuples(st.sampled_from(["active", "on_shift", "absent", "away", "catch_up"]), st.booleans()),
    st.tuples(st.just("factor"), st.sampled_from([0.5, 1.0, 2.0])),
)

step = st.tuples(
    st.lists(st.tuples(st.integers(0, len(IDS) - 1), member | bump), max_size=3),
    st.just(Lead(deal_id="d", company_id="c")) | lead,  # often the same: the memo is reused
    st.just(()) | st.sampled_from([(), ("m1",)]),  # excluded (a re-route)
    st.booleans(),  # the owner from outside the pool is appended
)


@settings(max_examples=150, deadline=None)
@given(
    rules=pool_rules,
    first=st.lists(member, min_size=len(IDS), max_size=len(IDS)),
    steps=st.lists(step, min_size=1, max_size=12),
    strategy=st.sampled_from([WeightedFair(), RoundRobin(), LeastLoaded()]),
)
def test_a_kept_memo_decides_exactly_as_a_fresh_pass(
    rules: PoolRules,
    first: list[MemberFacts],
    steps: list[tuple[list[tuple[int, Any]], Lead, tuple[str, ...], bool]],
    strategy: Any,
) -> None:
    table = [m._replace(id=mid) for m, mid in zip(first, IDS, strict=True)]
    memo = DecideMemo()
    kept: list[tuple[Outcome, dict[str, Any]]] = []
    for replaced, the_lead, exclude, outsider in steps:
        for i, change in replaced:
            if isinstance(change, MemberFacts):
                table[i] = change._replace(id=IDS[i])
            else:
                table[i] = table[i]._replace(**{change[0]: change[1]})
        members = list(table)
        if outsider and the_lead.company_owner_id == "outsider":
            members.append(MemberFacts(id="outsider", level=0.0, in_pool=False))
        inputs = DecisionInputs(
            pool=rules,
            lead=the_lead,
            now_us=NOW,
            period_keys={"day": "2026-03-02"},
            members=tuple(members),
            exclude=exclude,
        )
        with_memo, fresh = decide(inputs, strategy, memo), _view(decide(inputs, strategy))
        kept.append((with_memo, fresh))
    # Read only now, after later decisions changed the memo: an outcome must not change with it
    # (the levels are read lazily, e.g. never during a least-loaded or owner decision).
    for with_memo, fresh in kept:
        assert _view(with_memo) == fresh


def test_an_outcome_keeps_its_levels_after_the_memo_moves_on() -> None:
    """Least loaded never reads the level column while deciding; read later it must still be
    the levels of that decision, not of the next one (the memo's lists change in place)."""
    pool = PoolRules(name="p", members=("a", "b"))
    lead = Lead(deal_id="d")

    def inputs(members: list[MemberFacts]) -> DecisionInputs:
        return DecisionInputs(
            pool=pool, lead=lead, now_us=NOW, period_keys={"day": "x"}, members=tuple(members)
        )

    memo = DecideMemo()
    first = [MemberFacts("a", level=1.0), MemberFacts("b", level=2.0)]
    earlier = decide(inputs(first), LeastLoaded(), memo)
    decide(inputs([first[0]._replace(level=5.0), first[1]]), LeastLoaded(), memo)
    assert [e[:2] for e in earlier.eligible] == [("a", 1.0), ("b", 2.0)]
