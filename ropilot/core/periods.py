"""Reporting periods: half-open ``[start, end)`` intervals in the account's time zone.

Accepted forms: ``2026`` (year), ``2026-Q1`` (quarter), ``2026-03`` (month), ``2026-W10`` (ISO
week), ``2026-03-05`` (day), ``2026-03-01..2026-03-31`` (days, both included), and the words
``today``, ``yesterday``, ``this-week``, ``last-week``, ``this-month``, ``last-month``,
``this-quarter``, ``last-quarter``, ``this-year``, ``last-year``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from ropilot.core.errors import ConfigurationError
from ropilot.core.timeutil import to_epoch_us

GRAINS = ("day", "week", "month", "quarter", "year")


@dataclass(frozen=True)
class Period:
    """``[start, end)`` between two local midnights of ``zone``."""

    first_day: date
    end_day: date
    """The day after the last day (exclusive)."""
    zone: ZoneInfo
    label: str

    @property
    def start(self) -> datetime:
        """Local midnight starting the period (aware)."""
        return datetime.combine(self.first_day, time(), self.zone)

    @property
    def end(self) -> datetime:
        """Local midnight after the period (aware, exclusive)."""
        return datetime.combine(self.end_day, time(), self.zone)

    @property
    def start_us(self) -> int:
        """The start as the store's UTC microseconds."""
        return to_epoch_us(self.start)

    @property
    def end_us(self) -> int:
        """The exclusive end as the store's UTC microseconds."""
        return to_epoch_us(self.end)


def _month_start(year: int, month: int) -> date:
    year += (month - 1) // 12
    month = (month - 1) % 12 + 1
    return date(year, month, 1)


def month(year: int, m: int, zone: ZoneInfo) -> Period:
    """A calendar month (``m`` may run past 1–12: month 0 is December of the year before)."""
    first = _month_start(year, m)
    return Period(first, _month_start(year, m + 1), zone, f"{first.year}-{first.month:02d}")


def quarter(year: int, q: int, zone: ZoneInfo) -> Period:
    """A calendar quarter (1–4)."""
    first = 3 * (q - 1) + 1
    return Period(_month_start(year, first), _month_start(year, first + 3), zone, f"{year}-Q{q}")


def year_period(year: int, zone: ZoneInfo) -> Period:
    """A calendar year."""
    return Period(date(year, 1, 1), date(year + 1, 1, 1), zone, str(year))


def iso_week(year: int, week: int, zone: ZoneInfo) -> Period:
    """An ISO week (Monday to Sunday)."""
    monday = date.fromisocalendar(year, week, 1)
    return Period(monday, monday + timedelta(days=7), zone, f"{year}-W{week:02d}")


def day(d: date, zone: ZoneInfo) -> Period:
    """One calendar day."""
    return Period(d, d + timedelta(days=1), zone, d.isoformat())


def _relative(word: str, today: date, zone: ZoneInfo) -> Period | None:
    q = (today.month - 1) // 3 + 1
    monday = today - timedelta(days=today.weekday())
    table = {
        "today": lambda: day(today, zone),
        "yesterday": lambda: day(today - timedelta(days=1), zone),
        "this-week": lambda: iso_week(*monday.isocalendar()[:2], zone),
        "last-week": lambda: iso_week(*(monday - timedelta(days=7)).isocalendar()[:2], zone),
        "this-month": lambda: month(today.year, today.month, zone),
        "last-month": lambda: month(today.year, today.month - 1, zone),
        "this-quarter": lambda: quarter(today.year, q, zone),
        "last-quarter": lambda: quarter(today.year - (q == 1), 4 if q == 1 else q - 1, zone),
        "this-year": lambda: year_period(today.year, zone),
        "last-year": lambda: year_period(today.year - 1, zone),
    }
    make = table.get(word)
    return None if make is None else make()


def parse_period(text: str, zone: ZoneInfo, *, today: date) -> Period:
    """A period from its written form (see the module docstring).

    Raises:
        ConfigurationError: for text that is not a period, naming the accepted forms.
    """
    s = text.strip()
    try:
        if m := re.fullmatch(r"(\d{4})", s):
            return year_period(int(m[1]), zone)
        if m := re.fullmatch(r"(\d{4})-[Qq]([1-4])", s):
            return quarter(int(m[1]), int(m[2]), zone)
        if m := re.fullmatch(r"(\d{4})-(\d{2})", s):
            if not 1 <= int(m[2]) <= 12:
                raise ValueError("month")
            return month(int(m[1]), int(m[2]), zone)
        if m := re.fullmatch(r"(\d{4})-[Ww](\d{2})", s):
            return iso_week(int(m[1]), int(m[2]), zone)
        if m := re.fullmatch(r"(\d{4}-\d{2}-\d{2})\.\.(\d{4}-\d{2}-\d{2})", s):
            first, last = date.fromisoformat(m[1]), date.fromisoformat(m[2])
            if last < first:
                raise ValueError("range")
            return Period(first, last + timedelta(days=1), zone, s)
        if re.fullmatch(r"\d{4}-\d{2}-\d{2}", s):
            return day(date.fromisoformat(s), zone)
    except ValueError:
        pass
    else:
        found = _relative(s.lower(), today, zone)
        if found is not None:
            return found
    raise ConfigurationError(
        f"{text!r} is not a period: use 2026, 2026-Q1, 2026-03, 2026-W10, 2026-03-05, "
        "2026-03-01..2026-03-31, today, this-month, last-month, this-quarter, this-year …"
    )


def months_before(period: Period, n: int) -> Period:
    """The ``n`` complete calendar months right before ``period`` starts (a lookback window)."""
    first = period.first_day
    start = month(first.year, first.month - n, period.zone)
    last = month(first.year, first.month - 1, period.zone)
    return Period(start.first_day, last.end_day, period.zone, f"{start.label}..{last.label}")


def buckets(period: Period, grain: str) -> list[Period]:
    """Split a period into consecutive days, ISO weeks, months, quarters or years.

    Buckets are cut to the period, so the first and last may be partial.

    Raises:
        ConfigurationError: for an unknown grain.
    """
    if grain not in GRAINS:
        raise ConfigurationError(f"grain {grain!r}: use one of {', '.join(GRAINS)}")
    out: list[Period] = []
    cursor = period.first_day
    while cursor < period.end_day:
        if grain == "day":
            whole = day(cursor, period.zone)
        elif grain == "week":
            whole = iso_week(*cursor.isocalendar()[:2], period.zone)
        elif grain == "month":
            whole = month(cursor.year, cursor.month, period.zone)
        elif grain == "quarter":
            whole = quarter(cursor.year, (cursor.month - 1) // 3 + 1, period.zone)
        else:
            whole = year_period(cursor.year, period.zone)
        first = max(whole.first_day, period.first_day)
        end = min(whole.end_day, period.end_day)
        out.append(Period(first, end, period.zone, whole.label))
        cursor = end
    return out
