"""Absence and rejoin, exclusions with their rules, replay, counters equal a recount.

Rejoin, hand-computed (3 managers, equal weights, min_level rejoin):
- Mon 2 Mar, 6 leads: two rounds, levels a = b = c = 2.
- Tue 3 Mar, c absent (rule ``absent``), 6 leads: a and b alternate, levels a = b = 5, c = 2.
- Wed 4 Mar, c back: c rejoins at max(2, min(5, 5)) = 5; 3 leads → one each (levels 6, 6, 6).
  Without the rejoin rule c (level 2) would take all three.
"""

from __future__ import annotations

from collections import Counter
from datetime import date, timedelta

from ropilot.core.routing import RoutingEngine, builtin_strategies, replay
from ropilot.core.routing.engine import rebuild_counters, recount, stored_counters
from ropilot.core.store import Store
from tests.core.routing.helpers import ACCOUNT, NOON, regs, seed


def test_absence_and_rejoin_at_the_pool_minimum(store: Store) -> None:
    absence = {"absences": [{"start": date(2026, 3, 3), "end": date(2026, 3, 3)}]}
    ids = seed(store, ["a", "b", "c"], 15, c=absence)
    engine = RoutingEngine(store, ACCOUNT, regs())
    days = [
        (NOON, ids[:6]),
        (NOON + timedelta(days=1), ids[6:12]),
        (NOON + timedelta(days=2), ids[12:]),
    ]
    got = []
    first_back = None
    for moment, batch in days:
        count: Counter[str] = Counter()
        for d in batch:
            decision = engine.route(d, now=moment)
            assert decision.manager_id is not None
            count[decision.manager_id] += 1
            if moment == days[1][0]:
                assert {"manager_id": "c", "rule": "absent", "detail": "absence today"} in (
                    decision.explanation["excluded"]
                )
            if moment == days[2][0] and first_back is None:
                first_back = decision
        got.append(count)
    assert got == [{"a": 2, "b": 2, "c": 2}, {"a": 3, "b": 3}, {"a": 1, "b": 1, "c": 1}]
    assert first_back is not None
    assert first_back.explanation["rejoined"] == [
        {"manager_id": "c", "level_before": 2.0, "level_after": 5.0}
    ]


def test_exclusions_name_their_rules(store: Store) -> None:
    ids = seed(
        store,
        ["ok", "gone", "helper", "far", "cards"],
        2,
        gone={"active": False},
        helper={"role": "assistant"},
        far={"timezone": "Asia/Vladivostok"},  # 09:00 UTC = 19:00 there: off shift
        cards={"specialisations": {"products": ["cards"]}},
    )
    store.update("deals", [{"account_id": ACCOUNT, "id": d, "product": "loans"} for d in ids])
    engine = RoutingEngine(
        store,
        ACCOUNT,
        regs(
            managers=["ok", "gone", "helper", "far", "cards"],
            specialisation_match=["product"],
            caps={"per_period": {"period": "day", "max": 1}},
        ),
    )
    first = engine.route(ids[0], now=NOON)
    assert first.manager_id == "ok"
    rules = {e["manager_id"]: e["rule"] for e in first.explanation["excluded"]}
    assert rules == {
        "gone": "inactive",
        "helper": "role_assistant",
        "far": "off_shift",
        "cards": "specialisation",
    }
    assert [e["manager_id"] for e in first.explanation["eligible"]] == ["ok"]
    second = engine.route(ids[1], now=NOON)
    assert second.manager_id is None and second.rule == "no_eligible"
    ok = next(e for e in second.explanation["excluded"] if e["manager_id"] == "ok")
    assert ok == {"manager_id": "ok", "rule": "cap_period", "detail": "1 leads this day, cap 1"}


def test_replay_gives_the_stored_answer(store: Store) -> None:
    ids = seed(store, ["a", "b", "c"], 12)
    engine = RoutingEngine(store, ACCOUNT, regs(weights={"a": 2}))
    decisions = [engine.route(d, now=NOON) for d in ids]
    for decision in decisions:
        again = replay(store, ACCOUNT, decision.id, builtin_strategies())
        assert again.replayed_manager_id == decision.manager_id
        assert again.same, (again.stored, again.replayed)


def test_counters_equal_a_recount(store: Store) -> None:
    ids = seed(store, ["a", "b", "c"], 30)
    pool = regs(
        caps={
            "per_period": {"period": "day", "max": 100},
            "per_criteria": [{"field": "product", "value": "loans", "period": "month", "max": 50}],
        }
    )
    store.update("deals", [{"account_id": ACCOUNT, "id": d, "product": "loans"} for d in ids[:9]])
    engine = RoutingEngine(store, ACCOUNT, pool)
    for d in ids:
        engine.route(d, now=NOON)
    rules = engine.rules_for(pool.routing.pools[0])
    with store.engine.connect() as conn:
        kept = stored_counters(conn, ACCOUNT, rules)
        counted = recount(conn, ACCOUNT, rules, NOON)
    assert kept == counted
    assert sum(n for (c, _), n in kept[1].items() if c.startswith("day:")) == 30
    assert sum(n for (c, _), n in kept[1].items() if c.startswith("product=")) == 9
    # Deals closed outside routing drop out of the load only at a rebuild.
    store.update("deals", [{"account_id": ACCOUNT, "id": d, "stage_id": "lost"} for d in ids[:3]])
    rebuild_counters(store, ACCOUNT, rules, NOON)
    with store.engine.connect() as conn:
        assert stored_counters(conn, ACCOUNT, rules) == recount(conn, ACCOUNT, rules, NOON)
        assert sum(v[0] for v in stored_counters(conn, ACCOUNT, rules)[0].values()) == 27
