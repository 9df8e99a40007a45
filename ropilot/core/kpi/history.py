"""Where deals stood at a moment, from stage history (SQL, SQLite and PostgreSQL alike)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.sql.functions import coalesce

from ropilot.core.store.schema import deals, stage_changes


def stage_at(account_id: str, moment: datetime) -> Any:
    """A subquery ``(deal_id, stage_id)``: the stage each deal created by ``moment`` held then.

    The stage entered by the last change at or before ``moment``; without one, the stage the
    first later change left; a deal without any history was created in its current stage.
    """
    sc = stage_changes.alias("sc")
    last_before = (
        select(sc.c.to_stage_id)
        .where(
            sc.c.account_id == deals.c.account_id,
            sc.c.deal_id == deals.c.id,
            sc.c.changed_at <= moment,
        )
        .order_by(sc.c.changed_at.desc(), sc.c.id.desc())
        .limit(1)
        .scalar_subquery()
    )
    later = stage_changes.alias("later")
    first_after = (
        select(later.c.from_stage_id)
        .where(
            later.c.account_id == deals.c.account_id,
            later.c.deal_id == deals.c.id,
            later.c.changed_at > moment,
        )
        .order_by(later.c.changed_at.asc(), later.c.id.asc())
        .limit(1)
        .scalar_subquery()
    )
    return (
        select(
            deals.c.id.label("deal_id"),
            coalesce(last_before, first_after, deals.c.stage_id).label("stage_id"),
        )
        .where(deals.c.account_id == account_id, deals.c.created_at <= moment)
        .subquery("stage_at")
    )
