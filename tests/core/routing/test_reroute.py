"""Re-route after take_into_work_minutes = 30 business minutes.

Lead routed Mon 2 Mar 12:00 Moscow to a (hash order of a, b decides; we read who got it).
At 12:29 nothing is overdue (29 < 30 business minutes); at 12:31 it is: the new decision
excludes the previous assignee with rule ``previous_assignee`` and goes to the other manager.
A lead whose assignee logged a call after the decision is never re-routed.
"""

from __future__ import annotations

from datetime import timedelta

from ropilot.core.models import Activity, ActivityType
from ropilot.core.routing import RoutingEngine
from ropilot.core.routing.reroute import overdue, reroute
from ropilot.core.store import Store
from tests.core.routing.helpers import ACCOUNT, NOON, regs, seed


def test_reroute_after_the_sla(store: Store) -> None:
    ids = seed(store, ["a", "b"], 2)
    engine = RoutingEngine(store, ACCOUNT, regs(take_into_work_minutes=30))
    first = engine.route(ids[0], now=NOON)
    worked = engine.route(ids[1], now=NOON)
    store.upsert_models(
        [
            Activity(
                account_id=ACCOUNT,
                id="call1",
                type=ActivityType.CALL,
                manager_id=worked.manager_id,
                at=NOON + timedelta(minutes=5),
                deal_id=ids[1],
            )
        ]
    )
    assert overdue(engine, NOON + timedelta(minutes=29)) == []
    again = reroute(engine, NOON + timedelta(minutes=31))
    assert [(d.deal_id, d.reason) for d in again] == [(ids[0], "reroute")]
    assert again[0].manager_id not in (None, first.manager_id)
    assert {
        "manager_id": first.manager_id,
        "rule": "previous_assignee",
        "detail": "the lead was not taken into work in time by them",
    } in again[0].explanation["excluded"]
    assert overdue(engine, NOON + timedelta(minutes=32)) == []
