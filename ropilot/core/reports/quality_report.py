"""Data-quality sections: the per-manager score and the open findings by check and severity."""

from __future__ import annotations

from sqlalchemy import func, select

from ropilot.core.quality.score import manager_scores
from ropilot.core.reports.model import Column, Section
from ropilot.core.store import Store
from ropilot.core.store.schema import quality_findings as qf


def quality_sections(store: Store, acc: str) -> tuple[Section, Section]:
    """(scores by manager, open findings by check and severity) from the last audits."""
    scores = Section(
        "scores",
        "Качество данных по менеджерам",
        "Data quality by manager",
        [
            Column("manager_id", "Менеджер", "Manager", key=True),
            Column("records", "Записей", "Records", unit="count"),
            Column("errors", "Ошибки", "Errors", unit="count"),
            Column("warnings", "Предупреждения", "Warnings", unit="count"),
            Column("infos", "Заметки", "Info", unit="count"),
            Column("weighted", "Вес замечаний", "Weighted", unit="number"),
            Column("score", "Балл", "Score", unit="ratio"),
        ],
        [
            {
                "manager_id": s.manager_id,
                "records": s.records,
                "errors": s.errors,
                "warnings": s.warnings,
                "infos": s.infos,
                "weighted": s.weighted,
                "score": s.score,
            }
            for s in manager_scores(store, acc)
        ],
        conventions=[
            (
                "Балл = 1 − (ошибки·1 + предупреждения·0,5 + заметки·0,25) ÷ записи "
                "менеджера (сделки, контакты, компании); не ниже 0.",
                "Score = 1 − (errors·1 + warnings·0.5 + info·0.25) ÷ records owned "
                "(deals, contacts, companies); at least 0.",
            )
        ],
    )
    stmt = (
        select(qf.c.check, qf.c.severity, func.count())
        .where(qf.c.account_id == acc, qf.c.resolved_at.is_(None))
        .group_by(qf.c.check, qf.c.severity)
        .order_by(qf.c.check, qf.c.severity)
    )
    with store.engine.connect() as conn:
        rows = conn.execute(stmt).all()
    by_check = Section(
        "by_check",
        "Открытые замечания по проверкам",
        "Open findings by check",
        [
            Column("check", "Проверка", "Check", key=True),
            Column("severity", "Важность", "Severity", key=True),
            Column("open", "Открыто", "Open", unit="count"),
        ],
        [{"check": r[0], "severity": r[1], "open": int(r[2])} for r in rows],
    )
    return scores, by_check
