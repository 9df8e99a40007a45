"""Forgotten deals as of 31 March 2026 12:00 Moscow, threshold 7 days (cut-off 24 March 12:00),
on tests/core/kpi/data/forgotten. Expected by hand:
f1 no activity (creation 1 Mar) → forgotten; f2 call 28 Mar → no; f3 task due 2 Apr still open
→ suppressed; f4 its future task was completed on 20 Mar → forgotten; f5 its task was due 30 Mar
(not after T) → forgotten; f6 is won now but sat in s2 at T, last touched 5 Mar → forgotten;
f7 is open now but was lost at T → no; f8 created after T → no; f9 touched exactly at the
cut-off (not before it) → no; f10 touched only after T → its creation counts → forgotten.
"""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from ropilot.connectors.bundle.importer import import_bundle
from ropilot.core.kpi.forgotten import forgotten_deals
from ropilot.core.store import Store

DATA = Path(__file__).parent / "data" / "forgotten"
MSK = ZoneInfo("Europe/Moscow")
AS_OF = datetime(2026, 3, 31, 12, 0, tzinfo=MSK)


@pytest.fixture
def kpi_store(store: Store) -> Store:
    import_bundle(store, DATA)
    return store


def test_forgotten_deals_as_of_end_of_march(kpi_store: Store) -> None:
    found = forgotten_deals(kpi_store, "f", AS_OF, days=7)
    assert [f.deal_id for f in found] == ["f1", "f10", "f6", "f4", "f5"]
    f6 = next(f for f in found if f.deal_id == "f6")
    assert f6.stage_id == "s2"  # the stage it held at T, not its current won stage
    assert f6.idle_days == pytest.approx(26 + 2 / 24)  # 5 Mar 10:00 → 31 Mar 12:00


def test_a_longer_threshold_keeps_only_the_oldest(kpi_store: Store) -> None:
    found = forgotten_deals(kpi_store, "f", AS_OF, days=28)  # cut-off 3 Mar 12:00
    assert [f.deal_id for f in found] == ["f1", "f10"]
