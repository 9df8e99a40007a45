"""Business time on one person's schedule: working hours, production calendar, absences.

Stage clocks, re-route SLAs and escalation count *business* time: the hours a manager is meant
to work, in their own time zone. A :class:`Schedule` turns each local calendar day into working
spans (UTC epoch microseconds) once and caches them, and keeps per-year prefix sums of whole
days, so a clock over months costs a few dictionary look-ups, not a walk over seconds.

Day rules, in the schedule's zone:

* an absence day (vacation, sick leave; both ends included) has no working time;
* a day off of the Russian production calendar on a weekday, or a public holiday on any day,
  has none, even when the weekly schedule has hours on that weekday;
* a working weekend day (e.g. Saturday 1 Nov 2025) takes the schedule of the weekday it was
  swapped with (Monday 3 Nov 2025); when that cannot be found, Monday's;
* any other Saturday or Sunday follows the weekly schedule (empty by default), so a schedule
  with weekend hours works on ordinary weekends;
* a shortened pre-holiday day ends one hour earlier: the last 60 working minutes are cut from
  the end of the day (09:00–13:00, 14:00–18:00 → 09:00–13:00, 14:00–17:00).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from functools import lru_cache
from typing import Any
from zoneinfo import ZoneInfo

import holidays

from ropilot.core import calendar
from ropilot.core.errors import ConfigurationError
from ropilot.core.regulations import Regulations
from ropilot.core.timeutil import from_epoch_us, to_epoch_us

US = 1_000_000
MAX_SEARCH_DAYS = 3660
"""How far :func:`add_business_time` and :func:`next_shift_start` look before giving up."""

Minutes = tuple[tuple[int, int], ...]
"""Working intervals of one day as minutes since local midnight, ordered, not overlapping."""
Spans = tuple[tuple[int, int], ...]
"""Working spans of one day as ``[start, end)`` UTC epoch microseconds."""


@lru_cache(maxsize=64)
def _ru(year: int) -> holidays.HolidayBase:
    ru: holidays.HolidayBase = holidays.country_holidays(
        "RU", years=[year - 1, year, year + 1], language="en_US"
    )
    return ru


@lru_cache(maxsize=4096)
def _template_weekday(day: date) -> int | None:
    """Which weekday's hours a day takes; None for a day off."""
    if calendar.is_working_day(day):
        if day.weekday() < 5:
            return day.weekday()
        mark = f"substituted from {day:%m/%d/%Y}"
        for other, name in _ru(day.year).items():
            if mark in name and other.weekday() < 5:
                return other.weekday()
        return 0
    if day.weekday() >= 5 and day not in _ru(day.year):
        return day.weekday()  # an ordinary weekend: the person's own weekend hours, if any
    return None


def _shorten(intervals: Minutes, minutes: int = 60) -> Minutes:
    out: list[tuple[int, int]] = []
    cut = minutes
    for start, end in reversed(intervals):
        if cut >= end - start:
            cut -= end - start
            continue
        out.append((start, end - cut))
        cut = 0
    return tuple(reversed(out))


def _template_minutes(weekly: tuple[Minutes, ...], day: date) -> Minutes:
    weekday = _template_weekday(day)
    if weekday is None:
        return ()
    intervals = weekly[weekday]
    if intervals and calendar.is_shortened(day):
        intervals = _shorten(intervals)
    return intervals


@lru_cache(maxsize=131072)
def _template_spans(zone: ZoneInfo, weekly: tuple[Minutes, ...], day: date) -> Spans:
    """A day's spans for a (zone, weekly hours) template, absences aside; shared by everyone
    on the same hours, so 500 managers on one template cost one computation per day.
    """
    intervals = _template_minutes(weekly, day)
    if not intervals:
        return ()
    midnight = datetime(day.year, day.month, day.day, tzinfo=zone)
    return tuple(
        (
            to_epoch_us(midnight + timedelta(minutes=start)),
            to_epoch_us(midnight + timedelta(minutes=end)),
        )
        for start, end in intervals
    )


@lru_cache(maxsize=1024)
def _template_prefix(zone: ZoneInfo, weekly: tuple[Minutes, ...], year: int) -> tuple[int, ...]:
    """prefix[i] = working µs of the year's days before day-of-year index i (no absences)."""
    prefix = [0]
    day = date(year, 1, 1)
    while day.year == year:
        spans = _template_spans(zone, weekly, day)
        prefix.append(prefix[-1] + sum(end - start for start, end in spans))
        day += timedelta(days=1)
    return tuple(prefix)


@dataclass(frozen=True)
class Schedule:
    """One person's working time: a weekly template in a zone, the calendar, absences.

    Build it with :meth:`of`, :func:`schedule_for_manager` or :func:`schedule_for_regulations`.
    ``weekly[i]`` holds weekday ``i``'s intervals (0 = Monday) in minutes since local midnight.
    Days are computed once per (zone, weekly hours) template and shared between schedules;
    absences are subtracted on top.
    """

    zone: ZoneInfo
    weekly: tuple[Minutes, ...]
    absences: tuple[tuple[date, date], ...] = ()
    _days: dict[date, Spans] = field(default_factory=dict, compare=False, hash=False, repr=False)

    @classmethod
    def of(
        cls,
        zone: ZoneInfo | str,
        weekly: Sequence[Iterable[tuple[int, int]]],
        absences: Iterable[tuple[date, date]] = (),
    ) -> Schedule:
        """A schedule from seven weekday interval lists (minutes), Monday first."""
        if len(weekly) != 7:
            raise ConfigurationError("a weekly schedule has seven weekdays, Monday first")
        tz = zone if isinstance(zone, ZoneInfo) else ZoneInfo(zone)
        days = tuple(tuple(sorted(set(d))) for d in weekly)
        merged: list[tuple[date, date]] = []
        for first, last in sorted(absences):
            if merged and first <= merged[-1][1] + timedelta(days=1):
                merged[-1] = (merged[-1][0], max(merged[-1][1], last))
            else:
                merged.append((first, last))
        return cls(tz, days, tuple(merged))

    # -- days ---------------------------------------------------------------------------------

    def is_absent(self, day: date) -> bool:
        """Whether the person is away the whole day."""
        return any(first <= day <= last for first, last in self.absences)

    def minutes_on(self, day: date) -> Minutes:
        """The day's working intervals in local minutes (calendar, swap, shortening, absence)."""
        if self.is_absent(day):
            return ()
        return _template_minutes(self.weekly, day)

    def spans_on(self, day: date) -> Spans:
        """The local day's working spans as UTC epoch microseconds (cached)."""
        spans = self._days.get(day)
        if spans is None:
            spans = () if self.is_absent(day) else _template_spans(self.zone, self.weekly, day)
            self._days[day] = spans
        return spans

    def day_total_us(self, day: date) -> int:
        """Working microseconds of a local day."""
        return sum(end - start for start, end in self.spans_on(day))

    def days_total_us(self, first: date, end: date) -> int:
        """Working microseconds of the whole local days ``[first, end)``."""
        if end <= first:
            return 0
        total = 0
        day = first
        while day < end:
            stop = min(end, date(day.year + 1, 1, 1))
            prefix = _template_prefix(self.zone, self.weekly, day.year)
            jan1 = date(day.year, 1, 1)
            total += prefix[(stop - jan1).days] - prefix[(day - jan1).days]
            day = stop
        for away_first, away_last in self.absences:
            day = max(first, away_first)
            stop = min(end, away_last + timedelta(days=1))
            while day < stop:
                spans = _template_spans(self.zone, self.weekly, day)
                total -= sum(e - s for s, e in spans)
                day += timedelta(days=1)
        return total

    def local_day(self, moment_us: int) -> date:
        """The local calendar day of a UTC epoch-µs moment."""
        return from_epoch_us(moment_us).astimezone(self.zone).date()


# -- building schedules ---------------------------------------------------------------------------


def _weekly_from_regulations(regulations: Regulations) -> tuple[Minutes, ...]:
    hours = regulations.working_hours
    return tuple(tuple(hours.for_weekday(i)) for i in range(7))


def _minutes_of(value: Any) -> int:
    t = value if isinstance(value, time) else time.fromisoformat(str(value))
    return t.hour * 60 + t.minute


def _field(item: Any, name: str) -> Any:
    return item.get(name) if isinstance(item, Mapping) else getattr(item, name, None)


def _weekly_from_manager(intervals: Iterable[Any]) -> tuple[Minutes, ...]:
    days: list[list[tuple[int, int]]] = [[] for _ in range(7)]
    for item in intervals:
        start, end = _minutes_of(_field(item, "start")), _minutes_of(_field(item, "end"))
        days[int(_field(item, "weekday"))].append((start, end if end or not start else 1440))
    return tuple(tuple(sorted(d)) for d in days)


def _absences_of(items: Iterable[Any] | None) -> list[tuple[date, date]]:
    out = []
    for item in items or []:
        first, last = _field(item, "start"), _field(item, "end")
        out.append(
            (
                first if isinstance(first, date) else date.fromisoformat(str(first)),
                last if isinstance(last, date) else date.fromisoformat(str(last)),
            )
        )
    return out


def schedule_for_regulations(
    regulations: Regulations, account_timezone: str, absences: Iterable[tuple[date, date]] = ()
) -> Schedule:
    """The regulations' default working hours in their zone (else the account's)."""
    return Schedule.of(
        regulations.zone(account_timezone), _weekly_from_regulations(regulations), absences
    )


def schedule_for_manager(
    manager: Mapping[str, Any] | Any, regulations: Regulations, account_timezone: str
) -> Schedule:
    """A manager's schedule from a ``managers`` store row or a ``Manager`` model.

    The manager's own ``working_schedule`` when it has intervals, else the regulations'
    ``[working_hours]``; in the manager's own ``timezone`` when set, else the regulations' zone,
    else the account's (a manager in Yekaterinburg works 09:00–18:00 Yekaterinburg time). Their
    ``absences`` are whole days off.
    """
    own = _field(manager, "working_schedule")
    weekly = _weekly_from_manager(own) if own else _weekly_from_regulations(regulations)
    zone = _field(manager, "timezone") or regulations.timezone or account_timezone
    return Schedule.of(zone, weekly, _absences_of(_field(manager, "absences")))


# -- business time ---------------------------------------------------------------------------------


def _us(moment: datetime) -> int:
    if moment.tzinfo is None or moment.utcoffset() is None:
        raise ValueError("business time needs aware datetimes (ropilot keeps aware UTC inside)")
    return to_epoch_us(moment)


def _overlap(spans: Spans, lo: int, hi: int) -> int:
    total = 0
    for start, end in spans:
        a, b = max(start, lo), min(end, hi)
        if b > a:
            total += b - a
    return total


def business_us(schedule: Schedule, start_us: int, end_us: int) -> int:
    """Working microseconds in ``[start, end)`` (UTC epoch µs); 0 when end ≤ start."""
    if end_us <= start_us:
        return 0
    first = schedule.local_day(start_us)
    last = schedule.local_day(end_us)
    if first == last:
        return _overlap(schedule.spans_on(first), start_us, end_us)
    return (
        _overlap(schedule.spans_on(first), start_us, end_us)
        + schedule.days_total_us(first + timedelta(days=1), last)
        + _overlap(schedule.spans_on(last), start_us, end_us)
    )


def business_seconds(schedule: Schedule, start: datetime, end: datetime) -> int:
    """Whole working seconds in ``[start, end)``; 0 when ``end`` is not after ``start``."""
    return business_us(schedule, _us(start), _us(end)) // US


def add_business_time(schedule: Schedule, start: datetime, seconds: float) -> datetime:
    """The earliest moment by which ``seconds`` of working time have passed since ``start``.

    The inverse of :func:`business_seconds`: ``business_seconds(s, t, add_business_time(s, t,
    n)) == n``. Zero seconds gives ``start`` itself; a deadline that lands exactly on the end
    of a shift is that end, not the next shift's start. The result is in UTC.

    Raises:
        ConfigurationError: when the schedule has no working time for ten years ahead.
    """
    if seconds < 0:
        raise ValueError("add_business_time takes a non-negative duration")
    left = round(seconds * US)
    at = _us(start)
    if left == 0:
        return from_epoch_us(at)
    day = schedule.local_day(at)
    for _ in range(MAX_SEARCH_DAYS):
        spans = schedule.spans_on(day)
        if at <= (spans[0][0] if spans else at) or not spans:
            # The whole day lies ahead: skip it in one step when it is not enough.
            total = sum(end - begin for begin, end in spans)
            if total < left:
                left -= total
                day += timedelta(days=1)
                continue
        for begin, end in spans:
            lo = max(begin, at)
            if end <= lo:
                continue
            if end - lo >= left:
                return from_epoch_us(lo + left)
            left -= end - lo
        day += timedelta(days=1)
    raise ConfigurationError(
        "the working schedule has no working time in the next ten years: check working_hours "
        "and the absences"
    )


def is_on_shift(schedule: Schedule, moment: datetime) -> bool:
    """Whether ``moment`` falls inside a working span (start included, end excluded)."""
    at = _us(moment)
    return any(start <= at < end for start, end in schedule.spans_on(schedule.local_day(at)))


def next_shift_start(schedule: Schedule, moment: datetime) -> datetime:
    """The earliest moment at or after ``moment`` when the person is on shift (UTC).

    ``moment`` itself when already on shift; otherwise the start of the next working span.

    Raises:
        ConfigurationError: when there is none within ten years.
    """
    at = _us(moment)
    day = schedule.local_day(at)
    for _ in range(MAX_SEARCH_DAYS):
        for start, end in schedule.spans_on(day):
            if start <= at < end:
                return from_epoch_us(at)
            if start >= at:
                return from_epoch_us(start)
        day += timedelta(days=1)
    raise ConfigurationError(
        "the working schedule has no working time in the next ten years: check working_hours "
        "and the absences"
    )


__all__ = [
    "Schedule",
    "add_business_time",
    "business_seconds",
    "business_us",
    "is_on_shift",
    "next_shift_start",
    "schedule_for_manager",
    "schedule_for_regulations",
]
