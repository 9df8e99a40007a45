"""16 processes route 10,000 leads against one store: no cap exceeded, exact shares.

4 managers, equal weights, a day cap of 2,500 each: 10,000 ÷ 4 = 2,500, so the cap is exactly
the fair share. A lost update (two workers reading the same levels or counters) would show as
a manager over 2,500, or as a lead left unassigned while someone was still under the cap.
"""

from __future__ import annotations

import multiprocessing
from collections import Counter

import pytest
from sqlalchemy import func, select

from ropilot.core.routing import RoutingEngine
from ropilot.core.store import Store
from ropilot.core.store.schema import routing_decisions, routing_levels
from tests.core.routing.helpers import ACCOUNT, NOON, regs, seed

WORKERS = 16
LEADS = 10_000
RULES = {"caps": {"per_period": {"period": "day", "max": 2500}}}


def _worker(url: str, deal_ids: list[str]) -> None:
    store = Store.open(url, upgrade=False)
    try:
        engine = RoutingEngine(store, ACCOUNT, regs(**RULES))
        for d in deal_ids:
            engine.route(d, now=NOON)
    finally:
        store.close()


@pytest.mark.slow
def test_sixteen_processes_never_exceed_a_cap(store: Store, store_url: str) -> None:
    ids = seed(store, ["a", "b", "c", "d"], LEADS)
    store.close()
    ctx = multiprocessing.get_context("fork")
    procs = [ctx.Process(target=_worker, args=(store_url, ids[i::WORKERS])) for i in range(WORKERS)]
    for p in procs:
        p.start()
    for p in procs:
        p.join(timeout=120)
    assert [p.exitcode for p in procs] == [0] * WORKERS
    with store.engine.connect() as conn:
        rows = conn.execute(
            select(routing_decisions.c.manager_id, func.count())
            .where(routing_decisions.c.account_id == ACCOUNT)
            .group_by(routing_decisions.c.manager_id)
        ).all()
        levels = dict(
            conn.execute(select(routing_levels.c.manager_id, routing_levels.c.level)).all()
        )
    assert Counter(dict(rows)) == {"a": 2500, "b": 2500, "c": 2500, "d": 2500}
    assert levels == {"a": 2500.0, "b": 2500.0, "c": 2500.0, "d": 2500.0}
