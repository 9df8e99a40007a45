"""amoCRM API v4 writes: responsible user, tasks, notes, custom fields (idempotent).

:class:`AmoCRMWrites` is mixed into :class:`~ropilot.connectors.amocrm.connector.AmoCRMConnector`.

* ``set_responsible`` / ``set_responsible_many`` and ``update_field`` are PATCHes that set a
  value: sending them twice is harmless, so the HTTP client may resend them after a dropped
  connection or a 5xx (``idempotent=True``).
* ``create_task`` and ``add_note`` are POSTs: amoCRM only echoes ``request_id``, it does not
  deduplicate on it, so a blind resend would create a second task or note. They are made
  idempotent here:

  1. every idempotency key gets a record in the store's ``sync_bookmarks`` table
     (``stream = "amocrm:write:{key}"``): ``pending`` with the time of the first attempt is
     saved *before* the POST, ``done`` with the created id after it;
  2. a key already ``done`` returns the remembered id without calling amoCRM;
  3. when the POST ends in :class:`~ropilot.connectors.http.UncertainWriteError` (the
     connection dropped or a 5xx after the request was sent), or when a previous attempt left
     the key ``pending`` (a crash, an error), amoCRM is searched for the task or note first
     (tasks: ``filter[responsible_user_id]``, ``filter[entity_type]``, ``filter[entity_id]``,
     then the same ``text`` and ``complete_till``; notes: the entity's ``common`` notes with
     the same ``params.text``; both created at most :data:`LOOKUP_SLACK` seconds before the
     first attempt) and it is only created when it is not there.

Without a store (:meth:`AmoCRMWrites.attach_store` not called) the records live in memory,
which protects retries within one process only.

Validation failures (HTTP 400 with ``validation-errors``) raise
:class:`AmoCRMValidationError`, an :class:`~ropilot.connectors.http.HTTPStatusError` whose
message lists amoCRM's ``path: detail (code)`` for each error.
"""

from __future__ import annotations

import hashlib
import json
import logging
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import asdict, dataclass
from datetime import date, datetime
from datetime import time as day_time
from decimal import Decimal
from typing import Any, Protocol, Self, cast
from zoneinfo import ZoneInfo

from ropilot.connectors.base import ConnectorConfig, TaskDraft
from ropilot.connectors.http import HttpClient, HttpResponse, HTTPStatusError, UncertainWriteError
from ropilot.connectors.pagination import PageNumberPaginator
from ropilot.core.errors import ConfigurationError, ConnectorError, FatalAPIError
from ropilot.core.store import Store

__all__ = [
    "BOOKMARK_PREFIX",
    "LOOKUP_SLACK",
    "WRITE_BATCH",
    "AmoCRMValidationError",
    "AmoCRMWrites",
    "WriteClient",
    "amo_entity",
    "field_values",
]

log = logging.getLogger(__name__)

WRITE_BATCH = 50
"""Items per batch write request (crm_apis.md A5.1: ≤ 50 is documented for ``/leads/complex``
and safe for every write endpoint)."""

BOOKMARK_PREFIX = "amocrm:write:"
"""``sync_bookmarks.stream`` of an idempotency record: the prefix and the key."""

STREAM_CHARS = 64
"""Width of ``sync_bookmarks.stream``; longer keys are stored by their SHA-256."""

LOOKUP_SLACK = 600
"""Seconds before the first attempt a found task or note may have been created (clock skew
between this server and amoCRM)."""

TASK_TYPE_IDS = {"call": 1, "meeting": 2}
"""amoCRM's built-in task types (A5.2: "1 – Звонок, 2 – Встреча")."""

_ENTITIES = {
    "deal": "leads",
    "deals": "leads",
    "lead": "leads",
    "leads": "leads",
    "contact": "contacts",
    "contacts": "contacts",
    "company": "companies",
    "companies": "companies",
}


class WriteClient(Protocol):
    """What the writes need from the HTTP layer (:class:`~ropilot.connectors.http.HttpClient`)."""

    def request(
        self,
        method: str,
        path_or_url: str,
        *,
        params: Mapping[str, Any] | None = None,
        json: Any = None,
        data: Any = None,
        headers: Mapping[str, str] | None = None,
        idempotent: bool | None = None,
    ) -> HttpResponse:
        """Send a request (see :meth:`HttpClient.request`)."""
        ...

    def get_json(self, path: str, params: Mapping[str, Any] | None = None) -> Any:
        """GET and decode JSON; None for 204."""
        ...


class AmoCRMValidationError(HTTPStatusError):
    """amoCRM refused a write with HTTP 400 ``validation-errors``.

    Attributes:
        errors: amoCRM's ``validation-errors`` list (``request_id`` and ``errors`` each).
    """

    @property
    def errors(self) -> list[dict[str, Any]]:
        """The ``validation-errors`` entries of the answer."""
        body = self.response.json
        found = body.get("validation-errors") if isinstance(body, Mapping) else None
        return list(found) if isinstance(found, list) else []


def validation_detail(response: HttpResponse) -> str | None:
    """``[request_id R] path: detail (code); …`` of a 400 ``validation-errors`` answer.

    ``request_id`` is the item's own (the idempotency key of a task or note) or its index in
    the batch.
    """
    body = response.json
    if response.status != 400 or not isinstance(body, Mapping):
        return None
    entries = body.get("validation-errors")
    if not isinstance(entries, list) or not entries:
        return None
    parts: list[str] = []
    for entry in entries:
        if not isinstance(entry, Mapping):
            continue
        rid = entry.get("request_id")
        where = "" if rid is None else f"[request_id {rid}] "
        for error in entry.get("errors") or []:
            if isinstance(error, Mapping):
                parts.append(
                    f"{where}{error.get('path')}: {error.get('detail')} ({error.get('code')})"
                )
    return "; ".join(parts) or str(body.get("detail") or "validation failed")


def amo_entity(entity: str) -> str:
    """The amoCRM path of ropilot's ``deal``/``contact``/``company`` (or of amoCRM's own)."""
    try:
        return _ENTITIES[entity.strip().lower()]
    except KeyError:
        raise ConnectorError(
            f"amoCRM cannot write to entity {entity!r}: use deal, contact or company"
        ) from None


def _amo_id(value: str | int, what: str) -> int:
    text = str(value).strip()
    if not text.isdigit():
        raise ConnectorError(f"{what} {value!r} is not an amoCRM id (a positive integer)")
    return int(text)


def _unix(moment: datetime, zone: ZoneInfo) -> int:
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=zone)
    return int(moment.timestamp())


def _one_value(value: Any, zone: ZoneInfo) -> dict[str, Any]:
    if isinstance(value, Mapping):
        return dict(value)  # {"enum_id": 17}, {"value": "+7…", "enum_code": "WORK"}, …
    if isinstance(value, bool):
        return {"value": value}
    if isinstance(value, datetime):
        return {"value": _unix(value, zone)}
    if isinstance(value, date):
        return {"value": int(datetime.combine(value, day_time(), zone).timestamp())}
    if isinstance(value, Decimal | float):
        return {"value": str(value)}
    return {"value": value}


UTC_ZONE = ZoneInfo("UTC")


def field_values(value: Any, zone: ZoneInfo = UTC_ZONE) -> list[dict[str, Any]] | None:
    """``values`` of one ``custom_fields_values`` entry (crm_apis.md A6.1).

    None clears the field; a list or tuple gives several values (multiselect, multitext); a
    mapping is sent as is (``{"enum_id": 17}``); a ``date`` becomes the Unix time of its local
    midnight in ``zone`` and a ``datetime`` its Unix time (naive ones read in ``zone``);
    ``Decimal`` and ``float`` are sent as strings, as amoCRM's examples do for numeric fields.
    """
    if value is None:
        return None
    if isinstance(value, list | tuple):
        return [_one_value(v, zone) for v in value]
    return [_one_value(value, zone)]


def _field_ref(field_id: str | int) -> dict[str, Any]:
    text = str(field_id).strip()
    if text.isdigit():
        return {"field_id": int(text)}
    if not text:
        raise ConnectorError("a custom field needs an id or a code")
    return {"field_code": text}


@dataclass(frozen=True)
class _Record:
    """An idempotency record as kept in ``sync_bookmarks.value`` (JSON)."""

    kind: str
    state: str  # "pending" | "done"
    since: int
    id: str | None = None

    def dump(self) -> str:
        return json.dumps(asdict(self), sort_keys=True)

    @classmethod
    def load(cls, text: str) -> _Record:
        raw = json.loads(text)
        return cls(
            kind=str(raw["kind"]),
            state=str(raw["state"]),
            since=int(raw["since"]),
            id=None if raw.get("id") is None else str(raw["id"]),
        )


def _created_id(response: HttpResponse, key: str, what: str) -> str:
    body = response.json
    items = (body.get("_embedded") or {}).get(key) if isinstance(body, Mapping) else None
    if not isinstance(items, list) or not items or not isinstance(items[0], Mapping):
        raise FatalAPIError(
            f"{what}: amoCRM answered HTTP {response.status} without the created id: "
            f"{response.snippet()}"
        )
    return str(items[0]["id"])


class AmoCRMWrites:
    """The amoCRM write methods; mixed into the connector before :class:`Connector`.

    Needs ``self.client`` (an :class:`HttpClient`) and ``self.config`` (the account's config);
    :meth:`attach_store` gives it the store that keeps the idempotency records.
    """

    config: ConnectorConfig
    write_store: Store | None = None
    _write_memory: dict[str, str] | None = None
    _task_types: dict[str, int] | None = None

    def attach_store(self, store: Store | None) -> Self:
        """Keep idempotency records in ``store`` (``sync_bookmarks``); returns the connector."""
        self.write_store = store
        return self

    # -- plumbing -------------------------------------------------------------------------

    def _writer(self) -> WriteClient:
        client = getattr(self, "client", None)
        if client is None or not callable(getattr(client, "request", None)):
            raise ConfigurationError(
                "the amoCRM connector needs an HTTP client with request() to write "
                "(build it with build_amocrm)"
            )
        return cast(WriteClient, client)

    def _zone(self) -> ZoneInfo:
        zone = getattr(self, "zone", None)
        return zone if isinstance(zone, ZoneInfo) else UTC_ZONE

    def _send(
        self, method: str, path: str, body: Any, *, idempotent: bool, what: str
    ) -> HttpResponse:
        try:
            return self._writer().request(method, path, json=body, idempotent=idempotent)
        except HTTPStatusError as exc:
            detail = validation_detail(exc.response)
            if detail is None:
                raise
            raise AmoCRMValidationError(
                f"{what}: amoCRM rejected it (HTTP 400): {detail}", exc.response
            ) from exc

    def _stream(self, key: str) -> str:
        if not key:
            raise ConnectorError("an idempotency key must not be empty")
        stream = f"{BOOKMARK_PREFIX}{key}"
        if len(stream) > STREAM_CHARS:
            digest = hashlib.sha256(key.encode()).hexdigest()
            stream = f"{BOOKMARK_PREFIX}#{digest[: STREAM_CHARS - len(BOOKMARK_PREFIX) - 1]}"
        return stream

    def _load(self, key: str) -> _Record | None:
        stream = self._stream(key)
        if self.write_store is not None:
            text = self.write_store.get_bookmark(self.config.account_id, stream)
        else:
            text = (self._write_memory or {}).get(stream)
        return None if text is None else _Record.load(text)

    def _save(self, key: str, record: _Record) -> None:
        stream = self._stream(key)
        if self.write_store is not None:
            self.write_store.set_bookmark(self.config.account_id, stream, record.dump())
            return
        if self._write_memory is None:
            self._write_memory = {}
        self._write_memory[stream] = record.dump()

    def _once(
        self,
        kind: str,
        key: str,
        create: Callable[[], str],
        find: Callable[[int], str | None],
    ) -> str:
        """Create at most once per key: remembered id, else search after doubt, else create."""
        record = self._load(key)
        if record is not None and record.kind != kind:
            raise ConnectorError(
                f"idempotency key {key!r} was already used for a {record.kind}, not a {kind}"
            )
        if record is not None and record.state == "done" and record.id is not None:
            return record.id
        if record is not None:
            # A previous attempt may have reached amoCRM (crash or error after sending).
            found = find(record.since)
            if found is not None:
                self._save(key, _Record(kind, "done", record.since, found))
                return found
            since = record.since
        else:
            since = int(time.time())
            self._save(key, _Record(kind, "pending", since))
        try:
            created = create()
        except UncertainWriteError as exc:
            log.warning("amoCRM %s %s: %s; looking for it before creating again", kind, key, exc)
            found = find(since)
            if found is not None:
                self._save(key, _Record(kind, "done", since, found))
                return found
            created = create()  # provably not there: create it (a new doubt raises, pending)
        self._save(key, _Record(kind, "done", since, created))
        return created

    # -- responsible ----------------------------------------------------------------------

    def set_responsible(self, deal_id: str, manager_id: str) -> None:
        """``PATCH /api/v4/leads/{id}`` with ``responsible_user_id`` (resent safely)."""
        lead = _amo_id(deal_id, "deal id")
        user = _amo_id(manager_id, "manager id")
        self._send(
            "PATCH",
            f"/api/v4/leads/{lead}",
            {"responsible_user_id": user},
            idempotent=True,
            what=f"set the responsible user of lead {lead}",
        )

    def set_responsible_many(
        self,
        changes: Mapping[str, str] | Iterable[tuple[str, str]],
        *,
        batch_size: int = WRITE_BATCH,
    ) -> int:
        """Change the responsible user of many deals: ``PATCH /api/v4/leads`` in batches.

        Args:
            changes: deal id → manager id (a mapping or pairs; a repeated deal keeps the last).
            batch_size: leads per request, 1 to :data:`WRITE_BATCH`.

        Returns:
            The number of leads updated.

        Raises:
            AmoCRMValidationError: amoCRM refused a batch (the batches before it are applied;
                the message names the failing item's ``request_id``, its index in the batch).
        """
        if not 1 <= batch_size <= WRITE_BATCH:
            raise ValueError(f"batch_size must be between 1 and {WRITE_BATCH}")
        pairs = changes.items() if isinstance(changes, Mapping) else changes
        wanted: dict[int, int] = {}
        for deal_id, manager_id in pairs:
            wanted[_amo_id(deal_id, "deal id")] = _amo_id(manager_id, "manager id")
        items = [{"id": lead, "responsible_user_id": user} for lead, user in wanted.items()]
        for start in range(0, len(items), batch_size):
            chunk = items[start : start + batch_size]
            self._send(
                "PATCH",
                "/api/v4/leads",
                chunk,
                idempotent=True,
                what=f"set the responsible user of leads {start + 1}–{start + len(chunk)} "
                f"of {len(items)}",
            )
        return len(items)

    # -- tasks ----------------------------------------------------------------------------

    def _task_type_id(self, kind: str | None) -> int | None:
        if kind is None or not kind.strip():
            return None
        name = kind.strip().lower()
        if name in TASK_TYPE_IDS:
            return TASK_TYPE_IDS[name]
        if name.isdigit():
            return int(name)
        if self._task_types is None:
            body = self._writer().get_json("/api/v4/account", {"with": "task_types"}) or {}
            types = (body.get("_embedded") or {}).get("task_types") or []
            known: dict[str, int] = {}
            for item in types:
                for label in (item.get("code"), item.get("name")):
                    if label:
                        known.setdefault(str(label).strip().lower(), int(item["id"]))
            self._task_types = known
        if name not in self._task_types:
            raise ConnectorError(
                f"amoCRM has no task type {kind!r} (call, meeting, or one of the account's "
                "task types by name or code)"
            )
        return self._task_types[name]

    @staticmethod
    def _task_target(task: TaskDraft) -> tuple[str, int] | None:
        for entity, ref in (
            ("leads", task.deal_id),
            ("contacts", task.contact_id),
            ("companies", task.company_id),
        ):
            if ref is not None:
                return entity, _amo_id(ref, f"{entity} id")
        return None

    def create_task(self, task: TaskDraft, *, idempotency_key: str) -> str:
        """``POST /api/v4/tasks``; the same key never creates a second task (module doc)."""
        till = _unix(task.due_at, self._zone())
        user = _amo_id(task.responsible_id, "responsible id")
        target = self._task_target(task)
        item: dict[str, Any] = {
            "text": task.text,
            "complete_till": till,
            "responsible_user_id": user,
            "request_id": idempotency_key,
        }
        if target is not None:
            item["entity_type"], item["entity_id"] = target
        type_id = self._task_type_id(task.type)
        if type_id is not None:
            item["task_type_id"] = type_id

        def create() -> str:
            response = self._send(
                "POST", "/api/v4/tasks", [item], idempotent=False, what="create a task"
            )
            return _created_id(response, "tasks", "create a task")

        def find(since: int) -> str | None:
            params: dict[str, Any] = {"filter[responsible_user_id]": user}
            if target is not None:
                params["filter[entity_type]"] = target[0]
                params["filter[entity_id]"] = target[1]
            matches = [
                int(found["id"])
                for found in self._listing("/api/v4/tasks", "tasks", params)
                if found.get("text") == task.text
                and _int(found.get("complete_till")) == till
                and _int(found.get("responsible_user_id")) == user
                and (target is not None or not found.get("entity_id"))
                and (_int(found.get("created_at")) or 0) >= since - LOOKUP_SLACK
            ]
            return str(max(matches)) if matches else None

        return self._once("task", idempotency_key, create, find)

    # -- notes ----------------------------------------------------------------------------

    def add_note(self, entity: str, entity_id: str, text: str, *, idempotency_key: str) -> str:
        """``POST /api/v4/{entity}/notes`` (a ``common`` note); idempotent per key."""
        path = amo_entity(entity)
        eid = _amo_id(entity_id, f"{entity} id")
        item = {
            "entity_id": eid,
            "note_type": "common",
            "params": {"text": text},
            "request_id": idempotency_key,
        }

        def create() -> str:
            what = f"add a note to {path} {eid}"
            response = self._send(
                "POST", f"/api/v4/{path}/notes", [item], idempotent=False, what=what
            )
            return _created_id(response, "notes", what)

        def find(since: int) -> str | None:
            params = {"filter[note_type]": "common"}
            matches = [
                int(found["id"])
                for found in self._listing(f"/api/v4/{path}/{eid}/notes", "notes", params)
                if (found.get("params") or {}).get("text") == text
                and _int(found.get("entity_id")) == eid
                and (_int(found.get("created_at")) or 0) >= since - LOOKUP_SLACK
            ]
            return str(max(matches)) if matches else None

        return self._once("note", idempotency_key, create, find)

    # -- custom fields --------------------------------------------------------------------

    def update_field(self, entity: str, entity_id: str, field_id: str, value: Any) -> None:
        """``PATCH /api/v4/{entity}/{id}`` with one ``custom_fields_values`` entry.

        ``field_id`` is amoCRM's numeric field id, or else the field's code (``REGION``).
        ``value`` as :func:`field_values` describes (None clears the field).
        """
        path = amo_entity(entity)
        eid = _amo_id(entity_id, f"{entity} id")
        entry = {**_field_ref(field_id), "values": field_values(value, self._zone())}
        self._send(
            "PATCH",
            f"/api/v4/{path}/{eid}",
            {"custom_fields_values": [entry]},
            idempotent=True,
            what=f"set field {field_id} of {path} {eid}",
        )

    # -- reads for the lookups ------------------------------------------------------------

    def _listing(
        self, path: str, key: str, params: Mapping[str, Any]
    ) -> Iterable[Mapping[str, Any]]:
        return PageNumberPaginator(
            cast(HttpClient, self._writer()),
            path,
            items_path=("_embedded", key),
            params=params,
            limit=250,
        )


def _int(value: Any) -> int | None:
    try:
        return None if value is None else int(float(value))
    except (TypeError, ValueError):
        return None
