"""Exact shares through the engine, on SQLite and PostgreSQL.

Equal weights, 3 managers, 120 leads: every lead raises the winner's level by 1 ÷ 1, the lowest
level always wins, so after every 3 leads all levels are equal again → 120 ÷ 3 = 40 each.
Weights 2:1:1: a's level grows by 1 ÷ 2 = 0.5, b's and c's by 1; per cycle of 4 leads a takes
2 (0 → 0.5 → 1) while b and c take 1 each (0 → 1) → 120 × 2/4 = 60, 120 × 1/4 = 30, 30.
"""

from __future__ import annotations

from collections import Counter

from ropilot.core.routing import RoutingEngine
from ropilot.core.store import Store
from tests.core.routing.helpers import ACCOUNT, NOON, regs, seed


def _route_all(store: Store, engine: RoutingEngine, ids: list[str]) -> Counter[str]:
    got: Counter[str] = Counter()
    for d in ids:
        decision = engine.route(d, now=NOON)
        assert decision.manager_id is not None
        got[decision.manager_id] += 1
    return got


def test_equal_weights_give_40_40_40(store: Store) -> None:
    ids = seed(store, ["a", "b", "c"], 120)
    engine = RoutingEngine(store, ACCOUNT, regs())
    assert _route_all(store, engine, ids) == {"a": 40, "b": 40, "c": 40}


def test_weights_2_1_1_give_60_30_30(store: Store) -> None:
    ids = seed(store, ["a", "b", "c"], 120)
    engine = RoutingEngine(store, ACCOUNT, regs(weights={"a": 2}))
    assert _route_all(store, engine, ids) == {"a": 60, "b": 30, "c": 30}
