"""The Connector base class every CRM connector (built-in or a plugin's) derives from.

A connector declares what it can do (:class:`Capability`), checks its credentials without
raising (:meth:`Connector.check`), reads the CRM as ropilot's core models stream by stream
(:meth:`Connector.read`, incrementally from a bookmark when it can), writes decisions back, and
decodes and verifies the CRM's webhooks. Connectors are registered through the
``ropilot_register_connectors`` hook, the built-ins the same way as a third party's.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Any, ClassVar

from pydantic import BaseModel, ConfigDict, Field

from ropilot.core.errors import ConnectorError
from ropilot.core.models import Account, Event
from ropilot.core.store import ENTITY_ORDER


class Capability(StrEnum):
    """What a connector can do; the conformance suite exercises each declared one."""

    READ = "read"
    INCREMENTAL = "incremental"
    STAGE_HISTORY = "stage_history"
    WRITE_RESPONSIBLE = "write_responsible"
    CREATE_TASK = "create_task"
    ADD_NOTE = "add_note"
    UPDATE_FIELD = "update_field"
    WEBHOOKS = "webhooks"


STREAMS: tuple[str, ...] = tuple(t for t in ENTITY_ORDER if t != "events")
"""Streams in dependency order; each yields the core model of the store table of that name."""


class ConnectorConfig(BaseModel):
    """Settings of one connected account; subclasses add their fields, secrets as SecretStr."""

    model_config = ConfigDict(extra="forbid")

    account_id: str = Field(min_length=1)
    base_url: str = Field(min_length=1)


@dataclass(frozen=True)
class CheckResult:
    """The outcome of :meth:`Connector.check`: ok, or what is wrong and what to do."""

    ok: bool
    message: str
    details: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class TaskDraft:
    """A task to create in the CRM."""

    text: str
    due_at: datetime
    responsible_id: str
    deal_id: str | None = None
    contact_id: str | None = None
    company_id: str | None = None
    type: str | None = None


@dataclass(frozen=True)
class CustomFieldDef:
    """A custom field of the CRM and the stages it is required for (a data-quality rule)."""

    entity: str
    """The store table the field belongs to: ``deals``, ``contacts`` or ``companies``."""
    id: str
    name: str
    type: str | None = None
    required_stage_ids: tuple[str, ...] = ()


class CapabilityError(ConnectorError):
    """The connector was asked for something it does not declare."""


class Connector(ABC):
    """Base class of CRM connectors.

    Subclasses set :attr:`name`, :attr:`capabilities` and :attr:`config_model`, and implement
    :meth:`check`, :meth:`account` and :meth:`read`; writes and webhooks are implemented by
    connectors that declare the matching capability.
    """

    name: ClassVar[str]
    capabilities: ClassVar[frozenset[Capability]] = frozenset({Capability.READ})
    config_model: ClassVar[type[ConnectorConfig]] = ConnectorConfig
    cursor_ordered_streams: ClassVar[frozenset[str]] = frozenset()
    """Streams :meth:`read` yields in ``updated_at`` order, so a sync may checkpoint them."""

    def __init__(self, config: ConnectorConfig) -> None:
        self.config = config

    # -- reads ----------------------------------------------------------------------------

    @abstractmethod
    def check(self) -> CheckResult:
        """Whether the CRM answers with these credentials; never raises on bad credentials."""

    @abstractmethod
    def account(self) -> Account:
        """The connected account (id, name, time zone, currency)."""

    def streams(self) -> tuple[str, ...]:
        """The streams this connector reads, in dependency order."""
        return STREAMS

    @abstractmethod
    def read(self, stream: str, *, since: datetime | None = None) -> Iterator[BaseModel]:
        """Yield the stream's records as core models, changed at or after ``since`` if given.

        Raises:
            ConnectorError: when the CRM cannot be read completely (never ends silently short).
        """

    def custom_field_defs(self) -> Iterator[CustomFieldDef]:
        """The CRM's custom fields with the stages each is required for (none by default)."""
        return iter(())

    def deleted(self, stream: str, *, since: datetime | None = None) -> Iterator[str]:
        """Ids of records of ``stream`` deleted at or after ``since`` (none by default)."""
        return iter(())

    # -- writes ---------------------------------------------------------------------------

    def _require(self, capability: Capability) -> None:
        if capability not in self.capabilities:
            raise CapabilityError(f"the {self.name} connector cannot {capability.value}")

    def set_responsible(self, deal_id: str, manager_id: str) -> None:
        """Make ``manager_id`` the responsible manager of a deal."""
        self._require(Capability.WRITE_RESPONSIBLE)
        raise NotImplementedError  # pragma: no cover

    def create_task(self, task: TaskDraft, *, idempotency_key: str) -> str:
        """Create a task; the same ``idempotency_key`` never creates a second one."""
        self._require(Capability.CREATE_TASK)
        raise NotImplementedError  # pragma: no cover

    def add_note(self, entity: str, entity_id: str, text: str, *, idempotency_key: str) -> str:
        """Add a text note to a deal, contact or company."""
        self._require(Capability.ADD_NOTE)
        raise NotImplementedError  # pragma: no cover

    def update_field(self, entity: str, entity_id: str, field_id: str, value: Any) -> None:
        """Set a custom field value."""
        self._require(Capability.UPDATE_FIELD)
        raise NotImplementedError  # pragma: no cover

    # -- webhooks -------------------------------------------------------------------------

    def verify_webhook(self, *, token: str | None, body: bytes, content_type: str) -> None:
        """Raise ``VerificationError`` unless the request comes from this account."""
        self._require(Capability.WEBHOOKS)
        raise NotImplementedError  # pragma: no cover

    def parse_webhook(
        self, body: bytes, content_type: str, *, received_at: datetime
    ) -> list[Event]:
        """Decode a webhook body into normalized events with stable dedup keys."""
        self._require(Capability.WEBHOOKS)
        raise NotImplementedError  # pragma: no cover
