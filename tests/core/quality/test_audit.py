"""Audits record findings idempotently, resolve what is gone, and score managers.

The account of bundle.py gives 17 findings (test_checks.py): required_fields 2 (D6, D8),
deal_without_next_task 4, overdue_task 1 (t9), stage_no_activity 2, stage_no_open_step 3,
stage_time_limit 1, lost_without_reason 2, zero_amount_late_stage 2.

Score = 1 − (errors·1 + warnings·0.5 + infos·0.25) ÷ records owned (deals, contacts, companies):
* m1: errors D6, D8 (required) = 2; warnings: next task D1, D4, D5 + no activity D1, D4 + open
  step D1, D5 + zero amount D6, D8 = 9 → 2 + 4.5 = 6.5; records: 9 deals (D1, D3–D8, D11, D12)
  + contact c1 = 10 → 1 − 6.5/10 = 0.35.
* m2: warnings D2 ×3 (next task, open step, stage limit), t9, D9, D10 = 6 → 3.0; records:
  D2, D9, D10, company co1, contacts c2, c3 = 6 → 1 − 3/6 = 0.5.
* sen owns nothing: score null, gate value 1.
"""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

from sqlalchemy import func, select

from ropilot.core.models import Task
from ropilot.core.quality.audit import run_audit
from ropilot.core.quality.checks_deals import DEAL_CHECKS, OverdueTasks
from ropilot.core.quality.findings import crm_link, open_findings
from ropilot.core.quality.score import gate_value, manager_scores
from ropilot.core.store import Store
from ropilot.core.store.schema import quality_findings
from tests.core.quality.bundle import ACC, AS_OF, msk, regs

BASE = "https://example.amocrm.ru"


def audit(store: Store, at=AS_OF, checks=DEAL_CHECKS):  # type: ignore[no-untyped-def]
    return run_audit(store, ACC, checks, as_of=at, regulations=regs(), base_url=BASE)


def rows(store: Store) -> int:
    with store.engine.connect() as conn:
        return int(conn.execute(select(func.count()).select_from(quality_findings)).scalar_one())


def test_first_audit_records_every_finding_with_link_and_version(loaded: Store) -> None:
    summary = audit(loaded)
    assert summary.found == 17
    assert summary.saved.new == 17
    assert {c.name: c.found for c in summary.checks} == {
        "required_fields": 2,
        "deal_without_next_task": 4,
        "overdue_task": 1,
        "stage_no_activity": 2,
        "stage_no_open_step": 3,
        "stage_time_limit": 1,
        "lost_without_reason": 2,
        "zero_amount_late_stage": 2,
    }
    found = open_findings(loaded, ACC, checks=["stage_time_limit"])
    (f,) = found
    assert f.crm_link == "https://example.amocrm.ru/leads/detail/D2"
    assert f.regulations_version == regs().version
    assert f.first_seen == f.last_seen == AS_OF
    assert f.resolved_at is None
    (task,) = open_findings(loaded, ACC, checks=["overdue_task"])
    assert task.crm_link is None  # tasks have no card of their own


def test_rerun_is_idempotent(loaded: Store) -> None:
    audit(loaded)
    ids = {f.id for f in open_findings(loaded, ACC)}
    again = audit(loaded)
    assert (again.saved.new, again.saved.changed, again.saved.resolved) == (0, 0, 0)
    assert again.saved.seen == 17
    assert rows(loaded) == 17
    assert {f.id for f in open_findings(loaded, ACC)} == ids
    # A later audit of one check moves only that check's last_seen. (t4, due exactly at
    # AS_OF, is overdue a minute later: a new finding.)
    later = AS_OF + timedelta(minutes=1)
    third = audit(loaded, later, [OverdueTasks()])
    assert (third.saved.new, third.saved.seen, third.saved.resolved) == (1, 1, 0)
    t9 = next(f for f in open_findings(loaded, ACC) if f.entity_id == "t9")
    assert (t9.first_seen, t9.last_seen) == (AS_OF, later)
    (limit,) = open_findings(loaded, ACC, checks=["stage_time_limit"])
    assert limit.last_seen == AS_OF


def test_fixed_problem_is_resolved_and_a_recurrence_is_a_new_finding(loaded: Store) -> None:
    audit(loaded)
    (first,) = open_findings(loaded, ACC, checks=["overdue_task"])
    loaded.upsert_models(
        [
            Task(
                account_id=ACC,
                id="t9",
                responsible_id="m2",
                created_at=msk(2, 10),
                due_at=msk(20, 10),
                completed_at=msk(24, 11),
                deal_id="D9",
            ),
            Task(
                account_id=ACC,
                id="t4",
                responsible_id="m1",
                created_at=msk(2, 10),
                due_at=AS_OF,
                completed_at=msk(24, 11),
                deal_id="D4",
            ),
        ]
    )
    second = audit(loaded, AS_OF + timedelta(hours=1), [OverdueTasks()])
    assert second.saved.resolved == 1
    assert open_findings(loaded, ACC, checks=["overdue_task"]) == []
    (done,) = [f for f in open_findings(loaded, ACC, include_resolved=True) if f.id == first.id]
    assert done.resolved_at == AS_OF + timedelta(hours=1)
    loaded.upsert_models(
        [
            Task(
                account_id=ACC,
                id="t9",
                responsible_id="m2",
                created_at=msk(2, 10),
                due_at=msk(20, 10),
                deal_id="D9",
            )
        ]
    )
    third = audit(loaded, AS_OF + timedelta(hours=2), [OverdueTasks()])
    assert third.saved.new == 1
    (again,) = open_findings(loaded, ACC, checks=["overdue_task"])
    assert again.id != first.id
    assert again.first_seen == AS_OF + timedelta(hours=2)


def test_scores(loaded: Store) -> None:
    audit(loaded)
    scores = {s.manager_id: s for s in manager_scores(loaded, ACC)}
    m1, m2 = scores["m1"], scores["m2"]
    assert (m1.records, m1.errors, m1.warnings, m1.weighted) == (10, 2, 9, Decimal("6.5"))
    assert m1.score == Decimal("0.35")
    assert (m2.records, m2.errors, m2.warnings, m2.weighted) == (6, 0, 6, Decimal("3.0"))
    assert m2.score == Decimal("0.5")
    assert gate_value(loaded, ACC, "m1") == Decimal("0.35")
    assert gate_value(loaded, ACC, "sen") == Decimal(1)


def test_crm_link() -> None:
    assert (
        crm_link("https://x.amocrm.ru/", "contact", "7") == "https://x.amocrm.ru/contacts/detail/7"
    )
    assert (
        crm_link("https://x.amocrm.ru", "company", "8") == "https://x.amocrm.ru/companies/detail/8"
    )
    assert crm_link(None, "deal", "1") is None


def test_the_digest_is_the_sha1_of_the_whole_list_as_canonical_json() -> None:
    """Built from parts (details encoded once), it must stay the digest stored findings have."""
    import hashlib
    import json
    from datetime import UTC, datetime

    from ropilot.core.quality.findings import _digest
    from ropilot.core.quality.registry import FindingDraft

    draft = FindingDraft(
        check="c",
        entity="deal",
        entity_id="1",
        severity="warning",
        owner_id=None,
        message="fix «it»",
        details={"b": [1, {"z": None, "a": "ё"}], "a": datetime(2026, 1, 2, tzinfo=UTC)},
    )
    whole = json.dumps(
        [draft.severity, draft.owner_id, draft.message, draft.details, "v1", None],
        sort_keys=True,
        default=str,
        ensure_ascii=False,
    )
    expected = hashlib.sha1(whole.encode()).hexdigest()
    assert _digest(draft, "v1", None) == expected
    details = json.dumps(draft.details, sort_keys=True, default=str, ensure_ascii=False)
    assert _digest(draft, "v1", None, details) == expected  # from parts, as a new row does
