"""The morning report: what a head of sales reads first thing — plan vs fact, forecast and
coverage, the funnel with conversions, the leaderboard, forgotten deals, losses, ABC × XYZ.

Each block is a section built by the same functions as the single reports; queries shared
between blocks (outcomes, forecasts) run once through the context's cache.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from decimal import Decimal
from typing import Any

from ropilot.core.kpi.outcomes import outcomes
from ropilot.core.kpi.registry import KpiContext
from ropilot.core.periods import months_before
from ropilot.core.plans.models import PlanDocument
from ropilot.core.reports.abcxyz_report import matrix_section
from ropilot.core.reports.funnel_report import snapshot_section
from ropilot.core.reports.kpi_report import base_report
from ropilot.core.reports.leaderboard import leaderboard_section
from ropilot.core.reports.lists import DEFAULT_FORGOTTEN_DAYS, forgotten_section, losses_section
from ropilot.core.reports.model import Column, Report, Section
from ropilot.core.reports.plan_report import company_run_rate, company_weighted, plan_section

SECTIONS = ("plan", "forecast", "funnel", "leaderboard", "forgotten", "losses", "abcxyz")
LOOKBACK_MONTHS = 3
"""Win rate for the required coverage: the complete months before the period."""


def forecast_section(ctx: KpiContext, plan_total: Decimal | None) -> Section:
    """Company forecast: revenue so far, run-rate and weighted forecasts, coverage."""
    rr = company_run_rate(ctx)
    w = company_weighted(ctx)
    window = months_before(ctx.period, LOOKBACK_MONTHS)
    (past,) = outcomes(ctx.store, ctx.account_id, window)
    remaining = None if plan_total is None else plan_total - rr.actual
    coverage = None if remaining is None or remaining <= 0 else w.amount / remaining
    required = None if not past.win_rate else 1 / past.win_rate
    values: dict[str, Any] = {
        "plan": plan_total,
        "actual": rr.actual,
        "run_rate_forecast": rr.forecast,
        "weighted_pipeline": w.weighted,
        "actual_plus_weighted": rr.actual + w.weighted,
        "pipeline_due": w.amount,
        "deals_due": w.count,
        "remaining_plan": remaining,
        "coverage": coverage,
        "win_rate_lookback": past.win_rate,
        "required_coverage": required,
        "working_days_elapsed": rr.elapsed_working_days,
        "working_days": rr.working_days,
    }
    rows: list[dict[str, Any]] = [values]
    columns = [
        Column("plan", "План", "Plan", "money"),
        Column("actual", "Факт", "Actual", "money"),
        Column("run_rate_forecast", "Прогноз по темпу", "Run-rate forecast", "money"),
        Column("weighted_pipeline", "Взвешенная воронка", "Weighted pipeline", "money"),
        Column("actual_plus_weighted", "Факт + взвешенная", "Actual + weighted", "money"),
        Column("pipeline_due", "Воронка к закрытию", "Pipeline due", "money"),
        Column("deals_due", "Сделок к закрытию", "Deals due", "count"),
        Column("remaining_plan", "Осталось до плана", "Remaining plan", "money"),
        Column("coverage", "Покрытие", "Coverage", "multiple"),
        Column("win_rate_lookback", "Конверсия (3 мес.)", "Win rate (3 mo.)", "ratio"),
        Column("required_coverage", "Нужное покрытие", "Required coverage", "multiple"),
        Column("working_days_elapsed", "Раб. дней прошло", "Working days elapsed", "count"),
        Column("working_days", "Раб. дней всего", "Working days", "count"),
    ]
    return Section(
        "forecast",
        "Прогноз и покрытие",
        "Forecast and coverage",
        columns,
        rows,
        [
            (
                "по темпу = факт ÷ прошедшие рабочие дни × все рабочие дни (производственный "
                "календарь)",
                "run-rate = actual ÷ elapsed working days × working days (production calendar)",
            ),
            (
                "взвешенный = Σ сумма × вероятность этапа по сделкам, открытым на --as-of, с "
                "ожидаемой датой закрытия в периоде; воронка к закрытию = их сумма",
                "weighted = Σ amount × stage probability of deals open at --as-of expected to "
                "close in the period; pipeline due = their amount",
            ),
            (
                f"покрытие = воронка к закрытию ÷ остаток плана; нужное = 1 ÷ конверсия за "
                f"{window.label}",
                f"coverage = pipeline due ÷ remaining plan; required = 1 ÷ win rate of "
                f"{window.label}",
            ),
        ],
    )


def morning_report(
    ctx: KpiContext,
    plan: PlanDocument | None,
    *,
    sections: Sequence[str] = SECTIONS,
    limit: int = 10,
    forgotten_days: int = DEFAULT_FORGOTTEN_DAYS,
    workers: int = 2,
) -> Report:
    """The morning report for ``ctx`` (period, as-of), plan vs fact when ``plan`` is given.

    The blocks are independent queries, so up to ``workers`` run at once, each on its own
    database connection (the drivers release the GIL while the database works).
    """

    def plan_and_forecast() -> list[Section]:
        out: list[Section] = []
        plan_total: Decimal | None = None
        if "plan" in sections and plan is not None:
            section = plan_section(ctx, plan, "revenue")
            compact = {"remaining", "elapsed_working_days", "working_days"}
            section.columns = [c for c in section.columns if c.name not in compact]
            out.append(section)
            plan_total = section.rows[0].get("plan") if section.rows else None
        if "forecast" in sections:
            out.append(forecast_section(ctx, plan_total))
        return out

    def losses() -> list[Section]:
        section = losses_section(ctx)
        total = len(section.rows)
        section.rows = section.rows[:limit]
        if total > limit:
            section.notes.append((f"первые {limit} из {total}", f"top {limit} of {total}"))
        return [section]

    tasks: list[Callable[[], list[Section]]] = [plan_and_forecast]
    if "funnel" in sections:
        tasks.append(lambda: [snapshot_section(ctx)])
    if "abcxyz" in sections:
        tasks.append(lambda: [matrix_section(ctx)])
    if "leaderboard" in sections:
        tasks.append(lambda: [leaderboard_section(ctx, limit)])
    if "forgotten" in sections:
        tasks.append(lambda: [forgotten_section(ctx, forgotten_days, limit)])
    if "losses" in sections:
        tasks.append(losses)
    if workers <= 1:
        results = [task() for task in tasks]
    else:
        with ThreadPoolExecutor(max_workers=workers) as pool:
            results = list(pool.map(lambda task: task(), tasks))
    by_name = {s.name: s for blocks in results for s in blocks}
    order = [
        "plan_revenue",
        "forecast",
        "funnel_snapshot",
        "leaderboard",
        "forgotten",
        "losses",
        "abcxyz_matrix",
    ]
    return base_report(ctx, "morning", [by_name[n] for n in order if n in by_name])
