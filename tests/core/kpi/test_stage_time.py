"""Time in stage on tests/core/kpi/data/funnel (deals described in test_funnel.py), by hand.

Visits (entered → next change), Moscow time, with the month their end falls in:
- D1: a 02.03 10:00 → 05.03 10:00 = 3 d; b → 10.03 = 5 d; c → 20.03 = 10 d (March); w open.
- D2: a 20.02 10:00 → 03.03 10:00 = 11 d (Feb 2026 has 28 days); c 03.03 → 06.03 = 3 d;
  b 06.03 → 08.03 = 2 d (March); c open since 08.03. The skip over b on 03.03 gives no sample.
- D4: a 10.02 → 15.02 = 5 d (February); b 15.02 10:00 → 02.03 12:00 = 15 d 2 h; lost l 02.03
  12:00 → 12.03 12:00 = 10 d (ended by the reopening); b again 12.03 12:00 → 31.03 23:59:59 =
  19 d 11:59:59 (March); c 31.03 23:59:59 → 01.04 00:00:00 = 1 s (April).
- D6: b 28.02 23:30 → 01.03 00:00:00 = 30 min (ends exactly at March's first midnight: March).
- D7: q1 10.03 → 11.03 = 1 d; q2 → 13.03 = 2 d. D8: q1 (created 18.03 10:00, no creation row)
  → 20.03 10:00 = 2 d. D9: a 25.03 → 26.03 = 1 d. D3, D5: no change, no ended visit.

March per stage: a: 3, 11, 1 → median 3, mean 15 / 3 = 5. b: 30 min, 2 d, 5 d, 15 d 2 h,
19 d 11:59:59 (two visits of D4) → median 5, mean (1,800 + 172,800 + 432,000 + 1,303,200 +
1,684,799) s / 5 = 3,594,599 / 5 / 86,400 d. c: 3, 10 → median (3 + 10) / 2 = 6.5 = mean.
l: 10. q1: 1, 2 → 1.5. q2: 2. By manager, b: m1 (D1 5, D2 2) → median 3.5; m2 (D4) → (15 d 2 h
+ 19 d 11:59:59) / 2; m3 (D6) → 30 min. February: only D4's a, 5 d. April: D4's c, 1 s.

Open visits as of 31.03 12:00 (open stages only; D1, D7 are won, D3, D9 lost): b: D4 since
12.03 12:00 = 19 d; c: D2 since 08.03 10:00 = 554 h, D5 since 15.03 10:00 = 386 h, D6 since
01.03 00:00 = 732 h → median 554 h, mean 1,672 h / 3; q2: D8 since 20.03 10:00 = 266 h.
"""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from ropilot.connectors.bundle.importer import import_bundle
from ropilot.core.kpi.stage_time import (
    StageTimeRow,
    open_visits,
    open_visits_list,
    time_in_stage,
    time_in_stage_visits,
)
from ropilot.core.periods import month
from ropilot.core.store import Store

DATA = Path(__file__).parent / "data" / "funnel"
MSK = ZoneInfo("Europe/Moscow")
MARCH = month(2026, 3, MSK)
DAY = Decimal(86_400)


@pytest.fixture
def kpi_store(store: Store) -> Store:
    import_bundle(store, DATA)
    return store


def _by_stage(rows: list[StageTimeRow]) -> dict[str, tuple[int, Decimal | None, Decimal | None]]:
    return {r.stage_id: (r.samples, r.median_days, r.mean_days) for r in rows}


def test_march_per_stage(kpi_store: Store) -> None:
    rows = time_in_stage(kpi_store, "k", MARCH)
    assert [r.stage_id for r in rows] == ["a", "b", "c", "l", "q1", "q2"]
    got = _by_stage(rows)
    assert got["a"] == (3, Decimal(3), Decimal(5))
    assert got["b"] == (5, Decimal(5), Decimal(3_594_599) / 5 / DAY)
    assert got["c"] == (2, Decimal("6.5"), Decimal("6.5"))
    assert got["l"] == (1, Decimal(10), Decimal(10))
    assert got["q1"] == (2, Decimal("1.5"), Decimal("1.5"))
    assert got["q2"] == (1, Decimal(2), Decimal(2))
    assert rows[3].kind == "lost" and rows[0].stage_name == "Заявка"


def test_pipeline_filter_and_other_months(kpi_store: Store) -> None:
    assert [r.stage_id for r in time_in_stage(kpi_store, "k", MARCH, pipeline_id="q")] == [
        "q1",
        "q2",
    ]
    assert _by_stage(time_in_stage(kpi_store, "k", month(2026, 2, MSK))) == {
        "a": (1, Decimal(5), Decimal(5))
    }
    assert _by_stage(time_in_stage(kpi_store, "k", month(2026, 4, MSK))) == {
        "c": (1, 1 / DAY, 1 / DAY)
    }
    assert time_in_stage(kpi_store, "k", month(2026, 5, MSK)) == []


def test_by_manager(kpi_store: Store) -> None:
    rows = [r for r in time_in_stage(kpi_store, "k", MARCH, by=["manager"]) if r.stage_id == "b"]
    got = {r.keys["manager"]: (r.samples, r.median_days) for r in rows}
    d4 = (Decimal(1_303_200) + Decimal(1_684_799)) / 2 / DAY
    assert got == {"m1": (2, Decimal("3.5")), "m2": (2, d4), "m3": (1, Decimal(1800) / DAY)}


def test_visit_lineage(kpi_store: Store) -> None:
    visits = time_in_stage_visits(kpi_store, "k", MARCH, "b")
    assert [(v.deal_id, v.entered_at, v.days) for v in visits] == [
        ("D1", datetime(2026, 3, 5, 10, tzinfo=MSK), Decimal(5)),
        ("D2", datetime(2026, 3, 6, 10, tzinfo=MSK), Decimal(2)),
        ("D4", datetime(2026, 2, 15, 10, tzinfo=MSK), Decimal(1_303_200) / DAY),
        ("D4", datetime(2026, 3, 12, 12, tzinfo=MSK), Decimal(1_684_799) / DAY),
        ("D6", datetime(2026, 2, 28, 23, 30, tzinfo=MSK), Decimal(1800) / DAY),
    ]
    assert visits[-1].left_at == datetime(2026, 3, 1, tzinfo=MSK)
    m1 = time_in_stage_visits(kpi_store, "k", MARCH, "b", keys={"manager": "m1"})
    assert [v.deal_id for v in m1] == ["D1", "D2"]


def test_open_visits(kpi_store: Store) -> None:
    as_of = datetime(2026, 3, 31, 12, tzinfo=MSK)
    got = _by_stage(open_visits(kpi_store, "k", as_of))
    assert got == {
        "b": (1, Decimal(19), Decimal(19)),
        "c": (3, Decimal(554) / 24, Decimal(1672) / 3 / 24),
        "q2": (1, Decimal(266) / 24, Decimal(266) / 24),
    }
    listed = open_visits_list(kpi_store, "k", as_of, "c")
    assert [(v.deal_id, v.left_at) for v in listed] == [("D2", None), ("D5", None), ("D6", None)]
