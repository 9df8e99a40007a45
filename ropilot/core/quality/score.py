"""Per-manager data-quality score, usable as a bonus gate in motivation.

    score = max(0, 1 − Σ weight(severity) over the manager's open findings ÷ records owned)

* weights: ``error`` 1, ``warning`` 0.5, ``info`` 0.25 (:data:`SEVERITY_WEIGHTS`);
* open findings: ``resolved_at`` is null and ``owner_id`` is the manager (findings of every
  check, tasks' findings included: a task's owner is its responsible);
* records owned: the manager's deals, contacts and companies (``responsible_id``), the cards
  a manager is accountable for;
* rounded half-up to four decimals; with no records owned the score is null (a ratio with a
  zero denominator), and :func:`gate_value` returns 1 (nothing can be wrong).
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from sqlalchemy import case, func, literal, select, union_all

from ropilot.core.store import Store
from ropilot.core.store.schema import companies, contacts, deals
from ropilot.core.store.schema import quality_findings as qf

__all__ = ["SEVERITY_WEIGHTS", "ManagerScore", "gate_value", "manager_scores"]

SEVERITY_WEIGHTS: dict[str, Decimal] = {
    "error": Decimal(1),
    "warning": Decimal("0.5"),
    "info": Decimal("0.25"),
}
_Q = Decimal("0.0001")


@dataclass(frozen=True)
class ManagerScore:
    """One manager's score and what it is made of."""

    manager_id: str
    records: int
    errors: int
    warnings: int
    infos: int
    weighted: Decimal
    score: Decimal | None


def _score(weighted: Decimal, records: int) -> Decimal | None:
    if records == 0:
        return None
    return max(Decimal(0), 1 - weighted / records).quantize(_Q, rounding=ROUND_HALF_UP)


def manager_scores(store: Store, account_id: str) -> list[ManagerScore]:
    """Scores of every manager who owns a record or an open finding, by manager id."""
    owned = union_all(
        *(
            select(t.c.responsible_id.label("owner"), func.count().label("n"))
            .where(t.c.account_id == account_id, t.c.responsible_id.is_not(None))
            .group_by(t.c.responsible_id)
            for t in (deals, contacts, companies)
        )
    ).subquery("owned")
    records_stmt = select(owned.c.owner, func.sum(owned.c.n)).group_by(owned.c.owner)

    def count_of(severity: str) -> Any:
        return func.sum(case((qf.c.severity == severity, literal(1)), else_=literal(0)))

    findings_stmt = (
        select(qf.c.owner_id, count_of("error"), count_of("warning"), count_of("info"))
        .where(
            qf.c.account_id == account_id, qf.c.resolved_at.is_(None), qf.c.owner_id.is_not(None)
        )
        .group_by(qf.c.owner_id)
    )
    with store.engine.connect() as conn:
        records = {r[0]: int(r[1]) for r in conn.execute(records_stmt)}
        counts = {r[0]: (int(r[1]), int(r[2]), int(r[3])) for r in conn.execute(findings_stmt)}
    out = []
    for manager in sorted(set(records) | set(counts)):
        e, w, i = counts.get(manager, (0, 0, 0))
        weighted = (
            e * SEVERITY_WEIGHTS["error"]
            + w * SEVERITY_WEIGHTS["warning"]
            + i * SEVERITY_WEIGHTS["info"]
        )
        n = records.get(manager, 0)
        out.append(ManagerScore(manager, n, e, w, i, weighted, _score(weighted, n)))
    return out


def gate_value(store: Store, account_id: str, manager_id: str) -> Decimal:
    """The manager's score as a 0…1 fraction for a motivation gate (1 without records)."""
    for s in manager_scores(store, account_id):
        if s.manager_id == manager_id:
            return Decimal(1) if s.score is None else s.score
    return Decimal(1)
