"""Outcome KPIs on a hand-computed dataset (tests/core/kpi/data/outcomes), SQLite and PostgreSQL.

March 2026 in Moscow, worked out by hand from deals.csv:
d1 won 100,000 (closed 00:30 on 1 March: March in Moscow, still February in UTC);
d2 won with an empty amount; d3 lost 50,000 (23:59:59 on 31 March); d5 won 1,000 USD;
d6 lost 0; d4 (28 February 23:30) and d8 (00:00 on 1 April) fall outside; d7 is open.
"""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from ropilot.connectors.bundle.importer import import_bundle
from ropilot.core.errors import ConfigurationError
from ropilot.core.kpi.outcomes import outcomes
from ropilot.core.periods import month, parse_period, quarter
from ropilot.core.store import Store

DATA = Path(__file__).parent / "data" / "outcomes"
MSK = ZoneInfo("Europe/Moscow")


@pytest.fixture
def kpi_store(store: Store) -> Store:
    import_bundle(store, DATA)
    return store


def test_company_figures_for_march(kpi_store: Store) -> None:
    (row,) = outcomes(kpi_store, "k", month(2026, 3, MSK))
    assert (row.won, row.lost, row.won_in_currency) == (3, 2, 2)
    assert row.revenue == Decimal("100000.00")
    assert row.lost_amount == Decimal("50000.00")
    assert row.average_check == Decimal("50000.00")  # 100,000 / 2 (the empty amount counts)
    assert row.win_rate == Decimal("0.6")  # 3 / 5: the USD deal counts in counts
    assert row.win_rate_value is not None
    assert round(row.win_rate_value, 6) == Decimal("0.666667")  # 100,000 / 150,000
    assert row.other_currencies == {"USD": Decimal("1000.00")}


def test_by_manager_and_zero_denominators(kpi_store: Store) -> None:
    rows = {
        r.keys["manager"]: r for r in outcomes(kpi_store, "k", month(2026, 3, MSK), ["manager"])
    }
    assert set(rows) == {"m1", "m2"}  # m3 closed nothing in March
    m1, m2 = rows["m1"], rows["m2"]
    assert (m1.won, m1.lost, m1.revenue) == (2, 1, Decimal("100000.00"))
    assert m1.win_rate == Decimal(2) / Decimal(3)
    assert (m2.won, m2.lost, m2.won_in_currency) == (1, 1, 0)
    assert m2.average_check is None  # no won deal in roubles
    assert m2.win_rate == Decimal("0.5")
    assert m2.win_rate_value is None  # 0 won + 0 lost in roubles
    assert m2.other_currencies == {"USD": Decimal("1000.00")}


def test_by_team_through_the_manager(kpi_store: Store) -> None:
    rows = outcomes(kpi_store, "k", month(2026, 3, MSK), ["team"])
    assert [(r.keys["team"], r.won, r.lost) for r in rows] == [("north", 3, 2)]


def test_month_boundaries_in_the_account_zone(kpi_store: Store) -> None:
    (feb,) = outcomes(kpi_store, "k", month(2026, 2, MSK))
    assert (feb.won, feb.revenue) == (1, Decimal("30000.00"))  # d4 at 23:30 on 28 February
    (april,) = outcomes(kpi_store, "k", month(2026, 4, MSK))
    assert april.average_check == Decimal("20000.50")  # d8 at 00:00 on 1 April


def test_quarter_and_rounding_of_the_average_check(kpi_store: Store) -> None:
    (q1,) = outcomes(kpi_store, "k", quarter(2026, 1, MSK))
    assert (q1.won, q1.lost, q1.won_in_currency) == (4, 2, 3)
    assert q1.revenue == Decimal("130000.00")
    assert q1.average_check == Decimal("43333.33")  # 130,000 / 3 = 43,333.333…


def test_empty_period_gives_zeros_and_null_ratios(kpi_store: Store) -> None:
    (row,) = outcomes(kpi_store, "k", month(2025, 1, MSK))
    assert (row.won, row.lost, row.revenue) == (0, 0, Decimal("0.00"))
    assert (row.average_check, row.win_rate, row.win_rate_value) == (None, None, None)
    assert outcomes(kpi_store, "k", month(2025, 1, MSK), ["manager"]) == []


def test_unknown_dimension_is_refused(kpi_store: Store) -> None:
    with pytest.raises(ConfigurationError, match="unknown dimension"):
        outcomes(kpi_store, "k", month(2026, 3, MSK), ["colour"])


def test_parse_period_forms() -> None:
    today = date(2026, 1, 15)
    assert parse_period("2026-03", MSK, today=today).label == "2026-03"
    march = parse_period("2026-03-01..2026-03-31", MSK, today=today)
    assert (march.first_day, march.end_day) == (date(2026, 3, 1), date(2026, 4, 1))
    assert parse_period("last-month", MSK, today=today).label == "2025-12"
    assert parse_period("last-quarter", MSK, today=today).label == "2025-Q4"
    week = parse_period("2026-W01", MSK, today=today)
    assert (week.first_day, week.end_day) == (date(2025, 12, 29), date(2026, 1, 5))
    # Local midnight in Moscow is 21:00 UTC the day before.
    assert march.start.isoformat() == "2026-03-01T00:00:00+03:00"
    with pytest.raises(ConfigurationError, match="is not a period"):
        parse_period("2026-13", MSK, today=today)
