"""ABC and XYZ on a hand-computed dataset (tests/core/kpi/data/abcxyz), SQLite and PostgreSQL.

Account zone Europe/Moscow, currency RUB.

ABC over 2024 (won deals closed in 2024, roubles, with a company):
    b1 5000, b2 2500, t1 300 + 200 = 500, t2 500, t3 500, t4 500, s3 300,
    s2 200 (closed 23:59:59 on 31 Dec 2024: in);  total 10,000.
Left out: t1's won 10,000 USD (other currency), z0's won deals of 0 and of an empty amount
(revenue 0), a won 9,000 without company, s2's lost 8,000, s2's won 7,000 closed in 2023.
Ranked by revenue, the four 500s by id (t1 < t2 < t3 < t4); share before → class:
    b1 0 % A | b2 50 % A | t1 75 % A (reaches exactly 80 %) | t2 exactly 80 % → B |
    t3 85 % B | t4 90 % B (reaches exactly 95 %) | s3 exactly 95 % → C | s2 98 % C.
With thresholds 50 % / 90 %: b1 A; b2 (exactly 50 %) B; t1 75 B; t2 80 B; t3 85 B; t4 90 C.

XYZ as of 15 January 2026: the window is January..December 2025 (n = 12 months).
    cx: 110, 90, 110 (= 60 + 50), 90, … alternating, December 90 → mean 100, every deviation ±10,
        σ = 10, CV = 10/100 = 0.10 exactly → X (inclusive). January's deal is at 00:00 on
        1 Jan 2025 and December's at 00:30 on 1 Dec (both the previous month in UTC).
        A lost 1,000 in May is left out.
    cy: 250, 150 alternating → mean 200, σ 50, CV = 0.25 exactly → Y (inclusive). Open deal out.
    cz: 126, 74 alternating → mean 100, σ 26, CV 0.26 → Z.
    c3: 400 in March, June, September → exactly 3 months: mean 1200/12 = 100,
        variance = (3·300² + 9·100²)/12 = 30,000, σ = 100·√3, CV = √3 → Z.
    c2: 300 in April and August → 2 months → unclassified (its 300 at 00:00 on 1 Jan 2026 is in
        the as-of month, not in the window).
    c0 (a won 0) and cf (USD only) have no month with revenue → not listed; 5,000 without a
    company is out.
ABC over the same window: total = 2400 + 1200 + 1200 + 1200 + 600 = 6600; cy 2400 (before 0) A;
the 1200s by id c3 (before 2400/6600 = 36.4 %) A, cx (54.5 %) A, cz (72.7 %) A; c2 (6000/6600
= 90.9 %) B. Matrix: AX 1 (cx), AY 1 (cy), AZ 2 (c3, cz), the rest 0; c2 is B without XYZ.
Supply-chain thresholds 50 % / 100 %: cx, cy, cz X; c3 (√3 > 1) Z.
"""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from ropilot.connectors.bundle.importer import import_bundle
from ropilot.core.errors import ConfigurationError
from ropilot.core.kpi.abcxyz import (
    abc,
    abc_xyz,
    abc_xyz_matrix,
    revenue_lineage,
    xyz,
    xyz_window,
)
from ropilot.core.periods import year_period
from ropilot.core.store import Store

DATA = Path(__file__).parent / "data" / "abcxyz"
MSK = ZoneInfo("Europe/Moscow")
Y2024 = year_period(2024, MSK)
Y2025 = year_period(2025, MSK)


@pytest.fixture
def kpi_store(store: Store) -> Store:
    import_bundle(store, DATA)
    return store


def test_abc_ranking_ties_and_exact_boundaries(kpi_store: Store) -> None:
    rows = abc(kpi_store, "k", Y2024)
    assert [(r.company_id, r.revenue, r.abc) for r in rows] == [
        ("b1", Decimal(5000), "A"),
        ("b2", Decimal(2500), "A"),
        ("t1", Decimal(500), "A"),
        ("t2", Decimal(500), "B"),
        ("t3", Decimal(500), "B"),
        ("t4", Decimal(500), "B"),
        ("s3", Decimal(300), "C"),
        ("s2", Decimal(200), "C"),
    ]
    t1, t2 = rows[2], rows[3]
    assert (t1.cumulative_before, t1.cumulative_share) == (Decimal("0.75"), Decimal("0.8"))
    assert (t2.cumulative_before, t2.share, t2.rank) == (Decimal("0.8"), Decimal("0.05"), 4)
    assert rows[6].cumulative_before == Decimal("0.95")
    assert rows[-1].cumulative_share == 1


def test_abc_configurable_thresholds(kpi_store: Store) -> None:
    rows = abc(kpi_store, "k", Y2024, thresholds=("0.5", "0.9"))
    assert [r.abc for r in rows] == ["A", "B", "B", "B", "B", "C", "C", "C"]
    with pytest.raises(ConfigurationError, match="thresholds"):
        abc(kpi_store, "k", Y2024, thresholds=("0.9", "0.5"))


def test_xyz_window_is_twelve_complete_months() -> None:
    window = xyz_window(date(2026, 1, 15), MSK)
    assert (window.first_day, window.end_day) == (date(2025, 1, 1), date(2026, 1, 1))
    on_first = xyz_window(datetime(2026, 1, 1, 0, 30, tzinfo=MSK), MSK)
    assert on_first.first_day == date(2025, 1, 1)


def test_xyz_exact_thresholds_and_months_of_history(kpi_store: Store) -> None:
    rows = {r.company_id: r for r in xyz(kpi_store, "k", Y2025)}
    assert sorted(rows) == ["c2", "c3", "cx", "cy", "cz"]
    cx = rows["cx"]
    assert cx.monthly == tuple(Decimal(110 if m % 2 else 90) for m in range(1, 13))
    assert (cx.mean, cx.sigma, cx.cv, cx.xyz) == (Decimal(100), Decimal(10), Decimal("0.1"), "X")
    cy = rows["cy"]
    assert (cy.mean, cy.sigma, cy.cv, cy.xyz) == (Decimal(200), Decimal(50), Decimal("0.25"), "Y")
    assert (rows["cz"].cv, rows["cz"].xyz) == (Decimal("0.26"), "Z")
    c3 = rows["c3"]
    assert (c3.months_with_sales, c3.mean, c3.xyz) == (3, Decimal(100), "Z")
    assert round(c3.cv or 0, 6) == Decimal("1.732051")  # √3
    c2 = rows["c2"]
    assert (c2.months_with_sales, c2.xyz) == (2, None)
    loose = {r.company_id: r.xyz for r in xyz(kpi_store, "k", Y2025, thresholds=(0.5, 1.0))}
    assert loose == {"c2": None, "c3": "Z", "cx": "X", "cy": "X", "cz": "X"}


def test_combined_matrix(kpi_store: Store) -> None:
    report = abc_xyz(kpi_store, "k", date(2026, 1, 15))
    assert report.months[0] == "2025-01" and report.months[-1] == "2025-12"
    assert [(c.company_id, c.abc and c.abc.abc, c.cell) for c in report.clients] == [
        ("cy", "A", "AY"),
        ("c3", "A", "AZ"),
        ("cx", "A", "AX"),
        ("cz", "A", "AZ"),
        ("c2", "B", None),
    ]
    assert report.clients[0].abc is not None
    assert report.clients[0].abc.revenue == Decimal(2400)
    assert report.matrix == {
        "AX": 1, "AY": 1, "AZ": 2, "BX": 0, "BY": 0, "BZ": 0, "CX": 0, "CY": 0, "CZ": 0,
    }  # fmt: skip
    assert report.unclassified == {"B": 1}


def test_revenue_lineage(kpi_store: Store) -> None:
    march = revenue_lineage(kpi_store, "k", Y2025, "cx", "2025-03")
    assert [(d.amount, d.month) for d in march] == [
        (Decimal(60), "2025-03"),
        (Decimal(50), "2025-03"),
    ]
    t1 = revenue_lineage(kpi_store, "k", Y2024, "t1")
    assert [d.amount for d in t1] == [Decimal(300), Decimal(200)]  # the USD deal is not revenue
    assert revenue_lineage(kpi_store, "k", Y2024, "z0")[0].amount == 0  # listed, revenue 0


def test_combined_over_2024_leaves_everyone_unclassified(kpi_store: Store) -> None:
    # As of 15 Jan 2025 the window is 2024: t1 sold in 2 months (Feb, Nov), the others in 1.
    report = abc_xyz(kpi_store, "k", date(2025, 1, 15))
    assert (report.xyz_window.first_day, report.abc_window.end_day) == (
        date(2024, 1, 1),
        date(2025, 1, 1),
    )
    assert set(report.matrix.values()) == {0}
    assert report.unclassified == {"A": 3, "B": 3, "C": 2}
    t1 = next(c for c in report.clients if c.company_id == "t1")
    assert t1.xyz is not None and t1.xyz.months_with_sales == 2 and t1.xyz.xyz is None


def test_matrix_alone_gives_the_same_counts(kpi_store: Store) -> None:
    # The fast path of the morning report: the hand-computed matrices of the two tests above.
    matrix, unclassified, window = abc_xyz_matrix(kpi_store, "k", date(2026, 1, 15))
    assert {k: v for k, v in matrix.items() if v} == {"AX": 1, "AY": 1, "AZ": 2}
    assert unclassified == {"B": 1}
    assert window.label == "2025-01..2025-12"
    matrix, unclassified, _ = abc_xyz_matrix(kpi_store, "k", date(2025, 1, 15))
    assert set(matrix.values()) == {0}
    assert unclassified == {"A": 3, "B": 3, "C": 2}
