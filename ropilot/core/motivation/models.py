"""Motivation schemes: what a role or a manager is paid for (sales_definitions.md, "Motivation").

A scheme has a base bonus, weighted KPIs each with a coefficient curve, gates, and a commission
plan. Schemes are read from TOML (:func:`load_schemes`) and validated with pydantic at that
boundary, so every error names the file and the key; inside, the engine works on the frozen
dataclasses below. All numbers are Decimal: TOML floats are parsed as Decimal, never as binary
floats, so weights such as 0.1 + 0.2 + 0.7 sum to exactly 1.
"""

from __future__ import annotations

import tomllib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from itertools import pairwise
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    ValidationError,
    field_validator,
    model_validator,
)

from ropilot.core.errors import ConfigurationError

CommissionKind = Literal["step", "marginal"]
CommissionPeriod = Literal["month", "quarter", "year"]
GateTarget = Literal["bonus", "all"]

DEFAULT_VALUES = (Decimal(0), Decimal("0.5"), Decimal("1.5"))
"""Coefficients at the plan's minimum, optimal and maximum (the default shape)."""


# --------------------------------------------------------------------------- checks shared by
# the dataclasses (ConfigurationError) and the file models (ValueError → file and key)


def points_problem(points: Sequence[tuple[Decimal, Decimal]]) -> str | None:
    """Why these curve points are unusable, or None: ≥ 2 points, x strictly increasing, y ≥ 0."""
    if len(points) < 2:
        return "a curve needs at least two points [fact, coefficient]"
    for (x0, _), (x1, _) in pairwise(points):
        if not x1 > x0:
            return f"facts must be strictly increasing, but {x1} follows {x0}"
    negative = [y for _, y in points if y < 0]
    if negative:
        return f"coefficients must not be negative ({negative[0]})"
    return None


def tiers_problem(tiers: Sequence[Tier]) -> str | None:
    """Why these tiers are unusable, or None.

    Tiers are ``[from, to)``, start at 0, follow each other without gap or overlap, and only the
    last one is open-ended (no ``to``).
    """
    if not tiers:
        return "at least one tier is needed"
    if tiers[0].start != 0:
        return f"the first tier must start at 0, not {tiers[0].start}"
    for i, tier in enumerate(tiers):
        last = i == len(tiers) - 1
        if tier.end is None and not last:
            return f"only the last tier may omit `to` (tier {i + 1} does)"
        if tier.end is not None and last:
            return "the last tier must omit `to` (it covers everything above its `from`)"
        if tier.end is not None and not tier.end > tier.start:
            return f"tier {i + 1}: `to` ({tier.end}) must be above `from` ({tier.start})"
        if not last and tiers[i + 1].start != tier.end:
            return (
                f"tier {i + 2} must start where tier {i + 1} ends ({tier.end}), "
                f"not at {tiers[i + 1].start}"
            )
        if not 0 <= tier.rate <= 1:
            return f"tier {i + 1}: rate {tier.rate} is not between 0 and 1 (write 4 % as 0.04)"
    return None


def weights_problem(weights: Mapping[str, Decimal]) -> str | None:
    """Why these KPI weights are unusable, or None: they must sum to exactly 1."""
    if not weights:
        return None
    total = sum(weights.values(), Decimal(0))
    if total != 1:
        terms = " + ".join(f"{name} {w}" for name, w in weights.items())
        return f"weights must sum to exactly 1, they sum to {total} ({terms})"
    return None


# --------------------------------------------------------------------------- dataclasses


@dataclass(frozen=True)
class KpiPlan:
    """A plan's three levels for one KPI, in the KPI's own unit (roubles, calls …)."""

    minimum: Decimal
    optimal: Decimal
    maximum: Decimal


@dataclass(frozen=True)
class KpiRule:
    """One KPI of a scheme: its weight and where its coefficient curve comes from.

    ``points`` is a complete curve ``[(fact, coefficient), …]`` in the fact's unit. Without it
    the default shape applies: ``values`` (0, 0.5, 1.5) at the plan's minimum, optimal and
    maximum, taken from the plan given to the statement or else from ``levels``.
    """

    name: str
    weight: Decimal
    points: tuple[tuple[Decimal, Decimal], ...] | None = None
    levels: KpiPlan | None = None
    values: tuple[Decimal, Decimal, Decimal] = DEFAULT_VALUES

    def __post_init__(self) -> None:
        if self.points is not None:
            problem = points_problem(self.points)
            if problem:
                raise ConfigurationError(f"KPI {self.name}: {problem}")


@dataclass(frozen=True)
class Gate:
    """A condition on a score: failing it removes ``cut`` (a share, 1 = all) of the target.

    Passes when ``value ≥ minimum`` (if set) and ``value ≤ maximum`` (if set). ``metric`` names
    the value: looked up in the statement's gate values, then in its KPI facts.
    ``applies_to`` is ``bonus`` (the KPI bonus only) or ``all`` (bonus and commission).
    """

    name: str
    metric: str
    minimum: Decimal | None = None
    maximum: Decimal | None = None
    cut: Decimal = Decimal(1)
    applies_to: GateTarget = "bonus"

    def passes(self, value: Decimal) -> bool:
        """Whether ``value`` passes (both bounds inclusive)."""
        if self.minimum is not None and value < self.minimum:
            return False
        return not (self.maximum is not None and value > self.maximum)


@dataclass(frozen=True)
class Tier:
    """A commission tier ``[start, end)`` (``end`` None = no upper bound) and its rate."""

    start: Decimal
    end: Decimal | None
    rate: Decimal

    def contains(self, base: Decimal) -> bool:
        """Whether ``base`` is in ``[start, end)``: a boundary value belongs to the upper tier."""
        return self.start <= base and (self.end is None or base < self.end)


@dataclass(frozen=True)
class CommissionPlan:
    """Commission tiers, paid ``step`` or ``marginal``, with attainment per ``period``."""

    kind: CommissionKind
    tiers: tuple[Tier, ...]
    period: CommissionPeriod = "month"

    def __post_init__(self) -> None:
        problem = tiers_problem(self.tiers)
        if problem:
            raise ConfigurationError(f"commission tiers: {problem}")


@dataclass(frozen=True)
class Scheme:
    """A motivation scheme for some roles and/or named managers."""

    name: str
    base_bonus: Decimal = Decimal(0)
    kpis: tuple[KpiRule, ...] = ()
    gates: tuple[Gate, ...] = ()
    commission: CommissionPlan | None = None
    roles: tuple[str, ...] = ()
    managers: tuple[str, ...] = ()
    source: str | None = field(default=None, compare=False)
    """The file the scheme was read from, for messages."""

    def __post_init__(self) -> None:
        problem = weights_problem({k.name: k.weight for k in self.kpis})
        if problem:
            raise ConfigurationError(f"scheme {self.name}: {problem}")


# --------------------------------------------------------------------------- the file format


def _rate(value: Any) -> Any:
    """``"4%"`` → 0.04; anything else goes on to Decimal validation."""
    if isinstance(value, str) and value.strip().endswith("%"):
        try:
            return Decimal(value.strip()[:-1].strip()) / 100
        except InvalidOperation as exc:
            raise ValueError(f"{value!r} is not a percentage") from exc
    return value


Rate = Annotated[Decimal, BeforeValidator(_rate)]


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", populate_by_name=True, allow_inf_nan=False)


class KpiModel(_Model):
    """``[schemes.NAME.kpis.KPI]``."""

    weight: Decimal = Field(gt=0, le=1)
    points: list[tuple[Decimal, Decimal]] | None = None
    minimum: Decimal | None = None
    optimal: Decimal | None = None
    maximum: Decimal | None = None
    values: tuple[Decimal, Decimal, Decimal] | None = None

    @field_validator("points")
    @classmethod
    def _points(
        cls, value: list[tuple[Decimal, Decimal]] | None
    ) -> list[tuple[Decimal, Decimal]] | None:
        if value is not None:
            problem = points_problem(value)
            if problem:
                raise ValueError(problem)
        return value

    @field_validator("values")
    @classmethod
    def _values(
        cls, value: tuple[Decimal, Decimal, Decimal] | None
    ) -> tuple[Decimal, Decimal, Decimal] | None:
        if value is not None and any(v < 0 for v in value):
            raise ValueError("coefficients must not be negative")
        return value

    @model_validator(mode="after")
    def _levels(self) -> KpiModel:
        levels = (self.minimum, self.optimal, self.maximum)
        given = [v is not None for v in levels]
        if self.points is not None and (any(given) or self.values is not None):
            raise ValueError(
                "give either `points` (a full curve) or `minimum`/`optimal`/`maximum` "
                "(and optionally `values`), not both"
            )
        if any(given) and not all(given):
            raise ValueError("`minimum`, `optimal` and `maximum` go together: give all three")
        if all(given):
            lo, mid, hi = levels
            assert lo is not None and mid is not None and hi is not None
            if not lo < mid < hi:
                raise ValueError(f"need minimum < optimal < maximum, got {lo}, {mid}, {hi}")
        return self


class GateModel(_Model):
    """``[schemes.NAME.gates.GATE]``."""

    metric: str | None = None
    minimum: Decimal | None = None
    maximum: Decimal | None = None
    cut: Rate = Field(default=Decimal(1), ge=0, le=1)
    applies_to: GateTarget = "bonus"

    @model_validator(mode="after")
    def _bound(self) -> GateModel:
        if self.minimum is None and self.maximum is None:
            raise ValueError("a gate needs `minimum` and/or `maximum`")
        return self


class TierModel(_Model):
    """One ``{from, to, rate}`` of ``commission.tiers``."""

    start: Decimal = Field(alias="from", ge=0)
    end: Decimal | None = Field(default=None, alias="to")
    rate: Rate = Field(ge=0)

    @field_validator("rate")
    @classmethod
    def _fraction(cls, value: Decimal) -> Decimal:
        if value > 1:
            raise ValueError(f'rate {value} is above 1: write 4 % as 0.04 or "4%"')
        return value


class CommissionModel(_Model):
    """``[schemes.NAME.commission]``."""

    kind: CommissionKind
    period: CommissionPeriod = "month"
    tiers: list[TierModel]

    @field_validator("tiers")
    @classmethod
    def _tiers(cls, value: list[TierModel]) -> list[TierModel]:
        problem = tiers_problem([Tier(t.start, t.end, t.rate) for t in value])
        if problem:
            raise ValueError(problem)
        return value


class SchemeModel(_Model):
    """``[schemes.NAME]``."""

    roles: list[str] = Field(default_factory=list)
    managers: list[str] = Field(default_factory=list)
    base_bonus: Decimal = Field(default=Decimal(0), ge=0)
    kpis: dict[str, KpiModel] = Field(default_factory=dict)
    gates: dict[str, GateModel] = Field(default_factory=dict)
    commission: CommissionModel | None = None

    @field_validator("kpis")
    @classmethod
    def _weights(cls, value: dict[str, KpiModel]) -> dict[str, KpiModel]:
        problem = weights_problem({name: kpi.weight for name, kpi in value.items()})
        if problem:
            raise ValueError(problem)
        return value

    @model_validator(mode="after")
    def _something(self) -> SchemeModel:
        if self.base_bonus > 0 and not self.kpis:
            raise ValueError("a scheme with a base_bonus needs [kpis] to pay it by")
        return self


class SchemesFile(_Model):
    """The whole file: ``[schemes.NAME]`` tables."""

    schemes: dict[str, SchemeModel] = Field(min_length=1)

    @field_validator("schemes")
    @classmethod
    def _unambiguous(cls, value: dict[str, SchemeModel]) -> dict[str, SchemeModel]:
        for attr in ("managers", "roles"):
            seen: dict[str, str] = {}
            for name, scheme in value.items():
                for item in getattr(scheme, attr):
                    if item in seen:
                        raise ValueError(
                            f"{attr[:-1]} {item!r} is in two schemes ({seen[item]}, {name})"
                        )
                    seen[item] = name
        return value


def _to_scheme(name: str, model: SchemeModel, source: str | None) -> Scheme:
    kpis = []
    for kpi_name, k in model.kpis.items():
        levels = None
        if k.minimum is not None and k.optimal is not None and k.maximum is not None:
            levels = KpiPlan(k.minimum, k.optimal, k.maximum)
        kpis.append(
            KpiRule(
                name=kpi_name,
                weight=k.weight,
                points=None if k.points is None else tuple(k.points),
                levels=levels,
                values=k.values or DEFAULT_VALUES,
            )
        )
    gates = tuple(
        Gate(
            name=gate_name,
            metric=g.metric or gate_name,
            minimum=g.minimum,
            maximum=g.maximum,
            cut=g.cut,
            applies_to=g.applies_to,
        )
        for gate_name, g in model.gates.items()
    )
    commission = None
    if model.commission is not None:
        c = model.commission
        commission = CommissionPlan(
            kind=c.kind, period=c.period, tiers=tuple(Tier(t.start, t.end, t.rate) for t in c.tiers)
        )
    return Scheme(
        name=name,
        base_bonus=model.base_bonus,
        kpis=tuple(kpis),
        gates=gates,
        commission=commission,
        roles=tuple(model.roles),
        managers=tuple(model.managers),
        source=source,
    )


def _describe(exc: ValidationError, origin: str) -> str:
    lines = []
    for err in exc.errors():
        key = ".".join(str(p) for p in err["loc"]) or "(top level)"
        msg = str(err["msg"]).removeprefix("Value error, ")
        if err["type"] == "extra_forbidden":
            msg = "unknown key (see docs/motivation.md for the format)"
        lines.append(f"{origin}: key {key}: {msg}")
    return "\n".join(lines)


def schemes_from_dict(data: Mapping[str, Any], origin: str = "<schemes>") -> dict[str, Scheme]:
    """Validate already-parsed scheme data (numbers as Decimal, int or str).

    Raises:
        ConfigurationError: naming ``origin``, the key and what is wrong.
    """
    try:
        parsed = SchemesFile.model_validate(dict(data))
    except ValidationError as exc:
        raise ConfigurationError(_describe(exc, origin)) from exc
    return {name: _to_scheme(name, m, origin) for name, m in parsed.schemes.items()}


def parse_schemes(text: str, origin: str = "<schemes>") -> dict[str, Scheme]:
    """Schemes from TOML text (floats read as Decimal).

    Raises:
        ConfigurationError: naming ``origin``, the key and what is wrong.
    """
    try:
        data = tomllib.loads(text, parse_float=Decimal)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigurationError(f"{origin}: not valid TOML: {exc}") from exc
    return schemes_from_dict(data, origin)


def load_schemes(path: str | Path) -> dict[str, Scheme]:
    """Schemes from a TOML file, by name in file order.

    Raises:
        ConfigurationError: naming the file, the key and what is wrong.
    """
    file = Path(path)
    if not file.is_file():
        raise ConfigurationError(f"{file}: motivation scheme file not found")
    return parse_schemes(file.read_text(encoding="utf-8"), str(file))


def scheme_for(schemes: Mapping[str, Scheme], manager_id: str, role: str | None) -> Scheme:
    """The scheme of a manager: the one naming them, else the one for their role.

    Raises:
        ConfigurationError: when no scheme applies.
    """
    for scheme in schemes.values():
        if manager_id in scheme.managers:
            return scheme
    for scheme in schemes.values():
        if role is not None and role in scheme.roles:
            return scheme
    raise ConfigurationError(
        f"no motivation scheme for manager {manager_id!r} (role {role!r}): list the manager "
        "under `managers` or the role under `roles` of a scheme"
    )
