"""Property tests on the pure decision (hypothesis).

Caps: with a day cap C, no manager ever gets more than C leads in the day, and
min(N, managers × C) leads are assigned in all.

Convergence: with weights w_i (lowest level first, level += 1 ÷ w_i), right after a manager is
chosen its level exceeds the minimum by at most 1 ÷ w_i ≤ 1 ÷ w_min, so all levels lie within
1 ÷ w_min of each other. count_i = w_i × L_i, hence |count_i − N × w_i ÷ W| ≤ w_max ÷ w_min.
"""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from ropilot.core.routing.decide import decide
from ropilot.core.routing.models import Lead, MemberFacts, PoolRules
from ropilot.core.routing.simulate import MemoryState
from ropilot.core.routing.strategies import WeightedFair

NOW = 1_772_442_000_000_000  # 2026-03-02 09:00 UTC


def _run(rules: PoolRules, n: int) -> tuple[dict[str, int], int]:
    people = {m: MemberFacts(id=m) for m in rules.members or ()}
    state = MemoryState()
    got: dict[str, int] = {}
    unassigned = 0
    for i in range(n):
        inputs = state.inputs(rules, Lead(deal_id=f"d{i}"), NOW + i, people)
        outcome = decide(inputs, WeightedFair())
        state.apply(inputs, outcome)
        if outcome.manager_id is None:
            unassigned += 1
        else:
            got[outcome.manager_id] = got.get(outcome.manager_id, 0) + 1
    return got, unassigned


@settings(max_examples=60, deadline=None)
@given(
    n_managers=st.integers(1, 6),
    cap=st.integers(0, 30),
    n=st.integers(0, 200),
)
def test_caps_are_never_exceeded(n_managers: int, cap: int, n: int) -> None:
    members = tuple(f"m{i}" for i in range(n_managers))
    rules = PoolRules(name="p", members=members, period_caps={"day": cap})
    got, unassigned = _run(rules, n)
    assert all(v <= cap for v in got.values())
    assert sum(got.values()) == min(n, n_managers * cap)
    assert unassigned == n - sum(got.values())


@settings(max_examples=60, deadline=None)
@given(weights=st.lists(st.integers(1, 4), min_size=1, max_size=6), n=st.integers(1, 300))
def test_shares_converge_to_weights(weights: list[int], n: int) -> None:
    members = tuple(f"m{i}" for i in range(len(weights)))
    rules = PoolRules(
        name="p",
        members=members,
        weights={m: float(w) for m, w in zip(members, weights, strict=False)},
    )
    got, _ = _run(rules, n)
    total = sum(weights)
    bound = max(weights) / min(weights) + 1e-9
    for m, w in zip(members, weights, strict=False):
        assert abs(got.get(m, 0) - n * w / total) <= bound
