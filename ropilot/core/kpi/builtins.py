"""The built-in KPIs, registered through the same catalogue plugins use.

Each wraps an engine module (``outcomes``, ``cycle`` …); KPIs that come from one query share it
through ``KpiContext.cached``.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from sqlalchemy import ColumnElement, select

from ropilot.core.kpi import cycle as cycle_mod
from ropilot.core.kpi import outcomes as outcomes_mod
from ropilot.core.kpi.lineage import deal_records
from ropilot.core.kpi.registry import Keys, KpiContext, KpiDefinition, KpiRow
from ropilot.core.kpi.scope import closed_in
from ropilot.core.store.schema import accounts, deals


def _outcomes(ctx: KpiContext) -> list[outcomes_mod.OutcomeRow]:
    return ctx.cached(
        "outcomes",
        lambda: outcomes_mod.outcomes(ctx.store, ctx.account_id, ctx.period, by=ctx.by),
    )


def _cycle(ctx: KpiContext) -> list[cycle_mod.CycleRow]:
    return ctx.cached(
        "cycle",
        lambda: cycle_mod.sales_cycle(ctx.store, ctx.account_id, ctx.period, by=ctx.by),
    )


def _from_outcomes(attr: str) -> Callable[[KpiContext], list[KpiRow]]:
    def compute(ctx: KpiContext) -> list[KpiRow]:
        return [KpiRow(r.keys, getattr(r, attr)) for r in _outcomes(ctx)]

    return compute


def _from_cycle(attr: str) -> Callable[[KpiContext], list[KpiRow]]:
    def compute(ctx: KpiContext) -> list[KpiRow]:
        return [KpiRow(r.keys, getattr(r, attr)) for r in _cycle(ctx)]

    return compute


def _in_currency(account_id: str) -> ColumnElement[bool]:
    currency = select(accounts.c.currency).where(accounts.c.id == account_id).scalar_subquery()
    return deals.c.currency.is_(None) | (deals.c.currency == currency)


def _closed(
    kinds: tuple[str, ...], currency_only: bool
) -> Callable[[KpiContext, Keys], list[dict[str, Any]]]:
    def explain(ctx: KpiContext, keys: Keys) -> list[dict[str, Any]]:
        where = closed_in(ctx.account_id, ctx.period, kinds)
        if currency_only:
            where = where & _in_currency(ctx.account_id)
        return deal_records(ctx.store, ctx.by, keys, where)

    return explain


def _cycle_explain(ctx: KpiContext, keys: Keys) -> list[dict[str, Any]]:
    rows = deal_records(ctx.store, ctx.by, keys, closed_in(ctx.account_id, ctx.period, ("won",)))
    for r in rows:
        r["cycle_days"] = (r["closed_at"] - r["created_at"]).total_seconds() / 86_400
    return rows


OUTCOME_CONVENTION = "outcome by current stage kind at closed_at; account currency"

BUILTIN_KPIS: list[KpiDefinition] = [
    KpiDefinition(
        "revenue",
        "Выручка",
        "Revenue",
        "money",
        _from_outcomes("revenue"),
        _closed(("won",), True),
        OUTCOME_CONVENTION,
        description="Won amount of deals closed in the period, account currency.",
    ),
    KpiDefinition(
        "won",
        "Выиграно",
        "Won",
        "count",
        _from_outcomes("won"),
        _closed(("won",), False),
        OUTCOME_CONVENTION,
    ),
    KpiDefinition(
        "lost",
        "Проиграно",
        "Lost",
        "count",
        _from_outcomes("lost"),
        _closed(("lost",), False),
        OUTCOME_CONVENTION,
    ),
    KpiDefinition(
        "lost_amount",
        "Сумма проигранных",
        "Lost amount",
        "money",
        _from_outcomes("lost_amount"),
        _closed(("lost",), True),
        OUTCOME_CONVENTION,
    ),
    KpiDefinition(
        "average_check",
        "Средний чек",
        "Average check",
        "money",
        _from_outcomes("average_check"),
        _closed(("won",), True),
        "revenue ÷ won deals in the account currency, empty amounts count",
    ),
    KpiDefinition(
        "win_rate",
        "Конверсия в успех",
        "Win rate",
        "ratio",
        _from_outcomes("win_rate"),
        _closed(("won", "lost"), False),
        "won ÷ (won + lost) closed in the period, by count",
    ),
    KpiDefinition(
        "win_rate_value",
        "Конверсия по сумме",
        "Win rate by value",
        "ratio",
        _from_outcomes("win_rate_value"),
        _closed(("won", "lost"), True),
        "won amount ÷ (won + lost amount) closed in the period",
    ),
    KpiDefinition(
        "cycle_median_days",
        "Цикл сделки, медиана (дн.)",
        "Sales cycle, median (days)",
        "days",
        _from_cycle("median_days"),
        _cycle_explain,
        "closed_at − created_at over deals won in the period",
    ),
    KpiDefinition(
        "cycle_mean_days",
        "Цикл сделки, среднее (дн.)",
        "Sales cycle, mean (days)",
        "days",
        _from_cycle("mean_days"),
        _cycle_explain,
        "closed_at − created_at over deals won in the period",
    ),
]
