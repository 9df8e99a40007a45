"""amoCRM API v4 JSON → ropilot core models, as docs/amocrm-mapping.md defines."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

from ropilot.core.models import (
    Activity,
    ActivityType,
    Assignment,
    Company,
    Contact,
    Deal,
    Direction,
    Manager,
    Pipeline,
    Role,
    Stage,
    StageChange,
    StageKind,
    Task,
    Team,
)

WON_STATUS = 142
LOST_STATUS = 143
SERVICE = "ropilot"
DEAL_FIELD_CODES = {
    "CURRENCY": "currency",
    "SOURCE": "source",
    "PRODUCT": "product",
    "REGION": "region",
}
EXPECTED_CLOSE_CODE = "EXPECTED_CLOSE"
COMPANY_FIELD_CODES = {"INN": "inn", "SEGMENT": "segment", "REGION": "region"}
TASK_TYPES = {1: "call", 2: "meeting"}


def stage_id(pipeline_id: Any, status_id: Any) -> str:
    """Ropilot's stage id: 142/143 are the same in every amoCRM pipeline, so they get its id."""
    status = int(status_id)
    if status in (WON_STATUS, LOST_STATUS):
        return f"{int(pipeline_id)}:{status}"
    return str(status)


def ts(value: Any) -> datetime | None:
    """A Unix timestamp (int, float or numeric string; 0 and None are no time) as aware UTC."""
    if value in (None, "", 0, "0"):
        return None
    return datetime.fromtimestamp(int(float(value)), tz=UTC)


def _ref(value: Any) -> str | None:
    return None if value in (None, "", 0, "0") else str(int(value))


def custom_values(entity: Mapping[str, Any]) -> dict[str, list[Any]]:
    """``custom_fields_values`` as {field code, else name, else id: [values]}."""
    out: dict[str, list[Any]] = {}
    for item in entity.get("custom_fields_values") or []:
        key = item.get("field_code") or item.get("field_name") or str(item.get("field_id"))
        out[str(key)] = [v.get("value") for v in item.get("values") or []]
    return out


def _first(values: Mapping[str, list[Any]], key: str) -> Any:
    found = values.get(key)
    return found[0] if found else None


def _embedded_ids(entity: Mapping[str, Any], name: str) -> list[Mapping[str, Any]]:
    embedded = entity.get("_embedded") or {}
    return list(embedded.get(name) or [])


def manager_from_user(account_id: str, user: Mapping[str, Any]) -> Manager:
    """A user of ``GET /api/v4/users``."""
    rights = user.get("rights") or {}
    group = rights.get("group_id")
    return Manager(
        account_id=account_id,
        id=str(user["id"]),
        name=user.get("name") or f"user {user['id']}",
        email=user.get("email") or None,
        active=bool(rights.get("is_active", True)),
        role=Role.HEAD if rights.get("is_admin") else Role.MANAGER,
        team_id=_ref(group),
    )


def teams_from_groups(account_id: str, groups: Iterable[Mapping[str, Any]]) -> list[Team]:
    """``_embedded.users_groups`` of ``GET /api/v4/account?with=users_groups``."""
    return [
        Team(account_id=account_id, id=str(g["id"]), name=g.get("name") or str(g["id"]))
        for g in groups
        if g.get("id") not in (None, 0)
    ]


def pipeline_with_stages(
    account_id: str, pipeline: Mapping[str, Any]
) -> tuple[Pipeline, list[Stage]]:
    """A pipeline of ``GET /api/v4/leads/pipelines`` and its statuses."""
    pid = int(pipeline["id"])
    stages = []
    for status in _embedded_ids(pipeline, "statuses"):
        sid = int(status["id"])
        kind = (
            StageKind.WON
            if sid == WON_STATUS
            else StageKind.LOST
            if sid == LOST_STATUS
            else StageKind.OPEN
        )
        stages.append(
            Stage(
                account_id=account_id,
                id=stage_id(pid, sid),
                pipeline_id=str(pid),
                name=status.get("name") or str(sid),
                sort=int(status.get("sort") or 0),
                kind=kind,
            )
        )
    return Pipeline(
        account_id=account_id, id=str(pid), name=pipeline.get("name") or str(pid)
    ), stages


def deal_from_lead(account_id: str, lead: Mapping[str, Any], zone: ZoneInfo) -> Deal:
    """A lead of ``GET /api/v4/leads?with=contacts,loss_reason``."""
    values = custom_values(lead)
    contacts = _embedded_ids(lead, "contacts")
    main = next((c for c in contacts if c.get("is_main")), contacts[0] if contacts else None)
    companies = _embedded_ids(lead, "companies")
    reasons = _embedded_ids(lead, "loss_reason")
    status = int(lead["status_id"])
    extra: dict[str, Any] = {}
    known = {*DEAL_FIELD_CODES, EXPECTED_CLOSE_CODE}
    for key, vals in values.items():
        if key not in known and vals:
            extra[key] = vals[0] if len(vals) == 1 else vals
    expected = _first(values, EXPECTED_CLOSE_CODE)
    fields = {attr: _first(values, code) for code, attr in DEAL_FIELD_CODES.items()}
    price = lead.get("price")
    return Deal(
        account_id=account_id,
        id=str(lead["id"]),
        name=lead.get("name") or None,
        pipeline_id=str(int(lead["pipeline_id"])),
        stage_id=stage_id(lead["pipeline_id"], status),
        responsible_id=_ref(lead.get("responsible_user_id")),
        amount=None if price is None else Decimal(str(price)),
        currency=fields["currency"] or None,
        contact_id=None if main is None else str(main["id"]),
        company_id=str(companies[0]["id"]) if companies else None,
        source=fields["source"],
        product=fields["product"],
        region=fields["region"],
        created_at=ts(lead.get("created_at")) or datetime.fromtimestamp(0, UTC),
        updated_at=ts(lead.get("updated_at")),
        closed_at=ts(lead.get("closed_at")) if status in (WON_STATUS, LOST_STATUS) else None,
        expected_close_at=_local_day(expected, zone),
        loss_reason=(reasons[0].get("name") or None) if reasons else None,
        custom_fields=extra,
    )


def _local_day(value: Any, zone: ZoneInfo) -> date | None:
    moment = ts(value)
    return None if moment is None else moment.astimezone(zone).date()


def _phones_emails(values: Mapping[str, list[Any]]) -> tuple[list[str], list[str]]:
    phones = [str(v) for v in values.get("PHONE", []) if v]
    emails = [str(v) for v in values.get("EMAIL", []) if v]
    return phones, emails


def contact_from_json(account_id: str, item: Mapping[str, Any]) -> Contact:
    """A contact of ``GET /api/v4/contacts``."""
    values = custom_values(item)
    phones, emails = _phones_emails(values)
    companies = _embedded_ids(item, "companies")
    return Contact(
        account_id=account_id,
        id=str(item["id"]),
        name=item.get("name") or f"contact {item['id']}",
        phones=phones,
        emails=emails,
        company_id=str(companies[0]["id"]) if companies else None,
        responsible_id=_ref(item.get("responsible_user_id")),
        created_at=ts(item.get("created_at")),
        inn=_first(values, "INN"),
        segment=_first(values, "SEGMENT"),
        region=_first(values, "REGION"),
    )


def company_from_json(account_id: str, item: Mapping[str, Any]) -> Company:
    """A company of ``GET /api/v4/companies``."""
    values = custom_values(item)
    phones, emails = _phones_emails(values)
    inn = _first(values, "INN")
    return Company(
        account_id=account_id,
        id=str(item["id"]),
        name=item.get("name") or f"company {item['id']}",
        inn=None if inn is None else str(inn),
        phones=phones,
        emails=emails,
        responsible_id=_ref(item.get("responsible_user_id")),
        segment=_first(values, "SEGMENT"),
        region=_first(values, "REGION"),
        created_at=ts(item.get("created_at")),
    )


_LINKS = {"leads": "deal_id", "contacts": "contact_id", "companies": "company_id"}


def task_from_json(account_id: str, item: Mapping[str, Any]) -> Task:
    """A task of ``GET /api/v4/tasks``; completion time is its ``updated_at`` once completed."""
    links: dict[str, str | None] = {"deal_id": None, "contact_id": None, "company_id": None}
    target = _LINKS.get(str(item.get("entity_type")))
    if target and item.get("entity_id"):
        links[target] = str(item["entity_id"])
    created = ts(item.get("created_at")) or datetime.fromtimestamp(0, UTC)
    due = ts(item.get("complete_till")) or created
    type_id = item.get("task_type_id")
    return Task(
        account_id=account_id,
        id=str(item["id"]),
        responsible_id=str(item["responsible_user_id"]),
        created_at=created,
        due_at=due,
        completed_at=ts(item.get("updated_at")) if item.get("is_completed") else None,
        type=TASK_TYPES.get(int(type_id), str(type_id)) if type_id else None,
        text=item.get("text") or None,
        **links,
    )


def activity_from_note(
    account_id: str, note: Mapping[str, Any], entity_type: str
) -> Activity | None:
    """A call note, a ropilot service note, or a common note; other notes are not activities."""
    kind = note.get("note_type")
    params = note.get("params") or {}
    link = _LINKS.get(entity_type)
    base: dict[str, Any] = {
        "account_id": account_id,
        "id": str(note["id"]),
        "manager_id": str(note.get("created_by") or note.get("responsible_user_id")),
        "at": ts(note.get("created_at")) or datetime.fromtimestamp(0, UTC),
    }
    if link and note.get("entity_id"):
        base[link] = str(note["entity_id"])
    if kind in ("call_in", "call_out"):
        duration = params.get("duration")
        return Activity(
            type=ActivityType.CALL,
            direction=Direction.IN if kind == "call_in" else Direction.OUT,
            duration_s=None if duration in (None, "") else int(float(duration)),
            result=params.get("call_result") or None,
            **base,
        )
    if kind == "service_message" and params.get("service") == SERVICE:
        text = str(params.get("text") or "")
        head, _, rest = text.partition(": ")
        try:
            activity_type = ActivityType(head)
        except ValueError:
            return None
        duration = params.get("duration")
        direction = params.get("direction")
        return Activity(
            type=activity_type,
            result=rest or None,
            direction=Direction(direction) if direction in ("in", "out") else None,
            duration_s=None if duration in (None, "") else int(float(duration)),
            **base,
        )
    if kind == "common":
        return Activity(type=ActivityType.NOTE, result=params.get("text") or None, **base)
    return None


def _status_of(values: Any) -> tuple[Any, Any] | None:
    for item in values or []:
        status = (item or {}).get("lead_status")
        if status:
            return status.get("pipeline_id"), status.get("id")
    return None


def _responsible_of(values: Any) -> str | None:
    for item in values or []:
        user = (item or {}).get("responsible_user")
        if user and user.get("id"):
            return str(user["id"])
    return None


def history_from_event(
    account_id: str, event: Mapping[str, Any]
) -> StageChange | Assignment | None:
    """``lead_added``, ``lead_status_changed`` → StageChange; responsible change → Assignment."""
    kind = event.get("type")
    if event.get("entity_type") not in ("lead", "leads"):
        return None
    common = {
        "account_id": account_id,
        "id": str(event["id"]),
        "deal_id": str(event["entity_id"]),
        "changed_at": ts(event.get("created_at")) or datetime.fromtimestamp(0, UTC),
    }
    if kind == "lead_status_changed" or kind == "lead_added":
        after = _status_of(event.get("value_after"))
        if after is None:
            return None
        before = _status_of(event.get("value_before")) if kind == "lead_status_changed" else None
        return StageChange(
            from_stage_id=None if before is None else stage_id(*before),
            to_stage_id=stage_id(*after),
            changed_by=_ref(event.get("created_by")),
            **common,
        )
    if kind == "entity_responsible_changed":
        to = _responsible_of(event.get("value_after"))
        if to is None:
            return None
        return Assignment(
            from_manager_id=_responsible_of(event.get("value_before")), to_manager_id=to, **common
        )
    return None
