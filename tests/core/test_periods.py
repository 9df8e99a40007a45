from __future__ import annotations

from datetime import date
from zoneinfo import ZoneInfo

import pytest

from ropilot.core.errors import ConfigurationError
from ropilot.core.periods import Period, buckets, month, quarter

MSK = ZoneInfo("Europe/Moscow")


def test_month_buckets_of_a_quarter() -> None:
    labels = [(b.label, b.first_day, b.end_day) for b in buckets(quarter(2026, 1, MSK), "month")]
    assert labels == [
        ("2026-01", date(2026, 1, 1), date(2026, 2, 1)),
        ("2026-02", date(2026, 2, 1), date(2026, 3, 1)),
        ("2026-03", date(2026, 3, 1), date(2026, 4, 1)),
    ]


def test_week_buckets_are_cut_to_the_period() -> None:
    weeks = buckets(month(2026, 3, MSK), "week")
    # 1 March 2026 is a Sunday: the first ISO week bucket is that one day.
    assert (weeks[0].first_day, weeks[0].end_day) == (date(2026, 3, 1), date(2026, 3, 2))
    assert (weeks[-1].first_day, weeks[-1].end_day) == (date(2026, 3, 30), date(2026, 4, 1))
    assert sum((b.end_day - b.first_day).days for b in weeks) == 31


def test_day_buckets_and_unknown_grain() -> None:
    p = Period(date(2026, 2, 27), date(2026, 3, 2), MSK, "x")
    assert [b.label for b in buckets(p, "day")] == ["2026-02-27", "2026-02-28", "2026-03-01"]
    with pytest.raises(ConfigurationError, match="grain"):
        buckets(p, "fortnight")
