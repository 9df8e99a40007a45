"""Time model of the generated account: the Russian production calendar and cheap formatting.

Most moments are kept as *work seconds*: ``w = working_day_index * WORKDAY + s`` where the
working day index counts the working days of the production calendar from the first day of
the range and ``s`` is the second of the working window 09:00–19:00 (0 ≤ s < 36,000). The
mapping is strictly increasing, so sorting work seconds sorts moments, every moment falls on a
working day in working hours, and formatting is two list look-ups and one concatenation.
"""

from __future__ import annotations

from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import holidays

WORKDAY = 36_000
"""Seconds in the working window (09:00–19:00) of one working day."""

DAY_START_HOUR = 9
ZONE = "Europe/Moscow"
OFFSET = "+03:00"
_FIXED_SINCE = date(2014, 10, 27)  # Moscow has been UTC+3 all year round since this day


class Clock:
    """Calendar days, working days and timestamp formatting for one generated account.

    Args:
        first_day: first calendar day that may carry data (manager hiring, old companies).
        end: the account's "today": the last day data exists.
        horizon_days: calendar days after ``end`` still covered (future task due dates,
            expected close dates).

    Raises:
        ValueError: if the range starts before Moscow's offset became fixed at +03:00.
    """

    def __init__(self, first_day: date, end: date, horizon_days: int = 400) -> None:
        if first_day < _FIXED_SINCE:
            raise ValueError(f"generated data must start on or after {_FIXED_SINCE}")
        zone = ZoneInfo(ZONE)
        last_day = end + timedelta(days=horizon_days)
        self.first_day = first_day
        self.end = end
        self.base = first_day.toordinal()
        n_days = last_day.toordinal() - self.base + 1
        calendar = holidays.country_holidays("RU", years=range(first_day.year, last_day.year + 1))
        self.day_str: list[str] = []
        self.day_month: list[int] = []  # months since year 0, for seasonality and pools
        working_days: list[int] = []
        for i in range(n_days):
            day = first_day + timedelta(days=i)
            self.day_str.append(day.isoformat())
            self.day_month.append(day.year * 12 + day.month - 1)
            if calendar.is_working_day(day):
                working_days.append(i)
        noon = datetime.combine(last_day, time(12), zone).utcoffset()
        if noon != timedelta(hours=3):  # pragma: no cover - a future change of Moscow time
            raise ValueError("Europe/Moscow is no longer UTC+3 in the requested range")
        self.n_days = n_days
        self.working_days = working_days
        """Calendar day index of each working day."""
        self.wd_str = [self.day_str[d] for d in working_days]
        # next_wd[d]: index of the first working day on or after calendar day d.
        next_wd = [0] * (n_days + 1)
        j = len(working_days)
        for d in range(n_days, -1, -1):
            while j > 0 and working_days[j - 1] >= d:
                j -= 1
            next_wd[d] = j
        self.next_wd = next_wd
        self.tod = [
            f"T{DAY_START_HOUR + s // 3600:02d}:{s // 60 % 60:02d}:{s % 60:02d}{OFFSET}"
            for s in range(WORKDAY)
        ]
        """Time-of-day suffix (with offset) for each second of the working window."""
        self.end_index = self.day_index(end)
        self.w_end = next_wd[self.end_index + 1] * WORKDAY - 1
        """Last work second on or before the end of ``end``."""

    def day_index(self, day: date) -> int:
        """Calendar day index of ``day`` in this clock."""
        return day.toordinal() - self.base

    def fmt(self, w: int) -> str:
        """Format work seconds as ISO 8601 with the Moscow offset."""
        return self.wd_str[w // WORKDAY] + self.tod[w % WORKDAY]

    def fmt_day(self, day_index: int, second: int) -> str:
        """Format calendar day index plus a second of the 09:00–19:00 window (any weekday)."""
        return self.day_str[day_index] + self.tod[second]

    def first_w_of_day(self, day_index: int) -> int:
        """Work seconds of 09:00 on the first working day on or after a calendar day."""
        return self.next_wd[day_index] * WORKDAY

    def last_wd_on_or_before(self, day_index: int) -> int:
        """Index of the last working day on or before a calendar day (−1 if none)."""
        return self.next_wd[day_index + 1] - 1

    def is_working(self, day_index: int) -> bool:
        """Whether a calendar day is a working day of the production calendar."""
        j = self.next_wd[day_index]
        return j < len(self.working_days) and self.working_days[j] == day_index
