"""Stage conversion on tests/core/kpi/data/funnel, computed by hand (Moscow time, UTC+3).

Funnels: pipeline p = a(1) → b(2) → c(3) → w(4, won); l is lost, not a step. Pipeline q =
q1(1) → q2(2) → qw(3, won).

Deals (stage entries; "created" = the creation entry):
- D1 m1: created a 02.03 10:00, b 05.03 10:00, c 10.03 10:00, w 20.03 10:00.
- D2 m1: created a 20.02 10:00, c 03.03 10:00 (skips b), back to b 06.03, c again 08.03.
- D3 m2: created lost 04.03, no history — reaches nothing.
- D4 m2: created a 10.02, b 15.02, lost 02.03 12:00, reopened to b 12.03 12:00,
  c 31.03 23:59:59, w 01.04 00:00:00 (local midnight).
- D5 m3: no history, created directly in c 15.03 10:00.
- D6 m3: created b 28.02 23:30, c 01.03 00:00:00 (local midnight).
- D7 m1 (q): created q1 10.03, q2 11.03, qw 13.03.
- D8 m2 (q): no creation row; first change q1 → q2 20.03 10:00, created 18.03 10:00, so it
  was created in q1 at 18.03 10:00.
- D9 m1: created a 25.03 10:00, lost 26.03.

Funnel ("reached") snapshot, March, p — a deal first reaches steps (max position entered before
1 March, max before 1 April]: D1 (0, 4] → 1–4; D2 (1, 3] → 2, 3 (2 by the skip); D4 (2, 3] → 3
(its re-entry into b adds nothing, w is April); D5 (0, 3] → 1–3 (created in c); D6 (2, 3] → 3;
D9 (0, 1] → 1; D3 nothing. Step 1: D1 D5 D9 = 3; step 2: D1 D2 D5 = 3; step 3: D1 D2 D4 D5
D6 = 5; step 4: D1 = 1. Conversions 3/3 = 1, 5/3, 1/5 = 0.2, last step None.
q: D7 → 1–3, D8 → 1, 2: 2, 2, 1; conversions 1 and 1/2.
February p: D2 → 1; D4 → 1, 2; D6 → 1, 2 (created in b): 3, 2, 0, 0 → 2/3, 0/2 = 0, None.
April p: D4 → 4 only: 0, 0, 0, 1; conversion 3 → 4 is 1/0 → None.

Strict snapshot, March, p (first entry into exactly that stage in March): a: D1 D9 = 2; b: D1 D2
(first b 06.03) = 2; c: D1 D2 D4 D5 D6 = 5; w: D1 = 1 — steps 1 and 2 differ from the funnel
reading (D5, created in c, reached a and b but never entered them).

Cohort, window March, p, funnel reading (reach k in March; converted when reaching k + 1 within
the horizon of its own reach-k moment, inclusive):
- step 1: D1 (b 3 days later), D5 (b at the same moment), D9 (never) → 3, converted 2 for any
  horizon ≥ 3 days; horizon 0 → D5 only = 1.
- step 2: D1 (c 5 days later), D2 (skip: c at the same moment), D5 (same moment) → 3, 3;
  horizon 0 → D2, D5 = 2.
- step 3: D1 (w exactly 10 days later), D2, D4 (w 1 second later), D5, D6 → 5; horizon 10 days
  → D1 (boundary, inclusive) and D4 = 2; horizon 9 days → D4 = 1; horizon 0 → 0; no horizon →
  2; as of 31.03 23:59:59 (history after it ignored) → D1 = 1; horizon_end 20.03 10:00 → D1 = 1.
Strict cohort, no horizon: a: D1 (→ b), D9 → 2, 1; b: D1 (→ c), D2 (first c 03.03 came before
its first b 06.03: not converted) → 2, 1; c: 5, 2 (D1, D4).

By manager, snapshot March p: m1 (D1, D2, D9): 2, 2, 2, 1; m2 (D4; D3 reaches nothing):
0, 0, 1, 0; m3 (D5, D6): 1, 1, 2, 0; m4 has no deals and no row.
"""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from ropilot.connectors.bundle.importer import import_bundle
from ropilot.core.errors import ConfigurationError
from ropilot.core.kpi.funnel import (
    ConversionRow,
    cohort,
    cohort_deals,
    snapshot,
    snapshot_deals,
    steps,
)
from ropilot.core.periods import month
from ropilot.core.store import Store

DATA = Path(__file__).parent / "data" / "funnel"
MSK = ZoneInfo("Europe/Moscow")
MARCH = month(2026, 3, MSK)


@pytest.fixture
def kpi_store(store: Store) -> Store:
    import_bundle(store, DATA)
    return store


def _table(rows: list[ConversionRow], pipeline: str = "p") -> list[tuple[int, int | None]]:
    return [(r.reached, r.reached_next) for r in rows if r.pipeline_id == pipeline]


def test_steps_are_open_stages_by_sort_then_won(kpi_store: Store) -> None:
    got = [(s.pipeline_id, s.position, s.stage_id, s.kind) for s in steps(kpi_store, "k")]
    assert got == [
        ("p", 1, "a", "open"),
        ("p", 2, "b", "open"),
        ("p", 3, "c", "open"),
        ("p", 4, "w", "won"),
        ("q", 1, "q1", "open"),
        ("q", 2, "q2", "open"),
        ("q", 3, "qw", "won"),
    ]


def test_funnel_snapshot_march(kpi_store: Store) -> None:
    rows = snapshot(kpi_store, "k", MARCH)
    assert _table(rows) == [(3, 3), (3, 5), (5, 1), (1, None)]
    p = [r for r in rows if r.pipeline_id == "p"]
    assert [r.conversion for r in p] == [Decimal(1), Decimal(5) / 3, Decimal("0.2"), None]
    assert [(r.stage_id, r.next_stage_id) for r in p] == [
        ("a", "b"),
        ("b", "c"),
        ("c", "w"),
        ("w", None),
    ]
    assert {(r.method, r.reading) for r in rows} == {("snapshot", "funnel")}
    assert p[0].stage_name == "Заявка" and p[0].next_stage_name == "Встреча"
    assert _table(rows, "q") == [(2, 2), (2, 1), (1, None)]
    assert [r.conversion for r in rows if r.pipeline_id == "q"] == [
        Decimal(1),
        Decimal("0.5"),
        None,
    ]


def test_midnight_boundaries_and_zero_denominator(kpi_store: Store) -> None:
    feb = snapshot(kpi_store, "k", month(2026, 2, MSK))
    assert _table(feb) == [(3, 2), (2, 0), (0, 0), (0, None)]
    assert [r.conversion for r in feb] == [Decimal(2) / 3, Decimal(0), None, None]
    april = snapshot(kpi_store, "k", month(2026, 4, MSK), pipeline_id="p")
    assert _table(april) == [(0, 0), (0, 0), (0, 1), (1, None)]
    assert april[2].conversion is None  # 1 ÷ 0
    assert snapshot(kpi_store, "k", month(2026, 5, MSK)) == []


def test_strict_reading_differs(kpi_store: Store) -> None:
    rows = snapshot(kpi_store, "k", MARCH, pipeline_id="p", reading="strict")
    assert _table(rows) == [(2, 2), (2, 5), (5, 1), (1, None)]
    assert [r.conversion for r in rows] == [Decimal(1), Decimal("2.5"), Decimal("0.2"), None]
    assert {r.reading for r in rows} == {"strict"}


def test_snapshot_by_manager(kpi_store: Store) -> None:
    rows = snapshot(kpi_store, "k", MARCH, pipeline_id="p", by=["manager"])
    got: dict[str | None, list[int]] = {}
    for r in rows:
        got.setdefault(r.keys["manager"], []).append(r.reached)
    assert got == {"m1": [2, 2, 2, 1], "m2": [0, 0, 1, 0], "m3": [1, 1, 2, 0]}


def test_cohort_horizon_is_inclusive(kpi_store: Store) -> None:
    ten = cohort(kpi_store, "k", MARCH, 10, pipeline_id="p")
    assert _table(ten) == [(3, 2), (3, 3), (5, 2), (1, None)]
    assert {(r.method, r.reading) for r in ten} == {("cohort", "funnel")}
    assert [r.conversion for r in ten] == [Decimal(2) / 3, Decimal(1), Decimal("0.4"), None]
    nine = cohort(kpi_store, "k", MARCH, 9, pipeline_id="p")
    assert _table(nine) == [(3, 2), (3, 3), (5, 1), (1, None)]
    zero = cohort(kpi_store, "k", MARCH, 0, pipeline_id="p")
    assert _table(zero) == [(3, 1), (3, 2), (5, 0), (1, None)]
    unlimited = cohort(kpi_store, "k", MARCH, pipeline_id="p")
    assert _table(unlimited) == [(3, 2), (3, 3), (5, 2), (1, None)]


def test_cohort_as_of_and_horizon_end(kpi_store: Store) -> None:
    as_of = datetime(2026, 3, 31, 23, 59, 59, tzinfo=MSK)
    rows = cohort(kpi_store, "k", MARCH, pipeline_id="p", as_of=as_of)
    assert _table(rows) == [(3, 2), (3, 3), (5, 1), (1, None)]
    end = datetime(2026, 3, 20, 10, tzinfo=MSK)
    rows = cohort(kpi_store, "k", MARCH, pipeline_id="p", horizon_end=end)
    assert _table(rows)[2] == (5, 1)


def test_strict_cohort(kpi_store: Store) -> None:
    rows = cohort(kpi_store, "k", MARCH, pipeline_id="p", reading="strict")
    assert _table(rows) == [(2, 1), (2, 1), (5, 2), (1, None)]


def test_snapshot_lineage(kpi_store: Store) -> None:
    deals = snapshot_deals(kpi_store, "k", MARCH, "p", 2)
    got = {d.deal_id: (d.in_reached, d.in_next) for d in deals}
    assert got == {
        "D1": (True, True),
        "D2": (True, True),
        "D4": (False, True),
        "D5": (True, True),
        "D6": (False, True),
    }
    by_id = {d.deal_id: d for d in deals}
    assert by_id["D4"].reached_at == datetime(2026, 2, 15, 10, tzinfo=MSK)
    assert (
        by_id["D2"].reached_at
        == by_id["D2"].next_reached_at
        == datetime(2026, 3, 3, 10, tzinfo=MSK)
    )
    assert by_id["D1"].amount == Decimal(100000)
    assert by_id["D5"].amount is None
    assert by_id["D6"].currency == "USD"
    # The lineage adds up to the figures of the row.
    row = snapshot(kpi_store, "k", MARCH, pipeline_id="p")[1]
    assert (row.reached, row.reached_next) == (
        sum(d.in_reached for d in deals),
        sum(d.in_next for d in deals),
    )
    strict = snapshot_deals(kpi_store, "k", MARCH, "p", 1, reading="strict")
    assert {d.deal_id: (d.in_reached, d.in_next) for d in strict} == {
        "D1": (True, True),
        "D9": (True, False),
        "D2": (False, True),
    }
    m3 = snapshot_deals(kpi_store, "k", MARCH, "p", 3, keys={"manager": "m3"})
    assert [(d.deal_id, d.in_reached, d.in_next, d.keys) for d in m3] == [
        ("D5", True, False, {"manager": "m3"}),
        ("D6", True, False, {"manager": "m3"}),
    ]
    last = snapshot_deals(kpi_store, "k", MARCH, "p", 4)
    assert [(d.deal_id, d.next_reached_at, d.in_next) for d in last] == [("D1", None, False)]


def test_cohort_lineage(kpi_store: Store) -> None:
    deals = cohort_deals(kpi_store, "k", MARCH, "p", 3, 10)
    assert {d.deal_id: d.in_next for d in deals} == {
        "D1": True,
        "D2": False,
        "D4": True,
        "D5": False,
        "D6": False,
    }
    assert all(d.in_reached for d in deals)
    nine = cohort_deals(kpi_store, "k", MARCH, "p", 3, 9)
    assert [d.deal_id for d in nine if d.in_next] == ["D4"]
    strict = cohort_deals(kpi_store, "k", MARCH, "p", 2, reading="strict")
    assert {d.deal_id: d.in_next for d in strict} == {"D1": True, "D2": False}


def test_bad_input(kpi_store: Store) -> None:
    with pytest.raises(ConfigurationError, match="reading"):
        snapshot(kpi_store, "k", MARCH, reading="loose")  # type: ignore[arg-type]
    with pytest.raises(ConfigurationError, match="horizon"):
        cohort(kpi_store, "k", MARCH, -1)
    with pytest.raises(ConfigurationError, match="not both"):
        cohort(kpi_store, "k", MARCH, 3, horizon_end=datetime(2026, 4, 1, tzinfo=MSK))
    with pytest.raises(ConfigurationError, match="no funnel step 9"):
        snapshot_deals(kpi_store, "k", MARCH, "p", 9)
    with pytest.raises(ConfigurationError, match="dimension"):
        snapshot(kpi_store, "k", MARCH, by=["colour"])
