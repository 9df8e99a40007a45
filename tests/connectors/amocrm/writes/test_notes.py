"""add_note against a running sandbox: idempotent per key, safe after a dropped connection."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from ropilot.connectors.amocrm.connector import AmoCRMConnector
from ropilot.connectors.amocrm.sandbox import Fault, SandboxState
from ropilot.connectors.amocrm.writes import AmoCRMValidationError


def _notes_with(state: SandboxState, entity: str, text: str) -> list[dict[str, Any]]:
    with state.lock:
        return [
            dict(n)
            for n in state.notes[entity].values()
            if (n.get("params") or {}).get("text") == text
        ]


def test_add_note_posts_a_common_note(
    connector: AmoCRMConnector, state: SandboxState, wire: Any, leads: list[int]
) -> None:
    wire.sent.clear()
    note_id = connector.add_note(
        "deal", str(leads[0]), "Client asked for a discount", idempotency_key="n-1"
    )
    posts = wire.requests_to("POST", "/api/v4/leads/notes")
    assert [p.body for p in posts] == [
        [
            {
                "entity_id": leads[0],
                "note_type": "common",
                "params": {"text": "Client asked for a discount"},
                "request_id": "n-1",
            }
        ]
    ]
    (note,) = _notes_with(state, "leads", "Client asked for a discount")
    assert (str(note["id"]), note["entity_id"], note["note_type"]) == (note_id, leads[0], "common")
    # The connector reads it back as a "note" activity of the deal.
    activities = [a for a in connector.read("activities") if a.id == note_id]
    assert [(a.type, a.deal_id) for a in activities] == [("note", str(leads[0]))]


def test_same_key_twice_adds_one_note(
    connector: AmoCRMConnector,
    another_connector: Callable[[], AmoCRMConnector],
    state: SandboxState,
    wire: Any,
    leads: list[int],
) -> None:
    first = connector.add_note("deal", str(leads[1]), "Once only", idempotency_key="n-2")
    wire.sent.clear()
    assert connector.add_note("deal", str(leads[1]), "Once only", idempotency_key="n-2") == first
    assert wire.sent == []
    assert (
        another_connector().add_note("deal", str(leads[1]), "Once only", idempotency_key="n-2")
        == first
    )
    assert [str(n["id"]) for n in _notes_with(state, "leads", "Once only")] == [first]


def test_dropped_connection_adds_exactly_one_note(
    connector: AmoCRMConnector, state: SandboxState, wire: Any, leads: list[int]
) -> None:
    state.faults.add("POST /api/v4/leads/notes", [Fault(0)])
    wire.sent.clear()
    note_id = connector.add_note("deal", str(leads[2]), "After a drop", idempotency_key="n-3")
    assert state.faults.pending() == 0
    assert [str(n["id"]) for n in _notes_with(state, "leads", "After a drop")] == [note_id]
    assert [(s.method, s.path) for s in wire.sent] == [
        ("POST", "/api/v4/leads/notes"),
        ("GET", f"/api/v4/leads/{leads[2]}/notes"),
        ("POST", "/api/v4/leads/notes"),
    ]


def test_answer_lost_after_processing_adds_exactly_one_note(
    connector: AmoCRMConnector, state: SandboxState, wire: Any, leads: list[int]
) -> None:
    fired = [False]

    def lose(sent: Any) -> bool:
        if not fired[0] and sent.method == "POST" and sent.path == "/api/v4/leads/notes":
            fired[0] = True
            return True
        return False

    wire.lose_when = lose
    wire.sent.clear()
    note_id = connector.add_note("deal", str(leads[3]), "Answer lost", idempotency_key="n-4")
    assert [str(n["id"]) for n in _notes_with(state, "leads", "Answer lost")] == [note_id]
    assert len(wire.requests_to("POST", "/api/v4/leads/notes")) == 1


def test_notes_on_contacts_and_companies(connector: AmoCRMConnector, state: SandboxState) -> None:
    with state.lock:
        contact = min(state.records["contacts"])
        company = min(state.records["companies"])
    c = connector.add_note("contact", str(contact), "On the contact", idempotency_key="n-5")
    k = connector.add_note("company", str(company), "On the company", idempotency_key="n-6")
    assert [str(n["id"]) for n in _notes_with(state, "contacts", "On the contact")] == [c]
    assert [str(n["id"]) for n in _notes_with(state, "companies", "On the company")] == [k]


def test_empty_text_fails_with_the_amocrm_validation_detail(
    connector: AmoCRMConnector, leads: list[int]
) -> None:
    with pytest.raises(AmoCRMValidationError) as caught:
        connector.add_note("deal", str(leads[0]), "", idempotency_key="n-7")
    assert caught.value.status == 400
    assert "params.text: This value should not be blank. (NotBlank)" in str(caught.value)


def test_unknown_entity_is_refused(connector: AmoCRMConnector) -> None:
    with pytest.raises(Exception, match="use deal, contact or company"):
        connector.add_note("invoice", "1", "x", idempotency_key="n-8")
