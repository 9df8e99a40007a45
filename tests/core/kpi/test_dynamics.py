"""Dynamics on a hand-computed dataset (tests/core/kpi/data/dynamics), SQLite and PostgreSQL.

Account zone Europe/Moscow, currency RUB. Won deals (product, region, local close time):

    e01 A msk 100   00:00:00 1 Jan 2026 (31 Dec in UTC)
    e02 A msk 150   10 Feb 2026             e11 A lost 999 in Feb 2026 and e12 open: out
    e03 A spb  50   23:59:59 31 Dec 2025
    e04 A msk  80   20 Jan 2025
    e05 A spb 120   20 Mar 2025
    e06 B spb 200   14 Feb 2026
    e07 B spb 1000 USD 20 Feb 2026 (counts as won, not in revenue)
    e08 B msk 300   23:59:59 31 Mar 2026
    e09 B msk empty  5 Mar 2026 (won, revenue 0)
    e10 B msk 400   00:00 1 Apr 2026: outside Q1

Q1 2026 by month, company (previous of January = December 2025 = e03):
    Jan: won 1, revenue 100 | prev 1, 50 → +50, +100 %; won ±0, 0 % | year ago (Jan 2025, e04)
         1, 80 → +20, +25 %.
    Feb: won 3 (e02, e06, e07), revenue 350 | prev 1, 100 → +250, +250 %; won +2, +200 % |
         year ago Feb 2025: 0 → +350, relative None.
    Mar: won 2 (e08, e09), revenue 300 | prev 3, 350 → −50, −50/350 = −1/7; won −1, −1/3 |
         year ago Mar 2025 (e05) 1, 120 → +180, +150 %.
By product: A: Jan 100 (prev e03 50: +100 %), Feb 150 (+50 %), Mar 0 (shown: −150, −100 %;
    year ago 120 → −100 %). B: Jan 0 with prev 0 → change 0, relative None; Feb 200 won 2,
    prev 0 → None; Mar 300 won 2, prev 200 → +50 %, won ±0.
By region, January: msk 100 (prev 0 → None); spb won nothing in January but appears, because
it sold in the previous bucket (e03 50 → −50, −100 %). A region selling only before the compared
buckets would not appear (none does here).
Q1 by quarter: 6 won, 750 | Q4 2025: 1, 50 → +700, ×14 | Q1 2025: 2, 200 → +550, +275 %.
9..22 Feb 2026 by week: W07 [9.02, 16.02) = e02 + e06: 2, 350, prev W06 0 → None;
W08 [16.02, 23.02) = e07 only: won 1, revenue 0 → −350, −100 %; 52 weeks earlier: nothing.
"""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from ropilot.connectors.bundle.importer import import_bundle
from ropilot.core.errors import ConfigurationError
from ropilot.core.kpi.dynamics import Change, comparison_spans, dynamics, dynamics_lineage
from ropilot.core.periods import Period, day, quarter
from ropilot.core.store import Store

DATA = Path(__file__).parent / "data" / "dynamics"
MSK = ZoneInfo("Europe/Moscow")
Q1 = quarter(2026, 1, MSK)


@pytest.fixture
def kpi_store(store: Store) -> Store:
    import_bundle(store, DATA)
    return store


def test_months_of_q1_with_previous_and_year_ago(kpi_store: Store) -> None:
    jan, feb, mar = dynamics(kpi_store, "k", Q1, "month")
    assert [r.keys for r in (jan, feb, mar)] == [
        {"bucket": "2026-01"},
        {"bucket": "2026-02"},
        {"bucket": "2026-03"},
    ]
    assert (jan.won, jan.revenue, jan.previous_won, jan.previous_revenue) == (1, 100, 1, 50)
    assert jan.revenue_change == Change(Decimal(50), Decimal(1))
    assert jan.won_change == Change(Decimal(0), Decimal(0))
    assert jan.revenue_vs_year_ago == Change(Decimal(20), Decimal("0.25"))
    assert (feb.won, feb.revenue) == (3, 350)
    assert feb.revenue_change == Change(Decimal(250), Decimal("2.5"))
    assert feb.won_change == Change(Decimal(2), Decimal(2))
    assert feb.revenue_vs_year_ago == Change(Decimal(350), None)
    assert (mar.won, mar.revenue) == (2, 300)
    assert mar.revenue_change == Change(Decimal(-50), Decimal(-50) / Decimal(350))
    assert mar.won_change == Change(Decimal(-1), Decimal(-1) / Decimal(3))
    assert mar.revenue_vs_year_ago == Change(Decimal(180), Decimal("1.5"))
    assert mar.won_vs_year_ago == Change(Decimal(1), Decimal(1))


def test_by_product_with_zero_buckets(kpi_store: Store) -> None:
    rows = {
        (r.keys["product"], r.keys["bucket"]): r
        for r in dynamics(kpi_store, "k", Q1, "month", ["product"])
    }
    assert len(rows) == 6
    a_jan, a_feb, a_mar = rows["A", "2026-01"], rows["A", "2026-02"], rows["A", "2026-03"]
    assert a_jan.revenue_change == Change(Decimal(50), Decimal(1))
    assert a_feb.revenue_change == Change(Decimal(50), Decimal("0.5"))
    assert (a_mar.won, a_mar.revenue) == (0, 0)
    assert a_mar.revenue_change == Change(Decimal(-150), Decimal(-1))
    assert a_mar.revenue_vs_year_ago == Change(Decimal(-120), Decimal(-1))
    b_jan, b_feb, b_mar = rows["B", "2026-01"], rows["B", "2026-02"], rows["B", "2026-03"]
    assert b_jan.revenue_change == Change(Decimal(0), None)
    assert (b_feb.won, b_feb.revenue, b_feb.revenue_change.relative) == (2, 200, None)
    assert b_mar.revenue_change == Change(Decimal(100), Decimal("0.5"))
    assert b_mar.won_change == Change(Decimal(0), Decimal(0))


def test_by_region_in_january(kpi_store: Store) -> None:
    jan = Period(date(2026, 1, 1), date(2026, 2, 1), MSK, "2026-01")
    msk, spb = dynamics(kpi_store, "k", jan, "month", ["region"])
    assert (msk.keys, msk.revenue, msk.revenue_change) == (
        {"region": "msk", "bucket": "2026-01"},
        100,
        Change(Decimal(100), None),
    )
    assert (spb.revenue, spb.revenue_change) == (0, Change(Decimal(-50), Decimal(-1)))


def test_quarter_grain(kpi_store: Store) -> None:
    (q1,) = dynamics(kpi_store, "k", Q1, "quarter")
    assert (q1.won, q1.revenue, q1.previous_won, q1.year_ago_won) == (6, 750, 1, 2)
    assert q1.revenue_change == Change(Decimal(700), Decimal(14))
    assert q1.revenue_vs_year_ago == Change(Decimal(550), Decimal("2.75"))


def test_weeks_and_empty_previous(kpi_store: Store) -> None:
    span = Period(date(2026, 2, 9), date(2026, 2, 23), MSK, "x")
    w07, w08 = dynamics(kpi_store, "k", span, "week")
    assert (w07.keys["bucket"], w07.won, w07.revenue, w07.revenue_change.relative) == (
        "2026-W07",
        2,
        350,
        None,
    )
    assert (w08.won, w08.revenue, w08.revenue_change) == (1, 0, Change(Decimal(-350), Decimal(-1)))
    assert (w07.year_ago_won, w08.year_ago_won) == (0, 0)
    assert dynamics(kpi_store, "k", span, "week", ["manager"]) != []
    assert dynamics(kpi_store, "k", day(date(2020, 1, 1), MSK), "day", ["manager"]) == []


def test_year_ago_spans() -> None:
    leap = Period(date(2028, 2, 29), date(2028, 3, 1), MSK, "x")
    _, previous, (back,) = comparison_spans(leap, "day")
    assert (back.first_day, back.end_day) == (date(2027, 2, 28), date(2027, 3, 1))
    assert previous.first_day == date(2028, 2, 28)
    _, previous, (wk,) = comparison_spans(
        Period(date(2026, 2, 9), date(2026, 2, 16), MSK, "w"), "week"
    )
    assert (wk.first_day, wk.first_day.weekday()) == (date(2025, 2, 10), 0)
    assert previous.first_day == date(2026, 2, 2)
    # A period starting on Wednesday 11 Feb: its first bucket is the partial W07, and the
    # previous bucket is the whole W06 (2..8 Feb), not the part of W07 before Wednesday.
    (first, *_), previous, _ = comparison_spans(
        Period(date(2026, 2, 11), date(2026, 2, 20), MSK, "x"), "week"
    )
    assert (first.first_day, previous.first_day, previous.end_day) == (
        date(2026, 2, 11),
        date(2026, 2, 2),
        date(2026, 2, 9),
    )


def test_lineage(kpi_store: Store) -> None:
    feb = dynamics_lineage(kpi_store, "k", Q1, "month", {"bucket": "2026-02"})
    assert [(d.deal_id, d.in_account_currency) for d in feb] == [
        ("e02", True),
        ("e06", True),
        ("e07", False),
    ]
    prev = dynamics_lineage(
        kpi_store, "k", Q1, "month", {"product": "A", "bucket": "2026-01"}, "previous"
    )
    assert [(d.deal_id, d.amount) for d in prev] == [("e03", Decimal(50))]
    ago = dynamics_lineage(kpi_store, "k", Q1, "month", {"bucket": "2026-03"}, "year_ago")
    assert [d.deal_id for d in ago] == ["e05"]
    mar = dynamics_lineage(kpi_store, "k", Q1, "month", {"bucket": "2026-03"})
    assert [(d.deal_id, d.amount) for d in mar] == [("e09", None), ("e08", Decimal(300))]
    with pytest.raises(ConfigurationError, match="base"):
        dynamics_lineage(kpi_store, "k", Q1, "month", {"bucket": "2026-03"}, "later")


def test_bad_input(kpi_store: Store) -> None:
    with pytest.raises(ConfigurationError, match="grain"):
        dynamics(kpi_store, "k", Q1, "hour")
    with pytest.raises(ConfigurationError, match="unknown dimension"):
        dynamics(kpi_store, "k", Q1, "month", ["colour"])
