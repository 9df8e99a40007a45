"""Normalized, CRM-agnostic entities.

Every entity is keyed by ``(account_id, id)`` where ``id`` is the external id as the source
CRM has it (a string). Timestamps are timezone-aware and normalized to UTC on validation;
money is :class:`~decimal.Decimal`. Connectors yield these models and the store upserts them.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, time
from decimal import Decimal
from enum import StrEnum
from typing import Annotated, Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    field_validator,
    model_validator,
)

from ropilot.core.timeutil import to_epoch_us


def _to_utc(value: datetime) -> datetime:
    if value.tzinfo is None or value.utcoffset() is None:
        raise ValueError("timestamp must carry a time zone (ropilot keeps aware UTC inside)")
    return value.astimezone(UTC)


UtcDatetime = Annotated[datetime, AfterValidator(_to_utc)]
"""An aware timestamp, converted to UTC."""


def _check_zone(value: str) -> str:
    try:
        ZoneInfo(value)
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise ValueError(f"unknown IANA time zone {value!r} (e.g. Europe/Moscow)") from exc
    return value


TimeZoneName = Annotated[str, AfterValidator(_check_zone)]


class _Entity(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=False, validate_assignment=True)

    account_id: str = Field(min_length=1)
    id: str = Field(min_length=1, description="External id as the source CRM has it.")


class Role(StrEnum):
    """Role of a person in the sales team."""

    MANAGER = "manager"
    SENIOR = "senior"
    HEAD = "head"
    ASSISTANT = "assistant"


class StageKind(StrEnum):
    """Whether a stage is open, or closes the deal as won or lost."""

    OPEN = "open"
    WON = "won"
    LOST = "lost"


class ActivityType(StrEnum):
    """Kinds of work a manager records on a client."""

    CALL = "call"
    MEETING = "meeting"
    EMAIL = "email"
    OFFER = "offer"
    PRESALE = "presale"
    NOTE = "note"


class Direction(StrEnum):
    """Direction of a call or e-mail."""

    IN = "in"
    OUT = "out"


class Account(BaseModel):
    """One CRM instance (an amoCRM subdomain, a Bitrix24 portal, one bundle)."""

    model_config = ConfigDict(extra="forbid")

    id: str = Field(min_length=1)
    name: str = Field(min_length=1)
    timezone: TimeZoneName = "Europe/Moscow"
    currency: str = Field(default="RUB", pattern=r"^[A-Z]{3}$")

    @property
    def zone(self) -> ZoneInfo:
        """The account's time zone."""
        return ZoneInfo(self.timezone)


class WorkingInterval(BaseModel):
    """Working hours on one weekday, in the manager's time zone."""

    model_config = ConfigDict(extra="forbid")

    weekday: int = Field(ge=0, le=6, description="0 = Monday.")
    start: time
    end: time

    @model_validator(mode="after")
    def _ordered(self) -> WorkingInterval:
        if self.end <= self.start:
            raise ValueError("working interval must end after it starts")
        return self


class Absence(BaseModel):
    """A period a manager does not work (vacation, sick leave), both days included."""

    model_config = ConfigDict(extra="forbid")

    start: date
    end: date
    reason: str | None = None

    @model_validator(mode="after")
    def _ordered(self) -> Absence:
        if self.end < self.start:
            raise ValueError("absence must not end before it starts")
        return self


def _default_schedule() -> list[WorkingInterval]:
    return [WorkingInterval(weekday=d, start=time(9), end=time(18)) for d in range(5)]


class Specialisations(BaseModel):
    """What a manager is best placed to sell; empty lists mean no preference."""

    model_config = ConfigDict(extra="forbid")

    products: list[str] = Field(default_factory=list)
    regions: list[str] = Field(default_factory=list)
    segments: list[str] = Field(default_factory=list)
    channels: list[str] = Field(default_factory=list)
    languages: list[str] = Field(default_factory=list)


class Team(_Entity):
    """A sales team; teams nest through ``parent_id``."""

    name: str = Field(min_length=1)
    parent_id: str | None = None
    head_id: str | None = None
    custom_fields: dict[str, Any] = Field(default_factory=dict)


class Manager(_Entity):
    """A user of the CRM who owns deals (a sales manager, a senior, a head, an assistant)."""

    name: str = Field(min_length=1)
    email: str | None = None
    active: bool = True
    team_id: str | None = None
    role: Role = Role.MANAGER
    timezone: TimeZoneName | None = None
    hired_at: UtcDatetime | None = None
    working_schedule: list[WorkingInterval] = Field(default_factory=_default_schedule)
    absences: list[Absence] = Field(default_factory=list)
    specialisations: Specialisations = Field(default_factory=Specialisations)
    custom_fields: dict[str, Any] = Field(default_factory=dict)


class Pipeline(_Entity):
    """A sales funnel: an ordered set of stages."""

    name: str = Field(min_length=1)
    custom_fields: dict[str, Any] = Field(default_factory=dict)


class Stage(_Entity):
    """A stage of a pipeline, ordered by ``sort``."""

    pipeline_id: str = Field(min_length=1)
    name: str = Field(min_length=1)
    sort: int
    kind: StageKind
    probability: int | None = Field(default=None, ge=0, le=100)
    custom_fields: dict[str, Any] = Field(default_factory=dict)


class Company(_Entity):
    """A client organisation (counterparty)."""

    name: str = Field(min_length=1)
    inn: str | None = None
    phones: list[str] = Field(default_factory=list)
    emails: list[str] = Field(default_factory=list)
    responsible_id: str | None = None
    segment: str | None = None
    region: str | None = None
    created_at: UtcDatetime | None = None
    custom_fields: dict[str, Any] = Field(default_factory=dict)


class Contact(_Entity):
    """A person at a client."""

    name: str = Field(min_length=1)
    phones: list[str] = Field(default_factory=list)
    emails: list[str] = Field(default_factory=list)
    company_id: str | None = None
    responsible_id: str | None = None
    inn: str | None = None
    segment: str | None = None
    region: str | None = None
    created_at: UtcDatetime | None = None
    custom_fields: dict[str, Any] = Field(default_factory=dict)


class Deal(_Entity):
    """A deal (amoCRM lead, Bitrix24 deal)."""

    name: str | None = None
    pipeline_id: str = Field(min_length=1)
    stage_id: str = Field(min_length=1)
    responsible_id: str | None = None
    amount: Decimal | None = None
    currency: str | None = Field(default=None, pattern=r"^[A-Z]{3}$")
    contact_id: str | None = None
    company_id: str | None = None
    source: str | None = None
    product: str | None = None
    region: str | None = None
    created_at: UtcDatetime
    updated_at: UtcDatetime | None = None
    closed_at: UtcDatetime | None = None
    expected_close_at: date | None = None
    loss_reason: str | None = None
    custom_fields: dict[str, Any] = Field(default_factory=dict)

    @field_validator("amount")
    @classmethod
    def _finite(cls, value: Decimal | None) -> Decimal | None:
        if value is not None and not value.is_finite():
            raise ValueError("amount must be a finite number")
        return value


class Activity(_Entity):
    """A piece of work on a client: a call, meeting, e-mail, offer sent, presale or note."""

    type: ActivityType
    manager_id: str = Field(min_length=1)
    at: UtcDatetime
    deal_id: str | None = None
    contact_id: str | None = None
    company_id: str | None = None
    direction: Direction | None = None
    duration_s: int | None = Field(default=None, ge=0)
    result: str | None = None
    custom_fields: dict[str, Any] = Field(default_factory=dict)


class Task(_Entity):
    """A to-do in the CRM, due at a moment; completed when ``completed_at`` is set."""

    responsible_id: str = Field(min_length=1)
    created_at: UtcDatetime
    due_at: UtcDatetime
    completed_at: UtcDatetime | None = None
    deal_id: str | None = None
    contact_id: str | None = None
    company_id: str | None = None
    type: str | None = None
    text: str | None = None
    custom_fields: dict[str, Any] = Field(default_factory=dict)

    @property
    def completed(self) -> bool:
        """Whether the task is done."""
        return self.completed_at is not None


class StageChange(_Entity):
    """A deal moved from one stage to another (``from_stage_id`` is None at creation)."""

    deal_id: str = Field(min_length=1)
    from_stage_id: str | None = None
    to_stage_id: str = Field(min_length=1)
    changed_at: UtcDatetime
    changed_by: str | None = None
    custom_fields: dict[str, Any] = Field(default_factory=dict)


class Assignment(_Entity):
    """A deal's responsible manager changed."""

    deal_id: str = Field(min_length=1)
    from_manager_id: str | None = None
    to_manager_id: str = Field(min_length=1)
    changed_at: UtcDatetime
    custom_fields: dict[str, Any] = Field(default_factory=dict)


class EventAction(StrEnum):
    """What happened to the entity an event is about."""

    ADDED = "added"
    UPDATED = "updated"
    DELETED = "deleted"
    STAGE_CHANGED = "stage_changed"
    RESPONSIBLE_CHANGED = "responsible_changed"
    NOTE_ADDED = "note_added"
    RESTORED = "restored"


class Event(_Entity):
    """A normalized CRM event (a webhook or a polled audit-trail entry).

    ``id`` is the dedup key: the same CRM event always gives the same id.
    """

    connector: str = Field(min_length=1)
    entity: str = Field(min_length=1, description="deal, contact, company, task, ...")
    entity_id: str = Field(min_length=1)
    action: EventAction
    occurred_at: UtcDatetime
    received_at: UtcDatetime | None = None
    payload: dict[str, Any] = Field(default_factory=dict)


def derived_id(*parts: object) -> str:
    """Build a stable external id for records the source gives no id (history rows).

    Args:
        parts: the values that identify the record; datetimes are taken as UTC microseconds.

    Returns:
        The parts joined with ``|``.
    """
    out: list[str] = []
    for part in parts:
        if isinstance(part, datetime):
            out.append(str(to_epoch_us(part)))
        else:
            out.append("" if part is None else str(part))
    return "|".join(out)


ENTITY_MODELS: dict[str, type[_Entity]] = {
    "teams": Team,
    "managers": Manager,
    "pipelines": Pipeline,
    "stages": Stage,
    "companies": Company,
    "contacts": Contact,
    "deals": Deal,
    "stage_changes": StageChange,
    "assignments": Assignment,
    "activities": Activity,
    "tasks": Task,
    "events": Event,
}
"""Store table name → model."""
