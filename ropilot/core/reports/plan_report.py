"""``report plan``: plan vs fact per manager and for the company, with the expected-by-now line
and, for revenue, the run-rate and weighted forecasts of the period.
"""

from __future__ import annotations

from decimal import Decimal
from fractions import Fraction
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
from ropilot.core.periods import months_before
from ropilot.core.plan_funnel import funnel_history, headcount, needed_headcount, plan_funnel
from ropilot.core.plans.models import PlanDocument
from ropilot.core.plans.progress import progress
from ropilot.core.plans.store import list_plans, load_plan
from ropilot.core.reports.kpi_report import base_report
from ropilot.core.reports.model import Column, Report, Section, Text, Unit
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


def plan_for_period(ctx: KpiContext, name: str | None) -> PlanDocument | None:
    """The named plan; else the plan named like the period, or the only plan stored; else
    None (the morning report then has no plan block).
    """
    plans = list_plans(ctx.store, ctx.account_id)
    if name is None:
        if ctx.period.label in plans:
            name = ctx.period.label
        elif len(plans) == 1:
            name = next(iter(plans))
        else:
            return None
    return load_plan(ctx.store, ctx.account_id, name).document


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
            (
                "первая строка — компания; ожидалось к дате = план рабочих дней по дату "
                "включительно (производственный календарь без отсутствий)",
                "first row: the company; expected by now = the plan of the working days up to "
                "the as-of day included (production calendar minus absences)",
            ),
            (
                "выполнение = факт ÷ план; темп = факт ÷ ожидалось к дате",
                "attainment = actual ÷ plan; pace = actual ÷ expected",
            ),
        ],
    )
    return add_names(ctx.store, ctx.account_id, section)


def plan_report(
    ctx: KpiContext,
    plan: str | None,
    metrics: list[str],
    *,
    reverse_funnel: bool = True,
    calls_norm: int | None = None,
) -> Report:
    """The ``plan`` report: one section per metric, then the revenue plan's reverse funnel."""
    document = choose_plan(ctx, plan)
    sections = [plan_section(ctx, document, m) for m in metrics]
    if reverse_funnel and "revenue" in metrics:
        sections.append(
            reverse_funnel_section(ctx, sections[metrics.index("revenue")].rows, calls_norm)
        )
    return base_report(ctx, "plan", sections)


HISTORY_MONTHS = 3
"""The reverse funnel's conversions come from the complete months before the plan period."""


def _dec(value: Fraction | None, places: int = 6) -> Decimal | None:
    if value is None:
        return None
    return (Decimal(value.numerator) / Decimal(value.denominator)).quantize(
        Decimal(1).scaleb(-places)
    )


def reverse_funnel_section(
    ctx: KpiContext, plan_rows: list[dict[str, Any]], calls_norm: int | None = None
) -> Section:
    """Revenue plan → won deals → offers → meetings → calls per manager and working day, with
    conversions from each manager's history (shrunk to the team's) and, with a calls-per-day
    norm, the headcount the company plan needs.
    """
    window = months_before(ctx.period, HISTORY_MONTHS)
    history = funnel_history(ctx.store, ctx.account_id, window)
    rows: list[dict[str, Any]] = []
    notes: list[Text] = []
    for r in plan_rows:
        plan_value = r.get("plan")
        if plan_value is None or plan_value <= 0:
            continue
        manager = r.get("manager")
        try:
            pf = plan_funnel(history, ctx.period, plan_value, manager=manager)
        except ConfigurationError as exc:
            notes.append(f"{manager or 'company'}: {exc}")
            continue
        f = pf.funnel
        row: dict[str, Any] = {
            "manager": manager,
            "plan": plan_value,
            "average_check": pf.average_check.display,
            "won": f.won.display,
            "offer_won": _dec(pf.conversions["offer_won"].rate),
            "offers": f.offers.display,
            "meeting_offer": _dec(pf.conversions["meeting_offer"].rate),
            "meetings": f.meetings.display,
            "call_meeting": _dec(pf.conversions["call_meeting"].rate),
            "calls": f.calls.display,
            "working_days": f.working_days,
            "calls_per_day": f.calls_per_day.display,
            "why": next((s.reason for s in f.steps if s.reason), None),
        }
        if calls_norm and manager is None:
            lines = headcount(f, {"calls": calls_norm})
            row["headcount"] = needed_headcount(lines)
        rows.append(row)
    columns = [
        Column("manager", "Менеджер", "Manager", key=True),
        Column("plan", "План выручки", "Revenue plan", "money"),
        Column("average_check", "Средний чек", "Average check", "money"),
        Column("won", "Сделок", "Won deals", "count"),
        Column("offer_won", "КП→сделка", "Offer→won", "ratio"),
        Column("offers", "КП", "Offers", "count"),
        Column("meeting_offer", "Встреча→КП", "Meeting→offer", "ratio"),
        Column("meetings", "Встреч", "Meetings", "count"),
        Column("call_meeting", "Звонок→встреча", "Call→meeting", "ratio"),
        Column("calls", "Звонков", "Calls", "count"),
        Column("working_days", "Раб. дней", "Working days", "count"),
        Column("calls_per_day", "Звонков в день", "Calls per day", "count"),
    ]
    if calls_norm:
        columns.append(Column("headcount", "Нужно менеджеров", "Headcount needed", "count"))
    columns.append(Column("why", "Почему нет значения", "Why missing"))
    section = Section(
        "reverse_funnel",
        "Обратная воронка плана",
        "Reverse funnel of the plan",
        columns,
        rows,
        [
            (
                f"конверсии за {window.label}: сделки ÷ КП, КП ÷ встречи, встречи ÷ звонки, "
                f"активности сдвинуты раньше на медианный цикл ({history.cycle_days} дн.); "
                "конверсии менеджера подтянуты к командным; счёт округлён вверх для показа",
                f"conversions from {window.label}: won deals ÷ offers, offers ÷ meetings, "
                f"meetings ÷ calls, activities shifted earlier by the median cycle "
                f"({history.cycle_days} days); a manager's rates shrunk towards the team's; "
                "counts rounded up for display",
            )
        ],
        notes,
    )
    return add_names(ctx.store, ctx.account_id, section)
