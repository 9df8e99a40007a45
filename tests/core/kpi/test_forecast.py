"""Forecast KPIs on tests/core/kpi/data/pipeline (main and velocity bundles), SQLite and PostgreSQL.

Main bundle, T = Saturday 16 May 2026 12:00 Moscow; the deals open at T are listed in
test_pipeline.py. May 2026 has 19 working days (1–3 and 9–11 May are days off: 1 May holiday,
9 May falls on Saturday and moves to Monday 11 May): 4–8, 12–15, 18–22, 25–29.

Weighted forecast of May as of T (T is inside May, so every expected day before 1 June counts,
overdue ones too; a8 expected 5 June, a9 and a14 without an expected day are left out):
  a1 100,000 × 50 % = 50,000 · a2 40,000 × 50 % = 20,000 · a3 60,000 × (s3 without
  probability → 0) = 0 · a5 empty × 10 % = 0 (overdue: expected 15 May) · a6 1,000 USD × 50 %
  = 500 USD apart · a7 80,000 × 50 % = 40,000 (expected 20 April, overdue) · a13 10,000.50 ×
  10 % = 1,000.05 · a18 20,000 × 50 % = 10,000 · a19 10,000 × 50 % = 5,000 (in s2 exactly at T)
  company: 9 deals, unweighted 100,000 + 40,000 + 60,000 + 0 + 80,000 + 10,000.50 + 20,000 +
  10,000 = 320,000.50; weighted 50,000 + 20,000 + 40,000 + 1,000.05 + 10,000 + 5,000 =
  126,000.05; one without probability (a3), one without amount (a5).
  m1: a1, a2, a5, a19 → 4 deals, 150,000, weighted 75,000
  m2: a3, a6, a7, a13 → 4 deals, 150,000.50, weighted 41,000.05, USD 1,000 / 500
  m3: a18 → 1 deal, 20,000, weighted 10,000
  by stage: s1 a5, a13 → 10,000.50 / 1,000.05; s2 a1, a2, a6, a7, a18, a19 → 250,000 /
  125,000; s3 a3 → 60,000 / 0.
June as of T (T before June): only deals expected inside June: a8 50,000 × 10 % = 5,000.
April as of T (ended before T): nothing.

Run-rate of May (won = current stage won, closed in [1 May 00:00, T]):
  as of T: a10 90,000 (6 May, m2) + a11 45,000 (14 May, m1) = 135,000, a17 500 USD apart; a16
  (30 April 23:59:59) is April. Elapsed working days 4–8, 12–15 = 9 (Saturday adds none):
  135,000 ÷ 9 × 19 = 285,000; m1 45,000 ÷ 9 × 19 = 95,000; m2 90,000 ÷ 9 × 19 = 190,000.
  as of Monday 11 May 18:00 (a holiday): a10 only, elapsed 5 → 90,000 ÷ 5 × 19 = 342,000.
  as of Tuesday 12 May 10:00: a10, and a17 closed exactly at T (USD, apart; 2 won); elapsed
  4–8 and 12 = 6 → 90,000 ÷ 6 × 19 = 285,000.
  as of Sunday 3 May: no working day elapsed → None.
  as of 10 June: all of May: 40,000 + 90,000 + 45,000 + 15,000 (a14, 31 May 23:59) = 190,000
  over 19 of 19 days = 190,000 (a15 at 00:00 on 1 June is June's).
  April as of T: a16 7,000 over 22 of 22 working days = 7,000.

Coverage of May as of T: 320,000.50 ÷ remaining 64,000.10 = 5. Win rate over May (lookback):
won a2, a10, a11, a14, a17, lost a3 → 5 ÷ 6, required coverage 6 ÷ 5 = 1.2; a given 22 % →
1 ÷ 0.22 = 4.5454… → 4.55. By manager with plans m1 75,000, m2 0, m4 10,000: m1 150,000 ÷
75,000 = 2 (win rate 3 ÷ 3 → required 1); m2 plan 0 → None (win rate 2 ÷ 3 → required 1.5);
m3 has no plan → None; m4 no pipeline → 0 ÷ 10,000 = 0.

Velocity over lookback May as of T (main bundle): cycles of May's won deals: a2 10 Apr → 20 May
= 40 d, a10 1 Apr → 6 May = 35 d, a11 10 Mar → 14 May = 65 d, a14 1 May 23:59 → 31 May 23:59
= 30 d, a17 1 Apr → 12 May = 41 d.
  m1: 7 open × (3 ÷ 3) × (40,000 + 45,000 + 15,000) ÷ 3 ÷ ((40 + 65 + 30) ÷ 3 = 45)
      = 233,333.33… ÷ 45 = 5,185.19
  m2: 4 × (2 ÷ 3) × 90,000 (a17 is USD: not in the check) ÷ ((35 + 41) ÷ 2 = 38) = 6,315.79
  m3: no deal closed in May → no win rate → None
  company: 12 × (5 ÷ 6) × (190,000 ÷ 4 = 47,500) ÷ (211 ÷ 5 = 42.2) = 475,000 ÷ 42.2 = 11,255.92

Velocity bundle (account v), lookback Q1 2026, as of 1 April 2026 12:00: won w1 20,000 (1 Feb
→ 3 Mar = 30 d), w2 25,000 (1 Jan → 2 Mar = 60 d), w3 30,000 (12 Sep 2025 → 11 Mar = 180 d),
lost l1–l9 → win rate 3 ÷ 12 = 0.25, average deal 75,000 ÷ 3 = 25,000, mean cycle 270 ÷ 3 = 90,
median 60. Open at T: q01–q40 in q (sort 20) and n1–n5 in n (sort 10); q41 is created on
2 April. Qualified = sort ≥ 20: 40 × 25,000 × 0.25 ÷ 90 = 2,777.78 (the reference example);
every open deal: 45 × 25,000 × 0.25 ÷ 90 = 3,125; median cycle: 40 × 25,000 × 0.25 ÷ 60 =
4,166.67.
"""

from __future__ import annotations

from datetime import datetime
from decimal import ROUND_HALF_UP, Decimal
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from ropilot.connectors.bundle.importer import import_bundle
from ropilot.core.errors import ConfigurationError
from ropilot.core.kpi.forecast import (
    Qualified,
    coverage,
    forecast_deals,
    pipeline_velocity,
    run_rate_deals,
    run_rate_forecast,
    total_run_rate,
    total_weighted,
    velocity_deals,
    weighted_forecast,
)
from ropilot.core.periods import month, quarter
from ropilot.core.store import Store

DATA = Path(__file__).parent / "data" / "pipeline"
MSK = ZoneInfo("Europe/Moscow")
T = datetime(2026, 5, 16, 12, 0, tzinfo=MSK)
MAY = month(2026, 5, MSK)


def cents(value: Decimal | None) -> Decimal:
    assert value is not None
    return value.quantize(Decimal("0.01"), ROUND_HALF_UP)


@pytest.fixture
def kpi_store(store: Store) -> Store:
    import_bundle(store, DATA / "main")
    return store


@pytest.fixture
def velocity_store(store: Store) -> Store:
    import_bundle(store, DATA / "velocity")
    return store


# -- weighted forecast --------------------------------------------------------------------------


def test_weighted_forecast_of_may(kpi_store: Store) -> None:
    (row,) = weighted_forecast(kpi_store, "p", MAY, T)
    assert (row.count, row.amount, row.weighted) == (
        9,
        Decimal("320000.50"),
        Decimal("126000.05"),
    )
    assert (row.without_probability, row.without_amount) == (1, 1)
    assert row.other_currencies == {"USD": Decimal("1000.00")}
    assert row.other_weighted == {"USD": Decimal("500.00")}


def test_weighted_forecast_by_manager_and_stage(kpi_store: Store) -> None:
    rows = weighted_forecast(kpi_store, "p", MAY, T, ["manager"])
    assert [(r.keys["manager"], r.count, r.amount, r.weighted) for r in rows] == [
        ("m1", 4, Decimal("150000.00"), Decimal("75000.00")),
        ("m2", 4, Decimal("150000.50"), Decimal("41000.05")),
        ("m3", 1, Decimal("20000.00"), Decimal("10000.00")),
    ]
    assert rows[1].other_weighted == {"USD": Decimal("500.00")}
    stages = {r.keys["stage"]: r for r in weighted_forecast(kpi_store, "p", MAY, T, ["stage"])}
    assert (stages["s1"].amount, stages["s1"].weighted) == (Decimal("10000.50"), Decimal("1000.05"))
    assert (stages["s2"].count, stages["s2"].weighted) == (6, Decimal("125000.00"))
    assert (stages["s3"].weighted, stages["s3"].without_probability) == (Decimal("0.00"), 1)


def test_other_periods_as_of_t(kpi_store: Store) -> None:
    (june,) = weighted_forecast(kpi_store, "p", month(2026, 6, MSK), T)
    assert (june.count, june.amount, june.weighted) == (1, Decimal("50000.00"), Decimal("5000.00"))
    (april,) = weighted_forecast(kpi_store, "p", month(2026, 4, MSK), T)
    assert (april.count, april.weighted) == (0, Decimal("0.00"))


def test_weighted_forecast_lineage(kpi_store: Store) -> None:
    deals = forecast_deals(kpi_store, "p", MAY, T)
    assert sorted(d.deal_id for d in deals) == sorted(
        ["a1", "a2", "a3", "a5", "a6", "a7", "a13", "a18", "a19"]
    )
    m2 = {d.deal_id: d for d in forecast_deals(kpi_store, "p", MAY, T, {"manager": "m2"})}
    assert set(m2) == {"a3", "a6", "a7", "a13"}
    assert m2["a13"].weighted == Decimal("1000.05")
    assert m2["a7"].expected_close_at is not None
    assert m2["a7"].expected_close_at.isoformat() == "2026-04-20"
    assert m2["a3"].weighted == 0  # no probability
    assert sum(d.weighted for d in m2.values() if d.currency == "RUB") == Decimal("41000.05")


# -- run-rate forecast --------------------------------------------------------------------------


def test_run_rate_as_of_a_saturday(kpi_store: Store) -> None:
    (row,) = run_rate_forecast(kpi_store, "p", MAY, T)
    assert (row.won, row.actual) == (3, Decimal("135000.00"))
    assert (row.elapsed_working_days, row.working_days) == (9, 19)
    assert row.forecast == Decimal("285000")
    assert row.other_currencies == {"USD": Decimal("500.00")}
    rows = run_rate_forecast(kpi_store, "p", MAY, T, ["manager"])
    assert [(r.keys["manager"], r.actual, r.forecast) for r in rows] == [
        ("m1", Decimal("45000.00"), Decimal("95000")),
        ("m2", Decimal("90000.00"), Decimal("190000")),
    ]


def test_run_rate_on_a_holiday_and_on_a_working_day(kpi_store: Store) -> None:
    (holiday,) = run_rate_forecast(kpi_store, "p", MAY, datetime(2026, 5, 11, 18, tzinfo=MSK))
    assert (holiday.actual, holiday.elapsed_working_days) == (Decimal("90000.00"), 5)
    assert holiday.forecast == Decimal("342000")
    (tuesday,) = run_rate_forecast(kpi_store, "p", MAY, datetime(2026, 5, 12, 10, tzinfo=MSK))
    assert (tuesday.won, tuesday.actual, tuesday.elapsed_working_days) == (
        2,
        Decimal("90000.00"),
        6,
    )
    assert tuesday.other_currencies == {"USD": Decimal("500.00")}  # a17 closed exactly at T
    assert tuesday.forecast == Decimal("285000")


def test_run_rate_without_elapsed_working_days_is_none(kpi_store: Store) -> None:
    (row,) = run_rate_forecast(kpi_store, "p", MAY, datetime(2026, 5, 3, 12, tzinfo=MSK))
    assert (row.actual, row.elapsed_working_days, row.forecast) == (Decimal("0.00"), 0, None)


def test_run_rate_of_ended_periods(kpi_store: Store) -> None:
    (may,) = run_rate_forecast(kpi_store, "p", MAY, datetime(2026, 6, 10, tzinfo=MSK))
    assert (may.actual, may.elapsed_working_days, may.forecast) == (
        Decimal("190000.00"),
        19,
        Decimal("190000"),
    )
    (april,) = run_rate_forecast(kpi_store, "p", month(2026, 4, MSK), T)
    assert (april.actual, april.elapsed_working_days, april.working_days) == (
        Decimal("7000.00"),
        22,
        22,
    )
    assert april.forecast == Decimal("7000")


def test_run_rate_lineage(kpi_store: Store) -> None:
    deals = run_rate_deals(kpi_store, "p", MAY, T)
    assert [(d.deal_id, d.currency) for d in deals] == [
        ("a10", "RUB"),
        ("a17", "USD"),
        ("a11", "RUB"),
    ]
    assert [d.deal_id for d in run_rate_deals(kpi_store, "p", MAY, T, {"manager": "m1"})] == ["a11"]


# -- coverage -----------------------------------------------------------------------------------


def test_company_coverage(kpi_store: Store) -> None:
    (row,) = coverage(kpi_store, "p", MAY, T, Decimal("64000.10"), lookback=MAY)
    assert (row.count, row.pipeline) == (9, Decimal("320000.50"))
    assert row.coverage == Decimal(5)
    assert row.win_rate == Decimal(5) / Decimal(6)
    assert cents(row.required_coverage) == Decimal("1.20")
    (given,) = coverage(kpi_store, "p", MAY, T, Decimal("64000.10"), win_rate=Decimal("0.22"))
    assert cents(given.required_coverage) == Decimal("4.55")
    (none,) = coverage(kpi_store, "p", MAY, T, Decimal(0))
    assert (none.coverage, none.required_coverage) == (None, None)
    (negative,) = coverage(kpi_store, "p", MAY, T, Decimal(-1), win_rate=Decimal(0))
    assert (negative.coverage, negative.required_coverage) == (None, None)


def test_coverage_by_manager(kpi_store: Store) -> None:
    plans = {"m1": Decimal(75000), "m2": Decimal(0), "m4": Decimal(10000)}
    rows = {
        r.keys["manager"]: r
        for r in coverage(kpi_store, "p", MAY, T, plans, lookback=MAY, by=["manager"])
    }
    assert set(rows) == {"m1", "m2", "m3", "m4"}
    assert (rows["m1"].coverage, rows["m1"].required_coverage) == (Decimal(2), Decimal(1))
    assert rows["m2"].coverage is None
    assert cents(rows["m2"].required_coverage) == Decimal("1.50")
    assert (rows["m3"].pipeline, rows["m3"].coverage) == (Decimal("20000.00"), None)
    assert (rows["m4"].pipeline, rows["m4"].coverage, rows["m4"].win_rate) == (
        Decimal("0.00"),
        Decimal(0),
        None,
    )


def test_coverage_plan_shape_is_checked(kpi_store: Store) -> None:
    with pytest.raises(ConfigurationError, match="mapping"):
        coverage(kpi_store, "p", MAY, T, Decimal(1), by=["manager"])
    with pytest.raises(ConfigurationError, match="one Decimal"):
        coverage(kpi_store, "p", MAY, T, {"m1": Decimal(1)})


# -- pipeline velocity --------------------------------------------------------------------------


def test_velocity_reproduces_the_reference_example(velocity_store: Store) -> None:
    as_of = datetime(2026, 4, 1, 12, tzinfo=MSK)
    q1 = quarter(2026, 1, MSK)
    (row,) = pipeline_velocity(velocity_store, "v", as_of, q1, qualified=Qualified(min_sort=20))
    assert (row.open_qualified, row.win_rate, row.average_deal, row.cycle_days) == (
        40,
        Decimal("0.25"),
        Decimal(25000),
        Decimal(90),
    )
    assert (row.cycle_measure, row.lookback) == ("mean", "2026-Q1")
    assert cents(row.velocity) == Decimal("2777.78")
    (same,) = pipeline_velocity(
        velocity_store, "v", as_of, q1, qualified=Qualified(stage_ids=frozenset({"q"}))
    )
    assert cents(same.velocity) == Decimal("2777.78")
    (every,) = pipeline_velocity(velocity_store, "v", as_of, q1)
    assert (every.open_qualified, cents(every.velocity)) == (45, Decimal("3125.00"))
    (median,) = pipeline_velocity(
        velocity_store, "v", as_of, q1, qualified=Qualified(min_sort=20), cycle="median"
    )
    assert (median.cycle_days, cents(median.velocity)) == (Decimal(60), Decimal("4166.67"))
    deals = velocity_deals(velocity_store, "v", as_of, qualified=Qualified(min_sort=20))
    assert len(deals) == 40 and {d.stage_id for d in deals} == {"q"}


def test_velocity_with_given_components(velocity_store: Store) -> None:
    as_of = datetime(2026, 4, 1, 12, tzinfo=MSK)
    (row,) = pipeline_velocity(
        velocity_store,
        "v",
        as_of,
        quarter(2025, 1, MSK),  # an empty lookback: every component is given
        qualified=Qualified(min_sort=20),
        win_rate=Decimal("0.25"),
        average_deal=Decimal(25000),
        cycle_days=Decimal(90),
    )
    assert row.cycle_measure == "given"
    assert cents(row.velocity) == Decimal("2777.78")
    (empty,) = pipeline_velocity(velocity_store, "v", as_of, quarter(2025, 1, MSK))
    assert (empty.open_qualified, empty.win_rate, empty.velocity) == (45, None, None)


def test_velocity_by_manager(kpi_store: Store) -> None:
    rows = {r.keys["manager"]: r for r in pipeline_velocity(kpi_store, "p", T, MAY, by=["manager"])}
    m1, m2, m3 = rows["m1"], rows["m2"], rows["m3"]
    assert (m1.open_qualified, m1.win_rate, m1.cycle_days) == (7, Decimal(1), Decimal(45))
    assert cents(m1.velocity) == Decimal("5185.19")
    assert (m2.open_qualified, m2.average_deal, m2.cycle_days) == (
        4,
        Decimal("90000.00"),
        Decimal(38),
    )
    assert cents(m2.velocity) == Decimal("6315.79")
    assert (m3.open_qualified, m3.win_rate, m3.velocity) == (1, None, None)
    (company,) = pipeline_velocity(kpi_store, "p", T, MAY)
    assert (company.open_qualified, company.average_deal, company.cycle_days) == (
        12,
        Decimal("47500.00"),
        Decimal("42.2"),
    )
    assert cents(company.velocity) == Decimal("11255.92")


def test_velocity_refuses_stage_and_bad_cycle(kpi_store: Store) -> None:
    with pytest.raises(ConfigurationError, match="unknown dimension"):
        pipeline_velocity(kpi_store, "p", T, MAY, by=["stage"])
    with pytest.raises(ConfigurationError, match="cycle"):
        pipeline_velocity(kpi_store, "p", T, MAY, cycle="mode")  # type: ignore[arg-type]


def test_company_totals_from_manager_rows(kpi_store: Store) -> None:
    # The same hand-computed company figures as above, summed from the by-manager rows.
    w = total_weighted(weighted_forecast(kpi_store, "p", MAY, T, ["manager"]))
    assert (w.count, w.amount, w.weighted) == (9, Decimal("320000.50"), Decimal("126000.05"))
    assert (w.without_probability, w.without_amount) == (1, 1)
    assert w.other_currencies == {"USD": Decimal("1000.00")}
    assert w.other_weighted == {"USD": Decimal("500.00")}
    rr = total_run_rate(run_rate_forecast(kpi_store, "p", MAY, T, ["manager"]), MAY, T)
    assert (rr.won, rr.actual, rr.forecast) == (3, Decimal("135000.00"), Decimal("285000"))
    assert rr.other_currencies == {"USD": Decimal("500.00")}
    assert total_run_rate([], MAY, T).forecast == 0  # nothing won: 0 ÷ 9 × 19
