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
from ropilot.core.kpi.forgotten import forgotten_clients, forgotten_deals
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


CLIENTS = Path(__file__).parent / "data" / "forgotten_clients"


def test_forgotten_clients(store: Store) -> None:
    """As of 31 March 2026 12:00 Moscow, 7 days (cut-off 24 March 12:00), by hand:
    c1 touched directly on 28 Mar → no; c2 via its deal d2 on 10 Mar → forgotten; c3 via its
    contact p3 on 30 Mar → no; c4 last touched 1 Mar but its deal's task is due 2 Apr → no;
    c5 never touched → its creation 10 Jan → forgotten; c6 has no deal → not a client; c7 only
    touched after T, no creation date → its first deal 1 Feb → forgotten; c8 touched 5 Mar, its
    task due 5 Apr was completed on 20 Mar → forgotten. Oldest first: c5, c7, c8, c2.
    """
    import_bundle(store, CLIENTS)
    found = forgotten_clients(store, "fc", AS_OF, days=7)
    assert [f.company_id for f in found] == ["c5", "c7", "c8", "c2"]
    c7 = found[1]
    assert c7.last_touch_at == datetime(2026, 2, 1, 10, 0, tzinfo=MSK)
    assert c7.responsible_id == "m2"
    assert found[0].idle_days == pytest.approx(80 + 2 / 24)  # 10 Jan 10:00 → 31 Mar 12:00
