"""Reads: envelopes, 204s, pagination, filters, order, ``with``."""

from __future__ import annotations

from typing import Any

import requests
from flask.testing import FlaskClient

from ropilot.connectors.amocrm.sandbox import SandboxServer, SandboxState


def _get(client: FlaskClient, path: str, auth: dict[str, str], **params: Any) -> Any:
    return client.get(path, headers=auth, query_string=params)


def test_leads_envelope_over_http(server: SandboxServer) -> None:
    h = {"Authorization": f"Bearer {server.credentials.long_lived_token}"}
    r = requests.get(f"{server.base_url}/api/v4/leads", params={"limit": 2}, headers=h, timeout=5)
    assert r.status_code == 200
    assert r.headers["Content-Type"] == "application/hal+json"
    body = r.json()
    assert body["_page"] == 1
    assert "_total_items" not in body
    assert body["_links"]["self"]["href"] == f"{server.base_url}/api/v4/leads?limit=2&page=1"
    assert body["_links"]["next"]["href"] == f"{server.base_url}/api/v4/leads?limit=2&page=2"
    lead = body["_embedded"]["leads"][0]
    assert lead["_links"]["self"]["href"] == f"{server.base_url}/api/v4/leads/{lead['id']}"
    assert isinstance(lead["id"], int) and isinstance(lead["created_at"], int)
    assert lead["_embedded"]["tags"] == []
    assert "contacts" not in lead["_embedded"]


def test_pagination_ends_without_next_and_past_end_is_204(
    client: FlaskClient, auth: dict[str, str], state: SandboxState
) -> None:
    seen: list[int] = []
    page = 1
    while True:
        r = _get(client, "/api/v4/leads", auth, limit=60, page=page)
        assert r.status_code == 200
        body = r.get_json(force=True)
        seen += [lead["id"] for lead in body["_embedded"]["leads"]]
        if "next" not in body["_links"]:
            break
        page += 1
    assert sorted(seen) == sorted(state.records["leads"])
    r = _get(client, "/api/v4/leads", auth, limit=50, page=5)
    assert r.status_code == 204 and r.data == b""
    # exactly full last page: no next
    r = _get(client, "/api/v4/leads", auth, limit=100, page=2)
    assert "next" not in r.get_json(force=True)["_links"]
    assert set(r.get_json(force=True)["_links"]) == {"self", "first", "prev"}


def test_limit_default_clamp_and_floats(client: FlaskClient, auth: dict[str, str]) -> None:
    assert len(_get(client, "/api/v4/leads", auth).get_json(force=True)["_embedded"]["leads"]) == 50
    big = _get(client, "/api/v4/contacts", auth, limit=1000).get_json(force=True)
    assert len(big["_embedded"]["contacts"]) == 100
    r = _get(client, "/api/v4/leads", auth, limit="2.0", page="2.0")
    assert r.get_json(force=True)["_page"] == 2
    events = _get(client, "/api/v4/events", auth, limit=250).get_json(force=True)
    assert len(events["_embedded"]["events"]) == 100
    fields = _get(client, "/api/v4/leads/custom_fields", auth, limit=250).get_json(force=True)
    assert fields["_total_items"] == len(fields["_embedded"]["custom_fields"])
    assert fields["_page_count"] == 1


def test_missing_id_and_empty_filter_are_204(client: FlaskClient, auth: dict[str, str]) -> None:
    for path in ("/api/v4/leads/1", "/api/v4/contacts/1", "/api/v4/tasks/1", "/api/v4/users/1"):
        r = client.get(path, headers=auth)
        assert r.status_code == 204 and r.data == b""
        assert "Content-Type" not in r.headers
    r = _get(client, "/api/v4/leads", auth, **{"filter[id]": 1})
    assert r.status_code == 204 and r.data == b""


def test_filters(client: FlaskClient, auth: dict[str, str], state: SandboxState) -> None:
    leads = list(state.records["leads"].values())
    one, two = leads[3]["id"], leads[7]["id"]
    r = _get(client, "/api/v4/leads", auth, **{"filter[id]": one})
    assert [x["id"] for x in r.get_json(force=True)["_embedded"]["leads"]] == [one]
    r = client.get(f"/api/v4/leads?filter[id][]={one}&filter[id][]={two}", headers=auth)
    assert {x["id"] for x in r.get_json(force=True)["_embedded"]["leads"]} == {one, two}
    r = client.get(f"/api/v4/leads?filter[id][0]={one}&filter[id][1]={two}", headers=auth)
    assert {x["id"] for x in r.get_json(force=True)["_embedded"]["leads"]} == {one, two}

    user = leads[0]["responsible_user_id"]
    got = _all(client, auth, f"filter[responsible_user_id]={user}")
    assert got == {x["id"] for x in leads if x["responsible_user_id"] == user}

    pipeline = leads[0]["pipeline_id"]
    assert _all(client, auth, f"filter[pipeline_id][0]={pipeline}") == {
        x["id"] for x in leads if x["pipeline_id"] == pipeline
    }
    got = _all(
        client,
        auth,
        f"filter[statuses][0][pipeline_id]={pipeline}&filter[statuses][0][status_id]=142",
    )
    want = {x["id"] for x in leads if x["pipeline_id"] == pipeline and x["status_id"] == 142}
    assert got == want and want

    stamps = sorted(x["updated_at"] for x in leads)
    low, high = stamps[50], stamps[120]
    got = _all(client, auth, f"filter[updated_at][from]={low}&filter[updated_at][to]={high}")
    assert got == {x["id"] for x in leads if low <= x["updated_at"] <= high}
    got = _all(client, auth, f"filter[updated_at][from]={low}")
    assert got == {x["id"] for x in leads if x["updated_at"] >= low}
    closed = sorted(x["closed_at"] for x in leads if x["closed_at"])
    got = _all(
        client, auth, f"filter[closed_at][from]={closed[0]}&filter[closed_at][to]={closed[5]}"
    )
    assert got == {x["id"] for x in leads if x["closed_at"] and x["closed_at"] <= closed[5]}
    created = sorted(x["created_at"] for x in leads)
    got = _all(client, auth, f"filter[created_at][to]={created[9]}")
    assert got == {x["id"] for x in leads if x["created_at"] <= created[9]}


def _all(
    client: FlaskClient, auth: dict[str, str], query: str, path: str = "/api/v4/leads"
) -> set[int]:
    out: set[int] = set()
    page = 1
    key = path.rsplit("/", 1)[-1]
    while True:
        r = client.get(f"{path}?{query}&limit=250&page={page}", headers=auth)
        if r.status_code == 204:
            return out
        body = r.get_json(force=True)
        out |= {x["id"] for x in body["_embedded"][key]}
        if "next" not in body["_links"]:
            return out
        page += 1


def test_order(client: FlaskClient, auth: dict[str, str]) -> None:
    for field in ("updated_at", "created_at", "id"):
        for direction in ("asc", "desc"):
            r = _get(client, "/api/v4/leads", auth, limit=250, **{f"order[{field}]": direction})
            values = [x[field] for x in r.get_json(force=True)["_embedded"]["leads"]]
            assert values == sorted(values, reverse=direction == "desc")


def test_with_contacts_and_loss_reason(
    client: FlaskClient, auth: dict[str, str], state: SandboxState
) -> None:
    lost = next(x for x in state.records["leads"].values() if x["loss_reason_id"] and x["contacts"])
    r = client.get(
        f"/api/v4/leads/{lost['id']}?with=contacts,loss_reason,unknown_thing", headers=auth
    )
    emb = r.get_json(force=True)["_embedded"]
    assert emb["contacts"][0]["is_main"] is True
    assert emb["contacts"][0]["id"] == lost["contacts"][0][0]
    assert emb["contacts"][0]["_links"]["self"]["href"].endswith(
        f"/api/v4/contacts/{lost['contacts'][0][0]}"
    )
    assert emb["loss_reason"][0]["name"] == state.loss_reasons[lost["loss_reason_id"]]["name"]
    assert emb["companies"] == [] or isinstance(emb["companies"][0]["id"], int)


def test_tasks_updated_at_scalar_means_after(
    client: FlaskClient, auth: dict[str, str], state: SandboxState
) -> None:
    tasks = list(state.records["tasks"].values())
    pivot = sorted(t["updated_at"] for t in tasks)[len(tasks) // 2]
    got = _all(client, auth, f"filter[updated_at]={pivot}", "/api/v4/tasks")
    assert got == {t["id"] for t in tasks if t["updated_at"] > pivot}


def test_events_filters(client: FlaskClient, auth: dict[str, str], state: SandboxState) -> None:
    got = _all(
        client,
        auth,
        "filter[type]=lead_status_changed,entity_responsible_changed&filter[entity]=lead",
        "/api/v4/events",
    )
    want = {
        e["id"]
        for e in state.events.values()
        if e["type"] in ("lead_status_changed", "entity_responsible_changed")
    }
    assert got == want
    got2 = _all(client, auth, "filter[type][]=lead_added", "/api/v4/events")
    assert got2 == {e["id"] for e in state.events.values() if e["type"] == "lead_added"}
    assert len(got2) == len(state.records["leads"])
    r = client.get("/api/v4/events?filter[type]=lead_added&limit=1", headers=auth)
    event = r.get_json(force=True)["_embedded"]["events"][0]
    assert isinstance(event["id"], str)
    assert event["value_before"] == []
    assert set(event["value_after"][0]["lead_status"]) == {"id", "pipeline_id"}
    stamps = sorted(e["created_at"] for e in state.events.values())
    got3 = _all(client, auth, f"filter[created_at][from]={stamps[-10]}", "/api/v4/events")
    assert got3 == {e["id"] for e in state.events.values() if e["created_at"] >= stamps[-10]}


def test_pipelines_account_users(client: FlaskClient, auth: dict[str, str]) -> None:
    body = client.get("/api/v4/leads/pipelines?page=1&limit=250", headers=auth).get_json(force=True)
    assert body["_total_items"] == 3
    for pipeline in body["_embedded"]["pipelines"]:
        ids = [s["id"] for s in pipeline["_embedded"]["statuses"]]
        assert 142 in ids and 143 in ids
    one = body["_embedded"]["pipelines"][0]["id"]
    assert (
        client.get(f"/api/v4/leads/pipelines/{one}", headers=auth).get_json(force=True)["id"] == one
    )
    acc = client.get("/api/v4/account?with=users_groups,task_types", headers=auth).get_json(
        force=True
    )
    assert {t["id"] for t in acc["_embedded"]["task_types"]} >= {1, 2}
    assert any(g["id"] != 0 for g in acc["_embedded"]["users_groups"])
    users = client.get("/api/v4/users", headers=auth).get_json(force=True)
    assert users["_total_items"] == len(users["_embedded"]["users"]) and users["_page_count"] == 1
    assert any(u["rights"]["is_admin"] for u in users["_embedded"]["users"])


def test_notes_and_custom_fields(
    client: FlaskClient, auth: dict[str, str], state: SandboxState
) -> None:
    body = client.get(
        "/api/v4/leads/notes?limit=250&filter[note_type]=call_in", headers=auth
    ).get_json(force=True)
    assert {n["note_type"] for n in body["_embedded"]["notes"]} == {"call_in"}
    fields = client.get("/api/v4/leads/custom_fields", headers=auth).get_json(force=True)
    codes = {f["code"] for f in fields["_embedded"]["custom_fields"]}
    assert {"CURRENCY", "SOURCE", "PRODUCT", "REGION", "EXPECTED_CLOSE"} <= codes
    assert "utm_campaign" in {f["name"] for f in fields["_embedded"]["custom_fields"]}
    assert all(f["required_statuses"] == [] for f in fields["_embedded"]["custom_fields"])
    company = client.get("/api/v4/companies?limit=1", headers=auth).get_json(force=True)[
        "_embedded"
    ]["companies"][0]
    assert {v["field_code"] for v in company["custom_fields_values"]} >= {"PHONE"}
