"""The plan document: named, versioned, made of lines ``scope × period × metric → value``.

Follows sales_definitions.md, "Plans": targets (revenue, won deals, units, new clients, calls,
meetings, offers sent) for a scope (company, team, manager, region, product) and a period, plus
costs per period and one-time costs. Costs are lines too, their metric being ``cost:<item>``
(a cost for that period) or ``one_time_cost:<item>`` (incurred once, in that period), so one
shape serves TOML, CSV, the store and every calculation.

Values are ``Decimal``. Money (revenue and costs) has at most 2 decimal places (the kopeck);
counts are carried exactly to 4 places (the store's precision) and only rounded up for display
(:func:`display_value`), the reverse-funnel rule.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import ROUND_CEILING, Decimal
from zoneinfo import ZoneInfo

from ropilot.core.errors import ConfigurationError
from ropilot.core.periods import Period, parse_period

METRICS = ("revenue", "won_deals", "units", "new_clients", "calls", "meetings", "offers")
"""Target metrics a plan line can carry."""
MONEY_METRICS = frozenset({"revenue"})
COST_PREFIXES = ("cost:", "one_time_cost:")
SCOPE_KINDS = ("company", "team", "manager", "region", "product")

KOPECK = Decimal("0.01")
COUNT_UNIT = Decimal("0.0001")
"""Counts are exact to the store's precision (1e-4); display rounds them up."""

_PERIOD_LABEL = re.compile(r"\d{4}(-[Qq][1-4]|-\d{2}|-[Ww]\d{2}|-\d{2}-\d{2})?")
_ANY_ZONE = ZoneInfo("UTC")


def is_money(metric: str) -> bool:
    """Revenue and costs are money; every other metric is a count."""
    return metric in MONEY_METRICS or metric.startswith(COST_PREFIXES)


def unit_of(metric: str) -> Decimal:
    """The rounding unit of a metric: the kopeck for money, 1e-4 for counts."""
    return KOPECK if is_money(metric) else COUNT_UNIT


def display_value(metric: str, value: Decimal) -> Decimal:
    """What a report shows: money to the kopeck, counts rounded *up* to a whole number."""
    if is_money(metric):
        return value.quantize(KOPECK)
    return value.to_integral_value(ROUND_CEILING)


def check_metric(metric: str) -> str:
    """The metric itself, or ConfigurationError naming the accepted ones."""
    if metric in METRICS:
        return metric
    for prefix in COST_PREFIXES:
        if metric.startswith(prefix) and metric[len(prefix) :].strip():
            return metric
    raise ConfigurationError(
        f"unknown metric {metric!r}: use {', '.join(METRICS)}, cost:<item> or one_time_cost:<item>"
    )


@dataclass(frozen=True)
class Scope:
    """Who a line is for: ``company`` or ``team:<id>``, ``manager:<id>``, ``region:<name>``,
    ``product:<name>``.
    """

    kind: str
    key: str | None = None

    def __str__(self) -> str:
        return self.kind if self.key is None else f"{self.kind}:{self.key}"


COMPANY = Scope("company")


def parse_scope(text: str) -> Scope:
    """A scope from its written form.

    Raises:
        ConfigurationError: for an unknown kind or a missing id.
    """
    s = text.strip()
    if s == "company":
        return COMPANY
    kind, sep, key = s.partition(":")
    if sep and kind in SCOPE_KINDS[1:] and key.strip():
        return Scope(kind, key.strip())
    raise ConfigurationError(
        f"scope {text!r}: use company, team:<id>, manager:<id>, region:<name> or product:<name>"
    )


def check_period_label(label: str) -> str:
    """A fixed period label (2026, 2026-Q1, 2026-03, 2026-W10, 2026-03-05), normalised.

    Relative words (this-month) and ranges are refused: a plan is for fixed periods.

    Raises:
        ConfigurationError: for anything else.
    """
    s = label.strip()
    try:
        if _PERIOD_LABEL.fullmatch(s):
            return period_of(s, _ANY_ZONE).label
    except ConfigurationError:
        pass
    raise ConfigurationError(
        f"period {label!r}: use a year (2026), quarter (2026-Q1), month (2026-03), "
        "ISO week (2026-W10) or day (2026-03-05)"
    )


def period_of(label: str, zone: ZoneInfo) -> Period:
    """The period a line's label names, in ``zone`` (the account's)."""
    return parse_period(label, zone, today=date(2000, 1, 1))


@dataclass(frozen=True)
class PlanLine:
    """One figure of a plan: ``scope × period × metric → value``."""

    scope: str
    period: str
    metric: str
    value: Decimal

    @property
    def key(self) -> tuple[str, str, str]:
        return (self.scope, self.period, self.metric)

    @property
    def is_cost(self) -> bool:
        return self.metric.startswith(COST_PREFIXES)


def make_line(scope: str, period: str, metric: str, value: Decimal | int | str) -> PlanLine:
    """A validated, normalised line.

    Raises:
        ConfigurationError: for a bad scope, period, metric or value (negative, not a number,
            money beyond the kopeck, counts beyond 4 decimal places).
    """
    sc = str(parse_scope(scope))
    per = check_period_label(period)
    met = check_metric(metric.strip())
    try:
        v = value if isinstance(value, Decimal) else Decimal(str(value).strip())
    except ArithmeticError as exc:
        raise ConfigurationError(f"value {value!r} is not a number") from exc
    if not v.is_finite():
        raise ConfigurationError(f"value {value!r} is not a finite number")
    if v < 0:
        raise ConfigurationError(f"value {value} is negative")
    unit = unit_of(met)
    if v.quantize(unit) != v:
        what = "money is kept to the kopeck (2 places)" if is_money(met) else "counts to 4 places"
        raise ConfigurationError(f"value {value} has too many decimal places: {what}")
    return PlanLine(sc, per, met, v)


@dataclass(frozen=True)
class PlanDocument:
    """A named plan: its lines (unique by scope, period, metric), in a stable order."""

    name: str
    lines: tuple[PlanLine, ...] = ()

    def __post_init__(self) -> None:
        seen: set[tuple[str, str, str]] = set()
        for line in self.lines:
            if line.key in seen:
                raise ConfigurationError(
                    f"plan {self.name!r}: two values for {line.scope} {line.period} {line.metric}"
                )
            seen.add(line.key)
        object.__setattr__(self, "lines", tuple(sorted(self.lines, key=lambda x: x.key)))

    @property
    def targets(self) -> tuple[PlanLine, ...]:
        return tuple(line for line in self.lines if not line.is_cost)

    @property
    def costs(self) -> tuple[PlanLine, ...]:
        return tuple(line for line in self.lines if line.is_cost)

    def get(self, scope: str, period: str, metric: str) -> Decimal | None:
        """The value of one line, or None when the plan has no such line."""
        for line in self.lines:
            if line.key == (scope, period, metric):
                return line.value
        return None

    def select(
        self, scope: str | None = None, metric: str | None = None, period: str | None = None
    ) -> list[PlanLine]:
        """Lines matching every given field."""
        return [
            line
            for line in self.lines
            if (scope is None or line.scope == scope)
            and (metric is None or line.metric == metric)
            and (period is None or line.period == period)
        ]

    def with_lines(self, lines: list[PlanLine] | tuple[PlanLine, ...]) -> PlanDocument:
        """A copy where ``lines`` replace the lines with the same keys (others are kept)."""
        new = {line.key: line for line in self.lines}
        for line in lines:
            new[line.key] = line
        return PlanDocument(self.name, tuple(new.values()))


@dataclass(frozen=True)
class PlanVersion:
    """One saved version of a plan: who saved it, when, why, and its lines."""

    name: str
    version: int
    created_at: datetime
    author: str | None
    comment: str | None
    document: PlanDocument = field(compare=False)


@dataclass(frozen=True)
class LineChange:
    """What changed for one line between two versions (None: absent on that side)."""

    scope: str
    period: str
    metric: str
    before: Decimal | None
    after: Decimal | None
