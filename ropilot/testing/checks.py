"""The conformance checks, as plain functions over a :class:`~ropilot.testing.harness.Harness`.

Each ``check_*`` function raises :class:`AssertionError` when the connector does not conform
and calls :func:`pytest.skip` when the check does not apply (the connector does not declare the
capability, and the harness cannot exercise it). :class:`~ropilot.testing.ConnectorConformance`
runs each as one test; they can also be called directly.
"""

from __future__ import annotations

import functools
import re
import types
import typing
import uuid
from collections.abc import Callable, Iterable, Iterator
from datetime import UTC, datetime, timedelta
from typing import Any, TypeVar

import pytest
from pydantic import BaseModel, SecretBytes, SecretStr

from ropilot.connectors.base import (
    STREAMS,
    Capability,
    CapabilityError,
    CheckResult,
    Connector,
    TaskDraft,
)
from ropilot.connectors.sync import bookmark_key, run_sync
from ropilot.core.errors import (
    AuthenticationError,
    ConnectorError,
    FatalAPIError,
    VerificationError,
)
from ropilot.core.models import ENTITY_MODELS, Event
from ropilot.core.store import Store
from ropilot.testing.harness import Harness

__all__ = [
    "CAPABILITY_CHECKS",
    "HARNESS_NEEDS",
    "check_4xx_fatal",
    "check_5xx_retried_with_backoff",
    "check_add_note_idempotent",
    "check_bad_credentials",
    "check_capabilities_exercised",
    "check_config_secrets",
    "check_create_task_idempotent",
    "check_good_credentials",
    "check_incremental",
    "check_pagination",
    "check_rate_limits_retried",
    "check_refresh_on_401",
    "check_rotated_refresh_token_persisted",
    "check_set_responsible",
    "check_stage_history",
    "check_streams",
    "check_update_field",
    "check_webhook_samples",
    "check_webhook_tampering",
    "pick_stream",
]

T = TypeVar("T")
E = TypeVar("E", bound=BaseException)

CAPABILITY_CHECKS: dict[Capability, tuple[str, ...]] = {
    Capability.READ: (
        "test_check_good_credentials",
        "test_check_bad_credentials",
        "test_streams_validate",
        "test_pagination",
        "test_rate_limits_retried",
        "test_5xx_retried_with_backoff",
        "test_4xx_fatal",
    ),
    Capability.INCREMENTAL: ("test_incremental",),
    Capability.STAGE_HISTORY: ("test_stage_history",),
    Capability.WRITE_RESPONSIBLE: ("test_set_responsible",),
    Capability.CREATE_TASK: ("test_create_task_idempotent",),
    Capability.ADD_NOTE: ("test_add_note_idempotent",),
    Capability.UPDATE_FIELD: ("test_update_field",),
    Capability.WEBHOOKS: ("test_webhook_samples", "test_webhook_tampering"),
}
"""Which tests of :class:`~ropilot.testing.ConnectorConformance` exercise each capability."""

HARNESS_NEEDS: dict[str, Capability | None] = {
    "route": Capability.READ,
    "fault": Capability.READ,
    "requests": Capability.READ,
    "waits": Capability.READ,
    "repeat_pages": Capability.READ,
    "touch": Capability.INCREMENTAL,
    "webhook_samples": Capability.WEBHOOKS,
    "field_sample": Capability.UPDATE_FIELD,
    "expire_access_token": None,
    "refreshes": None,
}
"""Harness operation → the capability whose checks need it. A harness may leave an operation
unimplemented (``NotImplementedError``) only when the connector does not declare that
capability; ``None``: token refresh, which connectors without refreshable credentials lack."""

MAX_RECORDS = 100_000
"""A read yielding more than this (or ten times a full read) is taken as endless paging."""

SECRET_WORDS = frozenset(
    {"token", "tokens", "secret", "secrets", "password", "passwd", "pwd", "key", "apikey"}
)
"""Parts of a config field's name (split on ``_``) that make it a secret."""

TIMESTAMP_SLACK = timedelta(seconds=1)
"""CRMs stamp ``updated_at`` in whole seconds: a record may look up to 1 s older than ``since``."""


# -- helpers -----------------------------------------------------------------------------


def need(connector: Connector, operation: str, call: Callable[[], T]) -> T:
    """Call a harness operation; skip or fail as :data:`HARNESS_NEEDS` says if unsupported."""
    try:
        return call()
    except NotImplementedError:
        capability = HARNESS_NEEDS.get(operation)
        if capability is not None and capability in connector.capabilities:
            raise AssertionError(
                f"the harness does not implement {operation}(), but the {connector.name} "
                f"connector declares {capability.value!r}: a declared capability must be "
                "exercised, so implement it in the harness"
            ) from None
        why = (
            "no declared capability needs it"
            if capability is None
            else f"the connector does not declare {capability.value!r}"
        )
        pytest.skip(f"the harness does not implement {operation}() and {why}")


def expect_error(error: type[E] | tuple[type[E], ...], call: Callable[[], object], what: str) -> E:
    """Call ``call`` and return the error it raises.

    Raises:
        AssertionError: it raised nothing, or an error of another type (so that every
            failing check fails with an AssertionError).
    """
    try:
        call()
    except error as exc:
        return exc
    except Exception as exc:  # anything else is a conformance failure, reported as such
        names = error.__name__ if isinstance(error, type) else "/".join(e.__name__ for e in error)
        raise AssertionError(f"{what}: expected {names}, got {type(exc).__name__}: {exc}") from exc
    names = error.__name__ if isinstance(error, type) else "/".join(e.__name__ for e in error)
    raise AssertionError(f"{what}: expected {names}, nothing was raised")


def drain(records: Iterable[T], limit: int = MAX_RECORDS, what: str = "read") -> list[T]:
    """Every record of an iterator, failing instead of looping forever."""
    out: list[T] = []
    for record in records:
        out.append(record)
        if len(out) > limit:
            raise AssertionError(
                f"{what} yielded more than {limit} records: its pagination does not end"
            )
    return out


def pick_stream(connector: Connector, preferred: str | None = None) -> str:
    """The stream the retry, paging and incremental checks read.

    ``preferred`` if given, else ``deals``, else the first cursor-ordered stream, else the
    last stream the connector reads.
    """
    streams = connector.streams()
    if preferred is not None:
        assert preferred in streams, f"stream {preferred!r} is not read by {connector.name}"
        return preferred
    if "deals" in streams:
        return "deals"
    ordered = [s for s in streams if s in connector.cursor_ordered_streams]
    return ordered[0] if ordered else streams[-1]


def _ids(records: Iterable[BaseModel]) -> list[str]:
    return [str(getattr(r, "id", "")) for r in records]


def _counted_read(h: Harness, connector: Connector, stream: str) -> tuple[list[BaseModel], int]:
    route = need(connector, "route", lambda: h.route(stream))
    before = need(connector, "requests", lambda: h.requests(route))
    records = drain(connector.read(stream), what=f"read({stream!r})")
    seen = h.requests(route) - before
    assert seen >= 1, (
        f"the double saw no request on {route!r} while reading {stream!r}: the harness's "
        "route() does not name the listing the connector pages through"
    )
    return records, seen


def _is_secret(annotation: Any) -> bool:
    if annotation in (SecretStr, SecretBytes):
        return True
    origin = typing.get_origin(annotation)
    if origin is typing.Union or origin is types.UnionType:
        args = [a for a in typing.get_args(annotation) if a is not type(None)]
        return bool(args) and all(_is_secret(a) for a in args)
    if origin is typing.Annotated:
        return _is_secret(typing.get_args(annotation)[0])
    return False


def secret_looking(name: str) -> bool:
    """Whether a config field's name says it holds a secret (token, secret, password, key)."""
    parts = re.split(r"[_\W]+", re.sub(r"([a-z])([A-Z])", r"\1_\2", name).lower())
    return any(p in SECRET_WORDS for p in parts)


# -- configuration and capabilities ------------------------------------------------------


def check_config_secrets(h: Harness) -> None:
    """Every secret-looking field of the config model is a SecretStr and never printed."""
    connector = h.connector()
    model = type(connector).config_model
    fields = model.model_fields
    plain = [
        name
        for name, info in fields.items()
        if secret_looking(name) and not _is_secret(info.annotation)
    ]
    assert not plain, (
        f"{model.__name__}: secret-looking field(s) {', '.join(plain)} must be SecretStr "
        "(or SecretStr | None) so they are never printed or logged"
    )
    config = connector.config
    assert isinstance(config, model), (
        f"the connector's config is a {type(config).__name__}, not its config_model "
        f"{model.__name__}"
    )
    shown = repr(config) + str(config)
    for name in fields:
        value = getattr(config, name, None)
        if isinstance(value, SecretStr) and len(value.get_secret_value()) >= 4:
            assert value.get_secret_value() not in shown, f"{name} appears in repr(config)"


_METHODS: dict[Capability, tuple[str, ...]] = {
    Capability.WRITE_RESPONSIBLE: ("set_responsible",),
    Capability.CREATE_TASK: ("create_task",),
    Capability.ADD_NOTE: ("add_note",),
    Capability.UPDATE_FIELD: ("update_field",),
    Capability.WEBHOOKS: ("verify_webhook", "parse_webhook"),
}


def check_capabilities_exercised(h: Harness, suite: type | None = None) -> None:
    """Every declared capability is known, implemented and exercised by some check."""
    connector = h.connector()
    cls = type(connector)
    declared = cls.capabilities
    assert Capability.READ in declared, f"{cls.__name__} does not declare Capability.READ"
    for capability in declared:
        assert isinstance(capability, Capability), (
            f"{cls.__name__} declares {capability!r}, which is not a ropilot Capability"
        )
        names = CAPABILITY_CHECKS.get(capability, ())
        assert names, f"declared capability {capability.value!r} is exercised by no check"
        if suite is not None:
            missing = [n for n in names if not callable(getattr(suite, n, None))]
            assert not missing, (
                f"{suite.__name__} lacks {', '.join(missing)}, which exercise the declared "
                f"capability {capability.value!r}"
            )
        for method in _METHODS.get(capability, ()):
            assert getattr(cls, method) is not getattr(Connector, method), (
                f"{cls.__name__} declares {capability.value!r} but does not implement {method}()"
            )


# -- check() -----------------------------------------------------------------------------


def check_good_credentials(h: Harness) -> None:
    """``check()`` is ok with good credentials."""
    result = h.connector().check()
    assert isinstance(result, CheckResult), f"check() returned {type(result).__name__}"
    assert result.ok, f"check() failed with good credentials: {result.message}"


def check_bad_credentials(h: Harness) -> None:
    """``check()`` is not ok with bad credentials, says why, and does not raise."""
    connector = h.connector(good_credentials=False)
    try:
        result = connector.check()
    except Exception as exc:  # the point is that nothing escapes
        raise AssertionError(
            f"check() raised {type(exc).__name__}: {exc} with bad credentials; it must return "
            "CheckResult(ok=False, message=...) instead"
        ) from exc
    assert isinstance(result, CheckResult), f"check() returned {type(result).__name__}"
    assert not result.ok, "check() reported ok with bad credentials"
    assert result.message.strip(), "check() gave no message saying what is wrong"


# -- reads -------------------------------------------------------------------------------


def check_streams(h: Harness) -> None:
    """Each stream yields valid core models of its name with unique (account_id, id) keys."""
    connector = h.connector()
    streams = list(connector.streams())
    assert streams, "the connector reads no stream"
    unknown = [s for s in streams if s not in STREAMS]
    assert not unknown, f"unknown stream(s) {unknown}; streams are named after {STREAMS}"
    ordered = [s for s in STREAMS if s in streams]
    assert streams == ordered, f"streams() {streams} are not in dependency order {ordered}"
    total = 0
    for stream in streams:
        model = ENTITY_MODELS[stream]
        keys: set[tuple[str, str]] = set()
        for record in drain(connector.read(stream), what=f"read({stream!r})"):
            assert isinstance(record, model), (
                f"{stream}: yielded a {type(record).__name__}, not a {model.__name__}"
            )
            model.model_validate(record.model_dump())
            assert record.account_id == connector.config.account_id, (
                f"{stream} {record.id}: account_id {record.account_id!r} is not the "
                f"configured {connector.config.account_id!r}"
            )
            key = (record.account_id, record.id)
            assert key not in keys, f"{stream}: duplicate key {key}"
            keys.add(key)
        total += len(keys)
    assert total > 0, "every stream was empty: the harness's CRM must hold some records"


def check_stage_history(h: Harness) -> None:
    """``STAGE_HISTORY``: the ``stage_changes`` stream yields moves of deals that exist."""
    connector = h.connector()
    if Capability.STAGE_HISTORY not in connector.capabilities:
        pytest.skip("the connector does not declare stage_history")
    assert "stage_changes" in connector.streams(), "stage_history declared, no stage_changes"
    changes = drain(connector.read("stage_changes"), what="read('stage_changes')")
    assert changes, "stage_history is declared but stage_changes yielded nothing"
    if "deals" in connector.streams():
        deals = set(_ids(connector.read("deals")))
        orphans = {c.deal_id for c in changes} - deals  # type: ignore[attr-defined]
        assert not orphans, f"stage changes of unknown deals: {sorted(orphans)[:5]}"


def check_pagination(h: Harness, stream: str | None = None) -> None:
    """Paging ends, and a CRM answering the same page again makes the read raise."""
    connector = h.connector()
    name = pick_stream(connector, stream)
    records, _ = _counted_read(h, connector, name)
    route = h.route(name)
    need(connector, "repeat_pages", lambda: h.repeat_pages(route))
    limit = 10 * len(records) + 100
    expect_error(
        ConnectorError,
        lambda: drain(connector.read(name), limit=limit, what=f"read({name!r}) of repeated pages"),
        f"read({name!r}) while the CRM repeats a page",
    )


# -- retries -----------------------------------------------------------------------------


def _faulted_read(
    h: Harness,
    connector: Connector,
    stream: str,
    statuses: list[int],
    *,
    retry_after: float | None = None,
) -> tuple[int, list[float]]:
    """Fault ``statuses`` then read; returns the extra requests and the new waits."""
    clean, clean_requests = _counted_read(h, connector, stream)
    route = h.route(stream)
    before = h.requests(route)
    waited = len(need(connector, "waits", h.waits))
    need(connector, "fault", lambda: h.fault(route, statuses, retry_after=retry_after))
    try:
        got = drain(connector.read(stream), what=f"read({stream!r})")
    except ConnectorError as exc:
        raise AssertionError(
            f"read({stream!r}) failed after {statuses} on {route} instead of retrying: "
            f"{type(exc).__name__}: {exc}"
        ) from exc
    assert _ids(got) == _ids(clean), (
        f"after {statuses} on {route} the read gave other records than a clean read"
    )
    return h.requests(route) - before - clean_requests, h.waits()[waited:]


def check_rate_limits_retried(h: Harness, stream: str | None = None) -> None:
    """429 and 503 are retried, ``Retry-After`` honoured, and persistent 429 raises."""
    connector = h.connector()
    name = pick_stream(connector, stream)
    extra, waits = _faulted_read(h, connector, name, [429, 503])
    assert extra == 2, f"429 then 503: expected 2 retried requests, the double saw {extra}"
    assert len(waits) == 2 and all(w > 0 for w in waits), (
        f"429 then 503: expected two waits before retrying, got {waits}"
    )
    for status in (429, 503):
        extra, waits = _faulted_read(h, connector, name, [status], retry_after=3)
        assert extra == 1, f"{status}: expected 1 retried request, the double saw {extra}"
        assert waits and min(waits) >= 3, (
            f"{status} with Retry-After: 3: the connector waited {waits}, not at least 3 s"
        )
    route = h.route(name)
    before = h.requests(route)
    h.fault(route, [429] * 50)
    raised = expect_error(
        ConnectorError, lambda: drain(connector.read(name)), f"read({name!r}) after 50 × 429"
    )
    assert raised.retriable, "giving up on 429s must raise a retriable ConnectorError"
    tries = h.requests(route) - before
    assert 2 <= tries < 50, f"persistent 429: {tries} attempts (retry a few times, then give up)"


def check_5xx_retried_with_backoff(h: Harness, stream: str | None = None) -> None:
    """5xx answers are retried after growing waits; persistent 5xx raises, retriable."""
    connector = h.connector()
    name = pick_stream(connector, stream)
    extra, waits = _faulted_read(h, connector, name, [500, 502, 504])
    assert extra == 3, f"500, 502, 504: expected 3 retried requests, the double saw {extra}"
    assert len(waits) == 3 and all(w > 0 for w in waits), (
        f"500, 502, 504: expected a backoff wait before each retry, got {waits}"
    )
    route = h.route(name)
    before = h.requests(route)
    waited = len(h.waits())
    h.fault(route, [503] * 50)
    raised = expect_error(
        ConnectorError, lambda: drain(connector.read(name)), f"read({name!r}) after 50 × 503"
    )
    assert raised.retriable, "giving up on 5xx must raise a retriable ConnectorError"
    tries = h.requests(route) - before
    assert 2 <= tries < 50, f"persistent 503: {tries} attempts (retry a few times, then give up)"
    assert len(h.waits()) - waited == tries - 1, "each retry of a 5xx must wait first"


def check_4xx_fatal(h: Harness, stream: str | None = None) -> None:
    """400, 403 and 422 raise FatalAPIError at once: no retry, no wait."""
    connector = h.connector()
    name = pick_stream(connector, stream)
    _counted_read(h, connector, name)
    route = h.route(name)
    for status in (400, 403, 422):
        before = h.requests(route)
        waited = len(need(connector, "waits", h.waits))
        h.fault(route, [status])
        expect_error(
            FatalAPIError, lambda: drain(connector.read(name)), f"read({name!r}) after {status}"
        )
        tries = h.requests(route) - before
        assert tries == 1, f"{status} must not be retried; the double saw {tries} requests"
        assert len(h.waits()) == waited, f"{status}: the connector waited before failing"


# -- incremental -------------------------------------------------------------------------


class _TouchDuringSync:
    """A sync progress that changes a record right after the stream's records were stored."""

    def __init__(self, h: Harness, connector: Connector, stream: str) -> None:
        self.h = h
        self.connector = connector
        self.target = stream
        self.current = ""
        self.touched: list[str] = []

    def stream(self, name: str) -> None:
        self.current = name

    def advance(self, records: int) -> None:
        if self.current == self.target and not self.touched:
            self.touched.append(need(self.connector, "touch", lambda: self.h.touch(self.target)))


def check_incremental(h: Harness, store: Store, stream: str | None = None) -> None:
    """A read from the bookmark has nothing older and has records touched during/after a sync."""
    connector = h.connector()
    if Capability.INCREMENTAL not in connector.capabilities:
        pytest.skip("the connector does not declare incremental")
    name = pick_stream(connector, stream)
    during = _TouchDuringSync(h, connector, name)
    first = run_sync(store, connector, progress=during)
    full = first.records.get(name, 0)
    assert full > 0, f"the first sync read no {name}: the harness's CRM must hold some"
    touched = during.touched or [need(connector, "touch", lambda: h.touch(name))]
    after = h.touch(name)
    account_id = connector.config.account_id
    mark = store.get_bookmark(account_id, bookmark_key(connector, name))
    assert mark is not None, f"the sync stored no bookmark for {name}"
    since = datetime.fromisoformat(mark)
    got = drain(connector.read(name, since=since), what=f"read({name!r}, since=…)")
    ids = set(_ids(got))
    missing = [i for i in [*touched, after] if i not in ids]
    assert not missing, (
        f"read({name!r}, since={since.isoformat()}) misses record(s) {missing} changed during "
        "or after the previous sync"
    )
    for record in got:
        changed = getattr(record, "updated_at", None)
        if isinstance(changed, datetime):
            assert changed >= since - TIMESTAMP_SLACK, (
                f"read({name!r}, since={since.isoformat()}) returned {record.id} "  # type: ignore[attr-defined]
                f"changed at {changed.isoformat()}, before the bookmark"
            )
    if full > len(ids) + 2:
        assert len(got) < full, f"read({name!r}, since=…) returned the whole stream"
    second = run_sync(store, connector)
    assert second.records.get(name, 0) >= len({*touched, after}), (
        f"the incremental sync stored {second.records.get(name, 0)} {name}, fewer than the "
        "records touched since the last sync"
    )
    if full > len(ids) + 2:
        assert second.records.get(name, 0) < full, "the second sync read the whole stream again"
    stored = {str(m.id): m for m in store.iter_models(name, account_id)}
    fresh = {str(getattr(r, "id", "")): r for r in got}
    for record_id in {*touched, after}:
        assert record_id in stored, f"{name} {record_id} is not in the store after the sync"
        now = getattr(fresh[record_id], "updated_at", None)
        if now is not None:
            assert getattr(stored[record_id], "updated_at", None) == now, (
                f"{name} {record_id}: the store kept an old version after the incremental sync"
            )


# -- token refresh -----------------------------------------------------------------------


def check_refresh_on_401(h: Harness, stream: str | None = None) -> None:
    """A 401 triggers exactly one refresh and one retry; a second 401 raises, no loop."""
    connector = h.connector()
    name = pick_stream(connector, stream)
    _, clean = _counted_read(h, connector, name)
    route = h.route(name)
    refreshed = need(connector, "refreshes", h.refreshes)
    need(connector, "expire_access_token", h.expire_access_token)
    before = h.requests(route)
    drain(connector.read(name), what=f"read({name!r})")
    assert h.refreshes() - refreshed == 1, (
        f"an expired access token led to {h.refreshes() - refreshed} refreshes, expected 1"
    )
    tries = h.requests(route) - before
    assert tries == clean + 1, (
        f"after a 401 the read sent {tries} requests on {route}, expected {clean + 1} "
        "(the refused one, retried once, then the other pages)"
    )
    refreshed = h.refreshes()
    before = h.requests(route)
    h.fault(route, [401, 401])
    expect_error(
        AuthenticationError,
        lambda: drain(connector.read(name)),
        f"read({name!r}) answered 401 before and after a refresh",
    )
    assert h.refreshes() - refreshed == 1, "a 401 must trigger exactly one refresh"
    tries = h.requests(route) - before
    assert tries == 2, f"401, refresh, 401 again must raise after 2 requests, not {tries}"


def check_rotated_refresh_token_persisted(h: Harness, stream: str | None = None) -> None:
    """After a refresh rotated the tokens, a connector built later refreshes again fine."""
    first = h.connector()
    name = pick_stream(first, stream)
    refreshed = need(first, "refreshes", h.refreshes)
    need(first, "expire_access_token", h.expire_access_token)
    drain(first.read(name), what=f"read({name!r})")
    assert h.refreshes() - refreshed == 1, "the expired access token was not refreshed"
    second = h.connector()
    h.expire_access_token()
    try:
        drain(second.read(name), what=f"read({name!r})")
    except AuthenticationError as exc:
        raise AssertionError(
            "a connector built after a refresh could not refresh again: the rotated refresh "
            f"token was not persisted ({exc})"
        ) from exc
    assert h.refreshes() - refreshed == 2, "the second connector did not refresh its token"
    assert second.check().ok, "the second connector's check() failed after the refresh"


# -- writes ------------------------------------------------------------------------------


def _declared_or_refused(
    connector: Connector, capability: Capability, call: Callable[[], object]
) -> bool:
    """True when declared; else assert the base class refuses the call and return False."""
    if capability in connector.capabilities:
        return True
    expect_error(CapabilityError, call, f"an undeclared {capability.value!r} write")
    return False


def _deal_and_manager(connector: Connector) -> tuple[Any, Any]:
    deals: list[Any] = list(connector.read("deals"))
    managers: list[Any] = [m for m in connector.read("managers") if getattr(m, "active", True)]
    assert deals, "the write checks need a deal in the harness's CRM"
    assert managers, "the write checks need an active manager in the harness's CRM"
    deal = deals[0]
    others = [m for m in managers if m.id != getattr(deal, "responsible_id", None)]
    return deal, (others or managers)[0]


def check_set_responsible(h: Harness) -> None:
    """``set_responsible`` makes the manager responsible; setting it twice is harmless."""
    connector = h.connector()
    if not _declared_or_refused(
        connector, Capability.WRITE_RESPONSIBLE, lambda: connector.set_responsible("1", "1")
    ):
        return
    deal, manager = _deal_and_manager(connector)
    connector.set_responsible(deal.id, manager.id)
    connector.set_responsible(deal.id, manager.id)
    now = {d.id: d for d in connector.read("deals")}  # type: ignore[attr-defined]
    assert deal.id in now, f"deal {deal.id} vanished after set_responsible"
    assert now[deal.id].responsible_id == manager.id, (  # type: ignore[attr-defined]
        f"deal {deal.id} is not assigned to {manager.id} after set_responsible"
    )


def check_create_task_idempotent(h: Harness) -> None:
    """The same idempotency key twice creates one task; another key creates another."""
    connector = h.connector()
    due = (datetime.now(UTC) + timedelta(days=1)).replace(microsecond=0)
    if not _declared_or_refused(
        connector,
        Capability.CREATE_TASK,
        lambda: connector.create_task(TaskDraft("x", due, "1"), idempotency_key="x"),
    ):
        return
    deal, manager = _deal_and_manager(connector)
    text = f"conformance task {uuid.uuid4().hex[:8]}"
    draft = TaskDraft(text=text, due_at=due, responsible_id=manager.id, deal_id=deal.id)
    key = uuid.uuid4().hex
    first = connector.create_task(draft, idempotency_key=key)
    again = connector.create_task(draft, idempotency_key=key)
    assert first == again, f"the same idempotency key gave two tasks: {first} and {again}"
    later = h.connector().create_task(draft, idempotency_key=key)
    assert later == first, (
        f"a connector built later created task {later} again for the key of task {first}: "
        "keep idempotency keys where every process of the deployment sees them"
    )
    other = connector.create_task(draft, idempotency_key=uuid.uuid4().hex)
    assert other != first, "another idempotency key must create another task"
    if "tasks" in connector.streams():
        tasks = drain(connector.read("tasks"), what="read('tasks')")
        mine = [t for t in tasks if t.id == first]  # type: ignore[attr-defined]
        assert len(mine) == 1, f"task {first} appears {len(mine)} times in the tasks stream"
        same = [t for t in tasks if getattr(t, "text", None) == text]
        assert len(same) == 2, f"{len(same)} tasks carry the text, expected 2 (two keys)"


def check_add_note_idempotent(h: Harness) -> None:
    """The same idempotency key twice adds one note; another key adds another."""
    connector = h.connector()
    if not _declared_or_refused(
        connector,
        Capability.ADD_NOTE,
        lambda: connector.add_note("deal", "1", "x", idempotency_key="x"),
    ):
        return
    deal, _ = _deal_and_manager(connector)
    text = f"conformance note {uuid.uuid4().hex[:8]}"
    key = uuid.uuid4().hex
    first = connector.add_note("deal", deal.id, text, idempotency_key=key)
    again = connector.add_note("deal", deal.id, text, idempotency_key=key)
    assert first == again, f"the same idempotency key gave two notes: {first} and {again}"
    later = h.connector().add_note("deal", deal.id, text, idempotency_key=key)
    assert later == first, (
        f"a connector built later added note {later} again for the key of note {first}: "
        "keep idempotency keys where every process of the deployment sees them"
    )
    other = connector.add_note("deal", deal.id, text, idempotency_key=uuid.uuid4().hex)
    assert other != first, "another idempotency key must add another note"
    if "activities" in connector.streams():
        acts = drain(connector.read("activities"), what="read('activities')")
        mine = [a for a in acts if a.id == first]  # type: ignore[attr-defined]
        assert len(mine) <= 1, f"note {first} appears {len(mine)} times in activities"


def check_update_field(h: Harness) -> None:
    """``update_field`` sets a value; setting the same value again is harmless."""
    connector = h.connector()
    if not _declared_or_refused(
        connector,
        Capability.UPDATE_FIELD,
        lambda: connector.update_field("deal", "1", "1", "x"),
    ):
        return
    sample = need(connector, "field_sample", h.field_sample)
    connector.update_field(sample.entity, sample.entity_id, sample.field_id, sample.value)
    connector.update_field(sample.entity, sample.entity_id, sample.field_id, sample.value)
    if sample.stream is None or sample.attribute is None:
        return
    found = [r for r in connector.read(sample.stream) if getattr(r, "id", None) == sample.entity_id]
    assert len(found) == 1, f"{sample.stream} {sample.entity_id} not found after update_field"
    record = found[0]
    custom = getattr(record, "custom_fields", None) or {}
    got = getattr(record, sample.attribute, custom.get(sample.attribute))
    assert got == sample.value, (
        f"{sample.stream} {sample.entity_id}: {sample.attribute} is {got!r} after update_field, "
        f"not {sample.value!r}"
    )


# -- webhooks ----------------------------------------------------------------------------


def _webhook_connector(h: Harness) -> Connector:
    connector = h.connector()
    if Capability.WEBHOOKS not in connector.capabilities:
        expect_error(
            CapabilityError,
            lambda: connector.parse_webhook(b"", "application/json", received_at=datetime.now(UTC)),
            "parse_webhook() without the webhooks capability",
        )
        pytest.skip("the connector does not declare webhooks (refused with CapabilityError)")
    return connector


def check_webhook_samples(h: Harness) -> None:
    """Samples verify and parse into events whose dedup keys are stable and unique."""
    connector = _webhook_connector(h)
    samples = need(connector, "webhook_samples", h.webhook_samples)
    assert samples, "webhooks are declared but the harness gave no webhook sample"
    total = 0
    for n, sample in enumerate(samples):
        connector.verify_webhook(
            token=sample.token, body=sample.body, content_type=sample.content_type
        )
        first = connector.parse_webhook(
            sample.body, sample.content_type, received_at=datetime(2030, 1, 1, tzinfo=UTC)
        )
        again = connector.parse_webhook(
            sample.body, sample.content_type, received_at=datetime(2030, 6, 1, tzinfo=UTC)
        )
        for event in first:
            assert isinstance(event, Event), f"sample {n}: parsed a {type(event).__name__}"
            Event.model_validate(event.model_dump())
            assert event.account_id == connector.config.account_id
            assert event.connector == connector.name, f"sample {n}: event.connector is wrong"
        ids = [e.id for e in first]
        assert ids == [e.id for e in again], (
            f"sample {n}: parsing twice gave other dedup keys ({ids[:3]}…)"
        )
        assert len(set(ids)) == len(ids), f"sample {n}: two events share a dedup key"
        total += len(first)
    assert total > 0, "no webhook sample gave any event"


def _tampered(body: bytes) -> bytes:
    if not body:
        return b"x"
    last = body[-1]
    return body[:-1] + bytes([last ^ 0x01])


def check_webhook_tampering(h: Harness) -> None:
    """A changed token or body is refused with VerificationError."""
    connector = _webhook_connector(h)
    samples = need(connector, "webhook_samples", h.webhook_samples)
    assert samples, "webhooks are declared but the harness gave no webhook sample"
    for n, sample in enumerate(samples):
        tokens: list[str | None] = [None, (sample.token or "") + "tampered"]
        if sample.token:
            tokens.append(sample.token[:-1] + ("A" if sample.token[-1] != "A" else "B"))
        for token in tokens:
            expect_error(
                VerificationError,
                functools.partial(
                    connector.verify_webhook,
                    token=token,
                    body=sample.body,
                    content_type=sample.content_type,
                ),
                f"sample {n} with token {token!r}",
            )
        bodies = sample.tampered_bodies or (_tampered(sample.body),)
        for body in bodies:
            assert body != sample.body, f"sample {n}: a tampered body equals the original"
            expect_error(
                VerificationError,
                functools.partial(
                    connector.verify_webhook,
                    token=sample.token,
                    body=body,
                    content_type=sample.content_type,
                ),
                f"sample {n} with a tampered body",
            )


def iter_checks() -> Iterator[str]:
    """Names of every ``check_*`` function."""
    return (name for name in __all__ if name.startswith("check_"))
