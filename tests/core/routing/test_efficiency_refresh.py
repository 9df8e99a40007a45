"""Measured efficiency bends the shares (sales_definitions.md, Routing), on SQLite and PostgreSQL.

History in the 90-day lookback before Monday 2 March 2026 12:00 Moscow: a won 3 of 4 closed deals,
b won 1 of 4 → team win rate 4 ÷ 8 = 0.5. Only the win rate counts (win_rate_weight 1, speed 0),
k = 4: a = (4 × 0.75 + 4 × 0.5) ÷ 8 = 0.625 → factor 0.625 ÷ 0.5 = 1.25; b = (4 × 0.25 + 4 × 0.5)
÷ 8 = 0.375 → 0.75 (inside the bounds 0.5 … 1.5). Weighted fair with equal declared weights:
a's level grows by 1 ÷ 1.25 = 0.8 a lead, b's by 1 ÷ 0.75 = 4/3; over 16 leads a takes 10
(10 × 0.8 = 8) and b 6 (6 × 4/3 = 8): 10/6 instead of 8/8.
"""

from __future__ import annotations

from collections import Counter
from datetime import timedelta

import pytest

from ropilot.core.models import Deal
from ropilot.core.routing import RoutingEngine
from ropilot.core.store import Store
from tests.core.routing.helpers import ACCOUNT, NOON, regs, seed

EFFICIENCY = {
    "enabled": True,
    "win_rate_weight": 1,
    "speed_weight": 0,
    "prior_strength": 4,
    "min_factor": 0.5,
    "max_factor": 1.5,
    "lookback_days": 90,
}


def _history(store: Store) -> None:
    closed = NOON - timedelta(days=10)
    outcomes = {"a": ["won", "won", "won", "lost"], "b": ["won", "lost", "lost", "lost"]}
    store.upsert_models(
        [
            Deal(
                account_id=ACCOUNT,
                id=f"h-{m}-{i}",
                pipeline_id="p",
                stage_id=kind,
                responsible_id=m,
                created_at=closed - timedelta(days=5),
                closed_at=closed,
            )
            for m, kinds in outcomes.items()
            for i, kind in enumerate(kinds)
        ]
    )


def test_measured_efficiency_sets_the_factors_and_the_shares(store: Store) -> None:
    ids = seed(store, ["a", "b"], 16)
    _history(store)
    engine = RoutingEngine(store, ACCOUNT, regs(efficiency=EFFICIENCY))
    got = engine.refresh_efficiency(NOON)
    assert got["main"] == {"a": pytest.approx(1.25), "b": pytest.approx(0.75)}
    shares: Counter[str] = Counter()
    for d in ids:
        decision = engine.route(d, now=NOON)
        assert decision.manager_id is not None
        shares[decision.manager_id] += 1
    assert shares == {"a": 10, "b": 6}


def test_disabled_efficiency_sets_nothing(store: Store) -> None:
    seed(store, ["a", "b"], 1)
    _history(store)
    engine = RoutingEngine(store, ACCOUNT, regs())
    assert engine.refresh_efficiency(NOON) == {}
