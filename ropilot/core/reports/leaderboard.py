"""The leaderboard: active managers whose role is not ``assistant``, ranked by revenue
descending, then won count descending, then id (sales_definitions.md, rankings).
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from sqlalchemy import select

from ropilot.core.kpi.outcomes import outcomes
from ropilot.core.kpi.registry import KpiContext
from ropilot.core.reports.model import Column, Section, Text
from ropilot.core.store.schema import managers


def ranked_managers(ctx: KpiContext) -> list[dict[str, Any]]:
    """Every ranked manager with revenue, won, lost, average check and win rate (zeros kept)."""
    by_manager = {
        r.keys["manager"]: r
        for r in ctx.cached(
            "outcomes:manager",
            lambda: outcomes(ctx.store, ctx.account_id, ctx.period, by=["manager"]),
        )
    }
    stmt = select(managers.c.id, managers.c.name, managers.c.team_id).where(
        managers.c.account_id == ctx.account_id,
        managers.c.active.is_(True),
        managers.c.role != "assistant",
    )
    with ctx.store.engine.connect() as conn:
        people = list(conn.execute(stmt))
    rows = []
    for m in people:
        r = by_manager.get(m.id)
        rows.append(
            {
                "manager": m.id,
                "manager_name": m.name,
                "team": m.team_id,
                "revenue": r.revenue if r else Decimal("0.00"),
                "won": r.won if r else 0,
                "lost": r.lost if r else 0,
                "average_check": r.average_check if r else None,
                "win_rate": r.win_rate if r else None,
            }
        )
    rows.sort(key=lambda x: (-x["revenue"], -x["won"], x["manager"]))
    for i, row in enumerate(rows, start=1):
        row["rank"] = i
    return rows


def leaderboard_section(ctx: KpiContext, limit: int | None = None) -> Section:
    """The ranked managers as a report section (the first ``limit`` when given)."""
    rows = ranked_managers(ctx)
    total = len(rows)
    if limit is not None:
        rows = rows[:limit]
    columns = [
        Column("rank", "Место", "Rank", "count", key=True),
        Column("manager", "Менеджер", "Manager", key=True),
        Column("manager_name", "Имя", "Name", key=True),
        Column("revenue", "Выручка", "Revenue", "money"),
        Column("won", "Выиграно", "Won", "count"),
        Column("lost", "Проиграно", "Lost", "count"),
        Column("average_check", "Средний чек", "Average check", "money"),
        Column("win_rate", "Конверсия в успех", "Win rate", "ratio"),
    ]
    notes: list[Text] = (
        []
        if limit is None or total <= limit
        else [(f"первые {limit} из {total}", f"top {limit} of {total}")]
    )
    return Section(
        "leaderboard",
        "Рейтинг менеджеров",
        "Leaderboard",
        columns,
        rows,
        [
            (
                "активные менеджеры, кроме ассистентов; выручка ↓, выиграно ↓, id",
                "active managers, role ≠ assistant; revenue ↓, won ↓, id",
            )
        ],
        notes,
    )
