"""Lineage: the deal records behind a figure, so a disputed number can be traced to its rows."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import ColumnElement, select

from ropilot.core.kpi.scope import deal_source, keys_filter
from ropilot.core.store import Store
from ropilot.core.store.schema import deals, stages

LIMIT = 10_000
"""At most this many records are listed for one figure (the count says how many there are)."""


def deal_records(
    store: Store,
    by: Sequence[str],
    keys: dict[str, str | None],
    where: ColumnElement[bool],
    extra: Sequence[ColumnElement[Any]] = (),
    limit: int = LIMIT,
) -> list[dict[str, Any]]:
    """Deals of one group matching ``where``: id, name, stage, amount, dates, responsible."""
    stmt = (
        select(
            deals.c.id,
            deals.c.name,
            deals.c.stage_id,
            stages.c.kind.label("stage_kind"),
            deals.c.amount,
            deals.c.currency,
            deals.c.created_at,
            deals.c.closed_at,
            deals.c.responsible_id,
            *extra,
        )
        .select_from(deal_source(by))
        .where(where, keys_filter(by, keys))
        .order_by(deals.c.closed_at, deals.c.id)
        .limit(limit)
    )
    with store.engine.connect() as conn:
        return [dict(r) for r in conn.execute(stmt).mappings()]
