"""The Russian production calendar: working days, days off, shortened pre-holiday days.

Built on ``holidays.RU`` (every public holiday, decree transfer and working weekend; checked
against the official calendars for 2024–2026 in shared/reference/libraries.md). The library
does not know shortened days, so they follow the Labour Code rule: a working day is one hour
shorter when the next day is an art. 112 holiday date; a working weekend day is shortened when
the weekday it was swapped with comes right before such a holiday.

Days are calendar days in whatever zone the caller works in; ranges are half-open
``[first, end)`` like every period in ropilot.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import date, timedelta
from functools import lru_cache

import holidays

# Labour Code art. 112: the holiday dates themselves (month, day).
ART_112 = frozenset(
    [(1, d) for d in range(1, 9)] + [(2, 23), (3, 8), (5, 1), (5, 9), (6, 12), (11, 4)]
)
CONFIRMED_YEARS = range(2024, 2028)
"""Years whose decree (transfers, working weekends) ``holidays`` is known to carry."""


@lru_cache(maxsize=64)
def _ru(year: int) -> holidays.HolidayBase:
    # Loading neighbours too: transfers can cross a year boundary.
    ru: holidays.HolidayBase = holidays.country_holidays(
        "RU", years=[year - 1, year, year + 1], language="en_US"
    )
    return ru


def _swapped_with(working_weekend: date) -> list[date]:
    mark = f"substituted from {working_weekend:%m/%d/%Y}"
    return [d for d, name in _ru(working_weekend.year).items() if mark in name]


@lru_cache(maxsize=8192)
def is_working_day(day: date) -> bool:
    """A working day of the Russian production calendar (working weekends included)."""
    return bool(_ru(day.year).is_working_day(day))


def is_shortened(day: date) -> bool:
    """A working day one hour shorter because a holiday follows (Labour Code art. 95)."""
    if not is_working_day(day):
        return False
    nxt = day + timedelta(days=1)
    if (nxt.month, nxt.day) in ART_112:
        return True
    if day.weekday() >= 5:
        # A working weekend: shortened when the weekday it was swapped with precedes a holiday.
        # ``holidays`` names that day off "Day off (substituted from MM/DD/YYYY)".
        for swapped in _swapped_with(day):
            after = swapped + timedelta(days=1)
            if (after.month, after.day) in ART_112:
                return True
    return False


def working_hours(day: date, norm: int = 8) -> int:
    """Norm hours of a day: ``norm`` on working days, one less when shortened, 0 on days off."""
    if not is_working_day(day):
        return 0
    return norm - 1 if is_shortened(day) else norm


def is_confirmed(year: int) -> bool:
    """Whether the year's transfer decree is known (otherwise only the base holidays are)."""
    return year in CONFIRMED_YEARS


def days(first: date, end: date) -> Iterator[date]:
    """Calendar days of ``[first, end)``."""
    d = first
    while d < end:
        yield d
        d += timedelta(days=1)


def working_days(first: date, end: date) -> list[date]:
    """Working days of ``[first, end)``."""
    return list(_working_days(first, end))


@lru_cache(maxsize=1024)
def _working_days(first: date, end: date) -> tuple[date, ...]:
    return tuple(d for d in days(first, end) if is_working_day(d))


def count_working_days(first: date, end: date) -> int:
    """Number of working days in ``[first, end)``."""
    return len(working_days(first, end))


@dataclass(frozen=True)
class PersonalCalendar:
    """The production calendar minus one person's absences (both ends included)."""

    absences: tuple[tuple[date, date], ...] = field(default_factory=tuple)

    @classmethod
    def of(cls, absences: Iterable[tuple[date, date]]) -> PersonalCalendar:
        return cls(tuple(sorted(absences)))

    def is_absent(self, day: date) -> bool:
        return any(start <= day <= stop for start, stop in self.absences)

    def is_working_day(self, day: date) -> bool:
        return is_working_day(day) and not self.is_absent(day)

    def working_days(self, first: date, end: date) -> list[date]:
        if not self.absences:
            return working_days(first, end)
        return [d for d in working_days(first, end) if not self.is_absent(d)]
