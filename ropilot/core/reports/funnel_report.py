"""``report funnel``: stage conversion per pipeline step (snapshot and cohort, labelled) and
time in stage.
"""

from __future__ import annotations

from typing import Any

from ropilot.core.kpi.funnel import ConversionRow, cohort, snapshot
from ropilot.core.kpi.registry import KpiContext
from ropilot.core.kpi.stage_time import time_in_stage
from ropilot.core.reports.kpi_report import base_report, key_column
from ropilot.core.reports.model import Column, Report, Section
from ropilot.core.reports.names import add_names

DEFAULT_HORIZON_DAYS = 90


def _conversion_rows(rows: list[ConversionRow], by: tuple[str, ...]) -> list[dict[str, Any]]:
    return [
        {
            **{b: r.keys.get(b) for b in by},
            "pipeline": r.pipeline_id,
            "position": r.position,
            "stage_name": r.stage_name,
            "next_stage_name": r.next_stage_name,
            "reached": r.reached,
            "reached_next": r.reached_next,
            "conversion": r.conversion,
        }
        for r in rows
    ]


def _conversion_columns(by: tuple[str, ...], cohort_method: bool) -> list[Column]:
    reached_next = (
        ("Перешли дальше в горизонте", "Converted within horizon")
        if cohort_method
        else ("Дошли до следующего", "Reached next")
    )
    return [
        *[key_column(b) for b in by],
        key_column("pipeline"),
        Column("position", "№", "#", "count", key=True),
        Column("stage_name", "Этап", "Stage", key=True),
        Column("next_stage_name", "Следующий этап", "Next stage"),
        Column("reached", "Дошли до этапа", "Reached", "count"),
        Column("reached_next", *reached_next, "count"),
        Column("conversion", "Конверсия", "Conversion", "ratio"),
    ]


def snapshot_section(
    ctx: KpiContext, pipeline_id: str | None = None, reading: str = "funnel"
) -> Section:
    """Snapshot conversion of the period."""
    rows = snapshot(
        ctx.store,
        ctx.account_id,
        ctx.period,
        pipeline_id,
        ctx.by,
        reading,  # type: ignore[arg-type]
    )
    section = Section(
        "funnel_snapshot",
        "Воронка: конверсия этапов (срез периода)",
        "Funnel: stage conversion (period snapshot)",
        _conversion_columns(ctx.by, False),
        _conversion_rows(rows, ctx.by),
        [
            (
                f"конверсия этапов: срез, прочтение {reading} — сделки, впервые дошедшие до k + 1 "
                "в периоде ÷ впервые дошедшие до k в периоде (может быть больше 100 %)",
                f"stage conversion: snapshot, {reading} reading — deals first reaching k + 1 in "
                "the period ÷ deals first reaching k in the period (may exceed 100 %)",
            )
        ],
    )
    return add_names(ctx.store, ctx.account_id, section)


def cohort_section(
    ctx: KpiContext,
    pipeline_id: str | None = None,
    reading: str = "funnel",
    horizon_days: int | None = DEFAULT_HORIZON_DAYS,
) -> Section:
    """Cohort conversion: deals first reaching k in the period, converted within the horizon."""
    rows = cohort(
        ctx.store,
        ctx.account_id,
        ctx.period,
        horizon_days,
        as_of=ctx.as_of,
        pipeline_id=pipeline_id,
        by=ctx.by,
        reading=reading,  # type: ignore[arg-type]
    )
    horizon = "no horizon" if horizon_days is None else f"horizon {horizon_days} days"
    horizon_ru = "без горизонта" if horizon_days is None else f"горизонт {horizon_days} дн."
    section = Section(
        "funnel_cohort",
        "Воронка: когорта периода",
        "Funnel: cohort of the period",
        _conversion_columns(ctx.by, True),
        _conversion_rows(rows, ctx.by),
        [
            (
                f"конверсия этапов: когорта, прочтение {reading}, {horizon_ru} от достижения k "
                "каждой сделкой (включительно), история до --as-of",
                f"stage conversion: cohort, {reading} reading, {horizon} from each deal's reaching "
                "k (inclusive), history up to --as-of",
            )
        ],
    )
    return add_names(ctx.store, ctx.account_id, section)


def stage_time_section(ctx: KpiContext, pipeline_id: str | None = None) -> Section:
    """Time in stage: visits that ended in the period."""
    rows = time_in_stage(ctx.store, ctx.account_id, ctx.period, pipeline_id, ctx.by)
    section = Section(
        "time_in_stage",
        "Время на этапе (визиты, закончившиеся в периоде)",
        "Time in stage (visits ended in the period)",
        [
            *[key_column(b) for b in ctx.by],
            key_column("pipeline"),
            Column("stage_name", "Этап", "Stage", key=True),
            Column("samples", "Визитов", "Visits", "count"),
            Column("median_days", "Медиана (дн.)", "Median (days)", "days"),
            Column("mean_days", "Среднее (дн.)", "Mean (days)", "days"),
        ],
        [
            {
                **{b: r.keys.get(b) for b in ctx.by},
                "pipeline": r.pipeline_id,
                "stage_name": r.stage_name,
                "samples": r.samples,
                "median_days": r.median_days,
                "mean_days": r.mean_days,
            }
            for r in rows
        ],
        [
            (
                "время на этапе: одно значение на визит, от входа до следующей смены этапа",
                "time in stage: one sample per visit, from entering to the next stage change",
            )
        ],
    )
    return add_names(ctx.store, ctx.account_id, section)


def funnel_report(
    ctx: KpiContext,
    pipeline_id: str | None = None,
    reading: str = "funnel",
    horizon_days: int | None = DEFAULT_HORIZON_DAYS,
    with_cohort: bool = True,
    with_stage_time: bool = True,
) -> Report:
    """The ``funnel`` report."""
    sections = [snapshot_section(ctx, pipeline_id, reading)]
    if with_cohort:
        sections.append(cohort_section(ctx, pipeline_id, reading, horizon_days))
    if with_stage_time:
        sections.append(stage_time_section(ctx, pipeline_id))
    return base_report(ctx, "funnel", sections)
