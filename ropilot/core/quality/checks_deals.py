"""Built-in deal and task checks: required fields per stage, next task, overdue tasks, the stage
clocks, lost without a reason, zero amount in late stages.

Every check selects its candidates with one SQL query over the store (current state of the
records; the audit runs on the store, so a record is audited whatever path it came in by —
sync, bundle import or webhook). Only the candidates reach Python, for what SQL cannot do the
same way on SQLite and PostgreSQL: business-hours arithmetic and JSON custom-field values.

Conventions (docs/quality.md): a *next task* is an uncompleted task of the deal due strictly
after ``as_of``; an *overdue* task is uncompleted and due strictly before ``as_of`` (a task due
exactly at ``as_of`` is neither); an *open next step* is any uncompleted task of the deal.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

from sqlalchemy import and_, exists, func, or_, select
from sqlalchemy.sql.functions import coalesce

from ropilot.core.quality.clocks import ManagerClocks, manager_clocks
from ropilot.core.quality.registry import FindingDraft, QualityContext, Severity
from ropilot.core.regulations import DEAL_COLUMNS, required_field_rules
from ropilot.core.store.schema import (
    activities,
    companies,
    contacts,
    deals,
    stage_changes,
    stages,
    tasks,
)
from ropilot.core.store.types import UtcTimestamp

__all__ = [
    "DEAL_CHECKS",
    "DealWithoutNextTask",
    "LostWithoutReason",
    "NoActivityClock",
    "NoOpenStepClock",
    "OverdueTasks",
    "RequiredFields",
    "StageTimeLimit",
    "ZeroAmountLateStage",
    "late_stage_ids",
    "required_by_stage",
]


def _open_deal_join() -> Any:
    return deals.join(
        stages, and_(stages.c.account_id == deals.c.account_id, stages.c.id == deals.c.stage_id)
    )


def _has_task(ctx: QualityContext, *, future_only: bool) -> Any:
    cond = [
        tasks.c.account_id == deals.c.account_id,
        tasks.c.deal_id == deals.c.id,
        tasks.c.completed_at.is_(None),
    ]
    if future_only:
        cond.append(tasks.c.due_at > ctx.as_of)
    return exists().where(*cond)


def _rows(ctx: QualityContext, stmt: Any) -> Sequence[Any]:
    with ctx.store.engine.connect() as conn:
        return conn.execute(stmt).all()


def _deal_findings(
    check: Any, ctx: QualityContext, conditions: Sequence[Any], message: str
) -> Iterator[FindingDraft]:
    """One finding per deal of the account matching ``conditions`` (deal ↔ stage joined), with
    the deal's stage as evidence: the shape of the simple deal checks.
    """
    stmt = (
        select(deals.c.id, deals.c.responsible_id, deals.c.stage_id)
        .select_from(_open_deal_join())
        .where(deals.c.account_id == ctx.account_id, *conditions)
        .order_by(deals.c.id)
    )
    for deal_id, owner, stage_id in _rows(ctx, stmt):
        yield FindingDraft(
            check=check.name,
            entity="deal",
            entity_id=deal_id,
            severity=check.severity,
            owner_id=owner,
            message=message,
            details={"stage_id": stage_id},
        )


def _iso(moment: datetime) -> str:
    return moment.isoformat()


# -- required fields -------------------------------------------------------------------------


def _empty(value: Any) -> bool:
    if value is None:
        return True
    if isinstance(value, str):
        return not value.strip()
    if isinstance(value, list | tuple):
        return all(_empty(v) for v in value)
    if isinstance(value, dict):
        return not value
    return False


Rule = tuple[str, str, frozenset[str]]
"""(label, where: ``deal`` | ``contact`` | ``company``, keys the value may be stored under)."""


def required_by_stage(ctx: QualityContext) -> dict[str, list[Rule]]:
    """Required fields per stage id from ``regulations.required_field_rules``: the file's
    ``[required_fields]`` merged with the CRM's own rules (amoCRM ``required_statuses``).

    A deal column is checked as such; any other name is a custom field of the deal — or of its
    linked contact/company for ``contact.``/``company.`` names — found under its name or its
    CRM field id (connectors key values by code, name or id).
    """
    out: dict[str, list[Rule]] = {}
    for rule in required_field_rules(ctx.store, ctx.account_id, ctx.regulations):
        where, name = "deal", rule.name
        for prefix, entity in (("contact.", "contact"), ("company.", "company")):
            if name.startswith(prefix):
                where, name = entity, name.removeprefix(prefix)
        keys = {name} if rule.field_id is None else {name, rule.field_id}
        out.setdefault(rule.stage_id, []).append((rule.name, where, frozenset(keys)))
    return out


def _linked_fields(ctx: QualityContext, table: Any, ids: set[str]) -> dict[str, dict[str, Any]]:
    found: dict[str, dict[str, Any]] = {}
    ordered = sorted(ids)
    with ctx.store.engine.connect() as conn:
        for i in range(0, len(ordered), 500):
            stmt = select(table.c.id, table.c.custom_fields).where(
                table.c.account_id == ctx.account_id, table.c.id.in_(ordered[i : i + 500])
            )
            found.update({r[0]: r[1] or {} for r in conn.execute(stmt)})
    return found


@dataclass(frozen=True)
class RequiredFields:
    """Deals in a stage lack a field the regulations or the CRM require for that stage."""

    name: str = "required_fields"
    description: str = "Required fields per stage (regulations and CRM required_statuses)"
    severity: Severity = "error"

    def run(self, ctx: QualityContext) -> Iterator[FindingDraft]:
        rules = required_by_stage(ctx)
        if not rules:
            return
        columns = sorted(
            {label for r in rules.values() for label, where, _ in r if where == "deal"}
            & DEAL_COLUMNS
        )
        stmt = select(
            deals.c.id,
            deals.c.responsible_id,
            deals.c.stage_id,
            deals.c.custom_fields,
            deals.c.contact_id,
            deals.c.company_id,
            *(deals.c[c] for c in columns),
        ).where(deals.c.account_id == ctx.account_id, deals.c.stage_id.in_(list(rules)))
        records = [r._mapping for r in _rows(ctx, stmt.order_by(deals.c.id))]
        needs = {where for r in rules.values() for _, where, _ in r}
        linked = {
            "contact": _linked_fields(
                ctx, contacts, {r["contact_id"] for r in records if r["contact_id"]}
            )
            if "contact" in needs
            else {},
            "company": _linked_fields(
                ctx, companies, {r["company_id"] for r in records if r["company_id"]}
            )
            if "company" in needs
            else {},
        }
        for record in records:
            missing = []
            for label, where, keys in rules[record["stage_id"]]:
                if where == "deal" and label in DEAL_COLUMNS:
                    value = record[label]
                    if _empty(value) or (label == "amount" and value == 0):
                        missing.append(label)
                    continue
                if where == "deal":
                    values = record["custom_fields"] or {}
                else:
                    values = linked[where].get(record[f"{where}_id"] or "", {})
                if all(_empty(values.get(k)) for k in keys):
                    missing.append(label)
            if missing:
                yield FindingDraft(
                    check=self.name,
                    entity="deal",
                    entity_id=record["id"],
                    severity=self.severity,
                    owner_id=record["responsible_id"],
                    message=f"fill in {', '.join(missing)} (required in this stage)",
                    details={"stage_id": record["stage_id"], "missing": missing},
                )


# -- tasks ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class DealWithoutNextTask:
    """An open deal with no uncompleted task due in the future."""

    name: str = "deal_without_next_task"
    description: str = "Open deals without an uncompleted task due in the future"
    severity: Severity = "warning"

    def run(self, ctx: QualityContext) -> Iterator[FindingDraft]:
        conditions = [
            stages.c.kind == "open",
            ~_has_task(ctx, future_only=True),
        ]
        yield from _deal_findings(
            self, ctx, conditions, "plan the next task (call, meeting) with a due date"
        )


@dataclass(frozen=True)
class OverdueTasks:
    """An uncompleted task whose due moment has passed."""

    name: str = "overdue_task"
    description: str = "Uncompleted tasks due before the audit moment"
    severity: Severity = "warning"

    def run(self, ctx: QualityContext) -> Iterator[FindingDraft]:
        stmt = (
            select(tasks.c.id, tasks.c.responsible_id, tasks.c.due_at, tasks.c.deal_id)
            .where(
                tasks.c.account_id == ctx.account_id,
                tasks.c.completed_at.is_(None),
                tasks.c.due_at < ctx.as_of,
            )
            .order_by(tasks.c.id)
        )
        for task_id, owner, due_at, deal_id in _rows(ctx, stmt):
            yield FindingDraft(
                check=self.name,
                entity="task",
                entity_id=task_id,
                severity=self.severity,
                owner_id=owner,
                message="complete or reschedule the overdue task",
                details={"due_at": _iso(due_at), "deal_id": deal_id},
            )


# -- stage clocks -----------------------------------------------------------------------------


class _Clocked:
    """Shared by the clock checks: the responsible manager's business clock."""

    @staticmethod
    def clocks(ctx: QualityContext) -> ManagerClocks:
        return manager_clocks(ctx.store, ctx.account_id, ctx.regulations)


def _last_activity() -> Any:
    return (
        select(func.max(activities.c.at))
        .where(
            activities.c.account_id == deals.c.account_id,
            activities.c.deal_id == deals.c.id,
        )
        .scalar_subquery()
    )


@dataclass(frozen=True)
class NoActivityClock(_Clocked):
    """No activity on an open deal for N working hours (regulations ``clocks``); a future next
    step (an uncompleted task due after ``as_of``) suppresses the flag.
    """

    name: str = "stage_no_activity"
    description: str = "Open deals without activity for N business hours and no future step"
    severity: Severity = "warning"

    def run(self, ctx: QualityContext) -> Iterator[FindingDraft]:
        limit = ctx.regulations.clocks.no_activity_hours
        if limit is None:
            return
        last = _last_activity()
        touch = coalesce(last, deals.c.created_at).cast(UtcTimestamp)
        # Working hours never exceed calendar hours: only deals idle N calendar hours qualify.
        stmt = (
            select(deals.c.id, deals.c.responsible_id, deals.c.stage_id, touch, last)
            .select_from(_open_deal_join())
            .where(
                deals.c.account_id == ctx.account_id,
                stages.c.kind == "open",
                touch <= ctx.as_of - timedelta(hours=limit),
                ~_has_task(ctx, future_only=True),
            )
            .order_by(deals.c.id)
        )
        clocks = self.clocks(ctx)
        for deal_id, owner, stage_id, touched, last_at in _rows(ctx, stmt):
            hours = clocks.hours(owner, touched, ctx.as_of)
            if hours >= limit:
                yield FindingDraft(
                    check=self.name,
                    entity="deal",
                    entity_id=deal_id,
                    severity=self.severity,
                    owner_id=owner,
                    message=f"no activity for {hours:.1f} business hours (limit {limit:g})",
                    details={
                        "stage_id": stage_id,
                        "since": _iso(touched),
                        "since_is_creation": last_at is None,
                        "business_hours": round(hours, 2),
                        "limit_hours": limit,
                    },
                )


@dataclass(frozen=True)
class NoOpenStepClock(_Clocked):
    """An open deal with no open next step (no uncompleted task at all) when the regulations
    require one; the business hours since the last step ended (or since creation) are shown.
    """

    name: str = "stage_no_open_step"
    description: str = "Open deals with no uncompleted task (regulations require a next step)"
    severity: Severity = "warning"

    def run(self, ctx: QualityContext) -> Iterator[FindingDraft]:
        if not ctx.regulations.clocks.next_step_required:
            return
        last_done = (
            select(func.max(tasks.c.completed_at))
            .where(
                tasks.c.account_id == deals.c.account_id,
                tasks.c.deal_id == deals.c.id,
                tasks.c.completed_at <= ctx.as_of,
            )
            .scalar_subquery()
        )
        since = coalesce(last_done, deals.c.created_at).cast(UtcTimestamp)
        stmt = (
            select(deals.c.id, deals.c.responsible_id, deals.c.stage_id, since)
            .select_from(_open_deal_join())
            .where(
                deals.c.account_id == ctx.account_id,
                stages.c.kind == "open",
                ~_has_task(ctx, future_only=False),
            )
            .order_by(deals.c.id)
        )
        clocks = self.clocks(ctx)
        for deal_id, owner, stage_id, start in _rows(ctx, stmt):
            hours = clocks.hours(owner, start, ctx.as_of)
            yield FindingDraft(
                check=self.name,
                entity="deal",
                entity_id=deal_id,
                severity=self.severity,
                owner_id=owner,
                message="no open next step: plan a task",
                details={
                    "stage_id": stage_id,
                    "since": _iso(start),
                    "business_hours": round(hours, 2),
                },
            )


def _entered_stage() -> Any:
    entered = (
        select(func.max(stage_changes.c.changed_at))
        .where(
            stage_changes.c.account_id == deals.c.account_id,
            stage_changes.c.deal_id == deals.c.id,
            stage_changes.c.to_stage_id == deals.c.stage_id,
        )
        .scalar_subquery()
    )
    return coalesce(entered, deals.c.created_at).cast(UtcTimestamp)


@dataclass(frozen=True)
class StageTimeLimit(_Clocked):
    """An open deal has been in its stage longer than the regulations' limit for that stage
    (``[stage_limits]``, business hours since it last entered the stage, else its creation).
    """

    name: str = "stage_time_limit"
    description: str = "Open deals in their stage longer than the stage limit (business hours)"
    severity: Severity = "warning"

    def run(self, ctx: QualityContext) -> Iterator[FindingDraft]:
        limits = ctx.regulations.stage_limits
        if not limits:
            return
        entered = _entered_stage()
        clocks = self.clocks(ctx)
        for stage_id, limit in sorted(limits.items()):
            stmt = (
                select(deals.c.id, deals.c.responsible_id, entered)
                .select_from(_open_deal_join())
                .where(
                    deals.c.account_id == ctx.account_id,
                    deals.c.stage_id == stage_id,
                    stages.c.kind == "open",
                    entered < ctx.as_of - timedelta(hours=limit),
                )
                .order_by(deals.c.id)
            )
            for deal_id, owner, start in _rows(ctx, stmt):
                hours = clocks.hours(owner, start, ctx.as_of)
                if hours > limit:
                    yield FindingDraft(
                        check=self.name,
                        entity="deal",
                        entity_id=deal_id,
                        severity=self.severity,
                        owner_id=owner,
                        message=f"{hours:.1f} business hours in the stage (limit {limit:g})",
                        details={
                            "stage_id": stage_id,
                            "entered_at": _iso(start),
                            "business_hours": round(hours, 2),
                            "limit_hours": limit,
                        },
                    )


# -- closed deals and amounts ------------------------------------------------------------------


@dataclass(frozen=True)
class LostWithoutReason:
    """A deal in a lost stage with an empty loss reason."""

    name: str = "lost_without_reason"
    description: str = "Closed-lost deals without a loss reason"
    severity: Severity = "warning"

    def run(self, ctx: QualityContext) -> Iterator[FindingDraft]:
        conditions = [
            stages.c.kind == "lost",
            or_(deals.c.loss_reason.is_(None), func.trim(deals.c.loss_reason) == ""),
        ]
        yield from _deal_findings(self, ctx, conditions, "state the loss reason")


def late_stage_ids(stage_rows: Iterable[Mapping[str, Any]]) -> list[str]:
    """Open stages counted as *late*: probability ≥ 50 %, or rank r (1-based, by sort) among
    the n open stages of its pipeline with 3·r > 2·n (the last third of the funnel).
    """
    by_pipeline: dict[str, list[Mapping[str, Any]]] = {}
    for s in stage_rows:
        if s["kind"] == "open":
            by_pipeline.setdefault(s["pipeline_id"] or "", []).append(s)
    late: list[str] = []
    for ordered in by_pipeline.values():
        ordered.sort(key=lambda s: (s["sort"], s["id"]))
        n = len(ordered)
        for rank, s in enumerate(ordered, start=1):
            probability = s["probability"]
            if (probability is not None and probability >= 50) or 3 * rank > 2 * n:
                late.append(s["id"])
    return sorted(late)


@dataclass(frozen=True)
class ZeroAmountLateStage:
    """An open deal in a late stage with an empty or zero amount."""

    name: str = "zero_amount_late_stage"
    description: str = "Open deals in late stages (probability ≥ 50 % or last third) without amount"
    severity: Severity = "warning"

    def run(self, ctx: QualityContext) -> Iterator[FindingDraft]:
        with ctx.store.engine.connect() as conn:
            rows = (
                conn.execute(
                    select(
                        stages.c.id,
                        stages.c.pipeline_id,
                        stages.c.sort,
                        stages.c.kind,
                        stages.c.probability,
                    ).where(stages.c.account_id == ctx.account_id)
                )
                .mappings()
                .all()
            )
        late = late_stage_ids([dict(r) for r in rows])
        if not late:
            return
        conditions = [
            deals.c.stage_id.in_(late),
            or_(deals.c.amount.is_(None), deals.c.amount == Decimal(0)),
        ]
        yield from _deal_findings(self, ctx, conditions, "enter the deal amount (late stage)")


DEAL_CHECKS: tuple[Any, ...] = (
    RequiredFields(),
    DealWithoutNextTask(),
    OverdueTasks(),
    NoActivityClock(),
    NoOpenStepClock(),
    StageTimeLimit(),
    LostWithoutReason(),
    ZeroAmountLateStage(),
)
"""The built-in deal and task checks, in catalogue order."""
