"""Open pipeline at T on tests/core/kpi/data/pipeline/main, SQLite and PostgreSQL.

T = Saturday 16 May 2026 12:00 Moscow. Stages: s1 (sort 10, 10 %), s2 (20, 50 %), s3 (30, no
probability), w won, l lost. Deals, as worked out by hand from deals.csv and stage_changes.csv:

open at T (stage held at T, current amount, responsible):
  a1 s2 100,000 m1 (moved s1→s2 on 5 May) · a2 s2 40,000 m1 (won later, 20 May)
  a3 s3 60,000 m2 (lost later, 18 May) · a5 s1 empty m1 · a6 s2 1,000 USD m2
  a7 s2 80,000 "RUB" m2 (explicit account currency) · a8 s1 50,000 m1 · a9 s1 20,000 m1
  a13 s1 10,000.50 m2 (lost 5 Apr, reopened 8 May) · a14 s1 15,000 m1 (won later, 31 May)
  a18 s2 20,000 m3 · a19 s2 10,000 m1 (moved s1→s2 exactly at T: "as of T includes T")
not open at T: a4 (created 17 May, after T), a10/a11/a16/a17 (won before T), a15 (created
20 May), a12 (lost on 10 Apr, reopened only on 18 May, after T — open now, but not at T).

company: 12 deals, 11 in roubles; 100,000 + 40,000 + 60,000 + 0 + 80,000 + 50,000 + 20,000
  + 10,000.50 + 15,000 + 20,000 + 10,000 = 405,000.50; USD 1,000 apart; one empty amount (a5).
by stage: s1 a5, a8, a9, a13, a14 → 5, 0 + 50,000 + 20,000 + 10,000.50 + 15,000 = 95,000.50;
  s2 a1, a2, a6, a7, a18, a19 → 6, 100,000 + 40,000 + 80,000 + 20,000 + 10,000 = 250,000
  (+ USD 1,000); s3 a3 → 1, 60,000.   (95,000.50 + 250,000 + 60,000 = 405,000.50 ✓)
by manager: m1 a1, a2, a5, a8, a9, a14, a19 → 7, 235,000; m2 a3, a6, a7, a13 → 4,
  150,000.50 + USD 1,000; m3 a18 → 1, 20,000; m4 has no deals → no row.
by team: north = m1 + m2 → 11, 385,000.50; south = m3 → 1, 20,000.
manager m1 × stage s2: a1, a2, a19 → 3, 150,000.
"""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from ropilot.connectors.bundle.importer import import_bundle
from ropilot.core.errors import ConfigurationError
from ropilot.core.kpi.pipeline import open_pipeline, open_pipeline_deals
from ropilot.core.store import Store

DATA = Path(__file__).parent / "data" / "pipeline" / "main"
MSK = ZoneInfo("Europe/Moscow")
T = datetime(2026, 5, 16, 12, 0, tzinfo=MSK)


@pytest.fixture
def kpi_store(store: Store) -> Store:
    import_bundle(store, DATA)
    return store


def test_company_pipeline_at_t(kpi_store: Store) -> None:
    (row,) = open_pipeline(kpi_store, "p", T)
    assert row.keys == {}
    assert (row.count, row.count_in_currency, row.without_amount) == (12, 11, 1)
    assert row.amount == Decimal("405000.50")
    assert row.other_currencies == {"USD": Decimal("1000.00")}


def test_by_stage_held_at_t(kpi_store: Store) -> None:
    rows = {r.keys["stage"]: r for r in open_pipeline(kpi_store, "p", T, ["stage"])}
    assert set(rows) == {"s1", "s2", "s3"}
    assert (rows["s1"].count, rows["s1"].amount) == (5, Decimal("95000.50"))
    assert (rows["s2"].count, rows["s2"].amount) == (6, Decimal("250000.00"))
    assert rows["s2"].other_currencies == {"USD": Decimal("1000.00")}
    assert (rows["s3"].count, rows["s3"].amount) == (1, Decimal("60000.00"))


def test_by_manager_and_team(kpi_store: Store) -> None:
    rows = open_pipeline(kpi_store, "p", T, ["manager"])
    assert [(r.keys["manager"], r.count, r.amount) for r in rows] == [
        ("m1", 7, Decimal("235000.00")),
        ("m2", 4, Decimal("150000.50")),
        ("m3", 1, Decimal("20000.00")),
    ]
    assert rows[1].other_currencies == {"USD": Decimal("1000.00")}
    teams = open_pipeline(kpi_store, "p", T, ["team"])
    assert [(r.keys["team"], r.count, r.amount) for r in teams] == [
        ("north", 11, Decimal("385000.50")),
        ("south", 1, Decimal("20000.00")),
    ]


def test_manager_by_stage(kpi_store: Store) -> None:
    rows = {
        (r.keys["manager"], r.keys["stage"]): r
        for r in open_pipeline(kpi_store, "p", T, ["manager", "stage"])
    }
    assert (rows["m1", "s2"].count, rows["m1", "s2"].amount) == (3, Decimal("150000.00"))


def test_lineage_lists_the_deals_of_a_group(kpi_store: Store) -> None:
    deals = open_pipeline_deals(kpi_store, "p", T, {"stage": "s2"})
    assert [d.deal_id for d in deals] == ["a1", "a18", "a19", "a2", "a6", "a7"]
    a2 = next(d for d in deals if d.deal_id == "a2")
    assert (a2.stage_id, a2.probability, a2.amount) == ("s2", 50, Decimal("40000.00"))
    assert a2.weighted == Decimal("20000")
    every = open_pipeline_deals(kpi_store, "p", T)
    assert sorted(d.deal_id for d in every) == sorted(
        ["a1", "a2", "a3", "a5", "a6", "a7", "a8", "a9", "a13", "a14", "a18", "a19"]
    )
    a3 = next(d for d in every if d.deal_id == "a3")
    assert (a3.stage_id, a3.probability) == ("s3", None)  # lost now, in s3 at T
    a5 = next(d for d in every if d.deal_id == "a5")
    assert (a5.amount, a5.currency) == (None, "RUB")
    assert [d.deal_id for d in open_pipeline_deals(kpi_store, "p", T, {"manager": "m3"})] == ["a18"]


def test_one_minute_before_the_move_a19_is_still_in_s1(kpi_store: Store) -> None:
    before = datetime(2026, 5, 16, 11, 59, tzinfo=MSK)
    rows = {r.keys["stage"]: r for r in open_pipeline(kpi_store, "p", before, ["stage"])}
    assert (rows["s1"].count, rows["s2"].count) == (6, 5)  # a19 10,000 back in s1
    assert rows["s1"].amount == Decimal("105000.50")


def test_nothing_open_before_the_first_deal(kpi_store: Store) -> None:
    early = datetime(2026, 1, 1, tzinfo=MSK)
    (row,) = open_pipeline(kpi_store, "p", early)
    assert (row.count, row.amount, row.other_currencies) == (0, Decimal("0.00"), {})
    assert open_pipeline(kpi_store, "p", early, ["manager"]) == []


def test_unknown_dimension_is_refused(kpi_store: Store) -> None:
    with pytest.raises(ConfigurationError, match="unknown dimension"):
        open_pipeline(kpi_store, "p", T, ["colour"])
    with pytest.raises(ConfigurationError, match="unknown dimension"):
        open_pipeline_deals(kpi_store, "p", T, {"colour": "red"})
