"""Seasonal split: year → quarter → month → week → working day, over the production calendar.

Follows sales_definitions.md, "Plans": manual percentages that must sum to 100, or weights
learned from history, over the Russian production calendar and the manager's absences.
Conventions this module fixes:

* The period's target goes to its months first: by the percentages (given per quarter or per
  month), by learned weights, or — when neither is given — by each month's working days in the
  production calendar. A quarter's percentage goes on to its months by their working days.
* A month's target is spread equally over its working days **of the person's calendar**: an
  absent day gets nothing and the month's target moves onto the remaining working days (the
  month's total does not change). A month with a target but no day left is an error.
* Weeks (ISO), quarters and the year are sums of their days, so a week crossing a month
  boundary takes from both months.
* Rounding as in ``cascade``: largest remainder on the metric's unit (kopeck / 1e-4) at every
  step, so days sum exactly to months and months to the period.
* Learned weights: a month's share of the metric summed over the same month of the past
  ``years`` years (revenue by default, from ``kpi.outcomes``).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

from ropilot.core.calendar import PersonalCalendar, count_working_days
from ropilot.core.errors import ConfigurationError
from ropilot.core.periods import Period, buckets, month
from ropilot.core.plans.cascade import Weight, allocate, history_by
from ropilot.core.plans.models import PlanDocument, PlanLine, period_of, unit_of
from ropilot.core.store import Store

PRODUCTION = PersonalCalendar()
"""The production calendar with no absences (the company's)."""


@dataclass(frozen=True)
class SplitRow:
    """One sub-period of a seasonal split."""

    label: str
    first_day: date
    end_day: date
    working_days: int
    """Working days of the calendar used (absences subtracted), inside the period."""
    value: Decimal


def _check_percentages(
    percentages: Mapping[str, Decimal | int | str], period: Period
) -> tuple[str, dict[str, Decimal]]:
    """The grain of the percentages and their values; they must cover the period and sum to
    100 exactly.
    """
    pct: dict[str, Decimal] = {}
    for key, raw in percentages.items():
        try:
            value = Decimal(str(raw))
        except ArithmeticError as exc:
            raise ConfigurationError(f"percentage of {key}: {raw!r} is not a number") from exc
        if not value.is_finite() or value < 0:
            raise ConfigurationError(f"percentage of {key}: {raw} must be a number ≥ 0")
        pct[key.strip().upper()] = value
    for grain in ("quarter", "month"):
        labels = [b.label.upper() for b in buckets(period, grain)]
        if set(pct) <= set(labels) and len(labels) > 1:
            missing = [x for x in labels if x not in pct]
            if missing:
                raise ConfigurationError(
                    f"percentages for {period.label} miss {', '.join(missing)} (give 0 for none)"
                )
            total = sum(pct.values(), Decimal(0))
            if total != 100:
                raise ConfigurationError(
                    f"percentages for {period.label} sum to {total}, not 100: "
                    + ", ".join(f"{k} {v}" for k, v in pct.items())
                )
            return grain, {x: pct[x] for x in labels}
    months = ", ".join(b.label for b in buckets(period, "month"))
    raise ConfigurationError(
        f"percentages for {period.label} must be keyed by its quarters or months ({months}); "
        f"got {', '.join(pct)}"
    )


def month_targets(
    total: Decimal,
    period: Period,
    unit: Decimal,
    *,
    percentages: Mapping[str, Decimal | int | str] | None = None,
    weights: Mapping[str, Weight] | None = None,
) -> dict[str, tuple[Period, Decimal]]:
    """The period's target per month (months cut to the period), keyed by month label.

    Raises:
        ConfigurationError: for percentages that miss a sub-period or do not sum to 100.
    """
    months = buckets(period, "month")
    by_label = {m.label: m for m in months}
    production = {m.label: count_working_days(m.first_day, m.end_day) for m in months}
    if percentages is not None and weights is not None:
        raise ConfigurationError("give percentages or weights, not both")
    if percentages is not None:
        grain, pct = _check_percentages(percentages, period)
        if grain == "month":
            values = allocate(total, pct, unit)
        else:
            values = {}
            quarters = {q.label.upper(): q for q in buckets(period, "quarter")}
            for q_label, q_value in allocate(total, pct, unit).items():
                q = quarters[q_label]
                inner = {m.label: production[m.label] for m in buckets(q, "month")}
                values.update(allocate(q_value, inner, unit))
    elif weights is not None:
        unknown = [k for k in weights if k not in by_label]
        if unknown:
            raise ConfigurationError(
                f"weights keyed by {', '.join(unknown)}: use the months of {period.label}"
            )
        values = allocate(total, {m: weights.get(m, 0) for m in by_label}, unit)
    else:
        values = allocate(total, production, unit)
    return {label: (by_label[label], values[label]) for label in by_label}


def day_targets(
    total: Decimal,
    period: Period,
    unit: Decimal,
    *,
    calendar: PersonalCalendar = PRODUCTION,
    percentages: Mapping[str, Decimal | int | str] | None = None,
    weights: Mapping[str, Weight] | None = None,
) -> dict[date, Decimal]:
    """The period's target per working day of ``calendar`` (see the module docstring).

    Raises:
        ConfigurationError: for bad percentages, or a month with a target but no working day
            left after absences.
    """
    out: dict[date, Decimal] = {}
    months = month_targets(total, period, unit, percentages=percentages, weights=weights)
    for label, (m, value) in months.items():
        days = calendar.working_days(m.first_day, m.end_day)
        if not days:
            if value:
                raise ConfigurationError(
                    f"{label}: a target of {value} but no working day left (absent the whole "
                    "month): cascade with capacity weights so this month gets nothing"
                )
            continue
        out.update(allocate(value, dict.fromkeys(days, 1), unit))
    return out


def seasonal_split(
    total: Decimal,
    period: Period,
    grain: str,
    *,
    metric: str = "revenue",
    calendar: PersonalCalendar = PRODUCTION,
    percentages: Mapping[str, Decimal | int | str] | None = None,
    weights: Mapping[str, Weight] | None = None,
) -> list[SplitRow]:
    """Split ``total`` of ``period`` into quarters, months, ISO weeks or working days.

    Weeks and months are cut to the period; every bucket is the sum of its days' targets.
    For ``day`` only working days of ``calendar`` are listed.
    """
    unit = unit_of(metric)
    days = day_targets(
        total, period, unit, calendar=calendar, percentages=percentages, weights=weights
    )
    if grain == "day":
        return [
            SplitRow(d.isoformat(), d, d + timedelta(days=1), 1, v) for d, v in sorted(days.items())
        ]
    rows = []
    for b in buckets(period, grain):
        inside = [d for d in days if b.first_day <= d < b.end_day]
        value = sum((days[d] for d in inside), Decimal(0) * unit)
        rows.append(SplitRow(b.label, b.first_day, b.end_day, len(inside), value))
    return rows


def learned_weights(
    store: Store, account_id: str, period: Period, *, years: int = 1, metric: str = "revenue"
) -> dict[str, Decimal]:
    """Per month of ``period``: the company's ``metric`` in the same month of the past ``years``
    years, summed (use as ``weights=``; only the proportions matter).

    Raises:
        ConfigurationError: when the history is empty (nothing to learn from).
    """
    if years < 1:
        raise ConfigurationError("years must be at least 1")
    out: dict[str, Decimal] = {}
    for m in buckets(period, "month"):
        total = Decimal(0)
        for back in range(1, years + 1):
            past = month(m.first_day.year - back, m.first_day.month, period.zone)
            total += history_by(store, account_id, past, None, metric).get("", Decimal(0))
        out[m.label] = total
    if not any(out.values()):
        raise ConfigurationError(
            f"no {metric} in the {years} year(s) before {period.label}: give percentages instead"
        )
    return out


def seasonal_lines(
    document: PlanDocument,
    scope: str,
    metric: str,
    period_label: str,
    grain: str,
    *,
    zone: ZoneInfo,
    calendar: PersonalCalendar = PRODUCTION,
    percentages: Mapping[str, Decimal | int | str] | None = None,
    weights: Mapping[str, Weight] | None = None,
) -> PlanDocument:
    """The document with the line ``scope × period × metric`` split into quarter, month or day
    lines (added, replacing lines with the same keys).

    Raises:
        ConfigurationError: when the line is missing or the grain is not quarter/month/day
            (a week line would be ambiguous where an ISO week crosses the period's edge).
    """
    if grain not in ("quarter", "month", "day"):
        raise ConfigurationError(f"split into quarter, month or day lines, not {grain!r}")
    value = document.get(scope, period_label, metric)
    if value is None:
        raise ConfigurationError(f"plan {document.name!r} has no {scope} {period_label} {metric}")
    rows = seasonal_split(
        value,
        period_of(period_label, zone),
        grain,
        metric=metric,
        calendar=calendar,
        percentages=percentages,
        weights=weights,
    )
    return document.with_lines([PlanLine(scope, r.label, metric, r.value) for r in rows])
