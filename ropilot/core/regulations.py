"""Sales regulations: one validated ``regulations.toml`` the engines decide under.

The file holds working hours, activity norms, routing pools, stage time limits, required fields
per stage, the stage clocks and the escalation ladder (format in docs/regulations.md). Every
routing decision and data-quality finding records the regulations *version*: a content hash of
the validated rules, so the same rules give the same version whatever the file's layout, and a
stored decision can be replayed under exactly the rules it was made with.
"""

from __future__ import annotations

import hashlib
import json
import re
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from itertools import pairwise
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, Literal
from zoneinfo import ZoneInfo

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    PlainSerializer,
    ValidationError,
    field_validator,
    model_validator,
)
from sqlalchemy import Connection, select

from ropilot.core.errors import ConfigurationError, StoreError
from ropilot.core.models import TimeZoneName
from ropilot.core.store.schema import custom_field_defs, regulation_versions
from ropilot.core.store.upsert import upsert_statement

if TYPE_CHECKING:
    from ropilot.core.store import Store

WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
"""Weekday keys of ``[working_hours]``, Monday first (index = ``date.weekday()``)."""

Period = Literal["day", "week", "month"]
CriteriaField = Literal["product", "region", "segment", "source"]
SpecialisationField = Literal["product", "region", "segment", "language", "channel"]
EscalationStep = Literal["manager", "senior", "head", "reroute"]
ESCALATION_ORDER: tuple[EscalationStep, ...] = ("manager", "senior", "head", "reroute")
DEAL_COLUMNS = frozenset(
    {"name", "amount", "currency", "contact_id", "company_id", "source", "product", "region"}
    | {"expected_close_at", "loss_reason", "responsible_id"}
)
"""Deal columns a ``[required_fields]`` rule may name; any other name is a custom field."""

_HHMM = re.compile(r"^\s*(\d{1,2}):(\d{2})\s*-\s*(\d{1,2}):(\d{2})\s*$")
_NORM_KEY = re.compile(r"^(calls|meetings|emails|offers|presales|notes)_per_(day|week|month)$")


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


# -- working hours ----------------------------------------------------------------------------


def _minutes(hh: str, mm: str, text: str) -> int:
    h, m = int(hh), int(mm)
    if m > 59 or h > 24 or (h == 24 and m):
        raise ValueError(f"{text!r}: not a time of day (00:00 to 24:00)")
    return h * 60 + m


def _parse_interval(value: Any) -> Any:
    if isinstance(value, str):
        match = _HHMM.match(value)
        if match is None:
            raise ValueError(f'{value!r}: write a working interval as "HH:MM-HH:MM"')
        start = _minutes(match[1], match[2], value)
        end = _minutes(match[3], match[4], value)
        return (start, end)
    return value


def _check_interval(value: tuple[int, int]) -> tuple[int, int]:
    start, end = value
    if not 0 <= start < end <= 1440:
        raise ValueError("a working interval must end after it starts, within one day")
    return value


def _format_interval(value: tuple[int, int]) -> str:
    return f"{value[0] // 60:02d}:{value[0] % 60:02d}-{value[1] // 60:02d}:{value[1] % 60:02d}"


Interval = Annotated[
    tuple[int, int],
    BeforeValidator(_parse_interval),
    AfterValidator(_check_interval),
    PlainSerializer(_format_interval, return_type=str),
]
"""A working interval ``"09:00-13:00"``, held as minutes since midnight ``(540, 780)``."""


def _day_intervals(value: list[tuple[int, int]]) -> list[tuple[int, int]]:
    ordered = sorted(set(value))
    for (_, end), (start, _) in pairwise(ordered):
        if start < end:
            raise ValueError("working intervals of one day overlap")
    return ordered


DayIntervals = Annotated[list[Interval], AfterValidator(_day_intervals)]


def _office() -> list[tuple[int, int]]:
    return [(9 * 60, 13 * 60), (14 * 60, 18 * 60)]


class WorkingHours(_Model):
    """The default weekly schedule, per weekday, for managers without their own schedule.

    Empty weekday = day off. Working Saturdays of the production calendar take the schedule of
    the weekday they replace (see ``core.business_hours``).
    """

    mon: DayIntervals = Field(default_factory=_office)
    tue: DayIntervals = Field(default_factory=_office)
    wed: DayIntervals = Field(default_factory=_office)
    thu: DayIntervals = Field(default_factory=_office)
    fri: DayIntervals = Field(default_factory=_office)
    sat: DayIntervals = Field(default_factory=list)
    sun: DayIntervals = Field(default_factory=list)

    def for_weekday(self, weekday: int) -> list[tuple[int, int]]:
        """Intervals (minutes since midnight) of a weekday, 0 = Monday."""
        intervals: list[tuple[int, int]] = getattr(self, WEEKDAYS[weekday])
        return intervals


# -- routing ------------------------------------------------------------------------------------


def _sorted_unique(value: list[str]) -> list[str]:
    return sorted(set(value))


StrSet = Annotated[list[Annotated[str, Field(min_length=1)]], AfterValidator(_sorted_unique)]
"""A list whose order carries no meaning: kept sorted and unique so the version ignores it."""


class PeriodCap(_Model):
    """At most ``max`` leads per calendar ``period`` (lost and closed leads count)."""

    period: Period
    max: int = Field(ge=0)


class LoadWeights(_Model):
    """How much each open item weighs in the concurrent load."""

    open_deal: float = Field(default=1.0, ge=0)
    open_task: float = Field(default=0.2, ge=0)


class CriteriaCap(_Model):
    """At most ``max`` leads per ``period`` whose ``field`` equals ``value``."""

    field: CriteriaField
    value: str = Field(min_length=1)
    period: Period
    max: int = Field(ge=0)


class Caps(_Model):
    """A manager's capacity in a pool: period cap, concurrent load, per-criteria caps."""

    per_period: PeriodCap | None = None
    max_open_load: float | None = Field(default=None, ge=0)
    load_weights: LoadWeights = Field(default_factory=LoadWeights)
    per_criteria: list[CriteriaCap] = Field(default_factory=list)


class Efficiency(_Model):
    """Measured efficiency blended into the weights, shrunk towards the team mean and bounded.

    factor = clamp(win_rate_weight × (shrunk win rate ÷ team win rate) + speed_weight ×
    (team speed ÷ shrunk speed), min_factor, max_factor), with shrinkage
    (n × own + k × team) ÷ (n + k), k = ``prior_strength``.
    """

    enabled: bool = False
    win_rate_weight: float = Field(default=0.5, ge=0)
    speed_weight: float = Field(default=0.5, ge=0)
    prior_strength: float = Field(default=20.0, ge=0)
    min_factor: float = Field(default=0.5, gt=0)
    max_factor: float = Field(default=1.5, gt=0)
    lookback_days: int = Field(default=90, gt=0)

    @model_validator(mode="after")
    def _bounds(self) -> Efficiency:
        if self.min_factor > 1 or self.max_factor < 1:
            raise ValueError("min_factor must be ≤ 1 ≤ max_factor (1 = declared weight)")
        if self.enabled and self.win_rate_weight + self.speed_weight == 0:
            raise ValueError("win_rate_weight and speed_weight cannot both be 0 when enabled")
        return self


class Pool(_Model):
    """A routing pool: which leads it takes, who is in it, and how it picks.

    Match criteria are lists; an empty list matches anything. Members are ``managers`` and the
    managers of ``teams``; with neither, every active manager whose role is not ``assistant``.
    """

    name: str = Field(min_length=1)
    pipelines: StrSet = Field(default_factory=list)
    sources: StrSet = Field(default_factory=list)
    segments: StrSet = Field(default_factory=list)
    managers: StrSet = Field(default_factory=list)
    teams: StrSet = Field(default_factory=list)
    strategy: str = Field(default="weighted_fair", min_length=1)
    weights: dict[str, Annotated[float, Field(gt=0)]] = Field(default_factory=dict)
    caps: Caps = Field(default_factory=Caps)
    efficiency: Efficiency = Field(default_factory=Efficiency)
    rejoin: Literal["min_level", "catch_up"] = "min_level"
    catch_up_per_day: float | None = Field(default=None, gt=0)
    account_management: bool = True
    owner_must_be_eligible: bool = True
    take_into_work_minutes: int | None = Field(default=None, gt=0)
    specialisation_match: Annotated[
        list[SpecialisationField], AfterValidator(lambda v: sorted(set(v)))
    ] = Field(default_factory=list)

    @model_validator(mode="after")
    def _rejoin(self) -> Pool:
        if self.rejoin == "catch_up" and self.catch_up_per_day is None:
            raise ValueError('rejoin = "catch_up" needs catch_up_per_day (extra leads a day)')
        if self.rejoin == "min_level" and self.catch_up_per_day is not None:
            raise ValueError('catch_up_per_day only applies with rejoin = "catch_up"')
        return self

    def weight_of(self, manager_id: str) -> float:
        """The declared weight (capacity) of a member; 1 unless ``weights`` names them."""
        return self.weights.get(manager_id, 1.0)

    def matches(self, pipeline_id: str | None, source: str | None, segment: str | None) -> bool:
        """Whether a lead with these attributes belongs to this pool."""
        return (
            (not self.pipelines or pipeline_id in self.pipelines)
            and (not self.sources or source in self.sources)
            and (not self.segments or segment in self.segments)
        )


def _default_pools() -> list[Pool]:
    return [Pool(name="default")]


class Routing(_Model):
    """Routing pools in priority order: a lead goes to the first pool that matches it."""

    pools: list[Pool] = Field(default_factory=_default_pools)

    @field_validator("pools")
    @classmethod
    def _unique(cls, value: list[Pool]) -> list[Pool]:
        names = [p.name for p in value]
        dupes = sorted({n for n in names if names.count(n) > 1})
        if dupes:
            raise ValueError(f"pool names must be unique: {', '.join(dupes)} repeated")
        return value


# -- clocks and escalation ----------------------------------------------------------------------


class Clocks(_Model):
    """Stage clocks in business hours (the stage-time limits are ``[stage_limits]``)."""

    no_activity_hours: float | None = Field(default=24.0, gt=0)
    next_step_required: bool = True


class EscalationLevel(_Model):
    """One rung: who is told once a finding has been open ``after_hours`` business hours."""

    level: EscalationStep
    after_hours: float = Field(ge=0)


def _ladder(value: list[EscalationLevel]) -> list[EscalationLevel]:
    levels = [e.level for e in value]
    if len(set(levels)) != len(levels):
        raise ValueError("each escalation level may appear once")
    ordered = sorted(value, key=lambda e: (e.after_hours, ESCALATION_ORDER.index(e.level)))
    ranks = [ESCALATION_ORDER.index(e.level) for e in ordered]
    if ranks != sorted(ranks):
        raise ValueError("escalation must go manager → senior → head → reroute as hours grow")
    return ordered


def _default_ladder() -> list[EscalationLevel]:
    return [
        EscalationLevel(level="manager", after_hours=0),
        EscalationLevel(level="senior", after_hours=8),
        EscalationLevel(level="head", after_hours=24),
        EscalationLevel(level="reroute", after_hours=40),
    ]


# -- data quality -------------------------------------------------------------------------------


class DuplicateRules(_Model):
    """How duplicate contacts and companies are found (docs/quality-identity.md)."""

    fuzzy_threshold: float = Field(default=90.0, ge=50, le=100)
    noise_limit: int = Field(default=20, ge=2)
    block_chars: int = Field(default=4, ge=1)
    max_pairs_per_record: int = Field(default=10, ge=1)
    fuzzy_person_names: bool = False


class QualityRules(_Model):
    """Settings of the data-quality checks."""

    duplicates: DuplicateRules = Field(default_factory=DuplicateRules)


# -- the whole file -----------------------------------------------------------------------------


def _norms(value: dict[str, float]) -> dict[str, float]:
    for key in value:
        if not _NORM_KEY.match(key):
            raise ValueError(
                f"{key!r}: norm keys are <calls|meetings|emails|offers|presales|notes>_per_"
                "<day|week|month>, e.g. calls_per_day"
            )
    return value


class Regulations(_Model):
    """The validated sales regulations. ``version`` is computed from the content, never set."""

    version: str = ""
    timezone: TimeZoneName | None = None
    working_hours: WorkingHours = Field(default_factory=WorkingHours)
    activity_norms: Annotated[dict[str, Annotated[float, Field(ge=0)]], AfterValidator(_norms)] = (
        Field(default_factory=dict)
    )
    routing: Routing = Field(default_factory=Routing)
    stage_limits: dict[str, Annotated[float, Field(gt=0)]] = Field(default_factory=dict)
    required_fields: dict[str, StrSet] = Field(default_factory=dict)
    clocks: Clocks = Field(default_factory=Clocks)
    escalation: Annotated[list[EscalationLevel], AfterValidator(_ladder)] = Field(
        default_factory=_default_ladder
    )
    quality: QualityRules = Field(default_factory=QualityRules)

    @model_validator(mode="after")
    def _stamp(self) -> Regulations:
        object.__setattr__(self, "version", content_hash(self))
        return self

    def content(self) -> dict[str, Any]:
        """The validated rules as JSON data, without the version (what the version hashes).

        Sections added after the first release (``quality``) enter only when they differ from
        their defaults, so a file that does not set them keeps the version it always had.
        """
        data = self.model_dump(mode="json", exclude={"version"})
        if data["quality"] == QualityRules().model_dump(mode="json"):
            del data["quality"]
        return data

    def zone(self, account_timezone: str) -> ZoneInfo:
        """The regulations' time zone: ``timezone`` when set, else the account's."""
        return ZoneInfo(self.timezone or account_timezone)

    def pool(self, name: str) -> Pool:
        """A pool by name.

        Raises:
            ConfigurationError: when no pool has that name.
        """
        for p in self.routing.pools:
            if p.name == name:
                return p
        names = ", ".join(p.name for p in self.routing.pools)
        raise ConfigurationError(f"no routing pool {name!r} in the regulations (pools: {names})")


def content_hash(regulations: Regulations) -> str:
    """sha256 of the canonical JSON of the validated content, first 12 hex digits."""
    canonical = json.dumps(
        regulations.content(), sort_keys=True, separators=(",", ":"), ensure_ascii=False
    )
    return hashlib.sha256(canonical.encode("utf-8")).hexdigest()[:12]


# -- loading --------------------------------------------------------------------------------------


def _key(loc: tuple[int | str, ...]) -> str:
    out = ""
    for part in loc:
        if isinstance(part, int):
            out += f"[{part}]"
        elif part.startswith(("function-", "tuple[", "list[", "dict[")):
            continue  # pydantic's validator and type labels, not keys of the file
        else:
            out += f".{part}" if out else str(part)
    return out or "(top level)"


def _describe(exc: ValidationError, source: str) -> str:
    lines = []
    for err in exc.errors():
        msg = str(err["msg"]).removeprefix("Value error, ")
        if err["type"] == "extra_forbidden":
            msg = "unknown key (see docs/regulations.md for the format)"
        lines.append(f"{source}: key {_key(tuple(err['loc']))}: {msg}")
    return "\n".join(lines)


def regulations_from_dict(data: Mapping[str, Any], source: str = "regulations.toml") -> Regulations:
    """Validate already-parsed regulations data (a TOML table, or stored content JSON).

    Raises:
        ConfigurationError: naming ``source``, the key and what is wrong.
    """
    if "version" in data:
        raise ConfigurationError(
            f"{source}: key version: the version is computed from the content; remove the key"
        )
    try:
        return Regulations.model_validate(dict(data))
    except ValidationError as exc:
        raise ConfigurationError(_describe(exc, source)) from exc


def parse_regulations(text: str, source: str = "regulations.toml") -> Regulations:
    """Regulations from TOML text.

    Raises:
        ConfigurationError: naming ``source``, the key and what is wrong.
    """
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigurationError(f"{source}: not valid TOML: {exc}") from exc
    return regulations_from_dict(data, source)


def load_regulations(path: str | Path) -> Regulations:
    """Regulations from a ``regulations.toml`` file.

    Raises:
        ConfigurationError: when the file is missing or invalid (file, key and reason).
    """
    file = Path(path)
    if not file.is_file():
        raise ConfigurationError(f"{file}: regulations file not found")
    return parse_regulations(file.read_text(encoding="utf-8"), str(file))


def default_regulations() -> Regulations:
    """Built-in rules for an account without a file.

    One pool ``default`` with every active non-assistant manager, weighted-fair, equal weights,
    no caps; 09:00–18:00 Monday to Friday with a 13:00–14:00 lunch in the account's zone; stage
    clocks at 24 business hours without activity and a required next step; the ladder manager
    (at once) → senior (8 h) → head (24 h) → re-route (40 h).
    """
    return _DEFAULT


_DEFAULT = Regulations()


def pool_for(regulations: Regulations, deal_row: Mapping[str, Any] | Any) -> Pool | None:
    """The first pool (file order) whose criteria a lead meets, or None.

    ``deal_row`` is a mapping (a store row) or an object (a ``Deal``) with ``pipeline_id`` and
    ``source``; ``segment`` (deals carry none: join the company's or contact's) is optional.
    """

    def get(name: str) -> Any:
        if isinstance(deal_row, Mapping):
            return deal_row.get(name)
        return getattr(deal_row, name, None)

    pipeline_id, source, segment = get("pipeline_id"), get("source"), get("segment")
    for pool in regulations.routing.pools:
        if pool.matches(pipeline_id, source, segment):
            return pool
    return None


REGULATIONS_FILE = "regulations.toml"


def find_regulations(config_source: str | Path | None = None) -> Path | None:
    """The regulations file used when none is named: ``regulations.toml`` next to the
    configuration file, else in the current directory; None when there is neither.
    """
    candidates = []
    if config_source is not None:
        candidates.append(Path(config_source).parent / REGULATIONS_FILE)
    candidates.append(Path(REGULATIONS_FILE))
    for candidate in candidates:
        if candidate.is_file():
            return candidate
    return None


def resolve_regulations(
    path: str | Path | None = None, config_source: str | Path | None = None
) -> tuple[Regulations, str | None]:
    """The regulations in force and where they came from (None = built-in defaults).

    An explicit ``path`` must exist; otherwise :func:`find_regulations` decides.
    """
    file = Path(path) if path is not None else find_regulations(config_source)
    if file is None:
        return default_regulations(), None
    return load_regulations(file), str(file)


# -- versions in the store ---------------------------------------------------------------------


def record_version(
    store: Store,
    account_id: str,
    regulations: Regulations,
    source: str | None = None,
    conn: Connection | None = None,
) -> str:
    """Keep this version's rules in the store (once per version) and return the version.

    Idempotent: recording a version already stored changes nothing (its first-seen time and
    source stay those of the first recording). Pass ``conn`` to record inside the caller's
    transaction, next to the decision or finding that names the version.
    """
    row = {
        "account_id": account_id,
        "version": regulations.version,
        "content": regulations.content(),
        "first_seen_at": datetime.now(UTC),
        "source": source,
    }

    def insert(c: Connection) -> None:
        exists = c.execute(
            select(regulation_versions.c.version).where(
                regulation_versions.c.account_id == account_id,
                regulation_versions.c.version == regulations.version,
            )
        ).first()
        if exists is None:
            stmt = upsert_statement(c, regulation_versions, ["account_id", "version"])
            c.execute(stmt, [row])

    if conn is not None:
        insert(conn)
    else:
        with store.begin() as own:
            insert(own)
    return regulations.version


def regulations_version(store: Store, account_id: str, version: str) -> Regulations:
    """The rules of a recorded version, for replaying what was decided under them.

    When ropilot's format has since gained fields, the rules re-validate with their defaults
    and the returned object still carries the recorded ``version``.

    Raises:
        StoreError: when the version was never recorded for the account.
    """
    with store.engine.connect() as c:
        content = c.execute(
            select(regulation_versions.c.content).where(
                regulation_versions.c.account_id == account_id,
                regulation_versions.c.version == version,
            )
        ).scalar_one_or_none()
    if content is None:
        raise StoreError(
            f"no regulations version {version!r} recorded for account {account_id!r}: "
            "`ropilot regulations show --versions` lists the recorded ones"
        )
    regulations = regulations_from_dict(content, f"regulations version {version}")
    if regulations.version != version:
        regulations = regulations.model_copy(update={"version": version})
    return regulations


def recorded_versions(store: Store, account_id: str) -> list[dict[str, Any]]:
    """The account's recorded versions (version, first_seen_at, source), oldest first."""
    t = regulation_versions
    with store.engine.connect() as c:
        rows = c.execute(
            select(t.c.version, t.c.first_seen_at, t.c.source)
            .where(t.c.account_id == account_id)
            .order_by(t.c.first_seen_at, t.c.version)
        ).mappings()
        return [dict(r) for r in rows]


# -- required fields: the file's rules merged with the CRM's ---------------------------------

ENTITY_PREFIX = {"deals": "", "contacts": "contact.", "companies": "company."}
"""How a CRM-required field of each entity is named in a required-fields list."""


@dataclass(frozen=True)
class RequiredField:
    """One required field of a stage and where the rule comes from (``file`` or ``crm``)."""

    stage_id: str
    name: str
    origin: Literal["file", "crm"]
    field_id: str | None = None


def required_field_rules(
    store: Store, account_id: str, regulations: Regulations
) -> list[RequiredField]:
    """Every required-field rule of the account, by stage then name, with its origin.

    The CRM's rules are its custom fields whose ``required_stage_ids`` hold the stage (amoCRM
    ``required_statuses``, synced into ``custom_field_defs``). A deal field is named as the
    deal's ``custom_fields`` key (its name); a contact's or company's field gets the prefix
    ``contact.`` or ``company.`` (the deal's linked contact or company must have it). A rule in
    both the file and the CRM is kept once, as the file's.
    """
    rules: dict[tuple[str, str], RequiredField] = {}
    for stage_id, names in regulations.required_fields.items():
        for name in names:
            rules[(stage_id, name)] = RequiredField(stage_id, name, "file")
    t = custom_field_defs
    with store.engine.connect() as c:
        rows = c.execute(
            select(t.c.entity, t.c.id, t.c.name, t.c.required_stage_ids).where(
                t.c.account_id == account_id, t.c.required_stage_ids.is_not(None)
            )
        ).all()
    for entity, field_id, field_name, stage_ids in rows:
        prefix = ENTITY_PREFIX.get(entity)
        if prefix is None:
            continue
        name = f"{prefix}{field_name}"
        for stage_id in stage_ids or []:
            rules.setdefault(
                (str(stage_id), name), RequiredField(str(stage_id), name, "crm", str(field_id))
            )
    return [rules[k] for k in sorted(rules)]


def required_fields(
    store: Store, account_id: str, regulations: Regulations
) -> dict[str, list[str]]:
    """Required field names per stage id: the file's ``[required_fields]`` ∪ the CRM's rules.

    See :func:`required_field_rules` for naming; lists are sorted, stages by id.
    """
    out: dict[str, list[str]] = {}
    for rule in required_field_rules(store, account_id, regulations):
        out.setdefault(rule.stage_id, []).append(rule.name)
    return out
