"""Readable names next to the ids of managers, teams, pipelines, stages and companies."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select

from ropilot.core.reports.model import Column, Section
from ropilot.core.store import Store
from ropilot.core.store.schema import companies, managers, pipelines, stages, teams

_TABLES: dict[str, Any] = {
    "manager": managers,
    "team": teams,
    "pipeline": pipelines,
    "company": companies,
    "stage": stages,
}
_TITLES = {
    "manager": ("Имя", "Name"),
    "team": ("Команда (название)", "Team name"),
    "pipeline": ("Воронка (название)", "Pipeline name"),
    "company": ("Контрагент (название)", "Counterparty name"),
    "stage": ("Этап (название)", "Stage name"),
}


def names_of(store: Store, account_id: str, kind: str, ids: set[str]) -> dict[str, str]:
    """``{id: name}`` for the given ids of one kind (manager, team, pipeline, company, stage)."""
    table = _TABLES[kind]
    if not ids:
        return {}
    out: dict[str, str] = {}
    chunk = sorted(ids)
    with store.engine.connect() as conn:
        for i in range(0, len(chunk), 500):
            stmt = select(table.c.id, table.c.name).where(
                table.c.account_id == account_id, table.c.id.in_(chunk[i : i + 500])
            )
            out.update({r.id: r.name for r in conn.execute(stmt)})
    return out


def add_names(store: Store, account_id: str, section: Section) -> Section:
    """Insert a ``<kind>_name`` key column after each id column that has names."""
    columns: list[Column] = []
    for col in section.columns:
        columns.append(col)
        if col.key and col.name in _TABLES:
            ids = {r[col.name] for r in section.rows if r.get(col.name) is not None}
            names = names_of(store, account_id, col.name, ids)
            name_col = f"{col.name}_name"
            for r in section.rows:
                value = r.get(col.name)
                r[name_col] = names.get(value) if isinstance(value, str) else None
            ru, en = _TITLES[col.name]
            columns.append(Column(name_col, ru, en, "text", key=True))
    section.columns = columns
    return section
