"""Seed a sandbox account from an account bundle, as docs/amocrm-mapping.md defines.

Tables are streamed (a folder of CSV files, a .zip of it or an .xlsx workbook); only the
amoCRM entities are kept in memory. A bundle id that is a decimal integer keeps its value;
other ids get integers from 1,000,001 in sorted order per table (``state.id_map``).
"""

from __future__ import annotations

import tempfile
from collections.abc import Iterator
from datetime import datetime, time
from decimal import ROUND_HALF_UP, Decimal
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from ropilot.connectors.amocrm.sandbox.clock import SandboxClock
from ropilot.connectors.amocrm.sandbox.config import SandboxConfig
from ropilot.connectors.amocrm.sandbox.state import (
    LOST,
    WON,
    FieldDef,
    SandboxState,
    _user,
)
from ropilot.connectors.bundle.sources import BundleSource, XlsxSource, open_bundle
from ropilot.connectors.bundle.spec import TABLES_BY_NAME
from ropilot.connectors.bundle.values import (
    MoneyParser,
    boolean,
    calendar_day_parser,
    integer,
    multi,
    text,
    timestamp_parser,
)
from ropilot.core.errors import BundleError

PHONE_ENUMS = ("WORK", "WORKDD", "MOB", "FAX", "HOME", "OTHER")
EMAIL_ENUMS = ("WORK", "PRIV", "OTHER")
LEAD_SELECTS = (("CURRENCY", "Валюта"), ("SOURCE", "Источник"), ("PRODUCT", "Продукт"))
_STATUS_COLORS = ("#99ccff", "#ffff99", "#ffcc66", "#ffcccc", "#ccc8f9", "#d6eaff", "#deff81")
_FIRST_ID = 1_000_001
_SYSTEM_STATUSES = (
    (WON, "Успешно реализовано", 10000),
    (LOST, "Закрыто и не реализовано", 11000),
)
_STAGE_CHANGE_KEY = ("deal_id", "changed_at", "from_stage_id", "to_stage_id")
_ASSIGNMENT_KEY = ("deal_id", "changed_at", "from_manager_id", "to_manager_id")
_LINKS = (
    ("deals", "leads", "deal_id"),
    ("contacts", "contacts", "contact_id"),
    ("companies", "companies", "company_id"),
)


class _Rows:
    """Rows of one table as {column: cleaned text or None}, with the line for errors."""

    def __init__(self, source: BundleSource, table: str) -> None:
        self.source = source
        self.table = table
        self.present = table in source.tables()
        spec = TABLES_BY_NAME.get(table)
        self.required = [c.header for c in spec.columns if c.required] if spec else []
        self.label = f"{table}.csv"
        self.decimal_comma = False
        self.header: list[str] = []

    def __iter__(self) -> Iterator[tuple[int, dict[str, Any]]]:
        if not self.present:
            return
        with self.source.open(self.table, self.required) as reader:
            self.label = reader.label
            self.decimal_comma = reader.decimal_comma
            self.header = reader.header
            header = reader.header
            for line, cells in reader.rows:
                yield (
                    line,
                    {
                        name: (raw.strip() or None) if type(raw) is str else raw
                        for name, raw in zip(header, cells, strict=False)
                    },
                )


class _Loader:
    def __init__(self, source: BundleSource, state: SandboxState) -> None:
        self.source = source
        self.st = state
        self.zone = ZoneInfo("UTC")
        self.ts_us = timestamp_parser(self.zone)
        self.day = calendar_day_parser(self.zone)
        self.admin = 0
        self.stage_status: dict[str, tuple[int, int]] = {}
        self.lead_with_history: set[int] = set()

    # -- helpers ---------------------------------------------------------------------------
    def fail(self, rows: _Rows, line: int, column: str | None, message: str) -> BundleError:
        where = f"{rows.label} line {line}" + (f", column {column}" if column else "")
        return BundleError(f"{where}: {message}")

    def ts(self, rows: _Rows, line: int, row: dict[str, Any], col: str) -> int | None:
        raw = row.get(col)
        if raw is None:
            return None
        try:
            return int(self.ts_us(raw) // 1_000_000)
        except ValueError as exc:
            raise self.fail(rows, line, col, str(exc)) from None

    def ids(self, table: str) -> dict[str, int]:
        """Bundle id → int for a table: decimal ids keep their value, others are numbered."""
        rows = _Rows(self.source, table)
        mapping: dict[str, int] = {}
        others: list[str] = []
        for _line, row in rows:
            raw = row.get("id")
            if raw is None:
                continue
            key = text(raw)
            if key.isdigit():
                mapping[key] = int(key)
            else:
                others.append(key)
        used = set(mapping.values())
        next_value = _FIRST_ID
        for key in sorted(set(others)):
            while next_value in used:
                next_value += 1
            mapping[key] = next_value
            used.add(next_value)
        self.st.id_map[table] = mapping
        return mapping

    def ref(self, table: str, raw: Any) -> int | None:
        if raw is None:
            return None
        return self.st.id_map.get(table, {}).get(text(raw))

    def new_field(
        self, entity: str, name: str, type_: str, code: str | None, predefined: bool = False
    ) -> FieldDef:
        fid = self.st.next_id("fields")
        fdef = FieldDef(
            id=fid,
            entity=entity,
            name=name,
            type=type_,
            code=code,
            sort=500 + len(self.st.fields[entity]),
            is_predefined=predefined,
        )
        if type_ == "multitext":
            for enum_code in PHONE_ENUMS if code == "PHONE" else EMAIL_ENUMS:
                fdef.add_enum(enum_code, lambda: self.st.next_id("enums"), enum_code)
        self.st.fields[entity][fid] = fdef
        return fdef

    def field(
        self, entity: str, name: str, type_: str = "text", code: str | None = None
    ) -> FieldDef:
        for fdef in self.st.fields[entity].values():
            if (code is not None and fdef.code == code) or (code is None and fdef.name == name):
                return fdef
        return self.new_field(entity, name, type_, code)

    def set_text(self, rec: dict[str, Any], fdef: FieldDef, value: Any) -> None:
        if value is not None:
            rec["cf"][fdef.id] = [{"value": text(value)}]

    def set_select(self, rec: dict[str, Any], fdef: FieldDef, value: Any) -> None:
        if value is None:
            return
        label = text(value)
        enum_id = fdef.add_enum(label, lambda: self.st.next_id("enums"))
        rec["cf"][fdef.id] = [{"value": label, "enum_id": enum_id, "enum_code": None}]

    def set_multitext(self, rec: dict[str, Any], fdef: FieldDef, value: Any) -> None:
        values = multi(value) if value is not None else []
        if values:
            work = fdef.enum_by_code("WORK")
            assert work is not None
            rec["cf"][fdef.id] = [
                {"value": v, "enum_id": work["id"], "enum_code": "WORK"} for v in values
            ]

    def extras(self, rows: _Rows, known: set[str]) -> list[str]:
        spec = TABLES_BY_NAME[rows.table]
        listed = {c.header for c in spec.columns}
        return [h for h in rows.header if h and h not in listed and h not in known]

    # -- tables ----------------------------------------------------------------------------
    def account(self) -> None:
        rows = _Rows(self.source, "account")
        if not rows.present:
            raise BundleError(f"{self.source.description}: the account table is missing")
        self.ids("account")
        for _line, row in rows:
            acc = self.st.account
            acc["id"] = self.st.id_map["account"][text(row["id"])]
            acc["bundle_id"] = text(row["id"])
            acc["name"] = text(row.get("name") or "")
            acc["timezone"] = text(row.get("timezone") or "Europe/Moscow")
            acc["currency"] = text(row.get("currency") or "RUB")
            self.zone = ZoneInfo(acc["timezone"])
            self.ts_us = timestamp_parser(self.zone)
            self.day = calendar_day_parser(self.zone)
            self.st.subdomain = self.st.default_subdomain(acc["bundle_id"])
            break

    def teams(self) -> None:
        self.ids("teams")
        for _line, row in _Rows(self.source, "teams"):
            gid = self.st.id_map["teams"][text(row["id"])]
            self.st.groups[gid] = {"id": gid, "name": text(row.get("name") or gid), "uuid": None}

    def managers(self) -> None:
        self.ids("managers")
        rows = _Rows(self.source, "managers")
        for line, row in rows:
            uid = self.st.id_map["managers"][text(row["id"])]
            role = text(row.get("role") or "manager").lower()
            try:
                active = True if row.get("active") is None else boolean(row["active"])
            except ValueError as exc:
                raise self.fail(rows, line, "active", str(exc)) from None
            user = _user(
                uid,
                text(row.get("name") or uid),
                text(row["email"]) if row.get("email") else None,
                role == "head",
                active,
                self.ref("teams", row.get("team_id")),
            )
            user["role"] = role
            self.st.users[uid] = user
        admins = [u for u in self.st.users.values() if u["is_admin"] and u["is_active"]]
        pool = admins or list(self.st.users.values())
        self.admin = pool[0]["id"] if pool else 0

    def pipelines(self) -> None:
        self.ids("pipelines")
        for n, (_line, row) in enumerate(_Rows(self.source, "pipelines")):
            pid = self.st.id_map["pipelines"][text(row["id"])]
            self.st.pipelines[pid] = {
                "id": pid,
                "name": text(row.get("name") or pid),
                "sort": n + 1,
                "is_main": n == 0,
                "is_unsorted_on": False,
                "is_archive": False,
                "statuses": [],
            }

    def stages(self) -> None:
        mapping = self.ids("stages")
        rows = _Rows(self.source, "stages")
        for line, row in rows:
            pid = self.ref("pipelines", row.get("pipeline_id"))
            if pid is None or pid not in self.st.pipelines:
                raise self.fail(rows, line, "pipeline_id", "unknown pipeline")
            kind = text(row.get("kind") or "open").lower()
            sid = {"won": WON, "lost": LOST}.get(kind, mapping[text(row["id"])])
            mapping[text(row["id"])] = sid
            self.stage_status[text(row["id"])] = (pid, sid)
            pipeline = self.st.pipelines[pid]
            if any(s["id"] == sid for s in pipeline["statuses"]):
                continue
            try:
                sort = integer(row.get("sort") or 0)
            except ValueError as exc:
                raise self.fail(rows, line, "sort", str(exc)) from None
            n = len(pipeline["statuses"])
            pipeline["statuses"].append(
                {
                    "id": sid,
                    "name": text(row.get("name") or sid),
                    "sort": sort,
                    "is_editable": sid not in (WON, LOST),
                    "pipeline_id": pid,
                    "color": {WON: "#CCFF66", LOST: "#D5D8DB"}.get(
                        sid, _STATUS_COLORS[n % len(_STATUS_COLORS)]
                    ),
                    "type": 0,
                }
            )
        for pipeline in self.st.pipelines.values():
            have = {s["id"] for s in pipeline["statuses"]}
            for sid, name, sort in _SYSTEM_STATUSES:
                if sid not in have:
                    pipeline["statuses"].append(
                        {
                            "id": sid,
                            "name": name,
                            "sort": sort,
                            "is_editable": False,
                            "pipeline_id": pipeline["id"],
                            "color": "#CCFF66" if sid == WON else "#D5D8DB",
                            "type": 0,
                        }
                    )
            pipeline["statuses"].sort(key=lambda s: (s["sort"], s["id"]))

    def _client(self, table: str, entity: str) -> None:
        self.ids(table)
        rows = _Rows(self.source, table)
        phone = self.field(entity, "Телефон", "multitext", "PHONE")
        phone.is_predefined = True
        email = self.field(entity, "Email", "multitext", "EMAIL")
        email.is_predefined = True
        coded: dict[str, FieldDef] = {}
        if table == "companies":
            coded = {
                "inn": self.field(entity, "ИНН", "text", "INN"),
                "segment": self.field(entity, "Сегмент", "text", "SEGMENT"),
                "region": self.field(entity, "Регион", "text", "REGION"),
            }
        extra_fields: dict[str, FieldDef] | None = None
        now = self.st.clock.time()
        for line, row in rows:
            if extra_fields is None:
                if table == "contacts":
                    for col, (name, code) in {
                        "inn": ("ИНН", "INN"),
                        "segment": ("Сегмент", "SEGMENT"),
                        "region": ("Регион", "REGION"),
                    }.items():
                        if col in rows.header:
                            coded[col] = self.field(entity, name, "text", code)
                extra_fields = {h: self.field(entity, h) for h in self.extras(rows, set(coded))}
            cid = self.st.id_map[table][text(row["id"])]
            created = self.ts(rows, line, row, "created_at") or now
            resp = self.ref("managers", row.get("responsible_id")) or self.admin
            rec: dict[str, Any] = {
                "id": cid,
                "name": text(row.get("name") or ""),
                "responsible_user_id": resp,
                "created_by": resp,
                "updated_by": resp,
                "created_at": created,
                "updated_at": created,
                "is_deleted": False,
                "cf": {},
                "company_id": None,
            }
            if table == "contacts":
                rec["first_name"] = rec["name"]
                rec["last_name"] = ""
                company = self.ref("companies", row.get("company_id"))
                rec["company_id"] = company
                if company is not None:
                    self.st.company_contacts.setdefault(company, []).append(cid)
            self.set_multitext(rec, phone, row.get("phone"))
            self.set_multitext(rec, email, row.get("email"))
            for col, fdef in coded.items():
                self.set_text(rec, fdef, row.get(col))
            for col, fdef in extra_fields.items():
                self.set_text(rec, fdef, row.get(col))
            self.st.records[entity][cid] = rec

    def deals(self) -> None:
        self.ids("deals")
        rows = _Rows(self.source, "deals")
        selects = {
            col.lower(): self.field("leads", name, "select", col) for col, name in LEAD_SELECTS
        }
        region = self.field("leads", "Регион", "text", "REGION")
        expected = self.field("leads", "Ожидаемая дата закрытия", "date", "EXPECTED_CLOSE")
        extra_fields: dict[str, FieldDef] | None = None
        money: MoneyParser | None = None
        reasons: dict[str, int] = {}
        self.st.id_map["loss_reasons"] = reasons
        for line, row in rows:
            if extra_fields is None:
                extra_fields = {h: self.field("leads", h) for h in self.extras(rows, set())}
                money = MoneyParser(rows.decimal_comma)
            assert money is not None
            lid = self.st.id_map["deals"][text(row["id"])]
            stage = self.stage_status.get(text(row.get("stage_id") or ""))
            if stage is None:
                raise self.fail(rows, line, "stage_id", "unknown stage")
            pid, sid = stage
            created = self.ts(rows, line, row, "created_at")
            if created is None:
                raise self.fail(rows, line, "created_at", "required value is empty")
            closed = self.ts(rows, line, row, "closed_at")
            updated = self.ts(rows, line, row, "updated_at") or max(created, closed or 0)
            price = 0
            if row.get("amount") is not None:
                try:
                    units = money(row["amount"])
                except ValueError as exc:
                    raise self.fail(rows, line, "amount", str(exc)) from None
                price = int((Decimal(units) / 10_000).quantize(Decimal(1), ROUND_HALF_UP))
            resp = self.ref("managers", row.get("responsible_id")) or self.admin
            reason_id = None
            if row.get("loss_reason") is not None:
                name = text(row["loss_reason"])
                if name not in reasons:
                    reasons[name] = self.st.next_id("loss_reasons")
                    self.st.loss_reasons[reasons[name]] = {
                        "id": reasons[name],
                        "name": name,
                        "sort": len(reasons) * 10,
                        "created_at": created,
                        "updated_at": created,
                    }
                reason_id = reasons[name]
            contact = self.ref("contacts", row.get("contact_id"))
            company = self.ref("companies", row.get("company_id"))
            rec: dict[str, Any] = {
                "id": lid,
                "name": text(row.get("name") or ""),
                "price": price,
                "responsible_user_id": resp,
                "status_id": sid,
                "pipeline_id": pid,
                "loss_reason_id": reason_id,
                "created_by": resp,
                "updated_by": resp,
                "created_at": created,
                "updated_at": updated,
                "closed_at": (closed or updated) if sid in (WON, LOST) else None,
                "is_deleted": False,
                "cf": {},
                "contacts": [(contact, True)] if contact is not None else [],
                "company_id": company,
            }
            for col, fdef in selects.items():
                self.set_select(rec, fdef, row.get(col))
            self.set_text(rec, region, row.get("region"))
            if row.get("expected_close_at") is not None:
                try:
                    day = self.day(row["expected_close_at"])
                except ValueError as exc:
                    raise self.fail(rows, line, "expected_close_at", str(exc)) from None
                midnight = datetime.combine(day, time(0), tzinfo=self.zone)
                rec["cf"][expected.id] = [{"value": int(midnight.timestamp())}]
            for col, fdef in extra_fields.items():
                self.set_text(rec, fdef, row.get(col))
            self.st.records["leads"][lid] = rec
            if contact is not None:
                self.st.contact_leads.setdefault(contact, []).append(lid)
            if company is not None:
                self.st.company_leads.setdefault(company, []).append(lid)

    def stage_changes(self) -> None:
        rows = _Rows(self.source, "stage_changes")
        mapping: dict[str, str] = {}
        self.st.id_map["stage_changes"] = mapping
        for line, row in rows:
            lid = self.ref("deals", row.get("deal_id"))
            to = self.stage_status.get(text(row.get("to_stage_id") or ""))
            if lid is None or to is None:
                raise self.fail(rows, line, None, "unknown deal or stage")
            at = self.ts(rows, line, row, "changed_at") or 0
            by = self.ref("managers", row.get("changed_by")) or 0
            after = [{"lead_status": {"id": to[1], "pipeline_id": to[0]}}]
            given = text(row["id"]) if row.get("id") is not None else None
            key = given or _derived(row, _STAGE_CHANGE_KEY)
            if row.get("from_stage_id") is None:
                eid = self.st.add_event("lead_added", "leads", lid, at, by, [], after, given)
            else:
                frm = self.stage_status.get(text(row["from_stage_id"]))
                if frm is None:
                    raise self.fail(rows, line, "from_stage_id", "unknown stage")
                before = [{"lead_status": {"id": frm[1], "pipeline_id": frm[0]}}]
                eid = self.st.add_event(
                    "lead_status_changed", "leads", lid, at, by, before, after, given
                )
            mapping[key] = eid
            self.lead_with_history.add(lid)
        for lid, rec in self.st.records["leads"].items():
            if lid not in self.lead_with_history:
                after = [
                    {"lead_status": {"id": rec["status_id"], "pipeline_id": rec["pipeline_id"]}}
                ]
                self.st.add_event(
                    "lead_added", "leads", lid, rec["created_at"], rec["created_by"], [], after
                )

    def assignments(self) -> None:
        rows = _Rows(self.source, "assignments")
        mapping: dict[str, str] = {}
        self.st.id_map["assignments"] = mapping
        for line, row in rows:
            lid = self.ref("deals", row.get("deal_id"))
            to = self.ref("managers", row.get("to_manager_id"))
            if lid is None or to is None:
                raise self.fail(rows, line, None, "unknown deal or manager")
            frm = self.ref("managers", row.get("from_manager_id"))
            at = self.ts(rows, line, row, "changed_at") or 0
            before = [{"responsible_user": {"id": frm}}] if frm is not None else []
            after = [{"responsible_user": {"id": to}}]
            given = text(row["id"]) if row.get("id") is not None else None
            key = given or _derived(
                row, ("deal_id", "changed_at", "from_manager_id", "to_manager_id")
            )
            mapping[key] = self.st.add_event(
                "entity_responsible_changed", "leads", lid, at, 0, before, after, given
            )

    def activities(self) -> None:
        mapping = self.ids("activities")
        rows = _Rows(self.source, "activities")
        for line, row in rows:
            nid = mapping[text(row["id"])]
            entity, eid = "", None
            for table, kind_, col in _LINKS:
                eid = self.ref(table, row.get(col))
                if eid is not None:
                    entity = kind_
                    break
            if eid is None:
                continue
            at = self.ts(rows, line, row, "at") or 0
            by = self.ref("managers", row.get("manager_id")) or self.admin
            kind = text(row.get("type") or "note").lower()
            result = text(row["result"]) if row.get("result") is not None else ""
            if kind == "call":
                direction = text(row.get("direction") or "out").lower()
                duration = 0
                if row.get("duration_s") is not None:
                    try:
                        duration = integer(row["duration_s"])
                    except ValueError as exc:
                        raise self.fail(rows, line, "duration_s", str(exc)) from None
                note_type = "call_in" if direction == "in" else "call_out"
                params: dict[str, Any] = {
                    "uniq": f"ropilot-{nid}",
                    "duration": duration,
                    "source": "ropilot",
                    "link": "",
                    "phone": self._phone_of(row),
                    "call_result": result,
                    "call_status": 4,
                }
            else:
                note_type = "service_message"
                params = {"service": "ropilot", "text": f"{kind}: {result}"}
                if row.get("direction") is not None:
                    params["direction"] = text(row["direction"]).lower()
                if row.get("duration_s") is not None:
                    try:
                        params["duration"] = integer(row["duration_s"])
                    except ValueError as exc:
                        raise self.fail(rows, line, "duration_s", str(exc)) from None
            self.st.notes[entity][nid] = {
                "id": nid,
                "entity_id": eid,
                "created_by": by,
                "updated_by": by,
                "created_at": at,
                "updated_at": at,
                "responsible_user_id": by,
                "note_type": note_type,
                "params": params,
            }

    def _phone_of(self, row: dict[str, Any]) -> str:
        for table, col in (("contacts", "contact_id"), ("companies", "company_id")):
            cid = self.ref(table, row.get(col))
            if cid is None:
                continue
            rec = self.st.records[table].get(cid)
            if rec is None:
                continue
            for fid, values in rec["cf"].items():
                if self.st.fields[table][fid].code == "PHONE" and values:
                    return str(values[0]["value"])
        return ""

    def tasks(self) -> None:
        mapping = self.ids("tasks")
        rows = _Rows(self.source, "tasks")
        by_type: dict[str, int] = {"call": 1, "meeting": 2}
        for line, row in rows:
            tid = mapping[text(row["id"])]
            created = self.ts(rows, line, row, "created_at") or 0
            due = self.ts(rows, line, row, "due_at") or created
            done = self.ts(rows, line, row, "completed_at")
            entity_type, entity_id = None, None
            for table, entity, col in _LINKS:
                found = self.ref(table, row.get(col))
                if found is not None:
                    entity_type, entity_id = entity, found
                    break
            kind = text(row["type"]).strip() if row.get("type") is not None else "call"
            if kind not in by_type:
                type_id = self.st.next_id("task_types")
                by_type[kind] = type_id
                self.st.task_types[type_id] = {
                    "id": type_id,
                    "name": kind,
                    "color": None,
                    "icon_id": None,
                    "code": None,
                }
            resp = self.ref("managers", row.get("responsible_id")) or self.admin
            self.st.records["tasks"][tid] = {
                "id": tid,
                "created_by": resp,
                "updated_by": resp,
                "created_at": created,
                "updated_at": done if done is not None else created,
                "responsible_user_id": resp,
                "entity_id": entity_id,
                "entity_type": entity_type,
                "is_completed": done is not None,
                "task_type_id": by_type[kind],
                "text": text(row.get("text") or ""),
                "duration": 0,
                "complete_till": due,
                "result": None,
            }
        self.st.id_map["task_types"] = dict(by_type)

    def run(self) -> None:
        self.account()
        self.teams()
        self.managers()
        self.pipelines()
        self.stages()
        self._client("companies", "companies")
        self._client("contacts", "contacts")
        self.deals()
        self.stage_changes()
        self.assignments()
        self.activities()
        self.tasks()
        self.st.id_map.setdefault("stages", {})


def _derived(row: dict[str, Any], columns: tuple[str, ...]) -> str:
    return "|".join("" if row.get(c) is None else text(row[c]) for c in columns)


def load_bundle(
    path: Path, config: SandboxConfig | None = None, clock: SandboxClock | None = None
) -> SandboxState:
    """A sandbox state seeded from a bundle (CSV folder, .zip or .xlsx).

    Raises:
        BundleError: if the bundle cannot be read or references something missing.
    """
    state = SandboxState(config, clock)
    source = open_bundle(Path(path))
    try:
        with state.lock:
            _Loader(source, state).run()
            state.finish_setup()
    finally:
        if isinstance(source, XlsxSource):
            source.close()
    return state


def load_generated(
    deals: int, seed: int, config: SandboxConfig | None = None, clock: SandboxClock | None = None
) -> SandboxState:
    """A sandbox state seeded from :func:`ropilot.generator.generate_bundle`."""
    from ropilot.generator import generate_bundle

    with tempfile.TemporaryDirectory(prefix="ropilot-amocrm-sandbox-") as tmp:
        generate_bundle(Path(tmp), deals=deals, seed=seed)
        return load_bundle(Path(tmp), config, clock)
