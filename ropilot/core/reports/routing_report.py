"""Routing decisions as a report section: who got each lead and why."""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from ropilot.core.reports.model import Column, Section
from ropilot.core.reports.names import add_names
from ropilot.core.store import Store


def decisions_section(
    store: Store,
    account_id: str,
    zone: ZoneInfo,
    decisions: Sequence[Any],
    created: dict[str, datetime],
) -> Section:
    """One row per decision: the lead, when it came, who got it, by which rule, how many were
    eligible and why the others were not (the most frequent exclusion rules).
    """
    rows = []
    for d in decisions:
        excluded = Counter(e.get("rule") for e in d.explanation.get("excluded", []))
        why = ", ".join(f"{rule} ×{n}" for rule, n in excluded.most_common(3))
        at = created.get(d.deal_id)
        rows.append(
            {
                "deal": d.deal_id,
                "created_at": at.astimezone(zone) if at else None,
                "pool": d.pool,
                "manager": d.manager_id,
                "rule": d.rule,
                "eligible": len(d.explanation.get("eligible", [])),
                "excluded": why or None,
                "tie": len(tie["between"]) if (tie := d.explanation.get("tie")) else None,
            }
        )
    section = Section(
        "routing",
        "Распределение последних лидов",
        "Routing of the last leads",
        [
            Column("deal", "Сделка", "Deal", key=True),
            Column("created_at", "Пришла", "Came in", "datetime"),
            Column("pool", "Пул", "Pool"),
            Column("manager", "Менеджер", "Manager", key=True),
            Column("rule", "Правило", "Rule"),
            Column("eligible", "Подходили", "Eligible", "count"),
            Column("excluded", "Остальные исключены", "Others excluded by"),
            Column("tie", "В ничьей", "Tied", "count"),
        ],
        rows,
        [
            (
                "каждый лид распределён в момент поступления по регламенту (пул, смены, "
                "отсутствия, лимиты, специализация, владелец клиента); правила: fairness — "
                "очередь по уровню, account_management — владелец клиента, no_eligible — никто "
                "не подходит; «в ничьей» — сколько менеджеров делили наименьший уровень (решил "
                "ранний последний лид, затем хеш); подробно: ropilot route ID --dry-run --explain",
                "each lead routed at the moment it came in under the regulations (pool, shifts, "
                "absences, caps, specialisation, the client's owner); rules: fairness — the "
                "lowest level, account_management — the client's owner, no_eligible — nobody "
                "could take it; tied — how many managers shared the lowest level (the earliest "
                "last lead decided, then the hash); details: ropilot route ID --dry-run --explain",
            )
        ],
    )
    return add_names(store, account_id, section)
