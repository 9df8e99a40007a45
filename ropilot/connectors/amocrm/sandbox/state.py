"""The sandbox's account: everything in memory, guarded by one lock.

Entities are kept as plain dicts close to amoCRM's JSON (``render.py`` adds links and
envelopes). Reads filter and order them; writes validate a whole batch first, then apply it,
bump ``updated_at``, record events and queue outbound webhooks.
"""

from __future__ import annotations

import re
import secrets
import threading
import uuid
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from ropilot.connectors.amocrm.sandbox.auth import OAuthServer, OAuthSettings
from ropilot.connectors.amocrm.sandbox.clock import SandboxClock
from ropilot.connectors.amocrm.sandbox.config import SandboxConfig
from ropilot.connectors.amocrm.sandbox.limits import FaultPlan, RateLimiter
from ropilot.connectors.amocrm.sandbox.query import as_int, as_list, int_set
from ropilot.connectors.amocrm.sandbox.webhooks import WebhookDispatcher

WON = 142
LOST = 143
ENTITIES = ("leads", "contacts", "companies")
NOTE_TYPES = {
    "common",
    "call_in",
    "call_out",
    "service_message",
    "message_cashier",
    "geolocation",
    "sms_in",
    "sms_out",
    "extended_service_message",
    "attachment",
}
TASK_ENTITY_TYPES = {"leads", "contacts", "companies", "customers"}
EVENT_ENTITY = {"leads": "lead", "contacts": "contact", "companies": "company", "tasks": "task"}
WEBHOOK_SETTINGS = frozenset(
    [
        "responsible_lead",
        "responsible_contact",
        "responsible_company",
        "responsible_customer",
        "responsible_task",
        "restore_lead",
        "restore_contact",
        "restore_company",
        "add_lead",
        "add_contact",
        "add_company",
        "add_customer",
        "add_talk",
        "add_task",
        "update_lead",
        "update_contact",
        "update_company",
        "update_customer",
        "update_talk",
        "update_task",
        "delete_lead",
        "delete_contact",
        "delete_company",
        "delete_customer",
        "delete_task",
        "status_lead",
        "note_lead",
        "note_contact",
        "note_company",
        "note_customer",
        "add_chat_template_review",
    ]
)
_CROCKFORD = "0123456789abcdefghjkmnpqrstvwxyz"
_SUBDOMAIN = re.compile(r"^[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?$")


class ValidationFailed(Exception):
    """A write was refused; ``errors`` is the ``validation-errors`` list of the 400 body."""

    def __init__(self, errors: list[dict[str, Any]]) -> None:
        super().__init__("Request validation failed")
        self.errors = errors


class BadRequest(Exception):
    """A write was refused without per-item errors (e.g. the batch is too large)."""


@dataclass
class FieldDef:
    """A custom field definition."""

    id: int
    entity: str
    name: str
    type: str
    code: str | None = None
    sort: int = 500
    enums: list[dict[str, Any]] | None = None
    required_statuses: list[dict[str, int]] = field(default_factory=list)
    is_predefined: bool = False

    def enum_by_value(self, value: Any) -> dict[str, Any] | None:
        for enum in self.enums or []:
            if enum["value"] == value:
                return enum
        return None

    def enum_by_id(self, enum_id: Any) -> dict[str, Any] | None:
        number = as_int(enum_id)
        for enum in self.enums or []:
            if enum["id"] == number:
                return enum
        return None

    def enum_by_code(self, code: Any) -> dict[str, Any] | None:
        for enum in self.enums or []:
            if enum.get("code") is not None and enum.get("code") == code:
                return enum
        return None

    def add_enum(self, value: str, next_id: Callable[[], int], code: str | None = None) -> int:
        found = self.enum_by_value(value)
        if found is not None:
            return int(found["id"])
        if self.enums is None:
            self.enums = []
        new_id = next_id()
        enum: dict[str, Any] = {"id": new_id, "value": value, "sort": (len(self.enums) + 1) * 10}
        if code is not None or self.type == "multitext":
            enum["code"] = code
        self.enums.append(enum)
        return new_id


def ulid_like(ms: int, n: int) -> str:
    """A 26-character lower-case id like amoCRM's event ids (time part, then a counter)."""
    chars = []
    value = max(ms, 0)
    for _ in range(10):
        chars.append(_CROCKFORD[value & 31])
        value >>= 5
    head = "".join(reversed(chars))
    value = (n * 2654435761) ^ (n << 40)
    tail = []
    for _ in range(16):
        tail.append(_CROCKFORD[value & 31])
        value >>= 5
    return head + "".join(reversed(tail))


def _bump(old: int, now: int) -> int:
    return now if now > old else old + 1


class SandboxState:
    """One amoCRM account in memory with its OAuth integration, limits and fault plan.

    Build it with :func:`~ropilot.connectors.amocrm.sandbox.seed.load_bundle` or
    :func:`~ropilot.connectors.amocrm.sandbox.sandbox_from_options`; serve it with
    :func:`~ropilot.connectors.amocrm.sandbox.run_sandbox`.

    Attributes:
        config: the switches (mutable at run time).
        clock: the clock used for tokens, rate buckets and timestamps.
        lock: guards every read and write of the account.
        id_map: bundle id → amoCRM id, per bundle table (``stage_changes`` and
            ``assignments`` map to event ids, which are strings).
        faults: the fault plan.
        limiter: the rate limiter (``limiter.blocked``, ``unblock()``).
        oauth: the OAuth server (codes, tokens).
    """

    def __init__(self, config: SandboxConfig | None = None, clock: SandboxClock | None = None):
        self.config = config or SandboxConfig()
        self.clock = clock or SandboxClock()
        self.lock = threading.RLock()
        self.id_map: dict[str, dict[str, Any]] = {}
        self.account: dict[str, Any] = {
            "id": 1_000_001,
            "name": "ropilot sandbox",
            "timezone": "Europe/Moscow",
            "currency": "RUB",
            "created_at": self.clock.time(),
        }
        self.subdomain = self.config.subdomain or "ropilot-sandbox"
        self.groups: dict[int, dict[str, Any]] = {}
        self.users: dict[int, dict[str, Any]] = {}
        self.pipelines: dict[int, dict[str, Any]] = {}
        self.task_types: dict[int, dict[str, Any]] = {
            1: {"id": 1, "name": "Звонок", "color": None, "icon_id": None, "code": "CALL"},
            2: {"id": 2, "name": "Встреча", "color": None, "icon_id": None, "code": "MEETING"},
        }
        self.loss_reasons: dict[int, dict[str, Any]] = {}
        self.records: dict[str, dict[int, dict[str, Any]]] = {
            "leads": {},
            "contacts": {},
            "companies": {},
            "tasks": {},
        }
        self.notes: dict[str, dict[int, dict[str, Any]]] = {e: {} for e in ENTITIES}
        self.events: dict[str, dict[str, Any]] = {}
        self.fields: dict[str, dict[int, FieldDef]] = {e: {} for e in ENTITIES}
        self.webhooks: dict[int, dict[str, Any]] = {}
        self.contact_leads: dict[int, list[int]] = {}
        self.company_leads: dict[int, list[int]] = {}
        self.company_contacts: dict[int, list[int]] = {}
        self.current_user_id = 0
        self.base_url: str | None = None
        self.version = 0
        self._event_seq = 0
        self._next: dict[str, int] = {}
        self._cache: dict[tuple[Any, ...], list[Any]] = {}
        self._closest: dict[tuple[str, int], int] = {}
        self._closest_version = -1
        self.faults = FaultPlan()
        self.limiter = RateLimiter(self.clock)
        self.oauth: OAuthServer | None = None
        self.authorization_code = ""
        self.dispatcher = WebhookDispatcher(self)

    # ---------------------------------------------------------------- setup ------------
    def finish_setup(self) -> None:
        """Create the integration once the data is loaded (called by the loaders)."""
        cfg = self.config
        if cfg.subdomain:
            self.subdomain = cfg.subdomain
        if not self.users:
            self.users[1_000_001] = _user(1_000_001, "Администратор", None, True, True, None)
        admins = [u for u in self.users.values() if u["is_admin"] and u["is_active"]]
        self.current_user_id = (admins or list(self.users.values()))[0]["id"]
        settings = OAuthSettings(
            client_id=cfg.client_id or str(uuid.uuid4()),
            client_secret=cfg.client_secret or secrets.token_urlsafe(48),
            redirect_uri=cfg.redirect_uri,
            account_id=int(self.account["id"]),
            user_id=self.current_user_id,
            access_ttl=cfg.access_ttl,
            refresh_ttl=cfg.refresh_ttl,
            code_ttl=cfg.code_ttl,
            long_lived_ttl=cfg.long_lived_ttl,
            old_access_valid_until_exp=cfg.old_access_valid_until_exp,
            api_domain=cfg.api_domain,
        )
        self.oauth = OAuthServer(settings, self.clock)
        self.authorization_code = self.oauth.issue_code()
        self.sync_switches()

    def sync_switches(self) -> None:
        """Push the config's switches into the OAuth server and the rate limiter."""
        cfg = self.config
        lim = self.limiter
        lim.per_integration = cfg.rate_limit
        lim.per_account = cfg.account_rate_limit if cfg.rate_limit > 0 else 0
        lim.block_after = cfg.block_after
        lim.block_window = cfg.block_window
        if self.oauth is not None:
            s = self.oauth.settings
            s.access_ttl = cfg.access_ttl
            s.refresh_ttl = cfg.refresh_ttl
            s.code_ttl = cfg.code_ttl
            s.long_lived_ttl = cfg.long_lived_ttl
            s.old_access_valid_until_exp = cfg.old_access_valid_until_exp
            s.api_domain = cfg.api_domain
            self.oauth.deactivated = cfg.integration_deactivated

    @property
    def auth(self) -> OAuthServer:
        """The OAuth server (exists once the state is loaded)."""
        if self.oauth is None:
            raise RuntimeError("the sandbox state is not set up: load a bundle first")
        return self.oauth

    def set_subdomain(self, value: str) -> None:
        """Choose the account's subdomain."""
        if not _SUBDOMAIN.match(value):
            raise ValueError(f"{value!r} is not a valid subdomain")
        self.subdomain = value

    @staticmethod
    def default_subdomain(account_id: str) -> str:
        candidate = account_id.strip().lower().replace("_", "-")
        return candidate if _SUBDOMAIN.match(candidate) else "ropilot-sandbox"

    def next_id(self, kind: str) -> int:
        """A fresh integer id for ``kind`` (above every id in use)."""
        with self.lock:
            current = self._next.get(kind)
            if current is None:
                current = self._max_id(kind)
            current += 1
            self._next[kind] = current
            return current

    def _max_id(self, kind: str) -> int:
        if kind in self.records:
            pool: Iterable[int] = self.records[kind].keys()
        elif kind == "notes":
            pool = [i for notes in self.notes.values() for i in notes]
        elif kind == "fields":
            pool = [i for defs in self.fields.values() for i in defs]
        elif kind == "enums":
            pool = [
                int(e["id"])
                for defs in self.fields.values()
                for f in defs.values()
                for e in f.enums or []
            ]
        elif kind == "loss_reasons":
            pool = self.loss_reasons.keys()
        elif kind == "webhooks":
            pool = self.webhooks.keys()
        elif kind == "task_types":
            pool = self.task_types.keys()
        else:
            pool = []
        return max(pool, default=1_000_000)

    def seed_next(self, kind: str, value: int) -> None:
        """Make :meth:`next_id` continue above ``value``."""
        self._next[kind] = max(self._next.get(kind, value), value)

    # ---------------------------------------------------------------- switches ---------
    def unblock(self) -> None:
        """Lift a 403 block caused by repeated 429s."""
        self.limiter.unblock()

    def deactivate_integration(self, deactivated: bool = True) -> None:
        """Switch "integration deactivated": every API call and refresh → 401; tokens die."""
        self.config.integration_deactivated = deactivated
        if deactivated:
            self.auth.revoke_all()
        self.sync_switches()

    def set_required_statuses(
        self, entity: str, field_key: int | str, statuses: Iterable[tuple[int, int]]
    ) -> FieldDef:
        """Set a field's ``required_statuses`` (field by id or code; (pipeline, status) pairs)."""
        with self.lock:
            found = self.field(entity, field_key)
            if found is None:
                raise KeyError(f"no {entity} custom field {field_key!r}")
            found.required_statuses = [
                {"status_id": int(s), "pipeline_id": int(p)} for p, s in statuses
            ]
            self.version += 1
            return found

    def field(self, entity: str, key: int | str | None) -> FieldDef | None:
        """A custom field of ``entity`` by id or code."""
        defs = self.fields.get(entity, {})
        number = as_int(key) if not isinstance(key, str) or key.strip().isdigit() else None
        if number is not None:
            return defs.get(number)
        for f in defs.values():
            if f.code is not None and f.code == key:
                return f
        return None

    def field_by_code(self, entity: str, code: str) -> FieldDef | None:
        for f in self.fields[entity].values():
            if f.code == code:
                return f
        return None

    # ---------------------------------------------------------------- events -----------
    def add_event(
        self,
        type_: str,
        entity: str,
        entity_id: int,
        created_at: int,
        created_by: int,
        before: list[Any],
        after: list[Any],
        event_id: str | None = None,
        **extra: Any,
    ) -> str:
        """Record an event and return its id."""
        self._event_seq += 1
        eid = event_id or ulid_like(created_at * 1000, self._event_seq)
        while eid in self.events:
            self._event_seq += 1
            eid = ulid_like(created_at * 1000, self._event_seq)
        self.events[eid] = {
            "id": eid,
            "type": type_,
            "entity_id": entity_id,
            "entity_type": EVENT_ENTITY.get(entity, entity),
            "created_by": created_by,
            "created_at": created_at,
            "value_after": after,
            "value_before": before,
            "_seq": self._event_seq,
            **extra,
        }
        return eid

    # ---------------------------------------------------------------- pipelines --------
    def status_pipelines(self, status_id: int) -> list[int]:
        """Pipelines having ``status_id`` (142 and 143 are in every pipeline)."""
        return [
            pid
            for pid, p in self.pipelines.items()
            if any(s["id"] == status_id for s in p["statuses"])
        ]

    def first_open_status(self, pipeline_id: int) -> int:
        statuses = sorted(self.pipelines[pipeline_id]["statuses"], key=lambda s: s["sort"])
        for s in statuses:
            if s["id"] not in (WON, LOST) and s.get("type") == 0:
                return int(s["id"])
        return int(statuses[0]["id"])

    def main_pipeline(self) -> int:
        for pid, p in self.pipelines.items():
            if p.get("is_main"):
                return pid
        first: int = next(iter(self.pipelines))
        return first

    # ---------------------------------------------------------------- reads ------------
    def list_ids(
        self,
        kind: str,
        args: dict[str, Any],
        *,
        entity: str | None = None,
        entity_id: int | None = None,
    ) -> list[Any]:
        """Ids of ``kind`` matching the request's filters, in the requested order (cached)."""
        key = (
            kind,
            entity,
            entity_id,
            repr(args.get("filter")),
            repr(args.get("order")),
            str(args.get("query", "")),
            self.version,
            self.config.alpha_filters_disabled,
        )
        cached = self._cache.get(key)
        if cached is not None:
            return cached
        ids = self._compute_ids(kind, args, entity, entity_id)
        if len(self._cache) > 64:
            self._cache.clear()
        self._cache[key] = ids
        return ids

    def _compute_ids(
        self, kind: str, args: dict[str, Any], entity: str | None, entity_id: int | None
    ) -> list[Any]:
        filt = args.get("filter")
        if not isinstance(filt, dict):
            filt = {}
        order = args.get("order")
        if kind in ENTITIES and self.config.alpha_filters_disabled:
            filt = {}
        items: Iterable[dict[str, Any]]
        if kind == "notes":
            assert entity is not None
            items = self.notes[entity].values()
            if entity_id is not None:
                items = [n for n in items if n["entity_id"] == entity_id]
        elif kind == "events":
            items = self.events.values()
        elif kind == "users":
            items = self.users.values()
        else:
            items = self.records[kind].values()
        preds = self._predicates(kind, filt)
        query = str(args.get("query") or "").strip().lower() if kind in ENTITIES else ""
        selected = [
            r for r in items if all(p(r) for p in preds) and (not query or _matches(r, query))
        ]
        field_name, descending = _order(kind, order)
        if kind == "events":
            selected.sort(key=lambda r: (r[field_name], r["_seq"]), reverse=descending)
        else:
            selected.sort(key=lambda r: (r.get(field_name) or 0, r["id"]), reverse=descending)
        return [r["id"] for r in selected]

    def _predicates(
        self, kind: str, filt: dict[str, Any]
    ) -> list[Callable[[dict[str, Any]], bool]]:
        preds: list[Callable[[dict[str, Any]], bool]] = []

        def id_in(name: str, raw: Any) -> None:
            wanted = int_set(raw)
            if wanted is not None:
                preds.append(lambda r: r.get(name) in wanted)

        if kind == "events":
            types = [str(t) for t in as_list(filt.get("type"))]
            if types:
                plain = {t for t in types if not t.startswith("custom_field_")}
                per_field = {
                    as_int(t[len("custom_field_") : -len("_value_changed")])
                    for t in types
                    if t.startswith("custom_field_") and t.endswith("_value_changed")
                }
                plain |= {t for t in types if t == "custom_field_value_changed"}
                preds.append(
                    lambda r: (
                        r["type"] in plain
                        or (
                            r["type"] == "custom_field_value_changed"
                            and r.get("field_id") in per_field
                        )
                    )
                )
            entities = {str(e) for e in as_list(filt.get("entity"))}
            if entities:
                normal = {e[:-1] if e.endswith("s") and e != "tasks" else e for e in entities}
                normal |= {"task" for e in entities if e == "tasks"}
                preds.append(lambda r: r["entity_type"] in normal)
            id_in("entity_id", filt.get("entity_id"))
            id_in("created_by", filt.get("created_by"))
            _range(preds, "created_at", filt.get("created_at"), scalar="exact")
            return preds
        id_in("id", filt.get("id"))
        id_in("responsible_user_id", filt.get("responsible_user_id"))
        id_in("created_by", filt.get("created_by"))
        id_in("updated_by", filt.get("updated_by"))
        scalar = "after" if kind in ("tasks", "notes") else "from"
        _range(preds, "created_at", filt.get("created_at"), scalar="from")
        _range(preds, "updated_at", filt.get("updated_at"), scalar=scalar)
        if kind == "leads":
            id_in("pipeline_id", filt.get("pipeline_id"))
            _range(preds, "closed_at", filt.get("closed_at"), scalar="from")
            _range(preds, "closest_task_at", filt.get("closest_task_at"), scalar="from")
            _range(preds, "price", filt.get("price"), scalar="exact")
            statuses = filt.get("statuses")
            if statuses is not None:
                pairs: list[tuple[int | None, int | None]] = []
                for item in as_list(statuses) if not isinstance(statuses, dict) else [statuses]:
                    if isinstance(item, dict):
                        pairs.append(
                            (as_int(item.get("pipeline_id")), as_int(item.get("status_id")))
                        )
                preds.append(
                    lambda r: any(
                        (p is None or r["pipeline_id"] == p) and (s is None or r["status_id"] == s)
                        for p, s in pairs
                    )
                )
            if "status_id" in filt:
                id_in("status_id", filt.get("status_id"))
            name = filt.get("name")
            if name is not None:
                names = {str(n) for n in as_list(name)}
                preds.append(lambda r: r["name"] in names)
        if kind in ("contacts", "companies") and filt.get("name") is not None:
            names = {str(n) for n in as_list(filt.get("name"))}
            preds.append(lambda r: r["name"] in names)
        if kind == "tasks":
            done = filt.get("is_completed")
            if done is not None:
                flag = str(done).strip().lower() in ("1", "true")
                preds.append(lambda r: bool(r["is_completed"]) == flag)
            id_in("task_type_id", filt.get("task_type") if "task_type" in filt else None)
            etypes = {str(t) for t in as_list(filt.get("entity_type"))}
            if etypes:
                preds.append(lambda r: r.get("entity_type") in etypes)
            id_in("entity_id", filt.get("entity_id"))
        if kind == "notes":
            ntypes = {str(t) for t in as_list(filt.get("note_type"))}
            if ntypes:
                preds.append(lambda r: r["note_type"] in ntypes)
            id_in("entity_id", filt.get("entity_id"))
        return preds

    def closest_task_at(self, entity: str, entity_id: int) -> int | None:
        """The earliest deadline of the entity's open tasks (indexed once per state version)."""
        if self._closest_version != self.version:
            index: dict[tuple[str, int], int] = {}
            for t in self.records["tasks"].values():
                if t["is_completed"] or t["entity_type"] is None:
                    continue
                key = (str(t["entity_type"]), int(t["entity_id"]))
                due = int(t["complete_till"])
                if key not in index or due < index[key]:
                    index[key] = due
            self._closest = index
            self._closest_version = self.version
        return self._closest.get((entity, entity_id))

    # ---------------------------------------------------------------- custom fields ----
    def _cf_update(
        self, entity: str, raw: Any, errors: list[dict[str, str]]
    ) -> dict[int, list[dict[str, Any]] | None]:
        """Parse ``custom_fields_values`` of a write; field id → values (None clears)."""
        out: dict[int, list[dict[str, Any]] | None] = {}
        if raw is None:
            return out
        if not isinstance(raw, list):
            errors.append(
                _err("InvalidType", "custom_fields_values", "This value should be of type array.")
            )
            return out
        for n, item in enumerate(raw):
            base = f"custom_fields_values.{n}"
            if not isinstance(item, dict):
                errors.append(_err("InvalidType", base, "This value should be of type object."))
                continue
            fdef: FieldDef | None = None
            if item.get("field_id") is not None:
                fdef = self.fields[entity].get(as_int(item.get("field_id")) or -1)
                if fdef is None:
                    errors.append(_err("NotSupportedChoice", f"{base}.field_id", _CHOICE))
                    continue
            elif item.get("field_code") is not None:
                fdef = self.field_by_code(entity, str(item.get("field_code")))
                if fdef is None:
                    errors.append(_err("NotSupportedChoice", f"{base}.field_code", _CHOICE))
                    continue
            else:
                errors.append(
                    _err("NotBlank", f"{base}.field_id", "This value should not be blank.")
                )
                continue
            values = item.get("values")
            if values is None or values == []:
                out[fdef.id] = None
                continue
            if not isinstance(values, list):
                errors.append(
                    _err("InvalidType", f"{base}.values", "This value should be of type array.")
                )
                continue
            parsed: list[dict[str, Any]] = []
            for m, value in enumerate(values):
                got = _cf_value(fdef, value, f"{base}.values.{m}", errors)
                if got is not None:
                    parsed.append(got)
            out[fdef.id] = parsed or None
        return out

    @staticmethod
    def _apply_cf(rec: dict[str, Any], update: dict[int, list[dict[str, Any]] | None]) -> list[int]:
        changed = []
        for fid, values in update.items():
            old = rec["cf"].get(fid)
            if values is None:
                if fid in rec["cf"]:
                    del rec["cf"][fid]
                    changed.append(fid)
            elif old != values:
                rec["cf"][fid] = values
                changed.append(fid)
        return changed

    # ---------------------------------------------------------------- writes: leads -----
    def _check_batch(self, items: Any, as_object: bool = False) -> list[dict[str, Any]]:
        if as_object:
            items = [items]
        if not isinstance(items, list) or not all(isinstance(i, dict) for i in items):
            raise BadRequest("The request body must be a JSON array of objects")
        if not items:
            raise BadRequest("The request body is empty")
        if len(items) > self.config.write_batch_limit > 0:
            raise BadRequest(
                f"Too many entities in one request: {len(items)} "
                f"(at most {self.config.write_batch_limit})"
            )
        return list(items)

    def _lead_changes(
        self, item: dict[str, Any], rec: dict[str, Any] | None, errors: list[dict[str, str]]
    ) -> dict[str, Any]:
        """Validate one lead write; returns the new values (rec None = a new lead)."""
        changes: dict[str, Any] = {}
        if "name" in item:
            changes["name"] = "" if item["name"] is None else str(item["name"])
        if "price" in item:
            price = as_int(item["price"]) if item["price"] is not None else 0
            if price is None or price < 0:
                errors.append(_err("InvalidType", "price", "This value should be of type int."))
            else:
                changes["price"] = price
        for key in ("responsible_user_id", "created_by", "updated_by"):
            if key in item and item[key] is not None:
                uid = as_int(item[key])
                if uid is None or (
                    uid not in self.users and not (key == "updated_by" and uid == 0)
                ):
                    errors.append(_err("NotSupportedChoice", key, _CHOICE))
                else:
                    changes[key] = uid
        for key in ("closed_at", "created_at"):
            if key in item and item[key] is not None:
                value = as_int(item[key])
                if value is None:
                    errors.append(_err("InvalidType", key, "This value should be of type int."))
                else:
                    changes[key] = value
        if "loss_reason_id" in item:
            lr = item["loss_reason_id"]
            if lr in (None, 0):
                changes["loss_reason_id"] = None
            elif as_int(lr) not in self.loss_reasons:
                errors.append(_err("NotSupportedChoice", "loss_reason_id", _CHOICE))
            else:
                changes["loss_reason_id"] = as_int(lr)
        pipeline = as_int(item.get("pipeline_id")) if item.get("pipeline_id") is not None else None
        status = as_int(item.get("status_id")) if item.get("status_id") is not None else None
        if item.get("pipeline_id") is not None and pipeline not in self.pipelines:
            errors.append(_err("NotSupportedChoice", "pipeline_id", _CHOICE))
        elif item.get("status_id") is not None and status is None:
            errors.append(_err("NotSupportedChoice", "status_id", _CHOICE))
        else:
            target_p = pipeline
            target_s = status
            if target_s is not None:
                homes = self.status_pipelines(target_s)
                if target_p is None:
                    current = rec["pipeline_id"] if rec else self.main_pipeline()
                    if current in homes:
                        target_p = current
                    elif len(homes) == 1:
                        target_p = homes[0]
                if target_p is None or target_p not in homes:
                    errors.append(_err("NotSupportedChoice", "status_id", _CHOICE))
            elif target_p is not None:
                if rec is None or rec["pipeline_id"] != target_p:
                    target_s = self.first_open_status(target_p)
                else:
                    target_s = rec["status_id"]
            elif rec is None:
                target_p = self.main_pipeline()
                target_s = self.first_open_status(target_p)
            if target_p is not None and target_s is not None:
                changes["pipeline_id"] = target_p
                changes["status_id"] = target_s
        cf = self._cf_update("leads", item.get("custom_fields_values"), errors)
        if cf:
            changes["cf"] = cf
        emb = item.get("_embedded")
        if isinstance(emb, dict):
            contacts = emb.get("contacts")
            if isinstance(contacts, list):
                links = []
                for n, c in enumerate(contacts):
                    cid = as_int(c.get("id")) if isinstance(c, dict) else None
                    if cid not in self.records["contacts"]:
                        errors.append(
                            _err("NotSupportedChoice", f"_embedded.contacts.{n}.id", _CHOICE)
                        )
                    else:
                        links.append((cid, bool(c.get("is_main", n == 0))))
                changes["contacts"] = links
            companies = emb.get("companies")
            if isinstance(companies, list) and companies:
                first = companies[0]
                cid = as_int(first.get("id")) if isinstance(first, dict) else None
                if cid not in self.records["companies"]:
                    errors.append(_err("NotSupportedChoice", "_embedded.companies.0.id", _CHOICE))
                else:
                    changes["company_id"] = cid
        if self.config.enforce_required_statuses and "status_id" in changes:
            moving = rec is None or (
                changes["status_id"] != rec["status_id"]
                or changes["pipeline_id"] != rec["pipeline_id"]
            )
            if moving:
                filled = dict(rec["cf"]) if rec else {}
                for fid, values in changes.get("cf", {}).items():
                    if values is None:
                        filled.pop(fid, None)
                    else:
                        filled[fid] = values
                for fdef in self.fields["leads"].values():
                    need = any(
                        r["status_id"] == changes["status_id"]
                        and r["pipeline_id"] == changes["pipeline_id"]
                        for r in fdef.required_statuses
                    )
                    if need and not filled.get(fdef.id):
                        errors.append(
                            _err(
                                "NotBlank",
                                "custom_fields_values",
                                f"Field {fdef.id} ({fdef.name}) is required for status "
                                f"{changes['status_id']}",
                            )
                        )
        return changes

    def write_leads(
        self, items: Any, user_id: int, *, create: bool, as_object: bool = False
    ) -> tuple[list[dict[str, Any]], list[tuple[str, str, str, dict[str, Any]]]]:
        """POST (create) or PATCH leads; returns per-lead results and webhook items."""
        return self._write(
            "leads",
            items,
            user_id,
            create=create,
            as_object=as_object,
            changes=lambda item, rec, errors: (
                self._lead_changes(item, rec, errors) if (create or rec) else {}
            ),
            new=self._new_lead,
            patch=self._patch_lead,
            added=lambda rec: ("add_lead", "leads", "add", self.hook_lead(rec)),
        )

    def _write(
        self,
        table: str,
        items: Any,
        user_id: int,
        *,
        create: bool,
        as_object: bool,
        changes: Callable[[dict[str, Any], dict[str, Any] | None, list[dict[str, str]]], Any],
        new: Callable[[dict[str, Any], int, int], dict[str, Any]],
        patch: Callable[..., None],
        added: Callable[[dict[str, Any]], tuple[str, str, str, dict[str, Any]]],
    ) -> tuple[list[dict[str, Any]], list[tuple[str, str, str, dict[str, Any]]]]:
        """Validate a whole batch first (amoCRM rejects it all), then apply it."""
        with self.lock:
            batch = self._check_batch(items, as_object)
            all_errors: list[dict[str, Any]] = []
            plans: list[tuple[dict[str, Any], dict[str, Any] | None, dict[str, Any]]] = []
            for index, item in enumerate(batch):
                errors: list[dict[str, str]] = []
                rec: dict[str, Any] | None = None
                if not create:
                    rid = as_int(item.get("id"))
                    rec = self.records[table].get(rid) if rid is not None else None
                    if rec is None:
                        errors.append(_err("NotFound", "id", "Entity not found."))
                planned = changes(item, rec, errors)
                if errors:
                    all_errors.append({"request_id": _request_id(item, index), "errors": errors})
                plans.append((item, rec, planned))
            if all_errors:
                raise ValidationFailed(all_errors)
            now = self.clock.time()
            results = []
            hooks: list[tuple[str, str, str, dict[str, Any]]] = []
            for index, (item, rec, planned) in enumerate(plans):
                if rec is None:
                    rec = new(planned, user_id, now)
                    results.append({"id": rec["id"], "request_id": _request_id(item, index)})
                    hooks.append(added(rec))
                    continue
                patch(rec, planned, user_id, now, hooks)
                result = {"id": rec["id"], "updated_at": rec["updated_at"]}
                if "request_id" in item:
                    result["request_id"] = str(item["request_id"])
                results.append(result)
            self.version += 1
            return results, hooks

    def _new_lead(self, changes: dict[str, Any], user_id: int, now: int) -> dict[str, Any]:
        lead_id = self.next_id("leads")
        created = changes.get("created_at", now)
        rec = {
            "id": lead_id,
            "name": changes.get("name", ""),
            "price": changes.get("price", 0),
            "responsible_user_id": changes.get("responsible_user_id", user_id),
            "status_id": changes["status_id"],
            "pipeline_id": changes["pipeline_id"],
            "loss_reason_id": changes.get("loss_reason_id"),
            "created_by": changes.get("created_by", user_id),
            "updated_by": changes.get("updated_by", user_id),
            "created_at": created,
            "updated_at": max(created, now),
            "closed_at": None,
            "is_deleted": False,
            "cf": {},
            "contacts": changes.get("contacts", []),
            "company_id": changes.get("company_id"),
        }
        if rec["status_id"] in (WON, LOST):
            rec["closed_at"] = changes.get("closed_at", now)
        for fid, values in changes.get("cf", {}).items():
            if values:
                rec["cf"][fid] = values
        self.records["leads"][lead_id] = rec
        for cid, _main in rec["contacts"]:
            self.contact_leads.setdefault(cid, []).append(lead_id)
        if rec["company_id"]:
            self.company_leads.setdefault(rec["company_id"], []).append(lead_id)
        status = {"lead_status": {"id": rec["status_id"], "pipeline_id": rec["pipeline_id"]}}
        self.add_event("lead_added", "leads", lead_id, created, rec["created_by"], [], [status])
        return rec

    def _patch_lead(
        self,
        rec: dict[str, Any],
        changes: dict[str, Any],
        user_id: int,
        now: int,
        hooks: list[tuple[str, str, str, dict[str, Any]]],
    ) -> None:
        actor = changes.get("updated_by", user_id)
        old_status = (rec["status_id"], rec["pipeline_id"])
        old_resp = rec["responsible_user_id"]
        old_price = rec["price"]
        if "name" in changes and changes["name"] != rec["name"]:
            self.add_event(
                "name_field_changed",
                "leads",
                rec["id"],
                now,
                actor,
                [{"name_field_value": {"name": rec["name"]}}],
                [{"name_field_value": {"name": changes["name"]}}],
            )
            rec["name"] = changes["name"]
        if "price" in changes and changes["price"] != old_price:
            rec["price"] = changes["price"]
            self.add_event(
                "sale_field_changed",
                "leads",
                rec["id"],
                now,
                actor,
                [{"sale_field_value": {"sale": old_price}}],
                [{"sale_field_value": {"sale": rec["price"]}}],
            )
        if "loss_reason_id" in changes:
            rec["loss_reason_id"] = changes["loss_reason_id"]
        new_status = (
            changes.get("status_id", old_status[0]),
            changes.get("pipeline_id", old_status[1]),
        )
        status_changed = new_status != old_status
        if status_changed:
            rec["status_id"], rec["pipeline_id"] = new_status
            self.add_event(
                "lead_status_changed",
                "leads",
                rec["id"],
                now,
                actor,
                [{"lead_status": {"id": old_status[0], "pipeline_id": old_status[1]}}],
                [{"lead_status": {"id": new_status[0], "pipeline_id": new_status[1]}}],
            )
            if new_status[0] in (WON, LOST):
                rec["closed_at"] = changes.get("closed_at", now)
            else:
                rec["closed_at"] = None
        elif "closed_at" in changes and rec["status_id"] in (WON, LOST):
            rec["closed_at"] = changes["closed_at"]
        resp_changed = (
            "responsible_user_id" in changes and changes["responsible_user_id"] != old_resp
        )
        if resp_changed:
            rec["responsible_user_id"] = changes["responsible_user_id"]
            self.add_event(
                "entity_responsible_changed",
                "leads",
                rec["id"],
                now,
                actor,
                [{"responsible_user": {"id": old_resp}}],
                [{"responsible_user": {"id": rec["responsible_user_id"]}}],
            )
        for fid in self._apply_cf(rec, changes.get("cf", {})):
            self.add_event(
                "custom_field_value_changed",
                "leads",
                rec["id"],
                now,
                actor,
                [],
                [{"custom_field_value": {"field_id": fid}}],
                field_id=fid,
            )
        if "contacts" in changes:
            for cid, _m in rec["contacts"]:
                if rec["id"] in self.contact_leads.get(cid, []):
                    self.contact_leads[cid].remove(rec["id"])
            rec["contacts"] = changes["contacts"]
            for cid, _m in rec["contacts"]:
                self.contact_leads.setdefault(cid, []).append(rec["id"])
        if "company_id" in changes:
            if rec["company_id"] and rec["id"] in self.company_leads.get(rec["company_id"], []):
                self.company_leads[rec["company_id"]].remove(rec["id"])
            rec["company_id"] = changes["company_id"]
            self.company_leads.setdefault(rec["company_id"], []).append(rec["id"])
        rec["updated_at"] = _bump(rec["updated_at"], now)
        rec["updated_by"] = actor
        item = self.hook_lead(rec)
        hooks.append(("update_lead", "leads", "update", item))
        if status_changed:
            hooks.append(
                (
                    "status_lead",
                    "leads",
                    "status",
                    {**item, "old_status_id": old_status[0], "old_pipeline_id": old_status[1]},
                )
            )
        if resp_changed:
            hooks.append(
                (
                    "responsible_lead",
                    "leads",
                    "responsible",
                    {**item, "old_responsible_user_id": old_resp},
                )
            )

    # ---------------------------------------------------------------- writes: tasks -----
    def write_tasks(
        self, items: Any, user_id: int, *, create: bool, as_object: bool = False
    ) -> tuple[list[dict[str, Any]], list[tuple[str, str, str, dict[str, Any]]]]:
        """POST (create) or PATCH tasks."""
        return self._write(
            "tasks",
            items,
            user_id,
            create=create,
            as_object=as_object,
            changes=lambda item, rec, errors: self._task_changes(item, rec, create, errors),
            new=self._new_task,
            patch=self._patch_task,
            added=lambda rec: ("add_task", "task", "add", self.hook_task(rec)),
        )

    def _task_changes(
        self,
        item: dict[str, Any],
        rec: dict[str, Any] | None,
        create: bool,
        errors: list[dict[str, str]],
    ) -> dict[str, Any]:
        changes: dict[str, Any] = {}
        if create or "text" in item:
            text = item.get("text")
            if text is None or (isinstance(text, str) and not text.strip()):
                errors.append(_err("NotBlank", "text", "This value should not be blank."))
            else:
                changes["text"] = str(text)
        if create or "complete_till" in item:
            till = item.get("complete_till")
            number = as_int(till) if till is not None else None
            if till is None or till == "":
                errors.append(_err("NotBlank", "complete_till", "This value should not be blank."))
            elif number is None:
                number_f = _float(till)
                if number_f is None:
                    errors.append(
                        _err("InvalidType", "complete_till", "This value should be of type int.")
                    )
                else:
                    changes["complete_till"] = int(number_f)
            else:
                changes["complete_till"] = number
        for key in ("responsible_user_id", "created_by", "updated_by"):
            if item.get(key) is not None:
                uid = as_int(item[key])
                if uid not in self.users:
                    errors.append(_err("NotSupportedChoice", key, _CHOICE))
                else:
                    changes[key] = uid
        if item.get("task_type_id") is not None:
            tt = as_int(item["task_type_id"])
            if tt not in self.task_types:
                errors.append(_err("NotSupportedChoice", "task_type_id", _CHOICE))
            else:
                changes["task_type_id"] = tt
        if item.get("duration") is not None:
            changes["duration"] = as_int(item["duration"]) or 0
        if "is_completed" in item:
            changes["is_completed"] = item["is_completed"] in (True, 1, "1", "true")
        result = item.get("result")
        if isinstance(result, dict) and result.get("text") is not None:
            changes["result"] = {"text": str(result["text"])}
        if item.get("entity_type") is not None or item.get("entity_id") is not None:
            etype = item.get("entity_type")
            eid = as_int(item.get("entity_id"))
            if etype not in TASK_ENTITY_TYPES:
                errors.append(_err("NotSupportedChoice", "entity_type", _CHOICE))
            elif eid is None or (etype in self.records and eid not in self.records[str(etype)]):
                errors.append(_err("NotSupportedChoice", "entity_id", _CHOICE))
            else:
                changes["entity_type"] = etype
                changes["entity_id"] = eid
        return changes

    def _new_task(self, changes: dict[str, Any], user_id: int, now: int) -> dict[str, Any]:
        tid = self.next_id("tasks")
        rec = {
            "id": tid,
            "created_by": changes.get("created_by", user_id),
            "updated_by": changes.get("updated_by", user_id),
            "created_at": now,
            "updated_at": now,
            "responsible_user_id": changes.get("responsible_user_id", user_id),
            "entity_id": changes.get("entity_id"),
            "entity_type": changes.get("entity_type"),
            "is_completed": changes.get("is_completed", False),
            "task_type_id": changes.get("task_type_id", 1),
            "text": changes["text"],
            "duration": changes.get("duration", 0),
            "complete_till": changes["complete_till"],
            "result": changes.get("result"),
        }
        self.records["tasks"][tid] = rec
        self.add_event(
            "task_added", "tasks", tid, now, rec["created_by"], [], [{"task": {"id": tid}}]
        )
        return rec

    def _patch_task(
        self,
        rec: dict[str, Any],
        changes: dict[str, Any],
        user_id: int,
        now: int,
        hooks: list[tuple[str, str, str, dict[str, Any]]],
    ) -> None:
        actor = changes.get("updated_by", user_id)
        was_done = rec["is_completed"]
        old_resp = rec["responsible_user_id"]
        if "complete_till" in changes and changes["complete_till"] != rec["complete_till"]:
            self.add_event(
                "task_deadline_changed",
                "tasks",
                rec["id"],
                now,
                actor,
                [{"task_deadline": {"timestamp": rec["complete_till"]}}],
                [{"task_deadline": {"timestamp": changes["complete_till"]}}],
            )
        for key in (
            "text",
            "complete_till",
            "responsible_user_id",
            "task_type_id",
            "duration",
            "entity_type",
            "entity_id",
            "is_completed",
        ):
            if key in changes:
                rec[key] = changes[key]
        if "result" in changes:
            rec["result"] = changes["result"]
            self.add_event(
                "task_result_added", "tasks", rec["id"], now, actor, [], [{"note": {"id": 0}}]
            )
        if rec["is_completed"] and not was_done:
            self.add_event("task_completed", "tasks", rec["id"], now, actor, [], [])
        rec["updated_at"] = _bump(rec["updated_at"], now)
        rec["updated_by"] = actor
        item = self.hook_task(rec)
        if rec["is_completed"] and not was_done:
            item["action_close"] = 1
        hooks.append(("update_task", "task", "update", item))
        if rec["responsible_user_id"] != old_resp:
            hooks.append(
                (
                    "responsible_task",
                    "task",
                    "responsible",
                    {**item, "old_responsible_user_id": old_resp},
                )
            )

    # ---------------------------------------------------------------- writes: notes -----
    def add_notes(
        self, entity: str, items: Any, user_id: int, entity_id: int | None = None
    ) -> tuple[list[dict[str, Any]], list[tuple[str, str, str, dict[str, Any]]]]:
        """POST notes of ``entity`` (each item names its ``entity_id`` unless in the path)."""
        with self.lock:
            batch = self._check_batch(items)
            all_errors: list[dict[str, Any]] = []
            for index, item in enumerate(batch):
                errors: list[dict[str, str]] = []
                eid = entity_id if entity_id is not None else as_int(item.get("entity_id"))
                if eid is None or eid not in self.records[entity]:
                    errors.append(_err("NotSupportedChoice", "entity_id", _CHOICE))
                ntype = item.get("note_type")
                if ntype not in NOTE_TYPES:
                    errors.append(_err("NotSupportedChoice", "note_type", _CHOICE))
                params = item.get("params")
                if params is not None and not isinstance(params, dict):
                    errors.append(
                        _err("InvalidType", "params", "This value should be of type object.")
                    )
                elif ntype in ("common", "service_message", "sms_in", "sms_out") and not (
                    params or {}
                ).get("text"):
                    errors.append(
                        _err("NotBlank", "params.text", "This value should not be blank.")
                    )
                elif ntype == "service_message" and not (params or {}).get("service"):
                    errors.append(
                        _err("NotBlank", "params.service", "This value should not be blank.")
                    )
                if errors:
                    all_errors.append({"request_id": _request_id(item, index), "errors": errors})
            if all_errors:
                raise ValidationFailed(all_errors)
            now = self.clock.time()
            results = []
            hooks: list[tuple[str, str, str, dict[str, Any]]] = []
            for index, item in enumerate(batch):
                eid = entity_id if entity_id is not None else as_int(item.get("entity_id"))
                assert eid is not None
                nid = self.next_id("notes")
                creator = as_int(item.get("created_by")) or user_id
                note = {
                    "id": nid,
                    "entity_id": eid,
                    "created_by": creator,
                    "updated_by": creator,
                    "created_at": now,
                    "updated_at": now,
                    "responsible_user_id": as_int(item.get("responsible_user_id")) or creator,
                    "note_type": item["note_type"],
                    "params": dict(item.get("params") or {}),
                }
                self.notes[entity][nid] = note
                parent = self.records[entity][eid]
                parent["updated_at"] = _bump(parent["updated_at"], now)
                kind = {"call_in": "incoming_call", "call_out": "outgoing_call"}.get(
                    note["note_type"], "common_note_added"
                )
                self.add_event(kind, entity, eid, now, creator, [], [{"note": {"id": nid}}])
                results.append(
                    {"id": nid, "entity_id": eid, "request_id": _request_id(item, index)}
                )
                setting = f"note_{EVENT_ENTITY[entity]}"
                section = "leads" if entity == "leads" else "contacts"
                hooks.append((setting, section, "note", self.hook_note(entity, note)))
            self.version += 1
            return results, hooks

    # ---------------------------------------------------------------- webhooks API ------
    def upsert_webhook(self, body: Any, user_id: int) -> dict[str, Any]:
        """``POST /api/v4/webhooks``: create, or update the hook with the same destination."""
        with self.lock:
            errors: list[dict[str, str]] = []
            if not isinstance(body, dict):
                raise BadRequest("The request body must be a JSON object")
            dest = body.get("destination")
            if not isinstance(dest, str) or not re.match(r"^https?://", dest):
                errors.append(_err("InvalidUrl", "destination", "This value is not a valid URL."))
            settings = body.get("settings")
            if not isinstance(settings, list) or not settings:
                errors.append(_err("NotBlank", "settings", "This value should not be blank."))
            else:
                for n, s in enumerate(settings):
                    if s not in WEBHOOK_SETTINGS:
                        errors.append(_err("NotSupportedChoice", f"settings.{n}", _CHOICE))
            if errors:
                raise ValidationFailed([{"request_id": "0", "errors": errors}])
            assert isinstance(settings, list)
            now = self.clock.time()
            for hook in self.webhooks.values():
                if hook["destination"] == dest:
                    hook["settings"] = list(settings)
                    hook["sort"] = as_int(body.get("sort")) or hook["sort"]
                    hook["updated_at"] = now
                    hook["disabled"] = False
                    self.version += 1
                    return hook
            wid = self.next_id("webhooks")
            hook = {
                "id": wid,
                "destination": dest,
                "created_at": now,
                "updated_at": now,
                "account_id": self.account["id"],
                "created_by": user_id,
                "sort": as_int(body.get("sort")) or 1,
                "disabled": False,
                "settings": list(settings),
            }
            self.webhooks[wid] = hook
            self.version += 1
            return hook

    def delete_webhook(self, destination: Any) -> bool:
        """``DELETE /api/v4/webhooks``; False when no hook has that destination."""
        with self.lock:
            for wid, hook in list(self.webhooks.items()):
                if hook["destination"] == destination:
                    del self.webhooks[wid]
                    self.version += 1
                    return True
            return False

    # ---------------------------------------------------------------- webhook payloads --
    def _legacy_cf(self, entity: str, rec: dict[str, Any]) -> list[dict[str, Any]]:
        out = []
        for fid, values in rec["cf"].items():
            fdef = self.fields[entity].get(fid)
            if fdef is None:
                continue
            item: dict[str, Any] = {"id": fid, "name": fdef.name}
            legacy: list[Any] = []
            for v in values:
                if fdef.type in ("date", "date_time", "birthday"):
                    legacy.append(v.get("value"))
                elif v.get("enum_id") is not None:
                    legacy.append({"value": v.get("value"), "enum": v.get("enum_id")})
                else:
                    legacy.append({"value": v.get("value")})
            item["values"] = legacy
            if fdef.code:
                item["code"] = fdef.code
            out.append(item)
        return out

    def hook_lead(self, rec: dict[str, Any]) -> dict[str, Any]:
        """A lead in the legacy webhook layout (values become strings when encoded)."""
        item: dict[str, Any] = {
            "id": rec["id"],
            "name": rec["name"],
            "status_id": rec["status_id"],
            "price": rec["price"],
            "responsible_user_id": rec["responsible_user_id"],
            "last_modified": rec["updated_at"],
            "modified_user_id": rec["updated_by"],
            "created_user_id": rec["created_by"],
            "date_create": rec["created_at"],
            "pipeline_id": rec["pipeline_id"],
            "account_id": self.account["id"],
        }
        cf = self._legacy_cf("leads", rec)
        if cf:
            item["custom_fields"] = cf
        item["created_at"] = rec["created_at"]
        item["updated_at"] = rec["updated_at"]
        return item

    def hook_task(self, rec: dict[str, Any]) -> dict[str, Any]:
        """A task in the legacy webhook layout."""
        element_type = {"contacts": 1, "leads": 2, "companies": 3, "customers": 12}
        item: dict[str, Any] = {
            "id": rec["id"],
            "element_id": rec["entity_id"] or 0,
            "element_type": element_type.get(str(rec["entity_type"]), 0),
            "task_type": rec["task_type_id"],
            "date_create": _legacy_time(rec["created_at"]),
            "text": rec["text"],
            "status": 1 if rec["is_completed"] else 0,
            "account_id": self.account["id"],
            "created_user_id": rec["created_by"],
            "last_modified": _legacy_time(rec["updated_at"]),
            "responsible_user_id": rec["responsible_user_id"],
            "complete_till": _legacy_time(rec["complete_till"]),
        }
        if rec.get("result"):
            item["result"] = {"text": rec["result"].get("text", "")}
        return item

    def hook_note(self, entity: str, note: dict[str, Any]) -> dict[str, Any]:
        """A note in the legacy webhook layout (undocumented; peer parsers' shape)."""
        legacy_type = {"common": 4, "call_in": 10, "call_out": 11, "service_message": 25}
        element_type = {"contacts": 1, "leads": 2, "companies": 3}
        return {
            "note": {
                "id": note["id"],
                "note_type": legacy_type.get(note["note_type"], 4),
                "element_id": note["entity_id"],
                "element_type": element_type[entity],
                "text": str(note["params"].get("text", "")),
                "date_create": note["created_at"],
                "created_by": note["created_by"],
                "main_user_id": note["responsible_user_id"],
                "account_id": self.account["id"],
            },
            "type": EVENT_ENTITY[entity],
            "element_id": note["entity_id"],
        }

    # ---------------------------------------------------------------- misc -------------
    def summary(self) -> dict[str, int]:
        """How many entities of each kind the account holds."""
        with self.lock:
            return {
                "users": len(self.users),
                "pipelines": len(self.pipelines),
                "leads": len(self.records["leads"]),
                "contacts": len(self.records["contacts"]),
                "companies": len(self.records["companies"]),
                "tasks": len(self.records["tasks"]),
                "notes": sum(len(n) for n in self.notes.values()),
                "events": len(self.events),
            }

    @classmethod
    def from_bundle(cls, path: Path, **switches: Any) -> SandboxState:
        """A state seeded from a bundle (folder, .zip or .xlsx)."""
        from ropilot.connectors.amocrm.sandbox.seed import load_bundle

        return load_bundle(Path(path), SandboxConfig.from_switches(**switches))


_CHOICE = "The value you selected is not a valid choice."


def _err(code: str, path: str, detail: str) -> dict[str, str]:
    return {"code": code, "path": path, "detail": detail}


def _request_id(item: dict[str, Any], index: int) -> str:
    given = item.get("request_id")
    return str(index) if given is None else str(given)


def _float(value: Any) -> float | None:
    try:
        return float(value)
    except (TypeError, ValueError):
        return None


def _legacy_time(ts: int) -> str:
    return datetime.fromtimestamp(ts, tz=UTC).strftime("%Y-%m-%d %H:%M:%S")


def _user(
    uid: int, name: str, email: str | None, admin: bool, active: bool, group: int | None
) -> dict[str, Any]:
    return {
        "id": uid,
        "name": name,
        "email": email,
        "is_admin": admin,
        "is_active": active,
        "group_id": group,
        "role": "head" if admin else "manager",
    }


def _order(kind: str, order: Any) -> tuple[str, bool]:
    allowed = {
        "leads": ("created_at", "updated_at", "id"),
        "contacts": ("created_at", "updated_at", "id"),
        "companies": ("created_at", "updated_at", "id"),
        "tasks": ("created_at", "complete_till", "updated_at", "id"),
        "notes": ("created_at", "updated_at", "id"),
        "events": ("created_at", "id"),
        "users": ("id",),
    }[kind]
    if isinstance(order, dict):
        for key, direction in order.items():
            if key in allowed:
                name = "created_at" if (kind == "events" and key == "id") else key
                return name, str(direction).strip().lower() == "desc"
    if kind == "events":
        return "created_at", True
    return "id", False


def _range(
    preds: list[Callable[[dict[str, Any]], bool]], name: str, raw: Any, *, scalar: str
) -> None:
    if raw is None:
        return
    if isinstance(raw, dict):
        low = as_int(raw.get("from")) if raw.get("from") not in (None, "") else None
        high = as_int(raw.get("to")) if raw.get("to") not in (None, "") else None
        if low is None and raw.get("from") not in (None, ""):
            low = _num(raw.get("from"))
        if high is None and raw.get("to") not in (None, ""):
            high = _num(raw.get("to"))
    else:
        value = as_int(raw) if not isinstance(raw, list) else None
        if value is None:
            value = _num(raw)
        if value is None:
            preds.append(lambda r: False)
            return
        if scalar == "exact":
            preds.append(lambda r: r.get(name) == value)
            return
        if scalar == "after":
            preds.append(lambda r: r.get(name) is not None and r[name] > value)
            return
        low, high = value, None
    if low is not None:
        lo = low
        preds.append(lambda r: r.get(name) is not None and r[name] >= lo)
    if high is not None:
        hi = high
        preds.append(lambda r: r.get(name) is not None and r[name] <= hi)


def _num(value: Any) -> int | None:
    got = _float(value)
    return None if got is None else int(got)


def _matches(rec: dict[str, Any], query: str) -> bool:
    if query in str(rec.get("name", "")).lower() or query == str(rec["id"]):
        return True
    for values in rec.get("cf", {}).values():
        for v in values:
            if query in str(v.get("value", "")).lower():
                return True
    return False


def _cf_value(
    fdef: FieldDef, value: Any, path: str, errors: list[dict[str, str]]
) -> dict[str, Any] | None:
    if not isinstance(value, dict):
        value = {"value": value}
    kind = fdef.type
    if kind in ("select", "multiselect", "radiobutton", "category"):
        enum = None
        if value.get("enum_id") is not None:
            enum = fdef.enum_by_id(value["enum_id"])
            where = f"{path}.enum_id"
        elif value.get("enum_code") is not None:
            enum = fdef.enum_by_code(value["enum_code"])
            where = f"{path}.enum_code"
        else:
            enum = fdef.enum_by_value(value.get("value"))
            where = f"{path}.value"
        if enum is None:
            errors.append(_err("NotSupportedChoice", where, _CHOICE))
            return None
        return {"value": enum["value"], "enum_id": enum["id"], "enum_code": enum.get("code")}
    if kind == "multitext":
        raw = value.get("value")
        if raw in (None, ""):
            errors.append(_err("NotBlank", f"{path}.value", "This value should not be blank."))
            return None
        enum = None
        if value.get("enum_id") is not None:
            enum = fdef.enum_by_id(value["enum_id"])
        else:
            enum = fdef.enum_by_code(value.get("enum_code") or value.get("enum") or "WORK")
        if enum is None:
            errors.append(_err("NotSupportedChoice", f"{path}.enum_id", _CHOICE))
            return None
        return {"value": str(raw), "enum_id": enum["id"], "enum_code": enum.get("code")}
    if kind in ("date", "date_time", "birthday"):
        raw = value.get("value")
        stamp = as_int(raw)
        if stamp is None and isinstance(raw, str):
            try:
                stamp = int(datetime.fromisoformat(raw.replace("Z", "+00:00")).timestamp())
            except ValueError:
                stamp = None
        if stamp is None:
            stamp = _num(raw)
        if stamp is None:
            errors.append(_err("InvalidType", f"{path}.value", "This value is not a valid date."))
            return None
        return {"value": stamp}
    if kind == "checkbox":
        return {"value": value.get("value") in (True, 1, "1", "true")}
    raw = value.get("value")
    if raw is None:
        errors.append(_err("NotBlank", f"{path}.value", "This value should not be blank."))
        return None
    return {"value": str(raw) if not isinstance(raw, str) else raw}
