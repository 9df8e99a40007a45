"""The connections a routing engine keeps: a lost one is replaced, not handed out again."""

from __future__ import annotations

import pytest
from sqlalchemy import create_engine
from sqlalchemy.exc import OperationalError

from ropilot.core.routing import RoutingEngine
from ropilot.core.store import Store
from tests.core.routing.helpers import ACCOUNT, NOON, regs, seed


@pytest.mark.parametrize(
    "store_url", [pytest.param("postgres", marks=pytest.mark.postgres)], indirect=True
)
def test_routing_goes_on_after_the_server_drops_the_kept_connection(
    store: Store, store_url: str
) -> None:
    assert store.dialect == "postgresql"  # a backend to terminate
    ids = seed(store, ["a", "b"], 4)
    with RoutingEngine(store, ACCOUNT, regs(managers=["a", "b"])) as engine:
        engine.route(ids[0], now=NOON)  # the pool's first decision (locked path)
        engine.route(ids[1], now=NOON)  # the optimistic path: the autocommit connection is kept
        kept = engine._kept.get(autocommit=True)
        backend = kept.exec_driver_sql("SELECT pg_backend_pid()").scalar()
        admin = create_engine(store_url)
        with admin.begin() as c:
            c.exec_driver_sql(f"SELECT pg_terminate_backend({backend})")
        admin.dispose()
        with pytest.raises(OperationalError):  # SQLAlchemy's error, not the driver's
            engine.route(ids[2], now=NOON)
        third = engine.route(ids[2], now=NOON)  # a new connection, the decision made
        fourth = engine.route(ids[3], now=NOON)
    assert {third.manager_id, fourth.manager_id} == {"a", "b"}
