"""``report kpi``: chosen KPIs side by side per group, and their lineage (``--explain``)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from datetime import datetime, timedelta
from typing import Any

from ropilot.core.kpi.registry import KpiCatalogue, KpiContext, KpiDefinition, compute_table
from ropilot.core.periods import buckets
from ropilot.core.reports.model import Column, Report, Section, Text, Unit
from ropilot.core.reports.names import add_names

DEFAULT_KPIS = (
    "revenue",
    "won",
    "lost",
    "average_check",
    "win_rate",
    "win_rate_value",
    "cycle_median_days",
)

DIMENSION_TITLES: dict[str, tuple[str, str]] = {
    "manager": ("Менеджер", "Manager"),
    "team": ("Команда", "Team"),
    "pipeline": ("Воронка", "Pipeline"),
    "source": ("Источник", "Source"),
    "product": ("Продукт", "Product"),
    "region": ("Регион", "Region"),
    "segment": ("Сегмент", "Segment"),
    "company": ("Контрагент", "Counterparty"),
    "bucket": ("Период", "Period"),
}


def key_column(name: str) -> Column:
    """The column of a dimension."""
    ru, en = DIMENSION_TITLES.get(name, (name, name))
    return Column(name, ru, en, "text", key=True)


def base_report(ctx: KpiContext, name: str, sections: list[Section]) -> Report:
    """A report for ``ctx`` holding ``sections``."""
    return Report(
        name=name,
        account_id=ctx.account_id,
        currency=ctx.currency,
        timezone=str(ctx.zone),
        as_of=ctx.as_of,
        sections=sections,
        period_label=ctx.period.label,
        period_start=ctx.period.start,
        period_end=ctx.period.end,
        by=ctx.by,
    )


def bucket_contexts(ctx: KpiContext, grain: str) -> list[KpiContext]:
    """One context per day/week/month/quarter/year of the period (cut to it); each bucket's
    as-of moment is the context's, or the bucket's last moment when the bucket is over.
    """
    out = []
    for b in buckets(ctx.period, grain):
        moment = min(ctx.as_of, b.end - timedelta(microseconds=1))
        out.append(replace(ctx, period=b, as_of=moment, _cache={}, _locks={}))
    return out


def kpi_section(
    ctx: KpiContext, definitions: Sequence[KpiDefinition], grain: str | None = None
) -> Section:
    """One row per group of ``ctx.by`` (and per period bucket with ``grain``) with every KPI."""
    columns = [key_column(b) for b in ctx.by] + [
        Column(d.name, d.title_ru, d.title_en, d.unit) for d in definitions
    ]
    if grain is None:
        rows = [{**keys, **values} for keys, values in compute_table(ctx, definitions)]
    else:
        columns.insert(0, key_column("bucket"))
        rows = [
            {"bucket": sub.period.label, **keys, **values}
            for sub in bucket_contexts(ctx, grain)
            for keys, values in compute_table(sub, definitions)
        ]
    section = Section("kpi", "Показатели", "KPIs", columns, rows, conventions_of(definitions))
    return add_names(ctx.store, ctx.account_id, section)


def conventions_of(definitions: Sequence[KpiDefinition]) -> list[Text]:
    """``"revenue, won: outcome by …"``: each convention once, with the KPIs that follow it,
    in Russian and English.
    """
    grouped: dict[tuple[str, str], list[str]] = {}
    for d in definitions:
        if d.convention:
            grouped.setdefault((d.convention_ru or d.convention, d.convention), []).append(d.name)
    return [
        (f"{', '.join(names)}: {ru}", f"{', '.join(names)}: {en}")
        for (ru, en), names in grouped.items()
    ]


def kpi_report(
    catalogue: KpiCatalogue,
    ctx: KpiContext,
    names: Sequence[str] | None = None,
    grain: str | None = None,
) -> Report:
    """The ``kpi`` report: chosen KPIs (a default set when ``names`` is empty), per period
    bucket when ``grain`` is given (day, week, month, quarter, year).
    """
    definitions = catalogue.select(list(names) if names else list(DEFAULT_KPIS))
    return base_report(ctx, "kpi", [kpi_section(ctx, definitions, grain)])


_RECORD_UNITS: dict[str, Unit] = {
    "amount": "money",
    "created_at": "datetime",
    "closed_at": "datetime",
    "at": "datetime",
    "reached_at": "datetime",
    "cycle_days": "days",
}


def explain_report(
    catalogue: KpiCatalogue,
    ctx: KpiContext,
    names: Sequence[str],
    keys: dict[str, str | None],
) -> Report:
    """Lineage: for each KPI, its value for the group ``keys`` and the records behind it."""
    sections = []
    for d in catalogue.select(list(names) if names else list(DEFAULT_KPIS)):
        if d.explain is None:
            continue
        value = next(
            (r.value for r in d.compute(ctx) if all(r.keys.get(b) == keys.get(b) for b in ctx.by)),
            None,
        )
        records: list[dict[str, Any]] = [
            {k: v.astimezone(ctx.zone) if isinstance(v, datetime) else v for k, v in r.items()}
            for r in d.explain(ctx, keys)
        ]
        names_in = list(records[0]) if records else ["id"]
        columns = [Column(n, n, n, _RECORD_UNITS.get(n, "text"), key=(n == "id")) for n in names_in]
        group = ", ".join(f"{k}={v}" for k, v in keys.items()) or "company"
        section = Section(
            d.name,
            f"{d.title_ru} — записи ({group})",
            f"{d.title_en} — records ({group})",
            columns,
            records,
            [(d.convention_ru or d.convention, d.convention)] if d.convention else [],
            [
                (f"значение = {value}", f"value = {value}"),
                (f"записей = {len(records)}", f"records = {len(records)}"),
            ],
        )
        sections.append(section)
    return base_report(ctx, "explain", sections)
