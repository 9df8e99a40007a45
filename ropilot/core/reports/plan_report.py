"""``report plan``: plan vs fact per manager and for the company, with the expected-by-now line
and, for revenue, the run-rate and weighted forecasts of the period.
"""

from __future__ import annotations

from typing import Any

from ropilot.core.errors import ConfigurationError
from ropilot.core.kpi.forecast import (
    RunRateRow,
    WeightedRow,
    run_rate_forecast,
    total_run_rate,
    total_weighted,
    weighted_forecast,
)
from ropilot.core.kpi.registry import KpiContext
from ropilot.core.plans.models import PlanDocument
from ropilot.core.plans.progress import progress
from ropilot.core.plans.store import list_plans, load_plan
from ropilot.core.reports.kpi_report import base_report
from ropilot.core.reports.model import Column, Report, Section, Unit
from ropilot.core.reports.names import add_names


def choose_plan(ctx: KpiContext, name: str | None) -> PlanDocument:
    """The named plan's latest version; without a name, the only plan stored.

    Raises:
        ConfigurationError: when there is no plan, or several and none was named.
    """
    plans = list_plans(ctx.store, ctx.account_id)
    if name is None:
        if not plans:
            raise ConfigurationError(
                "no plan is stored: `ropilot plan propose --period … --save` or "
                "`ropilot plan import FILE` first"
            )
        if len(plans) > 1:
            raise ConfigurationError(f"several plans are stored ({', '.join(plans)}): pass --plan")
        name = next(iter(plans))
    return load_plan(ctx.store, ctx.account_id, name).document


def manager_run_rate(ctx: KpiContext) -> list[RunRateRow]:
    """Run-rate forecast by manager, once per context."""
    return ctx.cached(
        "run_rate:manager",
        lambda: run_rate_forecast(ctx.store, ctx.account_id, ctx.period, ctx.as_of, ["manager"]),
    )


def manager_weighted(ctx: KpiContext) -> list[WeightedRow]:
    """Weighted forecast by manager, once per context."""
    return ctx.cached(
        "weighted:manager",
        lambda: weighted_forecast(ctx.store, ctx.account_id, ctx.period, ctx.as_of, ["manager"]),
    )


def company_run_rate(ctx: KpiContext) -> RunRateRow:
    """The company's run-rate forecast: the sum of the managers' rows (no second query)."""
    return total_run_rate(manager_run_rate(ctx), ctx.period, ctx.as_of)


def company_weighted(ctx: KpiContext) -> WeightedRow:
    """The company's weighted forecast: the sum of the managers' rows."""
    return total_weighted(manager_weighted(ctx))


def plan_section(ctx: KpiContext, document: PlanDocument, metric: str = "revenue") -> Section:
    """Plan vs fact of ``metric`` as of the context's moment (its local day counts as elapsed)."""
    as_of_day = ctx.as_of.astimezone(ctx.zone).date()
    rows_in = progress(ctx.store, ctx.account_id, document, metric, ctx.period, as_of_day)
    unit: Unit = "money" if metric == "revenue" else "number"
    forecasts: dict[Any, dict[str, Any]] = {}
    if metric == "revenue":
        by_manager_rr = manager_run_rate(ctx)
        for rr in by_manager_rr:
            forecasts.setdefault(rr.keys.get("manager"), {})["run_rate"] = rr.forecast
        by_manager_w = manager_weighted(ctx)
        for w in by_manager_w:
            forecasts.setdefault(w.keys.get("manager"), {})["weighted"] = w.weighted
        company_rr = [company_run_rate(ctx)]
        company_w = [company_weighted(ctx)]
        forecasts["__company__"] = {
            "run_rate": company_rr[0].forecast if company_rr else None,
            "weighted": company_w[0].weighted if company_w else None,
        }
    rows = []
    for r in rows_in:
        manager = r.keys.get("manager")
        f = forecasts.get("__company__" if not r.keys else manager, {})
        row: dict[str, Any] = {
            "manager": manager,
            "plan": r.plan,
            "fact": r.fact,
            "expected": r.expected,
            "attainment": r.attainment,
            "pace": r.pace,
            "gap": r.gap,
            "remaining": r.remaining,
            "elapsed_working_days": r.elapsed_working_days,
            "working_days": r.working_days,
        }
        if metric == "revenue":
            row["run_rate_forecast"] = f.get("run_rate")
            row["weighted_forecast"] = f.get("weighted")
        rows.append(row)
    columns = [
        Column("manager", "Менеджер", "Manager", key=True),
        Column("plan", "План", "Plan", unit),
        Column("fact", "Факт", "Actual", unit),
        Column("expected", "Ожидалось к дате", "Expected by now", unit),
        Column("attainment", "Выполнение", "Attainment", "ratio"),
        Column("pace", "Темп", "Pace", "ratio"),
        Column("gap", "Отставание (−)", "Gap (−behind)", unit),
        Column("remaining", "Осталось", "Remaining", unit),
        Column("elapsed_working_days", "Раб. дней прошло", "Working days elapsed", "count"),
        Column("working_days", "Раб. дней всего", "Working days", "count"),
    ]
    if metric == "revenue":
        columns += [
            Column("run_rate_forecast", "Прогноз по темпу", "Run-rate forecast", "money"),
            Column("weighted_forecast", "Взвешенный прогноз", "Weighted forecast", "money"),
        ]
    section = Section(
        f"plan_{metric}",
        f"План-факт: {metric} (план «{document.name}»)",
        f"Plan vs actual: {metric} (plan “{document.name}”)",
        columns,
        rows,
        [
            "first row: the company; expected by now = the plan of the working days up to the "
            "as-of day included (production calendar minus absences)",
            "attainment = actual ÷ plan; pace = actual ÷ expected",
        ],
    )
    return add_names(ctx.store, ctx.account_id, section)


def plan_report(ctx: KpiContext, plan: str | None, metrics: list[str]) -> Report:
    """The ``plan`` report: one section per metric."""
    document = choose_plan(ctx, plan)
    return base_report(ctx, "plan", [plan_section(ctx, document, m) for m in metrics])
