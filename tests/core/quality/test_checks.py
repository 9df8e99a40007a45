"""Every built-in deal/task check on the hand-made account (bundle.py), as of Tue 24 Feb 2026
12:00 Moscow; business hours are 09–13 and 14–18 on working days, Mon 23 Feb is a holiday.

* stage_no_activity (limit 12.5 h):
  D1 (m1, Moscow), last call Thu 19 16:00: Thu 16–18 = 2, Fri 8, Mon 0 (holiday), Tue 09–12 = 3
  → 13.0 ≥ 12.5, flagged (without the holiday it would be 21).
  D2 (m2, Yekaterinburg, UTC+5), same call = Thu 18:00 local: Thu 0, Fri 8, Tue 09–13 local
  (as-of is 14:00 there) = 4 → 12.0 < 12.5, not flagged.
  D3 last call Wed 18 10:00 (26 h) but a task due Wed 25 → a future next step suppresses it.
  D4 last call Wed 18 10:00: Wed 3 + 4, Thu 8, Fri 8, Tue 3 → 26.0, flagged: its task is due
  exactly at the as-of moment, which is not in the future.
  D5–D8 had a call at Tue 11:00 (1 h).
* deal_without_next_task: D1, D2 (no tasks), D4 (task due exactly now), D5 (its future task is
  completed) → 4; D3, D6, D7, D8 have uncompleted tasks due later.
* overdue_task: t9 (m2, due Fri 20 10:00, open) → 1; t4 due exactly now is not overdue; t5 is
  completed.
* stage_no_open_step: D1, D2, D5 (no uncompleted task at all) → 3; D5's clock runs from its
  task's completion Fri 20 12:00: Fri 12–13 = 1 + 14–18 = 4, Tue 3 → 8.0 h.
* stage_time_limit (s1, 20 h): D2 entered s1 Mon 16 09:00 Moscow = 11:00 Yekaterinburg:
  Mon 11–13 = 2 + 4 = 6, Tue–Fri 4 × 8 = 32, Tue 24 09–13 = 4 → 42.0 > 20, flagged;
  D1 entered Fri 20 10:00: 3 + 4 + 3 = 10.0, not flagged; D3–D5 entered Tue morning.
* required_fields: s2 needs product + "Бюджет" (regulations): D6 has product "X" and an empty
  "Бюджет" → missing ["Бюджет"]. s3 needs "ИНН клиента" (CRM required_statuses on field cf1):
  D7 carries it under the key "cf1" → fine; D8 has nothing → missing ["ИНН клиента"].
* lost_without_reason: D9 (none), D10 (" ") → 2; D11 has "Дорого".
* zero_amount_late_stage: late = s2 (probability 50 ≥ 50) and s3 (rank 3 of 3 open stages,
  3·3 > 2·3); s1 (rank 1, 10 %) is not. D6 (0) and D8 (empty) → 2; D7 has 100.
"""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from ropilot.core.quality.checks_deals import (
    DealWithoutNextTask,
    LostWithoutReason,
    NoActivityClock,
    NoOpenStepClock,
    OverdueTasks,
    RequiredFields,
    StageTimeLimit,
    ZeroAmountLateStage,
    late_stage_ids,
)
from ropilot.core.quality.clocks import manager_clocks
from ropilot.core.quality.registry import FindingDraft, QualityCheck, QualityContext
from ropilot.core.store import Store
from tests.core.quality.bundle import ACC, AS_OF, msk, regs


def run(store: Store, check: QualityCheck) -> dict[str, FindingDraft]:
    ctx = QualityContext(store, ACC, AS_OF, regs())
    return {f.entity_id: f for f in check.run(ctx)}


def test_no_activity_on_business_hours_holiday_zone_and_suppression(loaded: Store) -> None:
    found = run(loaded, NoActivityClock())
    assert sorted(found) == ["D1", "D4"]
    assert found["D1"].details["business_hours"] == 13.0
    assert found["D4"].details["business_hours"] == 26.0
    assert found["D1"].owner_id == "m1"


def test_clock_in_another_time_zone(loaded: Store) -> None:
    clocks = manager_clocks(loaded, ACC, regs())
    assert clocks.hours("m2", msk(19, 16), AS_OF) == 12.0
    assert clocks.hours("m1", msk(19, 16), AS_OF) == 13.0
    assert clocks.hours(None, msk(19, 16), AS_OF) == 13.0  # the regulations' zone: Moscow


def test_deal_without_next_task(loaded: Store) -> None:
    assert sorted(run(loaded, DealWithoutNextTask())) == ["D1", "D2", "D4", "D5"]


def test_overdue_tasks(loaded: Store) -> None:
    found = run(loaded, OverdueTasks())
    assert list(found) == ["t9"]
    assert found["t9"].entity == "task"
    assert found["t9"].owner_id == "m2"
    assert found["t9"].details["deal_id"] == "D9"


def test_no_open_step(loaded: Store) -> None:
    found = run(loaded, NoOpenStepClock())
    assert sorted(found) == ["D1", "D2", "D5"]
    assert found["D5"].details["business_hours"] == 8.0


def test_stage_time_limit(loaded: Store) -> None:
    found = run(loaded, StageTimeLimit())
    assert list(found) == ["D2"]
    assert found["D2"].details["business_hours"] == 42.0
    assert found["D2"].details["limit_hours"] == 20


def test_required_fields_from_regulations_and_crm(loaded: Store) -> None:
    found = run(loaded, RequiredFields())
    assert sorted(found) == ["D6", "D8"]
    assert found["D6"].details["missing"] == ["Бюджет"]
    assert found["D8"].details["missing"] == ["ИНН клиента"]
    assert found["D8"].severity == "error"


def test_lost_without_reason(loaded: Store) -> None:
    assert sorted(run(loaded, LostWithoutReason())) == ["D10", "D9"]


def test_zero_amount_late_stage(loaded: Store) -> None:
    assert sorted(run(loaded, ZeroAmountLateStage())) == ["D6", "D8"]


@pytest.mark.parametrize(("n", "late_ranks"), [(1, [1]), (3, [3]), (4, [3, 4]), (6, [5, 6])])
def test_last_third_of_the_funnel(n: int, late_ranks: list[int]) -> None:
    # 3·r > 2·n: n=4 → r > 2.67 → 3, 4; n=6 → r > 4 → 5, 6.
    rows = [
        {"id": f"s{r}", "pipeline_id": "p", "sort": r, "kind": "open", "probability": 0}
        for r in range(1, n + 1)
    ]
    rows.append({"id": "w", "pipeline_id": "p", "sort": 99, "kind": "won", "probability": 100})
    assert late_stage_ids(rows) == sorted(f"s{r}" for r in late_ranks)


def test_checks_are_utc_aware() -> None:
    assert datetime(2026, 2, 24, 9, 0, tzinfo=UTC) == AS_OF
