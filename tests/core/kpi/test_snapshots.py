"""Forecast snapshots and accuracy on tests/core/kpi/data/pipeline/main, SQLite and PostgreSQL.

Snapshots of May 2026 (19 working days) taken on two days, worked out by hand:

Tuesday 5 May 09:00 — held stages then: a1 s1 (moves to s2 at 10:00), a2 s1, a3 s3, a13 lost
(reopened 8 May: out), a12 lost (out), a10 s2 and a11 s1 (won later, expected 6 and 14 May),
a19 s1; a17 open but without an expected day; a14 without an expected day. Weighted:
  m1: a1 100,000 × 10 % + a2 40,000 × 10 % + a5 0 + a11 45,000 × 10 % + a19 10,000 × 10 %
      = 10,000 + 4,000 + 0 + 4,500 + 1,000 = 19,500 (5 deals, 195,000 unweighted)
  m2: a3 60,000 × 0 + a7 80,000 × 50 % + a10 90,000 × 50 % = 85,000 (4 deals with a6 USD,
      230,000); m3: a18 20,000 × 50 % = 10,000. Company 114,500 (10 deals, 445,000).
  Nothing won yet (a16 closed 30 April); elapsed working days 4 and 5 May = 2 → run-rate 0.
Saturday 16 May 12:00 (T): weighted 126,000.05 (m1 75,000, m2 41,000.05, m3 10,000); actual so
  far 135,000 (m1 45,000, m2 90,000); run-rate 285,000 (m1 95,000, m2 190,000, m3 0); 9 of 19.

Actual May revenue: m1 a2 40,000 + a11 45,000 + a14 15,000 = 100,000; m2 a10 90,000 (a17 is
USD); m3 0; company 190,000.

Accuracy from the first snapshot (5 May), weighted (= won so far 0 + weighted):
  company 1 − |190,000 − 114,500| ÷ 190,000 = 1 − 75,500 ÷ 190,000 = 0.602632 (6 places),
          bias −75,500, relative −0.397368
  m1 1 − 80,500 ÷ 100,000 = 0.195, bias −80,500, relative −0.805
  m2 1 − 5,000 ÷ 90,000 = 0.944444, bias −5,000
  m3 actual 0 → accuracy None, bias +10,000, relative None
From the 16 May snapshot, run-rate: company 1 − 95,000 ÷ 190,000 = 0.5, bias +95,000;
  m1 1 − 5,000 ÷ 100,000 = 0.95, bias −5,000; m2 1 − 100,000 ÷ 90,000 = −0.111111, bias
  +100,000; m3 forecast 0, actual 0 → None, bias 0.
  weighted: company 135,000 + 126,000.05 = 261,000.05, bias +71,000.05; m1 45,000 + 75,000 =
  120,000 → 0.8, bias +20,000.
"""

from __future__ import annotations

from datetime import date, datetime
from decimal import ROUND_HALF_UP, Decimal
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import func, select

from ropilot.connectors.bundle.importer import import_bundle
from ropilot.core.errors import ConfigurationError
from ropilot.core.kpi.snapshots import forecast_accuracy, list_snapshots, take_snapshot
from ropilot.core.periods import month
from ropilot.core.store import Store
from ropilot.core.store.schema import forecast_snapshots

DATA = Path(__file__).parent / "data" / "pipeline" / "main"
MSK = ZoneInfo("Europe/Moscow")
MAY = month(2026, 5, MSK)
EARLY = datetime(2026, 5, 5, 9, 0, tzinfo=MSK)
T = datetime(2026, 5, 16, 12, 0, tzinfo=MSK)
AFTER = datetime(2026, 6, 2, tzinfo=MSK)


def places(value: Decimal | None, n: int = 6) -> Decimal:
    assert value is not None
    return value.quantize(Decimal(1).scaleb(-n), ROUND_HALF_UP)


@pytest.fixture
def kpi_store(store: Store) -> Store:
    import_bundle(store, DATA)
    return store


@pytest.fixture
def snapped(kpi_store: Store) -> Store:
    take_snapshot(kpi_store, "p", MAY, T)
    take_snapshot(kpi_store, "p", MAY, EARLY)
    return kpi_store


def test_snapshot_rows(kpi_store: Store) -> None:
    rows = take_snapshot(kpi_store, "p", MAY, EARLY)
    assert [(r.scope, r.manager_id) for r in rows] == [
        ("company", None),
        ("manager", "m1"),
        ("manager", "m2"),
        ("manager", "m3"),
    ]
    company, m1, m2, m3 = rows
    assert (company.open_deals, company.pipeline_amount, company.weighted) == (
        10,
        Decimal("445000.00"),
        Decimal("114500.00"),
    )
    assert (company.actual_so_far, company.run_rate) == (Decimal("0.00"), Decimal("0.00"))
    assert (company.elapsed_working_days, company.working_days) == (2, 19)
    assert (company.as_of_day, company.as_of) == (date(2026, 5, 5), EARLY)
    assert (m1.open_deals, m1.pipeline_amount, m1.weighted) == (
        5,
        Decimal("195000.00"),
        Decimal("19500.00"),
    )
    assert (m2.open_deals, m2.weighted) == (4, Decimal("85000.00"))
    assert m3.weighted == Decimal("10000.00")


def test_snapshot_at_t_keeps_kopecks_and_run_rate(kpi_store: Store) -> None:
    company, m1, m2, m3 = take_snapshot(kpi_store, "p", MAY, T)
    assert (company.weighted, company.actual_so_far, company.run_rate) == (
        Decimal("126000.05"),
        Decimal("135000.00"),
        Decimal("285000.00"),
    )
    assert (m1.actual_so_far, m1.run_rate) == (Decimal("45000.00"), Decimal("95000.00"))
    assert (m2.weighted, m2.run_rate) == (Decimal("41000.05"), Decimal("190000.00"))
    assert (m3.actual_so_far, m3.run_rate) == (Decimal("0.00"), Decimal("0.00"))


def test_taking_a_snapshot_again_the_same_day_replaces_it(kpi_store: Store) -> None:
    first = take_snapshot(kpi_store, "p", MAY, T)
    later = datetime(2026, 5, 16, 18, 0, tzinfo=MSK)
    again = take_snapshot(kpi_store, "p", MAY, later)
    assert len(again) == len(first) == 4
    assert {r.as_of for r in again} == {later}
    assert [r.weighted for r in again] == [r.weighted for r in first]
    with kpi_store.engine.connect() as conn:
        assert conn.execute(select(func.count()).select_from(forecast_snapshots)).scalar() == 4
    take_snapshot(kpi_store, "p", MAY, EARLY)
    assert len(list_snapshots(kpi_store, "p", MAY)) == 8
    assert len(list_snapshots(kpi_store, "p", MAY, date(2026, 5, 5))) == 4


def test_accuracy_from_the_first_snapshot(snapped: Store) -> None:
    rows = forecast_accuracy(snapped, "p", MAY, now=AFTER)
    assert [r.keys for r in rows] == [{}, {"manager": "m1"}, {"manager": "m2"}, {"manager": "m3"}]
    assert {(r.snapshot_day, r.method) for r in rows} == {(date(2026, 5, 5), "weighted")}
    company, m1, m2, m3 = rows
    assert (company.actual, company.forecast) == (Decimal("190000.00"), Decimal("114500.00"))
    assert places(company.accuracy) == Decimal("0.602632")
    assert company.bias == Decimal("-75500.00")
    assert places(company.relative_bias) == Decimal("-0.397368")
    assert (m1.accuracy, m1.bias, m1.relative_bias) == (
        Decimal("0.195"),
        Decimal("-80500.00"),
        Decimal("-0.805"),
    )
    assert places(m2.accuracy) == Decimal("0.944444")
    assert m2.bias == Decimal("-5000.00")
    assert (m3.actual, m3.accuracy, m3.bias, m3.relative_bias) == (
        Decimal("0.00"),
        None,
        Decimal("10000.00"),
        None,
    )


def test_accuracy_of_a_chosen_snapshot_and_method(snapped: Store) -> None:
    day = date(2026, 5, 16)
    run = forecast_accuracy(snapped, "p", MAY, day, method="run_rate", now=AFTER)
    company, m1, m2, m3 = run
    assert (company.forecast, company.accuracy, company.bias) == (
        Decimal("285000.00"),
        Decimal("0.5"),
        Decimal("95000.00"),
    )
    assert (m1.accuracy, m1.bias) == (Decimal("0.95"), Decimal("-5000.00"))
    assert (places(m2.accuracy), m2.bias) == (Decimal("-0.111111"), Decimal("100000.00"))
    assert (m3.accuracy, m3.bias) == (None, Decimal("0.00"))
    weighted = forecast_accuracy(snapped, "p", MAY, day, now=AFTER)
    assert (weighted[0].forecast, weighted[0].bias) == (
        Decimal("261000.05"),
        Decimal("71000.05"),
    )
    assert (weighted[1].forecast, weighted[1].accuracy) == (Decimal("120000.00"), Decimal("0.8"))
    early_run = forecast_accuracy(snapped, "p", MAY, method="run_rate", now=AFTER)
    assert (early_run[0].forecast, early_run[0].accuracy) == (Decimal("0.00"), Decimal(0))


def test_accuracy_refusals(kpi_store: Store) -> None:
    with pytest.raises(ConfigurationError, match="no forecast snapshot"):
        forecast_accuracy(kpi_store, "p", MAY, now=AFTER)
    take_snapshot(kpi_store, "p", MAY, T)
    with pytest.raises(ConfigurationError, match="once it has ended"):
        forecast_accuracy(kpi_store, "p", MAY, now=datetime(2026, 5, 31, 23, tzinfo=MSK))
    with pytest.raises(ConfigurationError, match="2026-05-16"):
        forecast_accuracy(kpi_store, "p", MAY, date(2026, 5, 1), now=AFTER)
    with pytest.raises(ConfigurationError, match="method"):
        forecast_accuracy(kpi_store, "p", MAY, method="gut", now=AFTER)  # type: ignore[arg-type]
