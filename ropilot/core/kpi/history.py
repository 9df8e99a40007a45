"""Where deals stood at a moment, from stage history (SQL, SQLite and PostgreSQL alike)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import BigInteger, and_, exists, func, select, type_coerce, union_all

from ropilot.core.store.schema import deals, stage_changes, stages
from ropilot.core.timeutil import to_epoch_us


def held_if_open_at(account_id: str, moment: datetime) -> Any:
    """A subquery ``(deal_id, stage_id)``: every deal that may have been open at ``moment``,
    with the stage it held then. Callers keep the rows whose stage is of kind ``open``.

    The stage held at T is the stage the first change after T left, or the current stage when
    nothing changed after T (the same as the last stage entered at or before T whenever the
    history is consistent). So a deal that is closed now and has not changed since T was closed
    at T and is left out: the query reads only the deals open now and the deals changed after
    T, through indexes, instead of the whole history (1M deals: 6 s → 0.2 s on SQLite).
    """
    sc = stage_changes.alias("sc_after")
    ranked = (
        select(
            sc.c.deal_id,
            sc.c.from_stage_id,
            func.row_number()
            .over(partition_by=sc.c.deal_id, order_by=(sc.c.changed_at, sc.c.id))
            .label("rn"),
        )
        .where(sc.c.account_id == account_id, sc.c.changed_at > moment)
        .subquery("ranked_after")
    )
    changed = (
        select(deals.c.id.label("deal_id"), ranked.c.from_stage_id.label("stage_id"))
        .select_from(
            ranked.join(
                deals, and_(deals.c.account_id == account_id, deals.c.id == ranked.c.deal_id)
            )
        )
        .where(ranked.c.rn == 1, ranked.c.from_stage_id.is_not(None), deals.c.created_at <= moment)
    )
    later = stage_changes.alias("sc_later")
    open_stages = select(stages.c.id).where(
        stages.c.account_id == account_id, stages.c.kind == "open"
    )
    unchanged = select(deals.c.id.label("deal_id"), deals.c.stage_id.label("stage_id")).where(
        deals.c.account_id == account_id,
        # IN (open stages) drives the search through the (account, stage) index: few deals
        # are open now; "+ 0" keeps the planner off the created_at index.
        deals.c.stage_id.in_(open_stages),
        type_coerce(deals.c.created_at, BigInteger) + 0 <= to_epoch_us(moment),
        ~exists().where(
            later.c.account_id == deals.c.account_id,
            later.c.deal_id == deals.c.id,
            later.c.changed_at > moment,
        ),
    )
    return union_all(unchanged, changed).subquery("held_if_open")
