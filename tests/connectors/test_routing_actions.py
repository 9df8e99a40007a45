"""Applying routing decisions through the amoCRM sandbox: the responsible changes exactly once.

Two sandbox users other than the lead's current responsible form the pool; the decision picks
one of them; applying it PATCHes the lead once; applying it again (a retried event, a second
worker) sends nothing and returns False.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from ropilot.connectors.amocrm.sandbox import SandboxServer, SandboxState
from ropilot.connectors.amocrm.sandbox.server import run_sandbox, sandbox_from_options
from ropilot.connectors.routing_actions import apply_decision, apply_pending
from ropilot.core.routing import RoutingEngine
from ropilot.core.store import Store
from tests.connectors.amocrm.writes.conftest import make_connector, wire_of
from tests.core.routing.helpers import NOON, regs, seed


@pytest.fixture
def sandbox() -> Iterator[tuple[SandboxState, SandboxServer]]:
    state = sandbox_from_options(None, deals=20, seed=3, rate_limit=0)
    try:
        with run_sandbox(state, log_requests=False) as server:
            yield state, server
    finally:
        state.dispatcher.stop()


def test_decision_changes_the_responsible_exactly_once(
    sandbox: tuple[SandboxState, SandboxServer], store: Store
) -> None:
    connector = make_connector(sandbox[1], store)
    lead = int(
        connector.client.get_json("/api/v4/leads", {"limit": 1})["_embedded"]["leads"][0]["id"]
    )
    before = int(connector.client.get_json(f"/api/v4/leads/{lead}")["responsible_user_id"])
    users = [
        str(u["id"])
        for u in connector.client.get_json("/api/v4/users", {"limit": 250})["_embedded"]["users"]
        if int(u["id"]) != before
    ][:2]
    seed(store, users, 0)
    from ropilot.core.models import Deal
    from tests.core.routing.helpers import ACCOUNT as ROUTING_ACCOUNT

    store.upsert_models(
        [
            Deal(
                account_id=ROUTING_ACCOUNT,
                id=str(lead),
                pipeline_id="p",
                stage_id="new",
                created_at=NOON,
            )
        ]
    )
    decision = RoutingEngine(store, ROUTING_ACCOUNT, regs(managers=users)).route(
        str(lead), now=NOON
    )
    assert decision.manager_id in users
    wire = wire_of(connector)

    assert apply_decision(store, connector, ROUTING_ACCOUNT, decision.id) is True
    assert apply_decision(store, connector, ROUTING_ACCOUNT, decision.id) is False
    assert apply_pending(store, connector, ROUTING_ACCOUNT) == 0

    assert len(wire.requests_to("PATCH", f"/api/v4/leads/{lead}")) == 1
    after = connector.client.get_json(f"/api/v4/leads/{lead}")["responsible_user_id"]
    assert str(after) == decision.manager_id
