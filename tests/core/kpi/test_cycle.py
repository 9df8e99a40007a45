"""Sales cycle on the hand-computed dataset (tests/core/kpi/data/outcomes).

Every deal was created 2026-02-01 10:00 Moscow. Won deals and their cycles, by hand:
d4 closed 28 Feb 23:30 → 27 d 13.5 h = 27.5625 d; d1 closed 1 Mar 00:30 → 27 d 14.5 h
= 27.6041666… d; d5 closed 10 Mar 10:00 → 37 d; d2 closed 15 Mar 12:00 → 42 d 2 h = 42.0833… d.
"""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from ropilot.connectors.bundle.importer import import_bundle
from ropilot.core.kpi.cycle import sales_cycle
from ropilot.core.periods import month, quarter
from ropilot.core.store import Store

DATA = Path(__file__).parent / "data" / "outcomes"
MSK = ZoneInfo("Europe/Moscow")
D1 = Decimal(27) + Decimal("14.5") / 24
D2 = Decimal(42) + Decimal(2) / 24


@pytest.fixture
def kpi_store(store: Store) -> Store:
    import_bundle(store, DATA)
    return store


def _close(a: Decimal | None, b: Decimal) -> bool:
    return a is not None and abs(a - b) < Decimal("1e-12")


def test_odd_count_median_and_mean(kpi_store: Store) -> None:
    (row,) = sales_cycle(kpi_store, "k", month(2026, 3, MSK))  # d1, d5, d2
    assert row.won == 3
    assert row.median_days == Decimal(37)
    assert _close(row.mean_days, Decimal("35.5625"))  # 106.6875 / 3


def test_even_count_median_is_the_mean_of_the_middle_two(kpi_store: Store) -> None:
    (row,) = sales_cycle(kpi_store, "k", quarter(2026, 1, MSK))  # d4, d1, d5, d2
    assert row.won == 4
    assert _close(row.median_days, (D1 + 37) / 2)
    assert _close(row.mean_days, Decimal("33.5625"))  # 134.25 / 4


def test_by_manager(kpi_store: Store) -> None:
    rows = {
        r.keys["manager"]: r for r in sales_cycle(kpi_store, "k", month(2026, 3, MSK), ["manager"])
    }
    assert _close(rows["m1"].median_days, (D1 + D2) / 2)
    assert rows["m2"].median_days == Decimal(37)  # the USD deal counts in cycle length
    assert set(rows) == {"m1", "m2"}


def test_no_won_deal_gives_no_cycle(kpi_store: Store) -> None:
    assert sales_cycle(kpi_store, "k", month(2025, 1, MSK), ["manager"]) == []
