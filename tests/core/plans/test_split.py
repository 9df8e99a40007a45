"""Cascade splits and the seasonal split, worked out by hand (no store needed).

Cascade (largest remainder on the unit; ties to the child listed first):
* equal, 100.00 among a, b, c: 10,000 kopecks ÷ 3 = 3,333.33 each; floors 3,333 × 3 = 9,999, one
  kopeck left, all remainders equal → a: 33.34, b: 33.33, c: 33.33.
* manual 2:1:1 of 1,000,000.01 (100,000,001 kopecks): exact 50,000,000.5 / 25,000,000.25 /
  25,000,000.25; floors sum 100,000,000, one left to the largest remainder (.5) →
  500,000.01, 250,000.00, 250,000.00.
* counts: 1,000 calls equal among 3 in 1e-4 units: 10,000,000 ÷ 3 = 3,333,333.33 → 333.3334,
  333.3333, 333.3333 (sum 1,000 exactly); shown rounded up: 334 each.

Seasonal, 2026 (production calendar: 15, 19, 21, 22, 19, 21, 23, 21, 22, 22, 20, 22 = 247 days):
* 247,000,000 by working days → 1,000,000 a day, each month = its days × 1,000,000.
* 12,000,000 with quarter percentages 20/25/25/30 → Q1 2,400,000, Q2 3,000,000. Q1 months by
  working days 15:19:21 (55): exact 654,545.4545…, 829,090.9090…, 916,363.6363…; floors sum
  2,399,999.98, 2 kopecks to the largest remainders (Feb .909, Mar .636) → 654,545.45,
  829,090.91, 916,363.64. Q2 22:19:21 (62): 1,064,516.1290…, 919,354.8387…, 1,016,129.0322…;
  2 kopecks to Apr (.903) and May (.871) → 1,064,516.13, 919,354.84, 1,016,129.03.
* ISO week 2026-W14 = Mon 30 March … Sun 5 April, crossing the month boundary. March
  91,636,364 kopecks ÷ 21 days = 4,363,636 rem 8 → the first 8 working days get 43,636.37, the
  rest 43,636.36, so 30 and 31 March give 87,272.72. April 106,451,613 ÷ 22 = 4,838,709 rem 15 →
  the first 15 working days 48,387.10, so 1–3 April give 145,161.30. Week = 232,434.02 over 5
  working days (2 from March, 3 from April).
* A manager absent 10–12 March 2026 (Tue–Thu; 9 March is the holiday moved from Sunday 8
  March): 630,000 for March over 21 − 3 = 18 days = 35,000 a day; 10–12 March get nothing, the
  month stays 630,000; week 2026-W11 (9–15 March) has only 13 March: 35,000, 1 working day.
"""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest

from ropilot.core.calendar import PersonalCalendar
from ropilot.core.errors import ConfigurationError
from ropilot.core.periods import month, parse_period, year_period
from ropilot.core.plans.cascade import (
    allocate,
    cascade,
    equal_weights,
    explain_split,
    manual_weights,
)
from ropilot.core.plans.models import PlanDocument, display_value, make_line
from ropilot.core.plans.seasonal import day_targets, seasonal_lines, seasonal_split

MSK = ZoneInfo("Europe/Moscow")
KOP = Decimal("0.01")
WORKING_2026 = [15, 19, 21, 22, 19, 21, 23, 21, 22, 22, 20, 22]


def test_equal_split_gives_the_odd_kopeck_to_the_first() -> None:
    parts = allocate(Decimal("100.00"), equal_weights(["a", "b", "c"]), KOP)
    assert parts == {"a": Decimal("33.34"), "b": Decimal("33.33"), "c": Decimal("33.33")}
    assert sum(parts.values()) == Decimal("100.00")


def test_manual_weights_split_sums_exactly() -> None:
    weights = manual_weights({"manager:a": 2, "manager:b": 1, "manager:c": "1"})
    parts = allocate(Decimal("1000000.01"), weights, KOP)
    assert list(parts.values()) == [
        Decimal("500000.01"),
        Decimal("250000.00"),
        Decimal("250000.00"),
    ]
    shares = explain_split(Decimal("1000000.01"), weights, KOP)
    assert [float(s.share) for s in shares] == [0.5, 0.25, 0.25]


def test_counts_are_carried_to_1e4_and_shown_rounded_up() -> None:
    doc = PlanDocument("p", (make_line("team:north", "2026-03", "calls", 1000),))
    out = cascade(doc, "team:north", equal_weights(["manager:a", "manager:b", "manager:c"]))
    calls = [out.get(f"manager:{m}", "2026-03", "calls") for m in "abc"]
    assert calls == [Decimal("333.3334"), Decimal("333.3333"), Decimal("333.3333")]
    assert sum(c for c in calls if c is not None) == 1000
    assert [display_value("calls", c) for c in calls if c is not None] == [334, 334, 334]
    assert out.get("team:north", "2026-03", "calls") == 1000  # the parent stays


def test_cascade_errors() -> None:
    doc = PlanDocument("p", (make_line("company", "2026", "revenue", 10),))
    with pytest.raises(ConfigurationError, match="no target of team:x"):
        cascade(doc, "team:x", {"manager:a": 1})
    with pytest.raises(ConfigurationError, match="all weights are 0"):
        cascade(doc, "company", {"team:a": 0, "team:b": 0})
    with pytest.raises(ConfigurationError, match="negative"):
        manual_weights({"team:a": -1})
    with pytest.raises(ConfigurationError, match="own child"):
        cascade(doc, "company", {"company": 1})


def test_2026_by_working_days_over_months() -> None:
    rows = seasonal_split(Decimal(247_000_000), year_period(2026, MSK), "month")
    assert [r.working_days for r in rows] == WORKING_2026
    assert sum(WORKING_2026) == 247
    assert [r.value for r in rows] == [Decimal(d * 1_000_000) for d in WORKING_2026]
    quarters = seasonal_split(Decimal(247_000_000), year_period(2026, MSK), "quarter")
    assert [q.value for q in quarters] == [
        Decimal(55_000_000),
        Decimal(62_000_000),
        Decimal(66_000_000),
        Decimal(64_000_000),
    ]


def test_quarter_percentages_then_months_by_working_days() -> None:
    pct = {"2026-Q1": 20, "2026-Q2": 25, "2026-Q3": 25, "2026-Q4": 30}
    rows = seasonal_split(Decimal(12_000_000), year_period(2026, MSK), "month", percentages=pct)
    values = {r.label: r.value for r in rows}
    assert [values[m] for m in ("2026-01", "2026-02", "2026-03")] == [
        Decimal("654545.45"),
        Decimal("829090.91"),
        Decimal("916363.64"),
    ]
    assert [values[m] for m in ("2026-04", "2026-05", "2026-06")] == [
        Decimal("1064516.13"),
        Decimal("919354.84"),
        Decimal("1016129.03"),
    ]
    assert sum(values.values()) == Decimal(12_000_000)


def test_week_crossing_a_month_boundary_takes_from_both() -> None:
    pct = {"2026-Q1": 20, "2026-Q2": 25, "2026-Q3": 25, "2026-Q4": 30}
    weeks = {
        r.label: r
        for r in seasonal_split(
            Decimal(12_000_000), year_period(2026, MSK), "week", percentages=pct
        )
    }
    w14 = weeks["2026-W14"]
    assert (w14.first_day, w14.end_day) == (date(2026, 3, 30), date(2026, 4, 6))
    assert w14.working_days == 5
    assert w14.value == Decimal("232434.02")  # 87,272.72 (30–31 March) + 145,161.30 (1–3 April)
    days = day_targets(Decimal(12_000_000), year_period(2026, MSK), KOP, percentages=pct)
    assert days[date(2026, 3, 12)] == Decimal("43636.37")  # 8th working day of March
    assert days[date(2026, 3, 13)] == Decimal("43636.36")
    # the first ISO week 2026-W01 starts on 29 December 2025: cut to the year
    assert weeks["2026-W01"].first_day == date(2026, 1, 1)


def test_manager_absent_three_days() -> None:
    away = PersonalCalendar.of([(date(2026, 3, 10), date(2026, 3, 12))])
    march = month(2026, 3, MSK)
    days = seasonal_split(Decimal(630_000), march, "day", calendar=away)
    assert len(days) == 18
    assert {r.value for r in days} == {Decimal(35_000)}
    assert not {date(2026, 3, d) for d in (9, 10, 11, 12)} & {r.first_day for r in days}
    weeks = {r.label: r for r in seasonal_split(Decimal(630_000), march, "week", calendar=away)}
    assert (weeks["2026-W11"].working_days, weeks["2026-W11"].value) == (1, Decimal(35_000))
    assert sum(r.value for r in weeks.values()) == Decimal(630_000)
    # a year split keeps March's share by the production calendar (21 of 247 days)
    year = seasonal_split(Decimal(247_000_000), year_period(2026, MSK), "month", calendar=away)
    assert (year[2].working_days, year[2].value) == (18, Decimal(21_000_000))


def test_absent_the_whole_month_is_an_error() -> None:
    away = PersonalCalendar.of([(date(2026, 3, 1), date(2026, 3, 31))])
    with pytest.raises(ConfigurationError, match="no working day left"):
        seasonal_split(Decimal(1), month(2026, 3, MSK), "day", calendar=away)


def test_percentages_must_sum_to_100() -> None:
    year = year_period(2026, MSK)
    with pytest.raises(ConfigurationError, match="sum to 99, not 100"):
        seasonal_split(
            Decimal(1),
            year,
            "month",
            percentages={"2026-Q1": 20, "2026-Q2": 25, "2026-Q3": 25, "2026-Q4": 29},
        )
    with pytest.raises(ConfigurationError, match="miss 2026-Q4"):
        seasonal_split(
            Decimal(1), year, "month", percentages={"2026-Q1": 20, "2026-Q2": 40, "2026-Q3": 40}
        )
    with pytest.raises(ConfigurationError, match="keyed by its quarters or months"):
        seasonal_split(Decimal(1), year, "month", percentages={"2027-01": 100})
    q1 = parse_period("2026-Q1", MSK, today=date(2026, 1, 1))
    rows = seasonal_split(
        Decimal(100),
        q1,
        "month",
        percentages={"2026-01": "33.3", "2026-02": "33.3", "2026-03": "33.4"},
    )
    assert [r.value for r in rows] == [Decimal("33.30"), Decimal("33.30"), Decimal("33.40")]


def test_seasonal_lines_written_into_the_document() -> None:
    doc = PlanDocument("p", (make_line("company", "2026", "revenue", 247_000_000),))
    out = seasonal_lines(doc, "company", "revenue", "2026", "month", zone=MSK)
    assert out.get("company", "2026-07", "revenue") == Decimal(23_000_000)
    assert out.get("company", "2026", "revenue") == Decimal(247_000_000)
    with pytest.raises(ConfigurationError, match="quarter, month or day"):
        seasonal_lines(doc, "company", "revenue", "2026", "week", zone=MSK)
