"""Forecast snapshots (taken daily by ``ropilot snapshot``) and their accuracy once the period
has closed.
"""

from __future__ import annotations

from datetime import date

from ropilot.core.kpi.registry import KpiContext
from ropilot.core.kpi.snapshots import SnapshotRow, forecast_accuracy, take_snapshot
from ropilot.core.reports.kpi_report import base_report
from ropilot.core.reports.model import Column, Report, Section
from ropilot.core.reports.names import add_names


def snapshot_report(ctx: KpiContext) -> Report:
    """Take a snapshot of the period's forecasts at the context's moment and show it."""
    rows: list[SnapshotRow] = take_snapshot(ctx.store, ctx.account_id, ctx.period, ctx.as_of)
    section = Section(
        "snapshot",
        f"Снимок прогноза {ctx.period.label}",
        f"Forecast snapshot {ctx.period.label}",
        [
            Column("scope", "Уровень", "Scope", key=True),
            Column("manager", "Менеджер", "Manager", key=True),
            Column("actual_so_far", "Факт на дату", "Actual so far", "money"),
            Column("weighted", "Взвешенная воронка", "Weighted pipeline", "money"),
            Column("run_rate", "Прогноз по темпу", "Run-rate forecast", "money"),
            Column("open_deals", "Открытых сделок", "Open deals", "count"),
        ],
        [
            {
                "scope": r.scope,
                "manager": r.manager_id,
                "actual_so_far": r.actual_so_far,
                "weighted": r.weighted,
                "run_rate": r.run_rate,
                "open_deals": r.open_deals,
            }
            for r in rows
        ],
        [
            (
                "один снимок на период и день (повторный снимок в тот же день заменяет его)",
                "one snapshot per period and day (taking it again the same day replaces it)",
            )
        ],
    )
    return base_report(ctx, "snapshot", [add_names(ctx.store, ctx.account_id, section)])


def accuracy_report(ctx: KpiContext, method: str = "weighted", day: str | None = None) -> Report:
    """Accuracy = 1 − |actual − forecast| ÷ actual and bias = forecast − actual, per manager."""
    rows = forecast_accuracy(
        ctx.store,
        ctx.account_id,
        ctx.period,
        date.fromisoformat(day) if day else None,
        method=method,  # type: ignore[arg-type]
    )
    section = Section(
        "accuracy",
        f"Точность прогноза {ctx.period.label} ({method})",
        f"Forecast accuracy {ctx.period.label} ({method})",
        [
            Column("manager", "Менеджер", "Manager", key=True),
            Column("snapshot_day", "Снимок", "Snapshot", "date"),
            Column("forecast", "Прогноз", "Forecast", "money"),
            Column("actual", "Факт", "Actual", "money"),
            Column("accuracy", "Точность", "Accuracy", "ratio"),
            Column("bias", "Смещение", "Bias", "money"),
            Column("relative_bias", "Смещение, доля", "Relative bias", "ratio"),
        ],
        [
            {
                "manager": r.keys.get("manager"),
                "snapshot_day": r.snapshot_day,
                "forecast": r.forecast,
                "actual": r.actual,
                "accuracy": r.accuracy,
                "bias": r.bias,
                "relative_bias": r.relative_bias,
            }
            for r in rows
        ],
        [
            (
                "точность = 1 − |факт − прогноз| ÷ факт; смещение = прогноз − факт (+ = завышен)",
                "accuracy = 1 − |actual − forecast| ÷ actual; bias = forecast − actual (+ = over)",
            ),
            (
                "взвешенный прогноз = выиграно к снимку + взвешенная открытая воронка "
                "на тот момент",
                "weighted forecast = won by the snapshot + weighted open pipeline then",
            ),
        ],
    )
    return base_report(ctx, "accuracy", [add_names(ctx.store, ctx.account_id, section)])
