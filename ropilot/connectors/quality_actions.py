"""CRM actions for open data-quality findings: a task for the responsible manager, then the
escalation ladder (manager → senior → head → re-route) as business hours pass.

The engine decides (core.quality stores findings); this module acts through a connector and
records what it did in ``quality_actions`` — one row per finding and step, so every step
happens at most once per finding:

* ``task_manager`` — a task for the finding's owner, created at once (the ladder's
  ``manager`` rung, usually 0 h). Its idempotency key is the finding id; the connector's own
  idempotency records make a crash between the CRM call and our row harmless.
* ``task_senior`` / ``task_head`` — a task for a ``senior`` of the owner's team (the first
  active one by id) / for the team's head (``teams.head_id``), once the finding has been open
  the rung's ``after_hours`` business hours on the owner's schedule (since ``first_seen``).
  Key: ``{finding id}:{step}``. No such person → the step is recorded ``no_target``.
* ``reroute_requested`` — deal findings only: a row the routing engine picks up; nothing is
  sent to the CRM here.

Resolved findings get no new actions. Time is passed in (``as_of``), so tests freeze it.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import and_, select

from ropilot.connectors.base import Connector, TaskDraft
from ropilot.core.business_hours import add_business_time
from ropilot.core.quality.clocks import manager_clocks
from ropilot.core.quality.findings import Finding, open_findings
from ropilot.core.regulations import Regulations
from ropilot.core.store import Store
from ropilot.core.store.schema import managers, quality_actions, teams

__all__ = ["STEPS", "ActionsSummary", "apply_actions", "recorded_actions"]

STEPS = {
    "manager": "task_manager",
    "senior": "task_senior",
    "head": "task_head",
    "reroute": "reroute_requested",
}
"""Ladder level → the ``quality_actions.step`` it records."""

TASK_DUE_BUSINESS_HOURS = 8.0
"""A quality task is due one working day (on the recipient's schedule) after it is created."""


@dataclass(frozen=True)
class ActionsSummary:
    """What one pass did: steps taken now, by step name, and the CRM task ids created."""

    done: dict[str, int] = field(default_factory=dict)
    skipped_no_target: int = 0
    task_ids: tuple[str, ...] = ()


def recorded_actions(store: Store, account_id: str) -> list[dict[str, Any]]:
    """Every recorded action of an account, by finding and step."""
    with store.engine.connect() as conn:
        rows = conn.execute(
            select(quality_actions)
            .where(quality_actions.c.account_id == account_id)
            .order_by(quality_actions.c.finding_id, quality_actions.c.step)
        ).mappings()
        return [dict(r) for r in rows]


def _team_people(store: Store, account_id: str) -> tuple[dict[str, str | None], dict[str, str]]:
    """(manager → team, team → senior) plus heads folded in by the caller."""
    with store.engine.connect() as conn:
        rows = conn.execute(
            select(managers.c.id, managers.c.team_id, managers.c.role, managers.c.active)
            .where(managers.c.account_id == account_id)
            .order_by(managers.c.id)
        ).all()
    team_of = {r[0]: r[1] for r in rows}
    seniors: dict[str, str] = {}
    for mid, team, role, active in rows:
        if team and role == "senior" and active:
            seniors.setdefault(team, mid)
    return team_of, seniors


def _heads(store: Store, account_id: str) -> dict[str, str]:
    with store.engine.connect() as conn:
        rows = conn.execute(
            select(teams.c.id, teams.c.head_id).where(
                teams.c.account_id == account_id, teams.c.head_id.is_not(None)
            )
        ).all()
    return {r[0]: r[1] for r in rows}


def _done_steps(store: Store, account_id: str, ids: Sequence[str]) -> set[tuple[str, str]]:
    out: set[tuple[str, str]] = set()
    with store.engine.connect() as conn:
        for i in range(0, len(ids), 500):
            chunk = list(ids[i : i + 500])
            out.update(
                (r[0], r[1])
                for r in conn.execute(
                    select(quality_actions.c.finding_id, quality_actions.c.step).where(
                        and_(
                            quality_actions.c.account_id == account_id,
                            quality_actions.c.finding_id.in_(chunk),
                        )
                    )
                )
            )
    return out


def _draft(finding: Finding, to: str, due: datetime, step: str) -> TaskDraft:
    prefix = "" if step == "task_manager" else f"[escalation: {finding.owner_id}] "
    deal_id = finding.entity_id if finding.entity == "deal" else finding.details.get("deal_id")
    return TaskDraft(
        text=f"{prefix}Data quality ({finding.check}): {finding.message}",
        due_at=due,
        responsible_id=to,
        deal_id=str(deal_id) if deal_id else None,
        contact_id=finding.entity_id if finding.entity == "contact" else None,
        company_id=finding.entity_id if finding.entity == "company" else None,
    )


def apply_actions(
    store: Store,
    connector: Connector,
    account_id: str,
    *,
    as_of: datetime,
    regulations: Regulations,
    checks: Sequence[str] | None = None,
) -> ActionsSummary:
    """Take every ladder step that is due as of ``as_of`` for the open findings (of
    ``checks``, all when None) and record it; steps already recorded are never repeated.
    """
    findings = [f for f in open_findings(store, account_id, checks=checks) if f.owner_id]
    clocks = manager_clocks(store, account_id, regulations)
    team_of, seniors = _team_people(store, account_id)
    heads = _heads(store, account_id)
    done = _done_steps(store, account_id, [f.id for f in findings])
    taken: dict[str, int] = {}
    no_target = 0
    task_ids: list[str] = []
    for finding in findings:
        owner = str(finding.owner_id)
        hours = clocks.hours(owner, finding.first_seen, as_of)
        team = team_of.get(owner)
        for rung in regulations.escalation:
            step = STEPS[rung.level]
            if rung.after_hours > hours or (finding.id, step) in done:
                continue
            if step == "reroute_requested" and finding.entity != "deal":
                continue
            target: str | None
            if rung.level == "manager":
                target = owner
            elif rung.level == "senior":
                target = seniors.get(team or "")
            elif rung.level == "head":
                target = heads.get(team or "")
            else:
                target = None
            status, external = "done", None
            if rung.level == "reroute":
                status = "requested"
            elif target is None or (rung.level != "manager" and target == owner):
                status = "no_target"
                no_target += 1
            else:
                due = add_business_time(
                    clocks.schedule(target), as_of, TASK_DUE_BUSINESS_HOURS * 3600
                )
                key = finding.id if step == "task_manager" else f"{finding.id}:{step}"
                external = connector.create_task(
                    _draft(finding, target, due, step), idempotency_key=key
                )
                task_ids.append(external)
            with store.begin() as conn:
                conn.execute(
                    quality_actions.insert().values(
                        account_id=account_id,
                        finding_id=finding.id,
                        step=step,
                        target_id=target,
                        external_id=external,
                        status=status,
                        created_at=as_of,
                        details={
                            "check": finding.check,
                            "entity": finding.entity,
                            "entity_id": finding.entity_id,
                            "business_hours_open": round(hours, 2),
                            "regulations_version": regulations.version,
                        },
                    )
                )
            done.add((finding.id, step))
            if status != "no_target":
                taken[step] = taken.get(step, 0) + 1
    return ActionsSummary(taken, no_target, tuple(task_ids))
