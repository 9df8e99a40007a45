"""Responsible-user writes against a running sandbox: one lead, a retried one, a batch."""

from __future__ import annotations

from typing import Any

import pytest

from ropilot.connectors.amocrm.connector import AmoCRMConnector
from ropilot.connectors.amocrm.sandbox import Fault, SandboxState
from ropilot.connectors.amocrm.writes import AmoCRMValidationError
from ropilot.connectors.base import Capability
from ropilot.connectors.http import HTTPStatusError


def _responsible(connector: AmoCRMConnector, lead: int) -> int:
    body = connector.client.get_json(f"/api/v4/leads/{lead}")
    return int(body["responsible_user_id"])


def _other_user(connector: AmoCRMConnector, lead: int, users: list[int]) -> int:
    current = _responsible(connector, lead)
    return next(u for u in users if u != current)


def test_declares_the_write_capabilities(connector: AmoCRMConnector) -> None:
    assert {
        Capability.WRITE_RESPONSIBLE,
        Capability.CREATE_TASK,
        Capability.ADD_NOTE,
        Capability.UPDATE_FIELD,
    } <= connector.capabilities


def test_set_responsible_is_visible_and_recorded_as_an_event(
    connector: AmoCRMConnector, wire: Any, leads: list[int], users: list[int]
) -> None:
    lead = leads[0]
    before = _responsible(connector, lead)
    target = _other_user(connector, lead, users)
    wire.sent.clear()

    connector.set_responsible(str(lead), str(target))

    patches = wire.requests_to("PATCH", f"/api/v4/leads/{lead}")
    assert [p.body for p in patches] == [{"responsible_user_id": target}]
    assert _responsible(connector, lead) == target
    events = connector.client.get_json(
        "/api/v4/events",
        {"filter[type]": "entity_responsible_changed", "filter[entity_id]": lead},
    )
    changes = [
        (
            e["value_before"][0]["responsible_user"]["id"],
            e["value_after"][0]["responsible_user"]["id"],
        )
        for e in events["_embedded"]["events"]
    ]
    assert changes == [(before, target)]
    # The connector reads the change back as an assignment.
    assignments = [a for a in connector.read("assignments") if a.deal_id == str(lead)]
    assert [(a.from_manager_id, a.to_manager_id) for a in assignments] == [
        (str(before), str(target))
    ]


def test_set_responsible_is_resent_after_a_dropped_connection(
    connector: AmoCRMConnector, state: SandboxState, wire: Any, leads: list[int], users: list[int]
) -> None:
    lead = leads[1]
    target = _other_user(connector, lead, users)
    state.faults.add(f"PATCH /api/v4/leads/{lead}", [Fault(0)])
    wire.sent.clear()

    connector.set_responsible(str(lead), str(target))

    assert state.faults.pending() == 0
    assert len(wire.requests_to("PATCH", f"/api/v4/leads/{lead}")) == 2
    assert _responsible(connector, lead) == target


def test_set_responsible_unknown_user_fails_with_amocrm_detail(
    connector: AmoCRMConnector, leads: list[int]
) -> None:
    with pytest.raises(HTTPStatusError) as caught:
        connector.set_responsible(str(leads[0]), "999999")
    assert isinstance(caught.value, AmoCRMValidationError)
    assert caught.value.status == 400
    assert "responsible_user_id" in str(caught.value)
    assert "NotSupportedChoice" in str(caught.value)


def test_batch_of_120_changes_is_three_patches_of_at_most_50(
    connector: AmoCRMConnector, wire: Any, leads: list[int], users: list[int]
) -> None:
    chosen = leads[:120]
    target = {lead: users[i % len(users)] for i, lead in enumerate(chosen)}
    wire.sent.clear()

    updated = connector.set_responsible_many({str(k): str(v) for k, v in target.items()})

    assert updated == 120
    patches = wire.requests_to("PATCH", "/api/v4/leads")
    assert [len(p.body) for p in patches] == [50, 50, 20]
    assert [item["id"] for p in patches for item in p.body] == chosen
    assert wire.sent == patches  # nothing else was sent
    got = {
        int(d.id): int(d.responsible_id or 0)
        for d in connector.read("deals")
        if int(d.id) in target
    }
    assert got == target


def test_batch_size_is_capped_at_50(connector: AmoCRMConnector) -> None:
    with pytest.raises(ValueError, match="between 1 and 50"):
        connector.set_responsible_many({"1": "2"}, batch_size=51)


def test_batch_validation_error_names_the_failing_item(
    connector: AmoCRMConnector, leads: list[int], users: list[int]
) -> None:
    changes = [(str(leads[0]), str(users[0])), (str(leads[1]), "999999")]
    with pytest.raises(AmoCRMValidationError) as caught:
        connector.set_responsible_many(changes)
    message = str(caught.value)
    assert "[request_id 1] responsible_user_id:" in message
    assert "NotSupportedChoice" in message
    assert caught.value.errors[0]["request_id"] == "1"
