"""Plans in the store: every save is a new immutable version; reads get the latest by default.

Tables ``plan_versions`` (who, when, why) and ``plan_lines`` (the lines of each version). A
version's rows are written once and never updated, so any past version can be read back and
compared with the next one (:func:`plan_history`).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy import func, insert, select
from sqlalchemy.exc import IntegrityError

from ropilot.core.errors import ConfigurationError, StoreError
from ropilot.core.plans.models import LineChange, PlanDocument, PlanLine, PlanVersion
from ropilot.core.store import Store
from ropilot.core.store.schema import plan_lines, plan_versions


def save_plan(
    store: Store,
    account_id: str,
    document: PlanDocument,
    *,
    author: str | None = None,
    comment: str | None = None,
    at: datetime | None = None,
) -> PlanVersion:
    """Save ``document`` as the next version of its plan (1 for a new plan).

    Raises:
        StoreError: when another save of the same plan took the version number first
            (save again: it gets the next one).
    """
    created = at or datetime.now(UTC)
    with store.begin() as conn:
        latest = conn.execute(
            select(func.max(plan_versions.c.version)).where(
                plan_versions.c.account_id == account_id, plan_versions.c.plan == document.name
            )
        ).scalar()
        version = (latest or 0) + 1
        try:
            conn.execute(
                insert(plan_versions).values(
                    account_id=account_id,
                    plan=document.name,
                    version=version,
                    created_at=created,
                    author=author,
                    comment=comment,
                )
            )
        except IntegrityError as exc:
            raise StoreError(
                f"plan {document.name!r} version {version} was saved concurrently; save again"
            ) from exc
        if document.lines:
            conn.execute(
                insert(plan_lines),
                [
                    {
                        "account_id": account_id,
                        "plan": document.name,
                        "version": version,
                        "scope": line.scope,
                        "period": line.period,
                        "metric": line.metric,
                        "value": line.value,
                    }
                    for line in document.lines
                ],
            )
    return PlanVersion(document.name, version, created, author, comment, document)


def load_plan(store: Store, account_id: str, name: str, version: int | None = None) -> PlanVersion:
    """The latest version of plan ``name``, or the given ``version``.

    Raises:
        ConfigurationError: when the plan or the version does not exist.
    """
    where = [plan_versions.c.account_id == account_id, plan_versions.c.plan == name]
    if version is not None:
        where.append(plan_versions.c.version == version)
    with store.engine.connect() as conn:
        head = (
            conn.execute(
                select(plan_versions)
                .where(*where)
                .order_by(plan_versions.c.version.desc())
                .limit(1)
            )
            .mappings()
            .first()
        )
        if head is None:
            known = ", ".join(str(v.version) for v in list_versions(store, account_id, name))
            what = f"plan {name!r}" + ("" if version is None else f" version {version}")
            hint = f" (versions: {known})" if known else "; list plans with list_plans()"
            raise ConfigurationError(f"{what} does not exist{hint}")
        rows = conn.execute(
            select(plan_lines.c.scope, plan_lines.c.period, plan_lines.c.metric, plan_lines.c.value)
            .where(
                plan_lines.c.account_id == account_id,
                plan_lines.c.plan == name,
                plan_lines.c.version == head["version"],
            )
            .order_by(plan_lines.c.scope, plan_lines.c.period, plan_lines.c.metric)
        ).all()
    doc = PlanDocument(name, tuple(PlanLine(r[0], r[1], r[2], r[3]) for r in rows))
    return PlanVersion(
        name, head["version"], head["created_at"], head["author"], head["comment"], doc
    )


def list_versions(store: Store, account_id: str, name: str) -> list[PlanVersion]:
    """Every version of a plan, oldest first, without lines (``document`` is empty)."""
    stmt = (
        select(plan_versions)
        .where(plan_versions.c.account_id == account_id, plan_versions.c.plan == name)
        .order_by(plan_versions.c.version)
    )
    with store.engine.connect() as conn:
        return [
            PlanVersion(
                name, r["version"], r["created_at"], r["author"], r["comment"], PlanDocument(name)
            )
            for r in conn.execute(stmt).mappings()
        ]


def list_plans(store: Store, account_id: str) -> dict[str, int]:
    """Plan names of the account with their latest version number."""
    stmt = (
        select(plan_versions.c.plan, func.max(plan_versions.c.version))
        .where(plan_versions.c.account_id == account_id)
        .group_by(plan_versions.c.plan)
        .order_by(plan_versions.c.plan)
    )
    with store.engine.connect() as conn:
        return {r[0]: r[1] for r in conn.execute(stmt)}


def diff_documents(before: PlanDocument, after: PlanDocument) -> list[LineChange]:
    """Lines added, removed or changed from ``before`` to ``after``, in key order."""
    old = {line.key: line.value for line in before.lines}
    new = {line.key: line.value for line in after.lines}
    out = []
    for key in sorted(old.keys() | new.keys()):
        a, b = old.get(key), new.get(key)
        if a != b:
            out.append(LineChange(*key, before=a, after=b))
    return out


@dataclass(frozen=True)
class HistoryEntry:
    """A version and what it changed against the one before (all lines for version 1)."""

    version: PlanVersion
    changes: list[LineChange]


def plan_history(store: Store, account_id: str, name: str) -> list[HistoryEntry]:
    """Every version of a plan, oldest first, each with its changes.

    Raises:
        ConfigurationError: when the plan does not exist.
    """
    heads = list_versions(store, account_id, name)
    if not heads:
        raise ConfigurationError(f"plan {name!r} does not exist")
    out: list[HistoryEntry] = []
    previous = PlanDocument(name)
    for head in heads:
        full = load_plan(store, account_id, name, head.version)
        out.append(HistoryEntry(full, diff_documents(previous, full.document)))
        previous = full.document
    return out
