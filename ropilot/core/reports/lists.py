"""List reports: forgotten deals (as of T) and loss analysis (period)."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from sqlalchemy import select

from ropilot.core.kpi.forgotten import forgotten_clients, forgotten_deals
from ropilot.core.kpi.losses import losses
from ropilot.core.kpi.registry import KpiContext
from ropilot.core.reports.kpi_report import base_report, key_column
from ropilot.core.reports.model import Column, Report, Section
from ropilot.core.reports.names import add_names, names_of
from ropilot.core.store.schema import deals

DEFAULT_FORGOTTEN_DAYS = 14


def _deal_facts(ctx: KpiContext, ids: list[str]) -> dict[str, dict[str, Any]]:
    out: dict[str, dict[str, Any]] = {}
    with ctx.store.engine.connect() as conn:
        for i in range(0, len(ids), 500):
            stmt = select(deals.c.id, deals.c.name, deals.c.amount, deals.c.currency).where(
                deals.c.account_id == ctx.account_id, deals.c.id.in_(ids[i : i + 500])
            )
            out.update({r.id: dict(r._mapping) for r in conn.execute(stmt)})
    return out


def forgotten_section(ctx: KpiContext, days: int, limit: int | None = None) -> Section:
    """Deals open at the as-of moment, untouched for ``days`` and without a future task."""
    found = forgotten_deals(ctx.store, ctx.account_id, ctx.as_of, days=days)
    total = len(found)
    shown = found if limit is None else found[:limit]
    facts = _deal_facts(ctx, [f.deal_id for f in shown])
    stage_names = names_of(ctx.store, ctx.account_id, "stage", {f.stage_id for f in shown})
    rows = [
        {
            "deal": f.deal_id,
            "deal_name": facts.get(f.deal_id, {}).get("name"),
            "manager": f.responsible_id,
            "stage_name": stage_names.get(f.stage_id, f.stage_id),
            "amount": facts.get(f.deal_id, {}).get("amount"),
            "last_touch_at": f.last_touch_at.astimezone(ctx.zone),
            "idle_days": Decimal(str(round(f.idle_days, 4))),
        }
        for f in shown
    ]
    columns = [
        Column("deal", "Сделка", "Deal", key=True),
        Column("deal_name", "Название", "Name", key=True),
        Column("manager", "Менеджер", "Manager", key=True),
        Column("stage_name", "Этап на дату", "Stage at T"),
        Column("amount", "Сумма", "Amount", "money"),
        Column("last_touch_at", "Последнее касание", "Last touch", "datetime"),
        Column("idle_days", "Без касаний (дн.)", "Idle (days)", "days"),
    ]
    section = Section(
        "forgotten",
        f"Забытые сделки: без касаний {days} дн. и без будущей задачи",
        f"Forgotten deals: untouched {days} days, no future task",
        columns,
        rows,
        [
            (
                "забытая: открыта на дату в этапе, где была на дату; последняя активность (любого "
                f"типа) или создание раньше даты − {days} дн.; нет невыполненной задачи после даты",
                "forgotten: open at T in the stage held at T; last activity (any type) or creation "
                f"before T − {days} days; no uncompleted task due after T",
            )
        ],
        []
        if limit is None or total <= limit
        else [
            (
                f"показаны {limit} из {total}, самые давние первыми",
                f"{limit} of {total} shown, oldest first",
            )
        ],
    )
    return add_names(ctx.store, ctx.account_id, section)


def forgotten_clients_section(ctx: KpiContext, days: int, limit: int | None = None) -> Section:
    """Client companies untouched for ``days`` (their deals and contacts included), no task."""
    found = forgotten_clients(ctx.store, ctx.account_id, ctx.as_of, days=days)
    shown = found if limit is None else found[:limit]
    rows = [
        {
            "company": f.company_id,
            "manager": f.responsible_id,
            "last_touch_at": f.last_touch_at.astimezone(ctx.zone),
            "idle_days": Decimal(str(round(f.idle_days, 4))),
        }
        for f in shown
    ]
    section = Section(
        "forgotten_clients",
        f"Забытые клиенты: без касаний {days} дн. и без будущей задачи",
        f"Forgotten clients: untouched {days} days, no future task",
        [
            Column("company", "Контрагент", "Counterparty", key=True),
            Column("manager", "Ответственный", "Responsible", key=True),
            Column("last_touch_at", "Последнее касание", "Last touch", "datetime"),
            Column("idle_days", "Без касаний (дн.)", "Idle (days)", "days"),
        ],
        rows,
        [
            (
                "клиент = компания со сделкой; последняя активность по ней, её сделкам или "
                f"контактам (или её создание) раньше даты − {days} дн.; ни у кого из них нет "
                "невыполненной задачи после даты",
                "client = a company with a deal; last activity linked to it, its deals or its "
                f"contacts (or its creation) before T − {days} days; no uncompleted task due "
                "after T on any of them",
            )
        ],
        []
        if limit is None or len(found) <= limit
        else [(f"показаны {limit} из {len(found)}", f"{limit} of {len(found)} shown")],
    )
    return add_names(ctx.store, ctx.account_id, section)


def forgotten_report(ctx: KpiContext, days: int = DEFAULT_FORGOTTEN_DAYS) -> Report:
    """The ``forgotten`` report: deals, then client companies."""
    return base_report(
        ctx, "forgotten", [forgotten_section(ctx, days), forgotten_clients_section(ctx, days)]
    )


def losses_section(ctx: KpiContext) -> Section:
    """Lost deals of the period by loss stage × reason (× dimensions), largest count first."""
    rows_in = losses(ctx.store, ctx.account_id, ctx.period, by=ctx.by)
    stage_names = names_of(
        ctx.store, ctx.account_id, "stage", {r.loss_stage_id for r in rows_in if r.loss_stage_id}
    )
    rows = [
        {
            **r.keys,
            "loss_stage": stage_names.get(r.loss_stage_id, r.loss_stage_id)
            if r.loss_stage_id
            else None,
            "loss_reason": r.loss_reason,
            "lost": r.lost,
            "amount": r.amount,
        }
        for r in sorted(rows_in, key=lambda r: (-r.lost, -r.amount, str(r.loss_stage_id)))
    ]
    columns = [key_column(b) for b in ctx.by] + [
        Column("loss_stage", "Этап потери", "Loss stage", key=True),
        Column("loss_reason", "Причина", "Reason", key=True),
        Column("lost", "Проиграно", "Lost", "count"),
        Column("amount", "Сумма", "Amount", "money"),
    ]
    section = Section(
        "losses",
        "Где и почему теряем сделки",
        "Where and why deals are lost",
        columns,
        rows,
        [
            (
                "этап потери: этап, из которого сделку последний раз перевели в «проиграно» "
                "(— если создана проигранной); пустая причина = —; сумма в валюте аккаунта",
                "loss stage: the stage left on the last move into lost (— when created lost); "
                "empty reason = —; amount in the account currency",
            )
        ],
    )
    return add_names(ctx.store, ctx.account_id, section)


def losses_report(ctx: KpiContext) -> Report:
    """The ``losses`` report."""
    return base_report(ctx, "losses", [losses_section(ctx)])
