"""amoCRM JSON → core models, on the reference fixtures (values checked against the JSON)."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime
from decimal import Decimal
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from ropilot.connectors.amocrm import mapping
from ropilot.core.models import ActivityType, Direction, StageKind

FIXTURES = Path(__file__).parents[3].parent / "shared" / "reference" / "fixtures" / "amocrm"
MSK = ZoneInfo("Europe/Moscow")
pytestmark = pytest.mark.skipif(
    not FIXTURES.is_dir(), reason=f"reference fixtures not found at {FIXTURES}"
)


def _load(name: str) -> dict:  # type: ignore[type-arg]
    return json.loads((FIXTURES / name).read_text(encoding="utf-8"))


def test_won_and_lost_statuses_get_pipeline_qualified_ids() -> None:
    (pipeline,) = _load("pipelines_list.synth.json")["_embedded"]["pipelines"]
    model, stages = mapping.pipeline_with_stages("a", pipeline)
    assert model.id == "7000001"
    by_id = {s.id: s for s in stages}
    assert by_id["7000001:142"].kind is StageKind.WON
    assert by_id["7000001:143"].kind is StageKind.LOST
    assert by_id["60000002"].kind is StageKind.OPEN
    assert by_id["60000002"].pipeline_id == "7000001"
    assert [s.sort for s in stages] == sorted(s.sort for s in stages)


def test_lead_fields() -> None:
    lead = _load("leads_list_page1.synth.json")["_embedded"]["leads"][0]
    deal = mapping.deal_from_lead("a", lead, MSK)
    assert deal.id == "1000001"
    assert deal.stage_id == "60000002"
    assert deal.pipeline_id == "7000001"
    assert deal.amount == Decimal("50000")
    assert deal.responsible_id == "9000002"
    assert deal.created_at == datetime(2024, 5, 18, 2, 40, tzinfo=UTC)  # 1716000000
    assert deal.closed_at is None
    # Fields without a ropilot code stay custom fields under their names.
    assert deal.custom_fields == {"Источник": "Сайт", "Дата встречи": 1717200000}


def test_lead_codes_contacts_loss_reason_and_closed_status() -> None:
    lead = {
        "id": 5,
        "name": "X",
        "price": 1000,
        "responsible_user_id": 7,
        "status_id": 143,
        "pipeline_id": 70,
        "created_at": 1700000000,
        "updated_at": 1700000500,
        "closed_at": 1700000400,
        "custom_fields_values": [
            {"field_id": 1, "field_code": "SOURCE", "values": [{"value": "Сайт"}]},
            {"field_id": 2, "field_code": "CURRENCY", "values": [{"value": "USD"}]},
            # 2026-03-31 00:00 Moscow = 2026-03-30 21:00 UTC = 1774904400
            {"field_id": 3, "field_code": "EXPECTED_CLOSE", "values": [{"value": 1774904400}]},
        ],
        "_embedded": {
            "contacts": [{"id": 11, "is_main": False}, {"id": 12, "is_main": True}],
            "companies": [{"id": 21}],
            "loss_reason": [{"id": 3, "name": "Дорого"}],
        },
    }
    deal = mapping.deal_from_lead("a", lead, MSK)
    assert deal.stage_id == "70:143"
    assert deal.closed_at == datetime.fromtimestamp(1700000400, UTC)
    assert (deal.contact_id, deal.company_id) == ("12", "21")
    assert (deal.source, deal.currency, deal.loss_reason) == ("Сайт", "USD", "Дорого")
    assert deal.expected_close_at == date(2026, 3, 31)
    assert deal.custom_fields == {}


def test_contact_phones_from_multitext() -> None:
    item = _load("krukov_contacts_detail_info.json")
    contact = mapping.contact_from_json("a", item)
    assert contact.id == str(item["id"])
    phones = [
        v["value"]
        for f in item.get("custom_fields_values") or []
        if f.get("field_code") == "PHONE"
        for v in f["values"]
    ]
    assert contact.phones == phones


def test_notes_become_activities() -> None:
    call = {
        "id": 1,
        "note_type": "call_out",
        "created_by": 7,
        "created_at": 1700000000,
        "entity_id": 5,
        "params": {"duration": 125, "call_result": "answered"},
    }
    activity = mapping.activity_from_note("a", call, "leads")
    assert activity is not None
    assert (activity.type, activity.direction, activity.duration_s) == (
        ActivityType.CALL,
        Direction.OUT,
        125,
    )
    assert (activity.deal_id, activity.result, activity.manager_id) == ("5", "answered", "7")
    meeting = {
        "id": 2,
        "note_type": "service_message",
        "created_by": 7,
        "created_at": 1700000000,
        "entity_id": 9,
        "params": {"service": "ropilot", "text": "meeting: held"},
    }
    activity = mapping.activity_from_note("a", meeting, "companies")
    assert activity is not None
    assert (activity.type, activity.result, activity.company_id) == (
        ActivityType.MEETING,
        "held",
        "9",
    )
    other = {
        "id": 3,
        "note_type": "service_message",
        "created_by": 7,
        "created_at": 1,
        "params": {"service": "telephony", "text": "meeting: x"},
    }
    assert mapping.activity_from_note("a", other, "leads") is None


def test_events_become_history() -> None:
    moved = {
        "id": "01abc",
        "type": "lead_status_changed",
        "entity_id": 5,
        "entity_type": "lead",
        "created_by": 7,
        "created_at": 1700000000,
        "value_before": [{"lead_status": {"id": 60000002, "pipeline_id": 70}}],
        "value_after": [{"lead_status": {"id": 142, "pipeline_id": 70}}],
    }
    change = mapping.history_from_event("a", moved)
    assert change is not None
    assert (change.id, change.deal_id) == ("01abc", "5")
    assert (change.from_stage_id, change.to_stage_id) == ("60000002", "70:142")
    reassigned = {
        "id": "01abd",
        "type": "entity_responsible_changed",
        "entity_id": 5,
        "entity_type": "lead",
        "created_at": 1700000001,
        "value_before": [{"responsible_user": {"id": 7}}],
        "value_after": [{"responsible_user": {"id": 8}}],
    }
    assignment = mapping.history_from_event("a", reassigned)
    assert assignment is not None
    assert (assignment.from_manager_id, assignment.to_manager_id) == ("7", "8")
