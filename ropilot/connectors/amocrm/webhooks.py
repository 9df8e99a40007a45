"""amoCRM (Kommo) outbound webhooks: decode, verify and normalize them into :class:`Event`.

amoCRM POSTs ``application/x-www-form-urlencoded`` bodies built by PHP's ``http_build_query``:
``{entity: {action: {"0": {fields…}, …}}, account: {subdomain, id, _links: {self}}}``, every
value a string, possibly several entities and actions in one body. There is no signature: the
webhook server authenticates a delivery by the secret token in its URL
(``/hooks/amocrm/<account_id>/<secret_token>``) and cross-checks ``account[id]`` /
``account[subdomain]`` (see ``docs/amocrm-webhooks.md``).

Typical use in the server::

    verify_token(path_token, settings.secret)           # 401 before touching the body
    form = decode_webhook_body(body, content_type)       # 400 if undecodable
    verify_webhook(path_token=path_token, expected_token=settings.secret, form=form,
                   expected_account_id="30000001", expected_subdomain="example")
    events = events_from_form(form, account_id=account_id, received_at=now)

or :func:`parse_webhook` to decode and normalize in one call (after verification).
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, tzinfo
from typing import Any
from zoneinfo import ZoneInfo

from ropilot.connectors.amocrm import mapping
from ropilot.connectors.phpform import DEFAULT_MAX_BYTES, parse_str, to_lists
from ropilot.core.errors import ConfigurationError, PayloadError, VerificationError
from ropilot.core.models import Event, EventAction

__all__ = [
    "ACTIONS",
    "CONNECTOR",
    "ENTITIES",
    "decode_webhook_body",
    "dedup_key",
    "disconnect_signature",
    "events_from_form",
    "parse_webhook",
    "stage_id",
    "verify_disconnect_signature",
    "verify_token",
    "verify_webhook",
]

log = logging.getLogger(__name__)

CONNECTOR = "amocrm"
DEFAULT_ZONE = ZoneInfo("Europe/Moscow")

ENTITIES: dict[str, str] = {
    "leads": "deal",
    "contacts": "contact",  # "company" when the item has type=company
    "companies": "company",
    "customers": "customer",
    "task": "task",
    "tasks": "task",
    "unsorted": "unsorted",
}
"""amoCRM top-level webhook key → ropilot entity. Other keys (``account``, ``message``,
``talk``, …) give no events."""

ACTIONS: dict[str, EventAction] = {
    "add": EventAction.ADDED,
    "update": EventAction.UPDATED,
    "delete": EventAction.DELETED,
    "status": EventAction.STAGE_CHANGED,
    "responsible": EventAction.RESPONSIBLE_CHANGED,
    "restore": EventAction.RESTORED,
    "note": EventAction.NOTE_ADDED,
}
"""amoCRM webhook action → ropilot event action. Unknown actions give no events."""

_ELEMENT_TYPES = {"1": "contact", "2": "deal", "3": "company", "4": "task", "12": "customer"}
"""amoCRM legacy ``element_type`` codes (notes and tasks) → ropilot entity."""

_TIME_FIELDS = ("updated_at", "last_modified", "created_at", "date_create")
"""Event time, first present and parseable wins; all of them enter the dedup key."""

_KEY_FIELDS: dict[EventAction, tuple[str, ...]] = {
    EventAction.STAGE_CHANGED: ("status_id", "old_status_id", "pipeline_id", "old_pipeline_id"),
    EventAction.RESPONSIBLE_CHANGED: ("responsible_user_id", "old_responsible_user_id"),
    EventAction.UPDATED: ("status", "action_close"),  # tasks: closing is its own event
    EventAction.DELETED: ("action",),  # unsorted: accept / decline
}
"""Per-action fields that, besides the time fields, tell two events of one entity apart."""

_ID = re.compile(r"[0-9]+\Z")
_DIGITS_TS = re.compile(r"[0-9]+(?:\.[0-9]*)?\Z")
_LOCAL_TS = re.compile(r"\d{4}-\d{2}-\d{2}[ T]\d{2}:\d{2}(?::\d{2})?\Z")
_FORM = "application/x-www-form-urlencoded"


# --------------------------------------------------------------------------------------------
# Decoding and verification


def decode_webhook_body(
    body: bytes, content_type: str | None, *, max_bytes: int = DEFAULT_MAX_BYTES
) -> dict[str, Any]:
    """Decode a webhook body into nested dicts (numeric maps kept as dicts, see phpform).

    Raises:
        PayloadError: wrong content type, empty or too large body, or a body not in the shape
            PHP's ``http_build_query`` produces (decoded with ``parse_str(strict=True)``).
    """
    media, _, params = (content_type or "").partition(";")
    if media.strip().lower() != _FORM:
        raise PayloadError(
            f"amoCRM webhook: content type {content_type!r} is not supported; amoCRM sends {_FORM}"
        )
    charset = re.search(r"charset\s*=\s*\"?([A-Za-z0-9_-]+)", params)
    if charset and charset.group(1).lower().replace("_", "-") not in ("utf-8", "utf8"):
        raise PayloadError(f"amoCRM webhook: charset {charset.group(1)!r} is not UTF-8")
    if not body or not body.strip():
        raise PayloadError("amoCRM webhook: empty body")
    form = parse_str(body, strict=True, max_bytes=max_bytes)
    if not form:
        raise PayloadError("amoCRM webhook: the body holds no variables")
    return form


def verify_token(path_token: str | None, expected_token: str) -> None:
    """Check the secret token from the webhook URL in constant time.

    Raises:
        VerificationError: the token is missing or wrong.
        ConfigurationError: no expected token is configured (an empty secret would accept
            anything).
    """
    if not expected_token:
        raise ConfigurationError(
            "amoCRM webhook secret token is empty: configure one (at least 32 random chars)"
        )
    if not path_token:
        raise VerificationError("amoCRM webhook: the URL carries no secret token")
    if not hmac.compare_digest(path_token.encode("utf-8"), expected_token.encode("utf-8")):
        raise VerificationError("amoCRM webhook: wrong secret token in the URL")


def verify_webhook(
    *,
    path_token: str | None,
    expected_token: str,
    form: Mapping[str, Any],
    expected_account_id: str | None,
    expected_subdomain: str | None,
) -> None:
    """Check that a decoded webhook comes from the configured amoCRM installation.

    First the secret URL token (constant time), then the ``account`` block: every configured
    value that the block carries must match (``id`` exactly, ``subdomain`` case-insensitively),
    and at least one must be carried and match (old payloads carry only the subdomain). Items
    that carry their own ``account_id`` must match ``expected_account_id`` too.

    Raises:
        VerificationError: wrong or missing token, missing ``account`` block, mismatching or
            uncheckable account.
        PayloadError: the ``account`` block or an item is not in amoCRM's shape.
        ConfigurationError: neither the account id nor the subdomain is configured, or the
            token is empty.
    """
    verify_token(path_token, expected_token)
    if not expected_account_id and not expected_subdomain:
        raise ConfigurationError(
            "amoCRM webhook verification needs the account id or the subdomain of the installation"
        )
    account = form.get("account")
    if account is None:
        raise VerificationError("amoCRM webhook: the body has no account block")
    if not isinstance(account, Mapping):
        raise PayloadError("amoCRM webhook: 'account' is not a map of fields")
    checked = False
    if expected_account_id and account.get("id") is not None:
        if not _same(str(account.get("id")).strip(), str(expected_account_id).strip()):
            raise VerificationError("amoCRM webhook: account[id] is not this installation's")
        checked = True
    if expected_subdomain and account.get("subdomain") is not None:
        got = str(account.get("subdomain")).strip().lower()
        if not _same(got, expected_subdomain.strip().lower()):
            raise VerificationError("amoCRM webhook: account[subdomain] is not this installation's")
        checked = True
    if not checked:
        raise VerificationError(
            "amoCRM webhook: the account block carries neither the configured account id nor "
            "the configured subdomain"
        )
    if expected_account_id:
        for raw in _raw_items(form):
            item_account = raw.item.get("account_id")
            if item_account is not None and not _same(
                str(item_account).strip(), str(expected_account_id).strip()
            ):
                raise VerificationError(
                    f"amoCRM webhook: {raw.key}[{raw.action}][{raw.index}][account_id] is not "
                    "this installation's"
                )


def _same(a: str, b: str) -> bool:
    return hmac.compare_digest(a.encode("utf-8"), b.encode("utf-8"))


def disconnect_signature(*, client_id: str, client_secret: str, account_id: str) -> str:
    """The signature amoCRM puts on the disconnect hook: hex HMAC-SHA256 of ``id|account``."""
    message = f"{client_id}|{account_id}".encode()
    return hmac.new(client_secret.encode("utf-8"), message, hashlib.sha256).hexdigest()


def verify_disconnect_signature(
    *, client_id: str, client_secret: str, account_id: str, signature: str | None
) -> None:
    """Check the ``signature`` query parameter of a disconnect hook (``GET`` with
    ``account_id``, ``client_uuid`` and ``signature``), in constant time; hex case is ignored.

    Raises:
        VerificationError: the signature is missing or wrong.
        ConfigurationError: the client secret is empty.
    """
    if not client_secret:
        raise ConfigurationError("amoCRM client secret is empty: cannot check disconnect hooks")
    if not signature or not account_id:
        raise VerificationError("amoCRM disconnect hook: no signature or no account_id")
    expected = disconnect_signature(
        client_id=client_id, client_secret=client_secret, account_id=account_id
    )
    if not _same(signature.strip().lower(), expected):
        raise VerificationError("amoCRM disconnect hook: wrong signature")


# --------------------------------------------------------------------------------------------
# Normalization


@dataclass(frozen=True)
class _RawItem:
    key: str
    action: str
    index: str
    item: Mapping[str, Any]


def _index_order(key: str) -> tuple[int, int, str]:
    return (0, int(key), "") if _ID.match(key) else (1, 0, key)


def _raw_items(form: Mapping[str, Any]) -> Iterator[_RawItem]:
    """Every item of a known entity and action, in body order (items by index)."""
    for key, actions in form.items():
        if key not in ENTITIES:
            if key != "account":
                log.debug("amoCRM webhook: ignoring unknown entity key %r", key)
            continue
        if not isinstance(actions, Mapping):
            raise PayloadError(f"amoCRM webhook: {key!r} is not a map of actions")
        for action, items in actions.items():
            if action not in ACTIONS:
                log.debug("amoCRM webhook: ignoring unknown action %s[%s]", key, action)
                continue
            if isinstance(items, str):  # {"entity": {"delete": "id"}} form of the docs
                yield _RawItem(key, action, "0", {"id": items})
                continue
            if not isinstance(items, Mapping):
                raise PayloadError(f"amoCRM webhook: {key}[{action}] is not a map of items")
            for index in sorted(items, key=_index_order):
                item = items[index]
                if isinstance(item, str):
                    item = {"id": item}
                if not isinstance(item, Mapping):
                    raise PayloadError(f"amoCRM webhook: {key}[{action}][{index}] is not a map")
                yield _RawItem(key, action, index, item)


def stage_id(pipeline_id: str | None, status_id: str) -> str | None:
    """Ropilot's stage id for an amoCRM status (``"{pipeline}:142"`` for won, ``:143`` lost).

    Returns None for a won/lost status without a pipeline (old payloads carry none).
    """
    if status_id in ("142", "143") and not pipeline_id:
        return None
    if not status_id.isdigit() or not (pipeline_id or "0").isdigit():
        return status_id  # not an amoCRM id: keep it as sent rather than fail the delivery
    return mapping.stage_id(pipeline_id or 0, status_id)  # the one rule, shared with reads


def _text_field(item: Mapping[str, Any], name: str) -> str | None:
    value = item.get(name)
    if isinstance(value, str):
        value = value.strip()
        return value or None
    return None


def _parse_time(value: str, zone: tzinfo) -> datetime | None:
    """A Unix timestamp, ``Y-m-d H:i:s`` (account-local) or ISO 8601 string; None if neither."""
    if _DIGITS_TS.match(value):
        seconds = int(float(value))
        if seconds <= 0:
            return None
        try:
            return datetime.fromtimestamp(seconds, tz=UTC)
        except (OverflowError, OSError, ValueError):
            return None
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        return None
    if parsed.tzinfo is None:
        if not _LOCAL_TS.match(value):
            return None
        parsed = parsed.replace(tzinfo=zone)
    return parsed.astimezone(UTC)


def _custom_field_values(fields: Any) -> dict[str, list[str]]:
    """Legacy ``custom_fields[i][id|name|code|values][j][value|enum]`` as {field id: [values]}.

    A value entry is a bare string (dates, checkboxes, text) or a map whose ``value`` is taken
    (else its ``enum``).
    """
    out: dict[str, list[str]] = {}
    if isinstance(fields, Mapping):
        entries = list(fields.values())
    elif isinstance(fields, list):
        entries = fields
    else:
        return out
    for entry in entries:
        if not isinstance(entry, Mapping):
            continue
        field_id = _text_field(entry, "id")
        if field_id is None:
            continue
        values = entry.get("values")
        if isinstance(values, str):
            values = [values]
        elif isinstance(values, Mapping):
            values = list(values.values())
        elif not isinstance(values, list):
            values = []
        collected = out.setdefault(field_id, [])
        for value in values:
            if isinstance(value, str):
                collected.append(value)
            elif isinstance(value, Mapping):
                picked = value.get("value", value.get("enum"))
                if isinstance(picked, str):
                    collected.append(picked)
    return out


def dedup_key(
    *,
    account_id: str,
    entity: str,
    action: EventAction,
    entity_id: str,
    fields: Mapping[str, Any],
) -> str:
    """The event id: sha256 (hex) over what amoCRM resends identically for one event.

    The key covers the ropilot account, the entity, the action, the entity id, every time
    field the item carries (``updated_at``, ``last_modified``, ``created_at``,
    ``date_create``, raw strings), and per action the fields that tell two events of one
    entity at the same second apart: ``status_id``, ``old_status_id``, ``pipeline_id``,
    ``old_pipeline_id`` for a stage change; ``responsible_user_id`` and
    ``old_responsible_user_id`` for a responsible change; a task's ``status`` and
    ``action_close`` and its ``result[id]`` for updates; ``action`` (accept/decline) for
    unsorted deletes. Delivery details (item index, batching, key order, the account block,
    the time received) are left out, so a retry or a re-batched delivery gives the same key.
    """
    parts: list[tuple[str, str]] = [
        ("account", account_id),
        ("entity", entity),
        ("action", action.value),
        ("entity_id", entity_id),
    ]
    for name in (*_TIME_FIELDS, *_KEY_FIELDS.get(action, ())):
        value = fields.get(name)
        if isinstance(value, str):
            parts.append((name, value.strip()))
    result = fields.get("result")
    if action is EventAction.UPDATED and isinstance(result, Mapping):
        result_id = result.get("id")
        if isinstance(result_id, str):
            parts.append(("result.id", result_id.strip()))
    blob = json.dumps(sorted(parts), ensure_ascii=False, separators=(",", ":"))
    return hashlib.sha256(blob.encode("utf-8")).hexdigest()


def _entity_of(raw: _RawItem) -> str:
    entity = ENTITIES[raw.key]
    if raw.key == "contacts":
        kind = _text_field(raw.item, "type")
        if kind == "company":
            return "company"
        if kind not in (None, "contact"):
            raise PayloadError(
                f"amoCRM webhook: contacts[{raw.action}][{raw.index}][type] is {kind!r}, "
                "expected contact or company"
            )
    return entity


def _event(raw: _RawItem, *, account_id: str, received_at: datetime, zone: tzinfo) -> Event:
    where = f"{raw.key}[{raw.action}][{raw.index}]"
    action = ACTIONS[raw.action]
    parent = _entity_of(raw)
    converted = to_lists(dict(raw.item))
    payload: dict[str, Any] = converted if isinstance(converted, dict) else {"fields": converted}
    payload["amocrm_entity"] = raw.key
    payload["amocrm_action"] = raw.action
    fields: Mapping[str, Any] = raw.item

    if action is EventAction.NOTE_ADDED:
        note = raw.item.get("note")
        fields = note if isinstance(note, Mapping) else raw.item
        note_id = _text_field(fields, "id")
        parent_id = _text_field(fields, "element_id") or _text_field(raw.item, "element_id")
        element_type = _text_field(fields, "element_type")
        payload["parent_entity"] = _ELEMENT_TYPES.get(element_type or "", parent)
        if note_id is not None:
            entity, entity_id = "note", note_id
            if parent_id is not None:
                payload["parent_id"] = parent_id
        else:  # shape unverified: no note id, so the event is about the parent
            entity = parent
            entity_id = parent_id or _text_field(raw.item, "id") or ""
    elif raw.key == "unsorted":
        entity = parent
        entity_id = _text_field(raw.item, "uid") or _text_field(raw.item, "id") or ""
    else:
        entity = parent
        entity_id = _text_field(raw.item, "id") or ""
        if entity_id and not _ID.match(entity_id):
            raise PayloadError(f"amoCRM webhook: {where}[id] {entity_id!r} is not an amoCRM id")
    if not entity_id:
        raise PayloadError(f"amoCRM webhook: {where} carries no id")

    pipeline = _text_field(raw.item, "pipeline_id")
    status = _text_field(raw.item, "status_id")
    if raw.key == "leads" and status is not None:
        payload["pipeline_id"] = pipeline
        new_stage = stage_id(pipeline, status)
        if new_stage is not None:
            payload["stage_id"] = new_stage
        old_status = _text_field(raw.item, "old_status_id")
        if old_status is not None:
            old_pipeline = _text_field(raw.item, "old_pipeline_id") or pipeline
            payload["old_pipeline_id"] = old_pipeline
            old_stage = stage_id(old_pipeline, old_status)
            if old_stage is not None:
                payload["old_stage_id"] = old_stage
    for name in ("responsible_user_id", "old_responsible_user_id"):
        value = _text_field(raw.item, name)
        if value is not None:
            payload[name] = value
    if raw.key in ("task", "tasks"):
        payload["completed"] = _text_field(raw.item, "status") == "1"
        element_type = _text_field(raw.item, "element_type")
        element_id = _text_field(raw.item, "element_id")
        if element_type in _ELEMENT_TYPES and element_id is not None:
            payload["parent_entity"] = _ELEMENT_TYPES[element_type]
            payload["parent_id"] = element_id
    if "custom_fields" in raw.item:
        payload["custom_field_values"] = _custom_field_values(payload["custom_fields"])

    occurred_at = received_at
    for name in _TIME_FIELDS:
        value = _text_field(fields, name)
        parsed = _parse_time(value, zone) if value is not None else None
        if parsed is not None:
            occurred_at = parsed
            break

    key_fields = fields if action is EventAction.NOTE_ADDED else raw.item
    return Event(
        account_id=account_id,
        id=dedup_key(
            account_id=account_id,
            entity=entity,
            action=action,
            entity_id=entity_id,
            fields=key_fields,
        ),
        connector=CONNECTOR,
        entity=entity,
        entity_id=entity_id,
        action=action,
        occurred_at=occurred_at,
        received_at=received_at,
        payload=payload,
    )


def events_from_form(
    form: Mapping[str, Any],
    *,
    account_id: str,
    received_at: datetime,
    zone: tzinfo = DEFAULT_ZONE,
) -> list[Event]:
    """Normalize a decoded webhook into events, in body order (items by their index).

    Args:
        form: the body as :func:`decode_webhook_body` gives it.
        account_id: ropilot's account id (the ``<account_id>`` of the webhook URL).
        received_at: when the server received the POST (aware).
        zone: the account's time zone, for ``Y-m-d H:i:s`` times (task payloads).

    Raises:
        PayloadError: an entity, action or item is not in amoCRM's shape, or an item has no id.
        ValueError: ``received_at`` is naive.
    """
    if received_at.tzinfo is None or received_at.utcoffset() is None:
        raise ValueError("received_at must be an aware datetime")
    return [
        _event(raw, account_id=account_id, received_at=received_at, zone=zone)
        for raw in _raw_items(form)
    ]


def parse_webhook(
    body: bytes,
    content_type: str,
    *,
    account_id: str,
    received_at: datetime,
    zone: tzinfo = DEFAULT_ZONE,
) -> list[Event]:
    """Decode one amoCRM webhook POST and normalize it into events.

    This does not authenticate the delivery: call :func:`verify_webhook` on the decoded form
    first (or :func:`verify_token` before reading the body).

    Args:
        body: the raw request body.
        content_type: the request's ``Content-Type`` header.
        account_id: ropilot's account id.
        received_at: when the server received the POST (aware).
        zone: the account's time zone, for ``Y-m-d H:i:s`` times.

    Returns:
        One event per entity item, in body order; an empty list when the body carries no
        entity amoCRM events are mapped for.

    Raises:
        PayloadError: the body cannot be decoded or is not in amoCRM's shape.
    """
    form = decode_webhook_body(body, content_type)
    return events_from_form(form, account_id=account_id, received_at=received_at, zone=zone)
