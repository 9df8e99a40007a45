"""The amoCRM (Kommo) API v4 connector: reads the account as core models, incrementally."""

from __future__ import annotations

import ipaddress
from collections.abc import Iterator, Mapping
from datetime import datetime
from typing import Any, ClassVar, Protocol
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo

from pydantic import BaseModel, Field, SecretStr

from ropilot.connectors.amocrm import mapping, webhooks
from ropilot.connectors.amocrm.writes import AmoCRMWrites
from ropilot.connectors.base import (
    Capability,
    CheckResult,
    Connector,
    ConnectorConfig,
    CustomFieldDef,
)
from ropilot.connectors.pagination import PageNumberPaginator
from ropilot.core.errors import ConfigurationError, ConnectorError
from ropilot.core.models import Account, Event

PAGE_LIMIT = 250
EVENTS_LIMIT = 100
HISTORY_EVENTS = "lead_added,lead_status_changed"
ASSIGNMENT_EVENTS = "entity_responsible_changed"
NOTE_TYPES = ("call_in", "call_out", "service_message", "common")


class JsonClient(Protocol):
    """What the connector needs from the HTTP layer: GET JSON, None for 204 No Content."""

    def get_json(self, path: str, params: Mapping[str, Any] | None = None) -> Any:
        """GET ``path`` and decode its JSON body; None when the CRM answers 204."""


class AmoCRMConfig(ConnectorConfig):
    """An amoCRM or Kommo account (``base_url`` = ``https://{subdomain}.amocrm.ru``)."""

    client_id: str | None = None
    client_secret: SecretStr | None = None
    redirect_uri: str | None = None
    long_lived_token: SecretStr | None = None
    webhook_token: SecretStr | None = None
    timezone: str = "Europe/Moscow"
    currency: str = "RUB"
    amo_account_id: str | None = None
    """amoCRM's own account id (``account[id]`` in webhooks)."""
    subdomain: str | None = None
    """``account[subdomain]`` in webhooks; by default the first label of ``base_url``'s host."""
    requests_per_second: float = Field(default=7.0, gt=0)
    page_limit: int = Field(default=PAGE_LIMIT, ge=1, le=250)


class AmoCRMConnector(AmoCRMWrites, Connector):
    """amoCRM API v4: users, pipelines, leads, contacts, companies, tasks, notes, events."""

    name: ClassVar[str] = "amocrm"
    capabilities: ClassVar[frozenset[Capability]] = frozenset(
        {
            Capability.READ,
            Capability.INCREMENTAL,
            Capability.STAGE_HISTORY,
            Capability.WEBHOOKS,
            Capability.WRITE_RESPONSIBLE,
            Capability.CREATE_TASK,
            Capability.ADD_NOTE,
            Capability.UPDATE_FIELD,
        }
    )
    config_model: ClassVar[type[ConnectorConfig]] = AmoCRMConfig
    cursor_ordered_streams: ClassVar[frozenset[str]] = frozenset({"companies", "contacts", "deals"})
    """amoCRM orders leads, contacts and companies by ``updated_at``; tasks only by creation,
    due date or id, so tasks are bookmarked once the whole stream is read."""

    def __init__(self, config: AmoCRMConfig, client: JsonClient) -> None:
        super().__init__(config)
        self.settings = config
        self.client = client
        self.zone = ZoneInfo(config.timezone)

    # -- paging ---------------------------------------------------------------------------

    def _all(
        self, path: str, key: str, params: Mapping[str, Any] | None = None, limit: int | None = None
    ) -> Iterator[Mapping[str, Any]]:
        """Every item of a paged listing; refuses repeated pages and short reads."""
        yield from PageNumberPaginator(
            self.client,  # type: ignore[arg-type]
            path,
            items_path=("_embedded", key),
            params=params,
            limit=limit or self.settings.page_limit,
        )

    @staticmethod
    def _since(params: dict[str, Any], since: datetime | None, field: str = "updated_at") -> None:
        if since is not None:
            params[f"filter[{field}][from]"] = int(since.timestamp())

    # -- Connector ------------------------------------------------------------------------

    def check(self) -> CheckResult:
        """Ask for the account; report bad credentials or an unreachable host, never raise."""
        try:
            body = self.client.get_json("/api/v4/account")
        except ConnectorError as exc:
            return CheckResult(ok=False, message=f"{type(exc).__name__}: {exc}")
        if not body:
            return CheckResult(ok=False, message="the account endpoint answered no content")
        return CheckResult(
            ok=True,
            message=f"connected to {body.get('name')} ({body.get('subdomain')})",
            details={"id": body.get("id"), "subdomain": body.get("subdomain")},
        )

    def account(self) -> Account:
        """The account; time zone and currency from settings when amoCRM does not say."""
        body = self.client.get_json("/api/v4/account") or {}
        return Account(
            id=self.settings.account_id,
            name=body.get("name") or self.settings.account_id,
            timezone=self.settings.timezone,
            currency=body.get("currency") or self.settings.currency,
        )

    def read(self, stream: str, *, since: datetime | None = None) -> Iterator[BaseModel]:
        """Yield one stream's records as core models (see docs/amocrm-mapping.md)."""
        reader = getattr(self, f"_read_{stream}", None)
        if reader is None:
            raise ConnectorError(f"the amocrm connector has no stream {stream!r}")
        yield from reader(since)

    def _read_teams(self, since: datetime | None) -> Iterator[BaseModel]:
        body = self.client.get_json("/api/v4/account", {"with": "users_groups"}) or {}
        groups = (body.get("_embedded") or {}).get("users_groups") or []
        yield from mapping.teams_from_groups(self.settings.account_id, groups)

    def _read_managers(self, since: datetime | None) -> Iterator[BaseModel]:
        for user in self._all("/api/v4/users", "users"):
            yield mapping.manager_from_user(self.settings.account_id, user)

    def _pipelines(self) -> list[Mapping[str, Any]]:
        body = self.client.get_json("/api/v4/leads/pipelines") or {}
        return list((body.get("_embedded") or {}).get("pipelines") or [])

    def _read_pipelines(self, since: datetime | None) -> Iterator[BaseModel]:
        for item in self._pipelines():
            yield mapping.pipeline_with_stages(self.settings.account_id, item)[0]

    def _read_stages(self, since: datetime | None) -> Iterator[BaseModel]:
        for item in self._pipelines():
            yield from mapping.pipeline_with_stages(self.settings.account_id, item)[1]

    def _ordered(self, since: datetime | None) -> dict[str, Any]:
        params: dict[str, Any] = {"order[updated_at]": "asc"}
        self._since(params, since)
        return params

    def _read_companies(self, since: datetime | None) -> Iterator[BaseModel]:
        for item in self._all("/api/v4/companies", "companies", self._ordered(since)):
            yield mapping.company_from_json(self.settings.account_id, item)

    def _read_contacts(self, since: datetime | None) -> Iterator[BaseModel]:
        params = {**self._ordered(since), "with": "companies"}
        for item in self._all("/api/v4/contacts", "contacts", params):
            yield mapping.contact_from_json(self.settings.account_id, item)

    def _read_deals(self, since: datetime | None) -> Iterator[BaseModel]:
        params = {**self._ordered(since), "with": "contacts,loss_reason"}
        for item in self._all("/api/v4/leads", "leads", params):
            yield mapping.deal_from_lead(self.settings.account_id, item, self.zone)

    def _events(self, types: str, since: datetime | None) -> Iterator[Mapping[str, Any]]:
        params: dict[str, Any] = {"filter[type]": types, "filter[entity]": "lead"}
        self._since(params, since, "created_at")
        yield from self._all("/api/v4/events", "events", params, EVENTS_LIMIT)

    def _read_stage_changes(self, since: datetime | None) -> Iterator[BaseModel]:
        for event in self._events(HISTORY_EVENTS, since):
            change = mapping.history_from_event(self.settings.account_id, event)
            if change is not None:
                yield change

    def _read_assignments(self, since: datetime | None) -> Iterator[BaseModel]:
        for event in self._events(ASSIGNMENT_EVENTS, since):
            change = mapping.history_from_event(self.settings.account_id, event)
            if change is not None:
                yield change

    def _read_activities(self, since: datetime | None) -> Iterator[BaseModel]:
        for entity in ("leads", "contacts", "companies"):
            params: dict[str, Any] = {"filter[note_type]": ",".join(NOTE_TYPES)}
            self._since(params, since)
            for note in self._all(f"/api/v4/{entity}/notes", "notes", params):
                activity = mapping.activity_from_note(self.settings.account_id, note, entity)
                if activity is not None:
                    yield activity

    def custom_field_defs(self) -> Iterator[CustomFieldDef]:
        """Lead, contact and company fields; ``required_statuses`` become required-stage rules."""
        for entity, table in (
            ("leads", "deals"),
            ("contacts", "contacts"),
            ("companies", "companies"),
        ):
            for field in self._all(f"/api/v4/{entity}/custom_fields", "custom_fields", limit=50):
                required = tuple(
                    mapping.stage_id(r["pipeline_id"], r["status_id"])
                    for r in field.get("required_statuses") or []
                    if r.get("status_id") is not None
                )
                yield CustomFieldDef(
                    entity=table,
                    id=str(field["id"]),
                    name=str(field.get("name") or field["id"]),
                    type=field.get("type"),
                    required_stage_ids=required,
                )

    _DELETION_EVENTS: ClassVar[dict[str, tuple[str, str, str]]] = {
        "deals": ("lead", "lead_deleted", "lead_restored"),
        "contacts": ("contact", "contact_deleted", "contact_restored"),
        "companies": ("company", "company_deleted", "company_restored"),
    }

    def deleted(self, stream: str, *, since: datetime | None = None) -> Iterator[str]:
        """Ids whose latest deletion or restore event since ``since`` is a deletion."""
        spec = self._DELETION_EVENTS.get(stream)
        if spec is None:
            return
        entity, gone, back = spec
        params: dict[str, Any] = {"filter[type]": f"{gone},{back}", "filter[entity]": entity}
        self._since(params, since, "created_at")
        latest: dict[str, tuple[int, str]] = {}
        for event in self._all("/api/v4/events", "events", params, EVENTS_LIMIT):
            key = str(event["entity_id"])
            at = int(event.get("created_at") or 0)
            if key not in latest or at >= latest[key][0]:
                latest[key] = (at, str(event.get("type")))
        for key, (_, kind) in sorted(latest.items()):
            if kind == gone:
                yield key

    def _read_tasks(self, since: datetime | None) -> Iterator[BaseModel]:
        params: dict[str, Any] = {"order[id]": "asc"}
        self._since(params, since)
        for item in self._all("/api/v4/tasks", "tasks", params):
            yield mapping.task_from_json(self.settings.account_id, item)

    # -- webhooks -------------------------------------------------------------------------

    def _subdomain(self) -> str | None:
        if self.settings.subdomain:
            return self.settings.subdomain
        host = urlsplit(self.settings.base_url).hostname or ""
        try:
            ipaddress.ip_address(host)
        except ValueError:
            return host.split(".")[0] if "." in host else None
        return None  # a sandbox on 127.0.0.1: no subdomain to compare

    def verify_webhook(self, *, token: str | None, body: bytes, content_type: str) -> None:
        """Check the secret token of the webhook URL, then ``account[id]``/``[subdomain]``.

        Raises:
            VerificationError: the request is not from this account (HTTP 401).
            PayloadError: the body cannot be decoded (HTTP 400).
            ConfigurationError: no webhook token is configured for the account.
        """
        if self.settings.webhook_token is None:
            raise ConfigurationError(
                f"account {self.settings.account_id}: set credentials.webhook_token to accept "
                "amoCRM webhooks"
            )
        expected = self.settings.webhook_token.get_secret_value()
        webhooks.verify_token(token, expected)
        form = webhooks.decode_webhook_body(body, content_type)
        webhooks.verify_webhook(
            path_token=token,
            expected_token=expected,
            form=form,
            expected_account_id=self.settings.amo_account_id,
            expected_subdomain=self._subdomain(),
        )

    def parse_webhook(
        self, body: bytes, content_type: str, *, received_at: datetime
    ) -> list[Event]:
        """Normalized events of one webhook POST (several entities and actions allowed)."""
        form = webhooks.decode_webhook_body(body, content_type)
        return webhooks.events_from_form(
            form, account_id=self.settings.account_id, received_at=received_at, zone=self.zone
        )
