"""The production calendar against the official Russian calendars (libraries.md lists them)."""

from __future__ import annotations

import itertools
from datetime import date

import pytest

from ropilot.core import calendar as cal

SHORTENED = {
    2024: ["02-22", "03-07", "05-08", "06-11", "11-02"],
    2025: ["03-07", "04-30", "06-11", "11-01"],
    2026: ["04-30", "05-08", "06-11", "11-03"],
}


@pytest.mark.parametrize("year", sorted(SHORTENED))
def test_shortened_days_match_the_official_lists(year: int) -> None:
    got = [
        d.strftime("%m-%d")
        for d in cal.days(date(year, 1, 1), date(year + 1, 1, 1))
        if cal.is_shortened(d)
    ]
    assert got == SHORTENED[year]


@pytest.mark.parametrize(("year", "count"), [(2024, 248), (2025, 247), (2026, 247)])
def test_working_days_per_year(year: int, count: int) -> None:
    assert cal.count_working_days(date(year, 1, 1), date(year + 1, 1, 1)) == count


def test_working_days_per_month_2026() -> None:
    months = [date(2026, m, 1) for m in range(1, 13)] + [date(2027, 1, 1)]
    counts = [cal.count_working_days(a, b) for a, b in itertools.pairwise(months)]
    assert counts == [15, 19, 21, 22, 19, 21, 23, 21, 22, 22, 20, 22]


def test_a_working_saturday_and_a_transferred_monday() -> None:
    assert cal.is_working_day(date(2025, 11, 1))  # Saturday worked
    assert not cal.is_working_day(date(2025, 11, 3))  # Monday off in exchange
    assert cal.working_hours(date(2025, 11, 1)) == 7
    assert cal.working_hours(date(2025, 11, 3)) == 0
    assert cal.working_hours(date(2025, 11, 5)) == 8


def test_absences_remove_days_both_ends_included() -> None:
    person = cal.PersonalCalendar.of([(date(2026, 3, 10), date(2026, 3, 12))])
    march = person.working_days(date(2026, 3, 1), date(2026, 4, 1))
    assert len(march) == 21 - 3
    assert date(2026, 3, 13) in march and date(2026, 3, 12) not in march


def test_unconfirmed_years_are_marked() -> None:
    assert cal.is_confirmed(2026) and not cal.is_confirmed(2028)
