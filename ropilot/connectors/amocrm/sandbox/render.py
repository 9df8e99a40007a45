"""amoCRM JSON for the sandbox's entities; links use the request's base URL."""

from __future__ import annotations

from typing import Any

from ropilot.connectors.amocrm.sandbox.state import FieldDef, SandboxState


def link(base: str, path: str) -> dict[str, Any]:
    """``{"self": {"href": base + path}}``."""
    return {"self": {"href": f"{base}{path}"}}


def _cf(state: SandboxState, entity: str, rec: dict[str, Any]) -> list[dict[str, Any]] | None:
    out = []
    for fid, values in rec["cf"].items():
        fdef = state.fields[entity].get(fid)
        if fdef is None or not values:
            continue
        out.append(
            {
                "field_id": fid,
                "field_name": fdef.name,
                "field_code": fdef.code,
                "field_type": fdef.type,
                "values": [dict(v) for v in values],
            }
        )
    return out or None


def _group(state: SandboxState, user_id: int) -> int:
    user = state.users.get(user_id)
    return int(user["group_id"] or 0) if user else 0


def lead(state: SandboxState, rec: dict[str, Any], base: str, withs: set[str]) -> dict[str, Any]:
    """A lead as ``GET /api/v4/leads`` returns it."""
    lid = rec["id"]
    embedded: dict[str, Any] = {
        "tags": [],
        "companies": (
            [
                {
                    "id": rec["company_id"],
                    "_links": link(base, f"/api/v4/companies/{rec['company_id']}"),
                }
            ]
            if rec["company_id"]
            else []
        ),
    }
    if "contacts" in withs:
        embedded["contacts"] = [
            {"id": cid, "is_main": main, "_links": link(base, f"/api/v4/contacts/{cid}")}
            for cid, main in rec["contacts"]
        ]
    if "loss_reason" in withs:
        reason = state.loss_reasons.get(rec["loss_reason_id"] or 0)
        embedded["loss_reason"] = (
            [
                {
                    **reason,
                    "_links": link(base, f"/api/v4/leads/loss_reasons/{reason['id']}"),
                }
            ]
            if reason
            else []
        )
    if "source_id" in withs or "source" in withs:
        embedded["source"] = None
    out: dict[str, Any] = {
        "id": lid,
        "name": rec["name"],
        "price": rec["price"],
        "responsible_user_id": rec["responsible_user_id"],
        "group_id": _group(state, rec["responsible_user_id"]),
        "status_id": rec["status_id"],
        "pipeline_id": rec["pipeline_id"],
        "loss_reason_id": rec["loss_reason_id"],
        "created_by": rec["created_by"],
        "updated_by": rec["updated_by"],
        "created_at": rec["created_at"],
        "updated_at": rec["updated_at"],
        "closed_at": rec["closed_at"],
        "closest_task_at": state.closest_task_at("leads", lid),
        "is_deleted": rec["is_deleted"],
        "custom_fields_values": _cf(state, "leads", rec),
        "score": None,
        "account_id": state.account["id"],
        "labor_cost": None,
    }
    if "source_id" in withs:
        out["source_id"] = None
    if "is_price_modified_by_robot" in withs:
        out["is_price_modified_by_robot"] = False
    out["_links"] = link(base, f"/api/v4/leads/{lid}")
    out["_embedded"] = embedded
    return out


def contact(
    state: SandboxState, rec: dict[str, Any], base: str, withs: set[str], entity: str
) -> dict[str, Any]:
    """A contact or a company as the API returns it."""
    cid = rec["id"]
    out: dict[str, Any] = {"id": cid, "name": rec["name"]}
    if entity == "contacts":
        out["first_name"] = rec.get("first_name", rec["name"])
        out["last_name"] = rec.get("last_name", "")
    out.update(
        {
            "responsible_user_id": rec["responsible_user_id"],
            "group_id": _group(state, rec["responsible_user_id"]),
            "created_by": rec["created_by"],
            "updated_by": rec["updated_by"],
            "created_at": rec["created_at"],
            "updated_at": rec["updated_at"],
            "closest_task_at": state.closest_task_at(entity, cid),
            "is_deleted": rec.get("is_deleted", False),
            "custom_fields_values": _cf(state, entity, rec),
            "account_id": state.account["id"],
            "_links": link(base, f"/api/v4/{entity}/{cid}"),
        }
    )
    if entity == "contacts":
        out["is_unsorted"] = False
    embedded: dict[str, Any] = {"tags": []}
    if entity == "contacts":
        company = rec.get("company_id")
        embedded["companies"] = (
            [{"id": company, "_links": link(base, f"/api/v4/companies/{company}")}]
            if company
            else []
        )
        if "leads" in withs:
            embedded["leads"] = [
                {"id": lid, "_links": link(base, f"/api/v4/leads/{lid}")}
                for lid in state.contact_leads.get(cid, [])
            ]
    else:
        if "leads" in withs:
            embedded["leads"] = [
                {"id": lid, "_links": link(base, f"/api/v4/leads/{lid}")}
                for lid in state.company_leads.get(cid, [])
            ]
        if "contacts" in withs:
            embedded["contacts"] = [
                {"id": c, "_links": link(base, f"/api/v4/contacts/{c}")}
                for c in state.company_contacts.get(cid, [])
            ]
    if "customers" in withs:
        embedded["customers"] = []
    if "catalog_elements" in withs:
        embedded["catalog_elements"] = []
    out["_embedded"] = embedded
    return out


def task(state: SandboxState, rec: dict[str, Any], base: str) -> dict[str, Any]:
    """A task as ``GET /api/v4/tasks`` returns it."""
    return {
        "id": rec["id"],
        "created_by": rec["created_by"],
        "updated_by": rec["updated_by"],
        "created_at": rec["created_at"],
        "updated_at": rec["updated_at"],
        "responsible_user_id": rec["responsible_user_id"],
        "group_id": _group(state, rec["responsible_user_id"]),
        "entity_id": rec["entity_id"],
        "entity_type": rec["entity_type"],
        "duration": rec["duration"],
        "is_completed": rec["is_completed"],
        "task_type_id": rec["task_type_id"],
        "text": rec["text"],
        "result": dict(rec["result"]) if rec["result"] else [],
        "complete_till": rec["complete_till"],
        "account_id": state.account["id"],
        "_links": link(base, f"/api/v4/tasks/{rec['id']}"),
    }


def note(state: SandboxState, entity: str, rec: dict[str, Any], base: str) -> dict[str, Any]:
    """A note as ``GET /api/v4/{entity}/notes`` returns it."""
    return {
        "id": rec["id"],
        "entity_id": rec["entity_id"],
        "created_by": rec["created_by"],
        "updated_by": rec["updated_by"],
        "created_at": rec["created_at"],
        "updated_at": rec["updated_at"],
        "responsible_user_id": rec["responsible_user_id"],
        "group_id": _group(state, rec["responsible_user_id"]),
        "note_type": rec["note_type"],
        "params": dict(rec["params"]),
        "account_id": state.account["id"],
        "_links": link(base, f"/api/v4/{entity}/{rec['entity_id']}/notes/{rec['id']}"),
    }


_EVENT_PATHS = {"lead": "leads", "contact": "contacts", "company": "companies", "task": "tasks"}


def event(state: SandboxState, rec: dict[str, Any], base: str) -> dict[str, Any]:
    """An event as ``GET /api/v4/events`` returns it (string id)."""
    path = _EVENT_PATHS.get(rec["entity_type"], rec["entity_type"])
    return {
        "id": rec["id"],
        "type": rec["type"],
        "entity_id": rec["entity_id"],
        "entity_type": rec["entity_type"],
        "created_by": rec["created_by"],
        "created_at": rec["created_at"],
        "value_after": rec["value_after"],
        "value_before": rec["value_before"],
        "account_id": state.account["id"],
        "_links": link(base, f"/api/v4/events/{rec['id']}"),
        "_embedded": {
            "entity": {
                "id": rec["entity_id"],
                "_links": link(base, f"/api/v4/{path}/{rec['entity_id']}"),
            }
        },
    }


def user(state: SandboxState, rec: dict[str, Any], base: str, withs: set[str]) -> dict[str, Any]:
    """A user as ``GET /api/v4/users`` returns it."""
    full = "A" if rec["is_admin"] else "M"
    out: dict[str, Any] = {
        "id": rec["id"],
        "name": rec["name"],
        "email": rec["email"],
        "lang": "ru",
        "rights": {
            "leads": {"view": "A", "edit": "A", "add": "A", "delete": full, "export": full},
            "contacts": {"view": "A", "edit": "A", "add": "A", "delete": full, "export": full},
            "companies": {"view": "A", "edit": "A", "add": "A", "delete": full, "export": full},
            "tasks": {"edit": "A", "delete": "A"},
            "mail_access": True,
            "catalog_access": True,
            "files_access": True,
            "status_rights": [],
            "is_admin": rec["is_admin"],
            "is_free": False,
            "is_active": rec["is_active"],
            "group_id": rec["group_id"],
            "role_id": None,
        },
        "_links": link(base, f"/api/v4/users/{rec['id']}"),
    }
    if "role" in withs or "group" in withs:
        out["_embedded"] = {
            "roles": [],
            "groups": ([state.groups[rec["group_id"]]] if rec["group_id"] in state.groups else []),
        }
    return out


def status(state: SandboxState, rec: dict[str, Any], base: str) -> dict[str, Any]:
    """A pipeline status."""
    return {
        "id": rec["id"],
        "name": rec["name"],
        "sort": rec["sort"],
        "is_editable": rec["is_editable"],
        "pipeline_id": rec["pipeline_id"],
        "color": rec["color"],
        "type": rec["type"],
        "account_id": state.account["id"],
        "_links": link(base, f"/api/v4/leads/pipelines/{rec['pipeline_id']}/statuses/{rec['id']}"),
    }


def pipeline(state: SandboxState, rec: dict[str, Any], base: str) -> dict[str, Any]:
    """A pipeline with its statuses."""
    return {
        "id": rec["id"],
        "name": rec["name"],
        "sort": rec["sort"],
        "is_main": rec["is_main"],
        "is_unsorted_on": rec["is_unsorted_on"],
        "is_archive": rec["is_archive"],
        "account_id": state.account["id"],
        "_links": link(base, f"/api/v4/leads/pipelines/{rec['id']}"),
        "_embedded": {"statuses": [status(state, s, base) for s in rec["statuses"]]},
    }


def custom_field(state: SandboxState, fdef: FieldDef, base: str) -> dict[str, Any]:
    """A custom field definition with ``required_statuses``."""
    return {
        "id": fdef.id,
        "name": fdef.name,
        "type": fdef.type,
        "account_id": state.account["id"],
        "code": fdef.code,
        "sort": fdef.sort,
        "is_api_only": False,
        "enums": (
            [{"id": e["id"], "value": e["value"], "sort": e["sort"]} for e in fdef.enums]
            if fdef.enums is not None
            else None
        ),
        "group_id": None,
        "required_statuses": [dict(r) for r in fdef.required_statuses],
        "is_deletable": not fdef.is_predefined,
        "is_predefined": fdef.is_predefined,
        "entity_type": fdef.entity,
        "remind": None,
        "settings": None,
        "_links": link(base, f"/api/v4/{fdef.entity}/custom_fields/{fdef.id}"),
    }


def loss_reason(rec: dict[str, Any], base: str) -> dict[str, Any]:
    """A loss reason."""
    return {**rec, "_links": link(base, f"/api/v4/leads/loss_reasons/{rec['id']}")}


def webhook(rec: dict[str, Any]) -> dict[str, Any]:
    """A webhook subscription."""
    return dict(rec)


def account(state: SandboxState, base: str, withs: set[str]) -> dict[str, Any]:
    """``GET /api/v4/account``."""
    acc = state.account
    out: dict[str, Any] = {
        "id": acc["id"],
        "name": acc["name"],
        "subdomain": state.subdomain,
        "created_at": acc.get("created_at", 0),
        "created_by": state.current_user_id,
        "updated_at": acc.get("created_at", 0),
        "updated_by": state.current_user_id,
        "current_user_id": state.current_user_id,
        "country": "RU",
        "currency": acc["currency"],
        "currency_symbol": {"RUB": "₽", "USD": "$", "EUR": "€"}.get(
            acc["currency"], acc["currency"]
        ),
        "customers_mode": "disabled",
        "is_unsorted_on": any(p["is_unsorted_on"] for p in state.pipelines.values()),
        "is_loss_reason_enabled": True,
        "is_helpbot_enabled": False,
        "is_technical_account": False,
        "contact_name_display_order": 1,
        "mobile_feature_version": 0,
        "_links": link(base, "/api/v4/account"),
    }
    if "amojo_id" in withs:
        out["amojo_id"] = f"sandbox-{acc['id']}"
    if "uuid" in withs:
        out["uuid"] = f"00000000-0000-4000-8000-{int(acc['id']):012d}"
    if "version" in withs:
        out["version"] = 18
    if "is_api_filter_enabled" in withs:
        out["is_api_filter_enabled"] = not state.config.alpha_filters_disabled
    embedded: dict[str, Any] = {}
    if "users_groups" in withs:
        embedded["users_groups"] = [{"id": 0, "name": "Отдел продаж", "uuid": None}] + [
            dict(g) for g in state.groups.values() if g["id"] != 0
        ]
    if "task_types" in withs:
        embedded["task_types"] = [dict(t) for t in state.task_types.values()]
    if "datetime_settings" in withs:
        embedded["datetime_settings"] = {
            "date_pattern": "d.m.Y H:i",
            "short_date_pattern": "d.m.Y",
            "short_time_pattern": "H:i",
            "date_format": "d.m.Y",
            "time_format": "H:i:s",
            "timezone": acc["timezone"],
            "timezone_offset": _offset(acc["timezone"]),
        }
    if embedded:
        out["_embedded"] = embedded
    return out


def _offset(zone: str) -> str:
    from datetime import datetime
    from zoneinfo import ZoneInfo

    delta = datetime.now(ZoneInfo(zone)).utcoffset()
    minutes = int(delta.total_seconds() // 60) if delta else 0
    sign = "+" if minutes >= 0 else "-"
    minutes = abs(minutes)
    return f"{sign}{minutes // 60:02d}:{minutes % 60:02d}"
