"""``report payout``: each manager's payout statement (KPI bonus and commission), every line
with its arithmetic, from a motivation scheme file, the KPI engine and (optionally) a plan.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from sqlalchemy import select

from ropilot.core.errors import ConfigurationError
from ropilot.core.i18n import Lang
from ropilot.core.kpi.registry import KpiCatalogue, KpiContext, compute_table
from ropilot.core.motivation import payout_statement
from ropilot.core.motivation.models import KpiPlan, Scheme
from ropilot.core.motivation.statement import scheme_for_manager
from ropilot.core.plans.dayplan import plan_for
from ropilot.core.plans.models import PlanDocument
from ropilot.core.reports.kpi_report import base_report
from ropilot.core.reports.model import Column, Report, Section, Text
from ropilot.core.store.schema import managers

PLAN_METRIC = {
    "revenue": "revenue",
    "won": "won_deals",
    "calls": "calls",
    "meetings": "meetings",
    "offers": "offers",
}
"""KPI name → the plan metric that sets its levels."""

DEFAULT_LEVELS = (Decimal("0.8"), Decimal("1"), Decimal("1.2"))
"""Minimum, optimal and maximum as shares of a plan target (when the scheme has no curve)."""


def _ranked_ids(ctx: KpiContext, only: str | None) -> list[str]:
    stmt = select(managers.c.id).where(
        managers.c.account_id == ctx.account_id,
        managers.c.active.is_(True),
        managers.c.role != "assistant",
    )
    with ctx.store.engine.connect() as conn:
        ids = sorted(r[0] for r in conn.execute(stmt))
    if only is not None:
        if only not in ids:
            raise ConfigurationError(f"no active manager {only!r} to pay")
        return [only]
    return ids


def payout_report(
    ctx: KpiContext,
    catalogue: KpiCatalogue,
    schemes: dict[str, Scheme],
    plan: PlanDocument | None = None,
    gates: dict[str, Decimal] | None = None,
    manager: str | None = None,
    levels: tuple[Decimal, Decimal, Decimal] = DEFAULT_LEVELS,
    lang: Lang = "ru",
) -> Report:
    """Statements of every active manager (or one) that a scheme covers.

    Facts are the catalogue's KPI values by manager for the period; KPI levels come from the
    plan's target × ``levels`` when a plan is given, else from the scheme.

    Raises:
        ConfigurationError: for a KPI of a scheme the catalogue does not know.
    """
    wanted = sorted({k.name for s in schemes.values() for k in s.kpis})
    definitions = [catalogue.get(n) for n in wanted]
    by_manager = KpiContext(
        ctx.store, ctx.account_id, ctx.period, ctx.as_of, ("manager",), ctx.currency
    )
    facts_by = {
        keys.get("manager"): values for keys, values in compute_table(by_manager, definitions)
    }
    lines: list[dict[str, Any]] = []
    totals: list[dict[str, Any]] = []
    skipped: list[str] = []
    for mid in _ranked_ids(ctx, manager):
        try:
            scheme = scheme_for_manager(ctx.store, ctx.account_id, mid, schemes)
        except ConfigurationError:
            skipped.append(mid)
            continue
        values = facts_by.get(mid, {})
        facts = {k.name: Decimal(str(values.get(k.name) or 0)) for k in scheme.kpis}
        plans: dict[str, KpiPlan] | None = None
        if plan is not None:
            plans = {}
            for k in scheme.kpis:
                metric = PLAN_METRIC.get(k.name)
                day_plan = plan_for(plan, f"manager:{mid}", metric, ctx.period) if metric else None
                if day_plan is not None:
                    target = day_plan.value
                    plans[k.name] = KpiPlan(*(target * f for f in levels))
        statement = payout_statement(
            ctx.store,
            ctx.account_id,
            mid,
            ctx.period,
            scheme,
            facts,
            plans=plans or None,
            gate_values=gates,
            lang=lang,
        )
        for ln in statement.lines:
            lines.append(
                {
                    "manager": mid,
                    "kind": ln.kind,
                    "label": ln.label,
                    "amount": ln.amount,
                    "arithmetic": ln.arithmetic,
                    "ref": ln.ref,
                }
            )
        totals.append(
            {
                "manager": mid,
                "scheme": statement.scheme,
                "bonus": statement.bonus_total,
                "commission": statement.commission_total,
                "total": statement.total,
            }
        )
    notes: list[Text] = (
        [(f"нет схемы для: {', '.join(skipped)}", f"no scheme for: {', '.join(skipped)}")]
        if skipped
        else []
    )
    return base_report(
        ctx,
        "payout",
        [
            Section(
                "payout_totals",
                "Выплаты: итоги",
                "Payouts: totals",
                [
                    Column("manager", "Менеджер", "Manager", key=True),
                    Column("scheme", "Схема", "Scheme"),
                    Column("bonus", "Бонус по KPI", "KPI bonus", "money"),
                    Column("commission", "Комиссия", "Commission", "money"),
                    Column("total", "Итого", "Total", "money"),
                ],
                totals,
                [
                    (
                        "бонус = база × Σ вес × коэффициент (0 / 0,5 / 1,5 на минимуме / "
                        "оптимуме / максимуме), урезается невыполненными условиями; комиссия по "
                        "шкале схемы; строки округлены до копейки, итоги — суммы строк",
                        "bonus = base × Σ weight × coefficient (0 / 0.5 / 1.5 at min / optimal / "
                        "max), cut by failing gates; commission by the scheme's tiers; lines "
                        "rounded to the kopeck, totals are sums of rounded lines",
                    )
                ],
                notes,
            ),
            Section(
                "payout_lines",
                "Выплаты: строки с расчётом",
                "Payouts: lines with arithmetic",
                [
                    Column("manager", "Менеджер", "Manager", key=True),
                    Column("kind", "Вид", "Kind", key=True),
                    Column("label", "Строка", "Line", key=True),
                    Column("amount", "Сумма", "Amount", "money"),
                    Column("arithmetic", "Расчёт", "Arithmetic"),
                    Column("ref", "Основание", "Ref"),
                ],
                lines,
            ),
        ],
    )
