"""The engine's kept member table, the routing sequence and the snapshot-plus-delta storage.

Two engines on one store, alternating (each must see the other's decisions through the
routing sequence): 3 managers, day cap 4, 13 leads. Equal weights, lowest level first, so the
12 first leads go 4/4/4 — each engine alone has seen only half of them — and the 13th finds
everyone at 4 + 1 > 4: ``no_eligible`` with three ``cap_period`` exclusions.

A rebuild seen by a running engine: 2 managers, load cap 2 (``max_open_load`` counts this lead
too: load + 1 ≤ 2). Four leads → 2 each (loads 2, 2); the fifth: 2 + 1 > 2 for both →
nobody. Two of a's leads are lost outside routing and the counters rebuilt: a's load 0, so the
sixth goes to a (b: 2 + 1 > 2).

Pools share loads: pool ``web`` (source web) has x alone, pool ``call`` (source call) has x and
z, load cap 2 in both. Two web leads go to x (load 0 → 1 → 2); the call lead then finds x at
2 + 1 > 2 (``cap_load``) and goes to z — the call pool's table took x's load from the web
pool's decisions without re-reading it.

Storage: a 40-member pool, 60 leads. A decision stores the members changed since the same
engine's previous decision; a snapshot is written with the first decision, whenever more than
max(16, 40 ÷ 8) = 16 members changed at once, and every 256 decisions. The first decision
gives every member its joining level (none → 0), so all 40 change and decision 2 writes one;
after that one winner changes per decision (well under 16) and 58 < 256 decisions follow:
2 snapshots in all, and the last decision's inputs are rebuilt through a chain of 58 deltas.
Every stored decision expands (``load_decision``) to exactly the explanation the engine
returned, and replays to the same answer.
"""

from __future__ import annotations

from sqlalchemy import func, select

from ropilot.core.regulations import regulations_from_dict
from ropilot.core.routing import RoutingEngine, builtin_strategies, replay
from ropilot.core.routing.engine import load_decision, rebuild_counters
from ropilot.core.store import Store
from ropilot.core.store.schema import routing_snapshots
from tests.core.routing.helpers import ACCOUNT, NOON, regs, seed


def test_two_engines_see_each_others_decisions(store: Store) -> None:
    ids = seed(store, ["a", "b", "c"], 13)
    rules = regs(caps={"per_period": {"period": "day", "max": 4}})
    engines = [RoutingEngine(store, ACCOUNT, rules), RoutingEngine(store, ACCOUNT, rules)]
    got: dict[str, int] = {}
    for i, d in enumerate(ids[:12]):
        decision = engines[i % 2].route(d, now=NOON)
        assert decision.manager_id is not None
        got[decision.manager_id] = got.get(decision.manager_id, 0) + 1
    assert got == {"a": 4, "b": 4, "c": 4}
    last = engines[0].route(ids[12], now=NOON)
    assert last.manager_id is None and last.rule == "no_eligible"
    assert sorted((e["manager_id"], e["rule"]) for e in last.explanation["excluded"]) == [
        ("a", "cap_period"),
        ("b", "cap_period"),
        ("c", "cap_period"),
    ]


def test_a_rebuild_reaches_a_running_engine(store: Store) -> None:
    ids = seed(store, ["a", "b"], 6)
    pool = regs(caps={"max_open_load": 2})
    engine = RoutingEngine(store, ACCOUNT, pool)
    first = [engine.route(d, now=NOON) for d in ids[:4]]
    assert sorted(d.manager_id or "" for d in first) == ["a", "a", "b", "b"]
    assert engine.route(ids[4], now=NOON).manager_id is None
    lost = [d.deal_id for d in first if d.manager_id == "a"]
    store.update("deals", [{"account_id": ACCOUNT, "id": d, "stage_id": "lost"} for d in lost])
    rebuild_counters(store, ACCOUNT, engine.rules_for(pool.routing.pools[0]), NOON)
    assert engine.route(ids[5], now=NOON).manager_id == "a"


def test_pools_share_loads(store: Store) -> None:
    ids = seed(store, ["x", "z"], 3)
    sources = ["web", "web", "call"]
    store.update(
        "deals",
        [{"account_id": ACCOUNT, "id": d, "source": s} for d, s in zip(ids, sources, strict=True)],
    )
    caps = {"max_open_load": 2}
    rules = regulations_from_dict(
        {
            "routing": {
                "pools": [
                    {"name": "web", "sources": ["web"], "managers": ["x"], "caps": caps},
                    {"name": "call", "sources": ["call"], "managers": ["x", "z"], "caps": caps},
                ]
            }
        }
    )
    engine = RoutingEngine(store, ACCOUNT, rules)
    engine.route(ids[2], dry_run=True, now=NOON)  # the call pool's table, current before
    assert [engine.route(d, now=NOON).manager_id for d in ids[:2]] == ["x", "x"]
    third = engine.route(ids[2], now=NOON)
    assert third.manager_id == "z"
    assert {"manager_id": "x", "rule": "cap_load", "detail": "load 2 + 1 > 2"} in (
        third.explanation["excluded"]
    )


def test_stored_decisions_expand_and_replay_exactly(store: Store) -> None:
    members = [f"m{i:02d}" for i in range(40)]
    ids = seed(store, members, 60)
    engine = RoutingEngine(store, ACCOUNT, regs(caps={"per_period": {"period": "day", "max": 9}}))
    decisions = [engine.route(d, now=NOON) for d in ids]
    with store.engine.connect() as conn:
        snapshots = conn.execute(select(func.count()).select_from(routing_snapshots)).scalar()
    assert snapshots == 2
    strategies = builtin_strategies()
    for decision in decisions:
        stored = load_decision(store, ACCOUNT, decision.id)
        assert stored["explanation"] == decision.explanation
        assert stored["inputs"] == decision.inputs
        again = replay(store, ACCOUNT, decision.id, strategies)
        assert again.same and again.replayed_manager_id == decision.manager_id
    # The first decision of the second round: everyone at level 1, a 40-way tie.
    tie = decisions[40].explanation["tie"]
    assert tie["between"] == members and len(tie["order"]) == 40
