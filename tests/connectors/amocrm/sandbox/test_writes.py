"""Writes: PATCH leads, tasks, notes, webhooks API; validation errors; events."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

from flask.testing import FlaskClient

from ropilot.connectors.amocrm.sandbox import SandboxState, create_app

FIXTURES = Path("/work/shared/reference/fixtures/amocrm")


def _open_lead(state: SandboxState) -> dict[str, Any]:
    return next(x for x in state.records["leads"].values() if x["status_id"] not in (142, 143))


def _events(client: FlaskClient, auth: dict[str, str], lead_id: int) -> list[dict[str, Any]]:
    r = client.get(
        f"/api/v4/events?filter[entity]=lead&filter[entity_id]={lead_id}&limit=100", headers=auth
    )
    return list(r.get_json(force=True)["_embedded"]["events"])


def test_patch_leads_bumps_updated_at_and_records_events(
    client: FlaskClient, auth: dict[str, str], state: SandboxState
) -> None:
    lead = _open_lead(state)
    other_user = next(u for u in state.users if u != lead["responsible_user_id"])
    before = client.get(f"/api/v4/leads/{lead['id']}", headers=auth).get_json(force=True)
    old_events = len(_events(client, auth, lead["id"]))
    state.clock.advance(10)
    r = client.patch(
        "/api/v4/leads",
        headers=auth,
        json=[
            {"id": lead["id"], "responsible_user_id": other_user, "request_id": "a"},
            {
                "id": lead["id"],
                "status_id": 142,
                "pipeline_id": lead["pipeline_id"],
                "price": 1234.0,
            },
        ],
    )
    assert r.status_code == 200, r.get_data(as_text=True)
    body = r.get_json(force=True)
    items = body["_embedded"]["leads"]
    assert [set(i) for i in items] == [
        {"id", "updated_at", "request_id", "_links"},
        {"id", "updated_at", "_links"},
    ]
    after = client.get(f"/api/v4/leads/{lead['id']}", headers=auth).get_json(force=True)
    assert after["updated_at"] > before["updated_at"]
    assert after["responsible_user_id"] == other_user
    assert after["status_id"] == 142 and after["closed_at"] == state.clock.time()
    assert after["price"] == 1234
    events = _events(client, auth, lead["id"])
    assert len(events) == old_events + 3
    kinds: dict[str, dict[str, Any]] = {}
    for e in events:  # newest first
        kinds.setdefault(e["type"], e)
    change = kinds["lead_status_changed"]
    assert change["value_before"] == [
        {"lead_status": {"id": lead_status(before), "pipeline_id": before["pipeline_id"]}}
    ]
    assert change["value_after"] == [
        {"lead_status": {"id": 142, "pipeline_id": before["pipeline_id"]}}
    ]
    resp = kinds["entity_responsible_changed"]
    assert resp["value_before"] == [{"responsible_user": {"id": before["responsible_user_id"]}}]
    assert resp["value_after"] == [{"responsible_user": {"id": other_user}}]
    # incremental readers find it
    r = client.get(f"/api/v4/leads?filter[updated_at][from]={after['updated_at']}", headers=auth)
    assert lead["id"] in [x["id"] for x in r.get_json(force=True)["_embedded"]["leads"]]


def lead_status(lead: dict[str, Any]) -> int:
    return int(lead["status_id"])


def test_patch_single_lead_and_fixture_request(
    client: FlaskClient, auth: dict[str, str], state: SandboxState
) -> None:
    lead = _open_lead(state)
    r = client.patch(f"/api/v4/leads/{lead['id']}", headers=auth, json={"name": "Новое имя"})
    assert r.status_code == 200
    body = r.get_json(force=True)
    assert body["id"] == lead["id"] and isinstance(body["updated_at"], int)
    assert state.records["leads"][lead["id"]]["name"] == "Новое имя"
    # the documented request shape (ids replaced by ours)
    sample = json.loads((FIXTURES / "leads_patch_request.synth.json").read_text())
    second = next(
        x
        for x in state.records["leads"].values()
        if x["id"] != lead["id"] and x["status_id"] not in (142, 143)
    )
    sample[0]["id"], sample[0]["responsible_user_id"] = lead["id"], next(iter(state.users))
    sample[1]["id"], sample[1]["pipeline_id"] = second["id"], second["pipeline_id"]
    r = client.patch("/api/v4/leads", headers=auth, json=sample)
    assert r.status_code == 200, r.get_data(as_text=True)
    assert state.records["leads"][second["id"]]["status_id"] == 143
    assert state.records["leads"][second["id"]]["closed_at"] is not None


def test_validation_errors_have_the_documented_shape(
    client: FlaskClient, auth: dict[str, str], state: SandboxState
) -> None:
    lead = _open_lead(state)
    r = client.patch(
        "/api/v4/leads",
        headers=auth,
        json=[
            {
                "id": lead["id"],
                "custom_fields_values": [{"field_id": 1, "values": [{"value": "x"}]}],
            }
        ],
    )
    assert r.status_code == 400
    assert r.content_type == "application/problem+json"
    assert r.get_json(force=True) == json.loads(
        (FIXTURES / "error_400_validation.json").read_text()
    )
    # a status of another pipeline; nothing of the batch is applied
    other_pipeline = next(p for p in state.pipelines if p != lead["pipeline_id"])
    foreign = next(
        s["id"] for s in state.pipelines[other_pipeline]["statuses"] if s["id"] not in (142, 143)
    )
    r = client.patch(
        "/api/v4/leads",
        headers=auth,
        json=[
            {"id": lead["id"], "price": 1},
            {"id": lead["id"], "status_id": foreign, "pipeline_id": lead["pipeline_id"]},
        ],
    )
    assert r.status_code == 400
    errors = r.get_json(force=True)["validation-errors"]
    assert errors == [
        {
            "request_id": "1",
            "errors": [
                {
                    "code": "NotSupportedChoice",
                    "path": "status_id",
                    "detail": "The value you selected is not a valid choice.",
                }
            ],
        }
    ]
    assert state.records["leads"][lead["id"]]["price"] != 1 or lead["price"] == 1


def test_custom_field_write_and_select_choice(
    client: FlaskClient, auth: dict[str, str], state: SandboxState
) -> None:
    lead = _open_lead(state)
    source = state.field_by_code("leads", "SOURCE")
    assert source is not None and source.enums
    label = source.enums[-1]["value"]
    r = client.patch(
        f"/api/v4/leads/{lead['id']}",
        headers=auth,
        json={"custom_fields_values": [{"field_code": "SOURCE", "values": [{"value": label}]}]},
    )
    assert r.status_code == 200
    values = state.records["leads"][lead["id"]]["cf"][source.id]
    assert values[0]["value"] == label and values[0]["enum_id"] == source.enums[-1]["id"]
    r = client.patch(
        f"/api/v4/leads/{lead['id']}",
        headers=auth,
        json={
            "custom_fields_values": [{"field_id": source.id, "values": [{"value": "нет такого"}]}]
        },
    )
    assert r.status_code == 400
    assert (
        r.get_json(force=True)["validation-errors"][0]["errors"][0]["path"]
        == "custom_fields_values.0.values.0.value"
    )
    r = client.patch(
        f"/api/v4/leads/{lead['id']}",
        headers=auth,
        json={"custom_fields_values": [{"field_id": source.id, "values": None}]},
    )
    assert r.status_code == 200 and source.id not in state.records["leads"][lead["id"]]["cf"]


def test_enforce_required_statuses(fresh: Callable[..., SandboxState]) -> None:
    state = fresh(enforce_required_statuses=True)
    client = create_app(state).test_client()
    auth = {"Authorization": f"Bearer {state.auth.long_lived_token()}"}
    lead = _open_lead(state)
    extra = next(f for f in state.fields["leads"].values() if f.name == "utm_campaign")
    state.set_required_statuses("leads", extra.id, [(lead["pipeline_id"], 142)])
    state.records["leads"][lead["id"]]["cf"].pop(extra.id, None)
    fields = client.get("/api/v4/leads/custom_fields", headers=auth).get_json(force=True)
    got = next(f for f in fields["_embedded"]["custom_fields"] if f["id"] == extra.id)
    assert got["required_statuses"] == [{"status_id": 142, "pipeline_id": lead["pipeline_id"]}]
    r = client.patch(f"/api/v4/leads/{lead['id']}", headers=auth, json={"status_id": 142})
    assert r.status_code == 400
    r = client.patch(
        f"/api/v4/leads/{lead['id']}",
        headers=auth,
        json={
            "status_id": 142,
            "custom_fields_values": [{"field_id": extra.id, "values": [{"value": "spring"}]}],
        },
    )
    assert r.status_code == 200
    state.config.enforce_required_statuses = False


def test_batch_cap(fresh: Callable[..., SandboxState]) -> None:
    state = fresh(write_batch_limit=3)
    client = create_app(state).test_client()
    auth = {"Authorization": f"Bearer {state.auth.long_lived_token()}"}
    ids = list(state.records["leads"])[:4]
    r = client.patch("/api/v4/leads", headers=auth, json=[{"id": i, "price": 5} for i in ids])
    assert r.status_code == 400 and r.content_type == "application/problem+json"
    r = client.patch("/api/v4/leads", headers=auth, json=[{"id": i, "price": 5} for i in ids[:3]])
    assert r.status_code == 200


def test_tasks_post_validation_and_patch(
    client: FlaskClient, auth: dict[str, str], state: SandboxState
) -> None:
    lead = _open_lead(state)
    r = client.post(
        "/api/v4/tasks",
        headers=auth,
        json=[
            {
                "text": "ok",
                "complete_till": 1764500000.0,
                "entity_id": lead["id"],
                "entity_type": "leads",
                "request_id": "t1",
            },
            {"complete_till": 1},
            {"text": "x"},
        ],
    )
    assert r.status_code == 400
    errors = r.get_json(force=True)["validation-errors"]
    assert errors == [
        {
            "request_id": "1",
            "errors": [
                {"code": "NotBlank", "path": "text", "detail": "This value should not be blank."}
            ],
        },
        {
            "request_id": "2",
            "errors": [
                {
                    "code": "NotBlank",
                    "path": "complete_till",
                    "detail": "This value should not be blank.",
                }
            ],
        },
    ]
    before = len(state.records["tasks"])
    sample = json.loads((FIXTURES / "tasks_post_request.synth.json").read_text())
    sample[0]["entity_id"] = lead["id"]
    sample[0]["responsible_user_id"] = lead["responsible_user_id"]
    sample.append({"text": "второй", "complete_till": 1764500000.0})
    r = client.post("/api/v4/tasks", headers=auth, json=sample)
    assert r.status_code == 200, r.get_data(as_text=True)
    items = r.get_json(force=True)["_embedded"]["tasks"]
    assert [i["request_id"] for i in items] == ["t1", "1"]
    assert len(state.records["tasks"]) == before + 2
    new = state.records["tasks"][items[1]["id"]]
    assert (
        new["complete_till"] == 1764500000 and new["responsible_user_id"] == state.current_user_id
    )
    got = client.get(f"/api/v4/leads/{lead['id']}", headers=auth).get_json(force=True)
    assert got["closest_task_at"] is not None
    state.clock.advance(5)
    r = client.patch(
        "/api/v4/tasks",
        headers=auth,
        json=[{"id": items[0]["id"], "is_completed": True, "result": {"text": "done"}}],
    )
    assert r.status_code == 200
    task = client.get(f"/api/v4/tasks/{items[0]['id']}", headers=auth).get_json(force=True)
    assert task["is_completed"] is True and task["result"] == {"text": "done"}
    assert task["updated_at"] > task["created_at"]
    done = client.get("/api/v4/events?filter[type]=task_completed", headers=auth).get_json(
        force=True
    )
    assert done["_embedded"]["events"][0]["entity_id"] == items[0]["id"]


def test_notes_post(client: FlaskClient, auth: dict[str, str], state: SandboxState) -> None:
    lead = _open_lead(state)
    old = state.records["leads"][lead["id"]]["updated_at"]
    sample = json.loads((FIXTURES / "notes_post_request.synth.json").read_text())
    for item in sample:
        item["entity_id"] = lead["id"]
    r = client.post("/api/v4/leads/notes", headers=auth, json=sample)
    assert r.status_code == 200, r.get_data(as_text=True)
    items = r.get_json(force=True)["_embedded"]["notes"]
    assert [i["request_id"] for i in items] == [str(n) for n in range(len(sample))]
    assert state.records["leads"][lead["id"]]["updated_at"] > old
    got = client.get(
        f"/api/v4/leads/{lead['id']}/notes?filter[note_type]=common", headers=auth
    ).get_json(force=True)
    assert any(n["id"] == items[0]["id"] for n in got["_embedded"]["notes"])
    r = client.post(
        f"/api/v4/leads/{lead['id']}/notes",
        headers=auth,
        json=[{"note_type": "common", "params": {}}],
    )
    assert r.status_code == 400
    r = client.post(
        "/api/v4/contacts/notes",
        headers=auth,
        json=[{"entity_id": 1, "note_type": "common", "params": {"text": "x"}}],
    )
    assert r.status_code == 400


def test_webhooks_api(client: FlaskClient, auth: dict[str, str]) -> None:
    assert client.get("/api/v4/webhooks", headers=auth).status_code == 204
    r = client.post(
        "/api/v4/webhooks",
        headers=auth,
        json={"destination": "https://example.test/hook", "settings": ["add_lead"], "sort": 10},
    )
    assert r.status_code == 201
    hook = r.get_json(force=True)
    assert hook["destination"] == "https://example.test/hook" and hook["disabled"] is False
    r = client.post(
        "/api/v4/webhooks",
        headers=auth,
        json={
            "destination": "https://example.test/hook",
            "settings": ["status_lead", "update_lead"],
        },
    )
    assert r.status_code == 201 and r.get_json(force=True)["id"] == hook["id"]
    listed = client.get(
        "/api/v4/webhooks?filter[destination]=https://example.test/hook", headers=auth
    ).get_json(force=True)
    assert listed["_total_items"] == 1 and listed["_embedded"]["webhooks"][0]["settings"] == [
        "status_lead",
        "update_lead",
    ]
    r = client.post(
        "/api/v4/webhooks",
        headers=auth,
        json={"destination": "https://x.test", "settings": ["bogus"]},
    )
    assert r.status_code == 400
    r = client.delete(
        "/api/v4/webhooks", headers=auth, json={"destination": "https://example.test/hook"}
    )
    assert r.status_code == 204 and r.data == b""
    r = client.delete(
        "/api/v4/webhooks", headers=auth, json={"destination": "https://example.test/hook"}
    )
    assert r.status_code == 404


def test_post_leads(client: FlaskClient, auth: dict[str, str], state: SandboxState) -> None:
    pipeline = next(iter(state.pipelines))
    r = client.post(
        "/api/v4/leads",
        headers=auth,
        json=[
            {"name": "Новая", "price": 100, "pipeline_id": pipeline},
            {"name": "Вторая", "status_id": 142, "pipeline_id": pipeline, "request_id": "x"},
        ],
    )
    assert r.status_code == 200, r.get_data(as_text=True)
    items = r.get_json(force=True)["_embedded"]["leads"]
    assert [i["request_id"] for i in items] == ["0", "x"]
    first = state.records["leads"][items[0]["id"]]
    assert first["status_id"] == state.first_open_status(pipeline) and first["closed_at"] is None
    assert state.records["leads"][items[1]["id"]]["closed_at"] is not None
    added = client.get(
        f"/api/v4/events?filter[type]=lead_added&filter[entity_id]={items[0]['id']}&filter[entity]=lead",
        headers=auth,
    )
    assert added.get_json(force=True)["_embedded"]["events"][0]["entity_id"] == items[0]["id"]


def test_alpha_filters_switch(
    client: FlaskClient, auth: dict[str, str], state: SandboxState
) -> None:
    one = next(iter(state.records["leads"]))
    r = client.get(f"/api/v4/leads?filter[id]={one}&limit=250", headers=auth)
    assert len(r.get_json(force=True)["_embedded"]["leads"]) == 1
    state.config.alpha_filters_disabled = True
    r = client.get(f"/api/v4/leads?filter[id]={one}&limit=250", headers=auth)
    assert len(r.get_json(force=True)["_embedded"]["leads"]) == 200
