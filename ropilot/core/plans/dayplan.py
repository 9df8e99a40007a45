"""A scope's plan for any period, down to its working days, from whatever lines the plan has.

Plans hold lines at several grains (a year line, month lines from a seasonal split, day lines
from a re-plan). The day-level plan of ``scope × metric`` over a line's period is built
finest-first, the convention this module fixes:

* The lines strictly inside a line's period that are largest and do not overlap each other are
  its sub-lines (a line partly overlapping another of the same level — an ISO week across a
  month edge — is left out); each sub-line is resolved the same way, recursively.
* A line's days are its sub-lines' days plus its remainder (its value − Σ sub-lines) spread over
  the working days no sub-line covers, month by month as in ``seasonal`` (production working
  days per month, then the person's working days). A line whose sub-lines add up to more than
  it, or leave a remainder with no uncovered working day, disagrees with them: the line wins
  and its sub-lines are ignored.
* The plan of any period P is the sum of those days inside P: taken from the lines inside P when
  there are any, otherwise from the smallest line containing P (a month of a year line).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from zoneinfo import ZoneInfo

from ropilot.core.calendar import PersonalCalendar, count_working_days
from ropilot.core.periods import Period, buckets
from ropilot.core.plans.cascade import allocate
from ropilot.core.plans.models import PlanDocument, PlanLine, period_of, unit_of
from ropilot.core.plans.seasonal import PRODUCTION, day_targets


@dataclass(frozen=True)
class DayPlan:
    """A period's plan of one scope and metric: the total, its days and the lines used."""

    value: Decimal
    days: dict[date, Decimal]
    lines: tuple[PlanLine, ...]


def _inside(inner: Period, outer: Period) -> bool:
    return outer.first_day <= inner.first_day and inner.end_day <= outer.end_day


def _overlap(a: Period, b: Period) -> bool:
    return a.first_day < b.end_day and b.first_day < a.end_day


def _length(p: Period) -> int:
    return (p.end_day - p.first_day).days


def _children(
    parent: Period, lines: list[tuple[PlanLine, Period]]
) -> list[tuple[PlanLine, Period]]:
    inside = [(ln, p) for ln, p in lines if _inside(p, parent) and _length(p) < _length(parent)]
    return _largest_apart(inside)


def _spread(
    value: Decimal, period: Period, covered: set[date], calendar: PersonalCalendar, unit: Decimal
) -> dict[date, Decimal] | None:
    """``value`` over the uncovered working days of ``period``; None when there is none."""
    parts = []
    for m in buckets(period, "month"):
        free = [d for d in calendar.working_days(m.first_day, m.end_day) if d not in covered]
        production = sum(
            1 for d in PRODUCTION.working_days(m.first_day, m.end_day) if d not in covered
        )
        if free:
            parts.append((m.label, production or len(free), free))
    if not parts:
        return None if value else {}
    out: dict[date, Decimal] = {}
    months = allocate(value, {label: w for label, w, _ in parts}, unit)
    for label, _, free in parts:
        out.update(allocate(months[label], dict.fromkeys(free, 1), unit))
    return out


def _resolve(
    line: PlanLine,
    period: Period,
    lines: list[tuple[PlanLine, Period]],
    calendar: PersonalCalendar,
    used: list[PlanLine],
) -> dict[date, Decimal]:
    unit = unit_of(line.metric)
    subs = _children(period, lines)
    if subs:
        days: dict[date, Decimal] = {}
        sub_used: list[PlanLine] = []
        for sub, p in subs:
            days.update(_resolve(sub, p, lines, calendar, sub_used))
        rest = line.value - sum((sub.value for sub, _ in subs), Decimal(0))
        covered: set[date] = set()
        for _, p in subs:
            covered.update(calendar_days(p))
        if rest >= 0:
            spread = _spread(rest, period, covered, calendar, unit)
            if spread is not None:
                days.update(spread)
                used.append(line)
                used.extend(sub_used)
                return days
    used.append(line)
    return day_targets(line.value, period, unit, calendar=calendar)


def calendar_days(period: Period) -> list[date]:
    """Every calendar day of the period."""
    return [
        date.fromordinal(n) for n in range(period.first_day.toordinal(), period.end_day.toordinal())
    ]


def plan_for(
    document: PlanDocument,
    scope: str,
    metric: str,
    period: Period,
    *,
    calendar: PersonalCalendar = PRODUCTION,
) -> DayPlan | None:
    """The plan of ``scope`` for ``metric`` over ``period``, by working day; None when the plan
    has no line inside or around the period.
    """
    zone: ZoneInfo = period.zone
    lines = [(ln, period_of(ln.period, zone)) for ln in document.select(scope, metric)]
    inside = [(ln, p) for ln, p in lines if _inside(p, period)]
    used: list[PlanLine] = []
    days: dict[date, Decimal] = {}
    if inside:
        exact = next((ln for ln, p in inside if _length(p) == _length(period)), None)
        if exact is not None:
            days = _resolve(exact, period, lines, calendar, used)
        else:
            # Lines inside the period but none for all of it: the largest non-overlapping ones.
            for ln, p in _largest_apart(inside):
                days.update(_resolve(ln, p, lines, calendar, used))
    else:
        around = [(ln, p) for ln, p in lines if _inside(period, p)]
        if not around:
            return None
        ln, p = min(around, key=lambda x: _length(x[1]))
        all_days = _resolve(ln, p, lines, calendar, used)
        days = {d: v for d, v in all_days.items() if period.first_day <= d < period.end_day}
    unit = unit_of(metric)
    total = sum(days.values(), Decimal(0) * unit)
    return DayPlan(total, dict(sorted(days.items())), tuple(used))


def _largest_apart(inside: list[tuple[PlanLine, Period]]) -> list[tuple[PlanLine, Period]]:
    """The largest lines first, each kept unless it overlaps one already kept."""
    inside = sorted(inside, key=lambda x: (-_length(x[1]), x[1].first_day))
    taken: list[tuple[PlanLine, Period]] = []
    for ln, p in inside:
        if not any(_overlap(p, q) for _, q in taken):
            taken.append((ln, p))
    return taken


def working_days_in(period: Period, calendar: PersonalCalendar = PRODUCTION) -> int:
    """Working days of the calendar in the period."""
    if calendar == PRODUCTION:
        return count_working_days(period.first_day, period.end_day)
    return len(calendar.working_days(period.first_day, period.end_day))
