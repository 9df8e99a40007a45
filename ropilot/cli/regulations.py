"""``ropilot regulations …``: check a regulations file, show the rules in force."""

from __future__ import annotations

import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import click

from ropilot.cli.app import AppContext, pass_app
from ropilot.core.regulations import (
    WEEKDAYS,
    Pool,
    Regulations,
    RequiredField,
    load_regulations,
    recorded_versions,
    required_field_rules,
    resolve_regulations,
)
from ropilot.core.reports.context import resolve_account
from ropilot.core.reports.model import Column, Report, Section
from ropilot.render import FORMATS, write_report


def _hours(intervals: list[tuple[int, int]]) -> str:
    if not intervals:
        return "—"
    return ", ".join(f"{a // 60:02d}:{a % 60:02d}-{b // 60:02d}:{b % 60:02d}" for a, b in intervals)


def _members(pool: Pool) -> str:
    parts = [f"managers {', '.join(pool.managers)}"] if pool.managers else []
    parts += [f"teams {', '.join(pool.teams)}"] if pool.teams else []
    return "; ".join(parts) or "every active non-assistant manager"


def _criteria(pool: Pool) -> str:
    parts = [
        f"{label} {', '.join(values)}"
        for label, values in (
            ("pipelines", pool.pipelines),
            ("sources", pool.sources),
            ("segments", pool.segments),
        )
        if values
    ]
    return "; ".join(parts) or "any lead"


def _caps(pool: Pool) -> str:
    caps = pool.caps
    parts = []
    if caps.per_period is not None:
        parts.append(f"{caps.per_period.max} per {caps.per_period.period}")
    if caps.max_open_load is not None:
        w = caps.load_weights
        parts.append(
            f"open load ≤ {caps.max_open_load:g} (deal {w.open_deal:g}, task {w.open_task:g})"
        )
    parts += [f"{c.field}={c.value}: {c.max} per {c.period}" for c in caps.per_criteria]
    return "; ".join(parts) or "none"


def _pool_rows(regs: Regulations) -> list[dict[str, Any]]:
    rows = []
    for pool in regs.routing.pools:
        eff = pool.efficiency
        rows.append(
            {
                "pool": pool.name,
                "leads": _criteria(pool),
                "members": _members(pool),
                "strategy": pool.strategy,
                "weights": ", ".join(f"{k}={v:g}" for k, v in sorted(pool.weights.items()))
                or "equal",
                "caps": _caps(pool),
                "efficiency": (
                    f"win rate {eff.win_rate_weight:g}, speed {eff.speed_weight:g}, "
                    f"k={eff.prior_strength:g}, {eff.min_factor:g}–{eff.max_factor:g}, "
                    f"{eff.lookback_days} days"
                    if eff.enabled
                    else "off"
                ),
                "rejoin": pool.rejoin
                + (f" +{pool.catch_up_per_day:g}/day" if pool.catch_up_per_day else ""),
                "sla": (
                    f"{pool.take_into_work_minutes} business min"
                    if pool.take_into_work_minutes
                    else "—"
                ),
                "match": ", ".join(pool.specialisation_match) or "—",
                "account_management": (
                    ("owner, if eligible" if pool.owner_must_be_eligible else "owner")
                    if pool.account_management
                    else "off"
                ),
            }
        )
    return rows


def _general_rows(regs: Regulations, zone: str, source: str | None) -> list[dict[str, Any]]:
    rows = [
        {"rule": "version", "value": regs.version},
        {"rule": "source", "value": source or "built-in defaults"},
        {"rule": "timezone", "value": regs.timezone or f"{zone} (the account's)"},
    ]
    for i, name in enumerate(WEEKDAYS):
        rows.append(
            {"rule": f"working_hours.{name}", "value": _hours(regs.working_hours.for_weekday(i))}
        )
    for key, value in sorted(regs.activity_norms.items()):
        rows.append({"rule": f"activity_norms.{key}", "value": f"{value:g}"})
    clocks = regs.clocks
    rows.append(
        {
            "rule": "clocks.no_activity_hours",
            "value": "off" if clocks.no_activity_hours is None else f"{clocks.no_activity_hours:g}",
        }
    )
    rows.append({"rule": "clocks.next_step_required", "value": str(clocks.next_step_required)})
    for step in regs.escalation:
        rows.append({"rule": f"escalation.{step.level}", "value": f"{step.after_hours:g} h"})
    for stage, hours in sorted(regs.stage_limits.items()):
        rows.append({"rule": f"stage_limits.{stage}", "value": f"{hours:g} h"})
    return rows


def _sections(
    regs: Regulations, zone: str, source: str | None, rules: list[RequiredField] | None
) -> list[Section]:
    general = Section(
        "rules",
        "Регламент",
        "Regulations",
        [Column("rule", "Правило", "Rule", key=True), Column("value", "Значение", "Value")],
        _general_rows(regs, zone, source),
        notes=[
            (
                "Часы — рабочие (business hours) по графику менеджера и производственному "
                "календарю РФ.",
                "Hours are business hours on the manager's schedule and the Russian production "
                "calendar.",
            )
        ],
    )
    pool_cols = [
        Column("pool", "Пул", "Pool", key=True),
        Column("leads", "Лиды", "Leads"),
        Column("members", "Участники", "Members"),
        Column("strategy", "Стратегия", "Strategy"),
        Column("weights", "Веса", "Weights"),
        Column("caps", "Лимиты", "Caps"),
        Column("efficiency", "Эффективность", "Efficiency"),
        Column("rejoin", "Возврат", "Rejoin"),
        Column("sla", "Взять в работу", "Take into work"),
        Column("match", "Специализация", "Specialisation"),
        Column("account_management", "Клиент — владельцу", "Client's owner"),
    ]
    pools = Section(
        "pools",
        "Пулы распределения",
        "Routing pools",
        pool_cols,
        _pool_rows(regs),
        notes=[("Лид идёт в первый подходящий пул.", "A lead goes to the first matching pool.")],
    )
    if rules is None:
        required_rows = [
            {"stage": stage, "field": name, "origin": "file"}
            for stage, names in sorted(regs.required_fields.items())
            for name in names
        ]
    else:
        required_rows = [{"stage": r.stage_id, "field": r.name, "origin": r.origin} for r in rules]
    required = Section(
        "required_fields",
        "Обязательные поля по этапам",
        "Required fields per stage",
        [
            Column("stage", "Этап", "Stage", key=True),
            Column("field", "Поле", "Field", key=True),
            Column("origin", "Откуда", "Origin"),
        ],
        required_rows,
        notes=[
            (
                "Правила файла объединяются с обязательными полями CRM (amoCRM "
                "required_statuses); поля контакта и компании — с префиксом contact./company.",
                "The file's rules are merged with the CRM's required fields (amoCRM "
                "required_statuses); contact and company fields carry a contact./company. prefix.",
            )
        ],
    )
    return [general, pools, required]


_OUTPUT = [
    click.option("--format", "fmt", type=click.Choice(FORMATS), default="table", show_default=True),
    click.option("--out", type=click.Path(dir_okay=False, path_type=Path), help="File."),
    click.option("--lang", "lang_opt", type=click.Choice(["ru", "en"]), help="Language."),
]


def _emit(app: AppContext, report: Report, fmt: str, out: Path | None, lang: str | None) -> None:
    chosen = lang if lang in ("ru", "en") else app.lang
    text = write_report(report, fmt, chosen, out)  # type: ignore[arg-type]
    if text is not None:
        sys.stdout.write(text)
    else:
        click.echo(f"→ {out}", err=True)


@click.group()
def regulations() -> None:
    """Sales regulations: working hours, norms, routing pools, stage limits, required fields.

    Регламент продаж: рабочее время, нормы, пулы распределения, лимиты этапов, обязательные поля.
    """


@regulations.command("check")
@click.argument("file", type=click.Path(dir_okay=False, path_type=Path))
@click.option("--timezone", default="Europe/Moscow", show_default=True, help="Account zone.")
@_OUTPUT[0]
@_OUTPUT[1]
@_OUTPUT[2]
@pass_app
def regulations_check(
    app: AppContext,
    file: Path,
    timezone: str,
    fmt: str,
    out: Path | None,
    lang_opt: str | None,
) -> None:
    """Validate a regulations file; print its version and a summary (exit 3 when invalid)."""
    regs = load_regulations(file)
    click.echo(f"{file}: valid, version {regs.version}", err=True)
    report = Report(
        name="regulations",
        account_id="—",
        currency="—",
        timezone=regs.timezone or timezone,
        as_of=datetime.now(UTC),
        sections=_sections(regs, timezone, str(file), None),
    )
    _emit(app, report, fmt, out, lang_opt)


@regulations.command("show")
@click.option("--account", "account_id", help="Account id (when the store has several).")
@click.option(
    "--regulations",
    "path",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Regulations file (default: regulations.toml next to ropilot.toml, else in the current "
    "directory, else the built-in defaults).",
)
@click.option("--versions", is_flag=True, help="Also list the versions recorded in the store.")
@click.option("--url", help="Storage URL (default: from settings).")
@_OUTPUT[0]
@_OUTPUT[1]
@_OUTPUT[2]
@pass_app
def regulations_show(
    app: AppContext,
    account_id: str | None,
    path: Path | None,
    versions: bool,
    url: str | None,
    fmt: str,
    out: Path | None,
    lang_opt: str | None,
) -> None:
    """The rules in force for an account, the CRM's required fields merged in."""
    config = app.settings.source if path is None else None
    regs, source = resolve_regulations(path, config)
    store = app.open_store(url)
    try:
        acc, currency, zone = resolve_account(store, account_id)
        rules = required_field_rules(store, acc, regs)
        sections = _sections(regs, str(zone), source, rules)
        if versions:
            sections.append(
                Section(
                    "versions",
                    "Версии регламента",
                    "Regulations versions",
                    [
                        Column("version", "Версия", "Version", key=True),
                        Column("first_seen_at", "Впервые", "First seen", unit="datetime"),
                        Column("source", "Файл", "Source"),
                    ],
                    recorded_versions(store, acc),
                )
            )
    finally:
        store.close()
    report = Report(
        name="regulations",
        account_id=acc,
        currency=currency,
        timezone=str(zone),
        as_of=datetime.now(UTC),
        sections=sections,
    )
    _emit(app, report, fmt, out, lang_opt)
