"""Business time on a person's schedule, worked by hand.

Default schedule: 09:00–13:00 and 14:00–18:00 Monday to Friday (8 h a day), Moscow (UTC+3).

* Weekend: Fri 24 Oct 2025 17:00 → Mon 27 Oct 10:00 = 1 h (Fri 17–18) + 1 h (Mon 9–10) = 7,200 s.
* Lunch: Wed 22 Oct 2025 12:30 → 14:30 = 30 min + 30 min = 3,600 s.
* Holiday week 2025: Sat 1 Nov is a working Saturday swapped with Mon 3 Nov, and shortened (Tue 4
  Nov is a holiday): it takes Monday's hours cut by one hour, 09–13 and 14–17 = 7 h. Fri 31 Oct
  09:00 → Wed 5 Nov 09:00 = 8 h (Fri) + 7 h (Sat) + 0 (Sun, Mon 3 off, Tue 4 holiday) = 15 h =
  54,000 s.
* Shortened day 2026: Tue 3 Nov 2026 precedes the 4 Nov holiday; with a 09:00–18:00 schedule
  (no lunch, 9 h) it ends at 17:00: Tue 09:00 → Thu 5 Nov 09:00 = 8 h + 0 = 28,800 s.
* Whole year 2026: 247 working days × 8 h − 4 shortened days × 1 h (30 Apr, 8 May, 11 Jun, 3 Nov)
  = 1,972 h — the official 40-hour-week norm for 2026.
* Own time zone: a manager in Asia/Yekaterinburg (UTC+5) on 09:00–18:00 works 04:00–13:00 UTC;
  the account's zone is Moscow. Window Wed 22 Oct 2025 03:00 → 14:00 UTC: 9 h = 32,400 s (a
  Moscow manager on the same hours, 06:00–15:00 UTC: 8 h = 28,800 s). At 13:30 UTC (16:30 in
  Moscow) the Yekaterinburg manager is off shift (18:30 local), the Moscow one on shift.
* Absence Thu 23 – Fri 24 Oct 2025: Wed 22 Oct 09:00 → Mon 27 Oct 18:00 = 8 + 0 + 0 + 8 = 16 h
  = 57,600 s (32 h without it).
* add_business_time: Fri 24 Oct 2025 17:00 + 2 h → Mon 27 Oct 10:00 Moscow; Wed 22 Oct 12:00 +
  1 h → 13:00 (the end of the morning shift, not 14:00).
* next_shift_start: Fri 31 Oct 2025 18:00 → Sat 1 Nov 09:00 (working Saturday); Sat 1 Nov 17:30
  → Wed 5 Nov 09:00; a moment on shift is returned as it is.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ropilot.core.business_hours import (
    Schedule,
    add_business_time,
    business_seconds,
    is_on_shift,
    next_shift_start,
    schedule_for_manager,
    schedule_for_regulations,
)
from ropilot.core.errors import ConfigurationError
from ropilot.core.models import Absence, Manager, WorkingInterval
from ropilot.core.regulations import default_regulations, parse_regulations

MSK = ZoneInfo("Europe/Moscow")
YEKT = ZoneInfo("Asia/Yekaterinburg")
H = 3600


def msk(y: int, mo: int, d: int, h: int = 0, mi: int = 0) -> datetime:
    return datetime(y, mo, d, h, mi, tzinfo=MSK)


def utc(y: int, mo: int, d: int, h: int = 0, mi: int = 0) -> datetime:
    return datetime(y, mo, d, h, mi, tzinfo=UTC)


DEFAULT = schedule_for_regulations(default_regulations(), "Europe/Moscow")
NINE_TO_SIX = Schedule.of("Europe/Moscow", [[(540, 1080)]] * 5 + [[], []])


def test_weekend() -> None:
    assert business_seconds(DEFAULT, msk(2025, 10, 24, 17), msk(2025, 10, 27, 10)) == 7200


def test_lunch() -> None:
    assert business_seconds(DEFAULT, msk(2025, 10, 22, 12, 30), msk(2025, 10, 22, 14, 30)) == 3600


def test_holiday_and_working_saturday_2025() -> None:
    assert DEFAULT.minutes_on(date(2025, 11, 1)) == ((540, 780), (840, 1020))
    assert DEFAULT.minutes_on(date(2025, 11, 3)) == ()
    assert DEFAULT.minutes_on(date(2025, 11, 4)) == ()
    assert business_seconds(DEFAULT, msk(2025, 10, 31, 9), msk(2025, 11, 5, 9)) == 54_000


def test_shortened_day_2026() -> None:
    assert NINE_TO_SIX.minutes_on(date(2026, 11, 3)) == ((540, 1020),)
    assert business_seconds(NINE_TO_SIX, msk(2026, 11, 3, 9), msk(2026, 11, 5, 9)) == 28_800
    assert not is_on_shift(NINE_TO_SIX, msk(2026, 11, 3, 17, 30))
    assert is_on_shift(NINE_TO_SIX, msk(2026, 11, 3, 16, 59))


def test_whole_year_2026_is_the_official_norm() -> None:
    assert business_seconds(DEFAULT, msk(2026, 1, 1), msk(2027, 1, 1)) == 1972 * H


def test_manager_in_own_time_zone() -> None:
    regs = default_regulations()
    hours = [WorkingInterval(weekday=d, start="09:00", end="18:00") for d in range(5)]
    ural = Manager(
        account_id="a", id="m1", name="Урал", timezone="Asia/Yekaterinburg", working_schedule=hours
    )
    moscow = Manager(account_id="a", id="m2", name="Москва", working_schedule=hours)
    s_ural = schedule_for_manager(ural, regs, "Europe/Moscow")
    s_moscow = schedule_for_manager(moscow, regs, "Europe/Moscow")
    assert s_ural.zone == YEKT and s_moscow.zone == MSK
    window = (utc(2025, 10, 22, 3), utc(2025, 10, 22, 14))
    assert business_seconds(s_ural, *window) == 32_400
    assert business_seconds(s_moscow, *window) == 28_800
    assert not is_on_shift(s_ural, utc(2025, 10, 22, 13, 30))
    assert is_on_shift(s_moscow, utc(2025, 10, 22, 13, 30))
    assert next_shift_start(s_ural, utc(2025, 10, 22, 13, 30)) == utc(2025, 10, 23, 4)


def test_manager_row_without_schedule_uses_the_regulations() -> None:
    regs = parse_regulations('timezone = "Europe/Samara"\n[working_hours]\nsat = ["10:00-12:00"]')
    row = {"working_schedule": None, "timezone": None, "absences": None}
    schedule = schedule_for_manager(row, regs, "Europe/Moscow")
    assert schedule.zone == ZoneInfo("Europe/Samara")
    assert schedule.minutes_on(date(2025, 10, 25)) == ((600, 720),)  # an ordinary Saturday
    assert schedule.minutes_on(date(2025, 10, 27)) == ((540, 780), (840, 1080))
    # Stored JSON shapes (as the store returns them).
    stored = {
        "working_schedule": [{"weekday": 0, "start": "10:00:00", "end": "19:00:00"}],
        "timezone": "Asia/Yekaterinburg",
        "absences": [{"start": "2025-10-27", "end": "2025-10-27", "reason": None}],
    }
    own = schedule_for_manager(stored, regs, "Europe/Moscow")
    assert own.minutes_on(date(2025, 10, 27)) == ()  # absent
    assert own.minutes_on(date(2025, 11, 10)) == ((600, 1140),)
    assert own.minutes_on(date(2025, 11, 11)) == ()  # no Tuesday hours of their own


def test_absence() -> None:
    manager = Manager(
        account_id="a",
        id="m1",
        name="Отпуск",
        working_schedule=[],
        absences=[Absence(start=date(2025, 10, 23), end=date(2025, 10, 24))],
    )
    schedule = schedule_for_manager(manager, default_regulations(), "Europe/Moscow")
    assert business_seconds(schedule, msk(2025, 10, 22, 9), msk(2025, 10, 27, 18)) == 57_600
    assert business_seconds(DEFAULT, msk(2025, 10, 22, 9), msk(2025, 10, 27, 18)) == 32 * H
    assert next_shift_start(schedule, msk(2025, 10, 22, 18)) == msk(2025, 10, 27, 9)
    # Overlapping and adjacent absence records count each day once: Thu–Fri again.
    twice = Schedule.of(
        MSK,
        DEFAULT.weekly,
        [(date(2025, 10, 23), date(2025, 10, 23)), (date(2025, 10, 23), date(2025, 10, 24))],
    )
    assert twice.absences == ((date(2025, 10, 23), date(2025, 10, 24)),)
    assert business_seconds(twice, msk(2025, 10, 22, 9), msk(2025, 10, 27, 18)) == 57_600


def test_add_business_time() -> None:
    assert add_business_time(DEFAULT, msk(2025, 10, 24, 17), 2 * H) == msk(2025, 10, 27, 10)
    assert add_business_time(DEFAULT, msk(2025, 10, 22, 12), H) == msk(2025, 10, 22, 13)
    assert add_business_time(DEFAULT, msk(2025, 10, 22, 12), 0) == msk(2025, 10, 22, 12)
    # From a night moment: the clock starts with the next shift.
    assert add_business_time(DEFAULT, msk(2025, 10, 22, 2), 30 * 60) == msk(2025, 10, 22, 9, 30)
    # 15 h from Fri 31 Oct 09:00 lands at the end of the shortened Saturday (17:00).
    assert add_business_time(DEFAULT, msk(2025, 10, 31, 9), 15 * H) == msk(2025, 11, 1, 17)
    assert add_business_time(DEFAULT, msk(2026, 1, 1), 1972 * H) == msk(2026, 12, 30, 18)


def test_next_shift_start() -> None:
    assert next_shift_start(DEFAULT, msk(2025, 10, 31, 18)) == msk(2025, 11, 1, 9)
    assert next_shift_start(DEFAULT, msk(2025, 11, 1, 17, 30)) == msk(2025, 11, 5, 9)
    assert next_shift_start(DEFAULT, msk(2025, 10, 22, 13, 15)) == msk(2025, 10, 22, 14)
    assert next_shift_start(DEFAULT, msk(2025, 10, 22, 10)) == msk(2025, 10, 22, 10)


def test_errors() -> None:
    never = Schedule.of("Europe/Moscow", [[]] * 7)
    with pytest.raises(ConfigurationError, match="no working time"):
        add_business_time(never, msk(2025, 1, 1), 60)
    with pytest.raises(ConfigurationError, match="no working time"):
        next_shift_start(never, msk(2025, 1, 1))
    with pytest.raises(ValueError, match="aware"):
        business_seconds(DEFAULT, datetime(2025, 1, 1), msk(2025, 1, 2))
    assert business_seconds(DEFAULT, msk(2025, 10, 23), msk(2025, 10, 22)) == 0


moments = st.datetimes(
    min_value=datetime(2024, 1, 1), max_value=datetime(2027, 6, 30), timezones=st.just(UTC)
)


@settings(max_examples=300, deadline=None)
@given(start=moments, seconds=st.integers(min_value=0, max_value=400 * H))
def test_add_is_the_inverse_of_business_seconds(start: datetime, seconds: int) -> None:
    for schedule in (DEFAULT, NINE_TO_SIX):
        end = add_business_time(schedule, start, seconds)
        assert end >= start
        assert business_seconds(schedule, start, end) == seconds
        if seconds > 0:
            # The earliest such moment: one second less falls short.
            assert business_seconds(schedule, start, end - timedelta(seconds=1)) == seconds - 1


@settings(max_examples=200, deadline=None)
@given(a=moments, b=moments, c=moments)
def test_business_seconds_is_additive(a: datetime, b: datetime, c: datetime) -> None:
    x, y, z = sorted(m.replace(microsecond=0) for m in (a, b, c))
    whole = business_seconds(DEFAULT, x, z)
    assert whole == business_seconds(DEFAULT, x, y) + business_seconds(DEFAULT, y, z)
