"""``ropilot plan …``: create, import, show, decompose, propose and re-plan sales plans."""

from __future__ import annotations

import sys
from datetime import date
from decimal import Decimal
from pathlib import Path
from typing import Any

import click

from ropilot.cli.app import AppContext, pass_app
from ropilot.core.errors import ConfigurationError
from ropilot.core.reports.model import Column, Report, Section
from ropilot.render import FORMATS, write_report


def _store_and_account(app: AppContext, url: str | None, account_id: str | None) -> Any:
    from ropilot.core.reports.context import resolve_account

    store = app.open_store(url)
    acc, currency, zone = resolve_account(store, account_id)
    return store, acc, currency, zone


def _emit(app: AppContext, report: Report, fmt: str, out: Path | None) -> None:
    text = write_report(report, fmt, app.lang, out)
    if text is not None:
        sys.stdout.write(text)
    else:
        click.echo(f"→ {out}", err=True)


def _lines_report(doc: Any, acc: str, currency: str, zone: Any, title: str) -> Report:
    from datetime import datetime

    from ropilot.core.plans.models import display_value

    section = Section(
        "plan_lines",
        f"План «{doc.name}»: {title}",
        f"Plan “{doc.name}”: {title}",
        [
            Column("scope", "Область", "Scope", key=True),
            Column("period", "Период", "Period", key=True),
            Column("metric", "Показатель", "Metric", key=True),
            Column("value", "Значение", "Value", "text"),
            Column("shown", "Для показа", "Shown", "text"),
        ],
        [
            {
                "scope": ln.scope,
                "period": ln.period,
                "metric": ln.metric,
                "value": str(ln.value),
                "shown": str(display_value(ln.metric, ln.value))
                if not ln.is_cost
                else str(ln.value),
            }
            for ln in doc.lines
        ],
        [
            (
                "деньги до копейки; количества точно до 1e-4, вверх округляются только для показа",
                "money to the kopeck; counts exact to 1e-4, rounded up only for display",
            )
        ],
    )
    return Report("plan", acc, currency, str(zone), datetime.now(zone), [section])


def common(func: Any) -> Any:
    """--account and --url."""
    func = click.option("--url", help="Storage URL (default: from settings).")(func)
    return click.option("--account", "account_id", help="Account id (several in the store).")(func)


def output(func: Any) -> Any:
    """--format and --out."""
    func = click.option("--out", type=click.Path(dir_okay=False, path_type=Path))(func)
    return click.option(
        "--format", "fmt", type=click.Choice(FORMATS), default="table", show_default=True
    )(func)


@click.group()
def plan() -> None:
    """Sales plans: targets by scope and period, versioned; cascade, seasonality, re-plan.

    Планы продаж: цели по областям и периодам с версиями; декомпозиция, сезонность, переплан.
    """


@plan.command("import")
@click.argument("path", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--name", help="Plan name (default: `name` in the TOML, or the file name).")
@click.option("--author", help="Who saves this version.")
@click.option("--comment", help="Why (kept in the history).")
@common
@pass_app
def plan_import(
    app: AppContext,
    path: Path,
    name: str | None,
    author: str | None,
    comment: str | None,
    account_id: str | None,
    url: str | None,
) -> None:
    """Import a plan file (TOML or CSV: scope,period,metric,value) as a new version."""
    from ropilot.core.plans.files import read_csv, read_toml
    from ropilot.core.plans.store import save_plan

    store, acc, _, _ = _store_and_account(app, url, account_id)
    if path.suffix.lower() == ".toml":
        doc = read_toml(path, name=name)
    elif path.suffix.lower() == ".csv":
        doc = read_csv(path, name=name or path.stem)
    else:
        raise ConfigurationError(f"{path}: a plan file is .toml or .csv")
    saved = save_plan(store, acc, doc, author=author, comment=comment or f"import {path.name}")
    click.echo(f"plan {saved.name!r} version {saved.version}: {len(doc.lines)} lines")


@plan.command("create")
@click.argument("name")
@click.option("--period", required=True, help="2026, 2026-Q1, 2026-03, 2026-W10, 2026-03-05.")
@click.option(
    "--scope",
    default="company",
    show_default=True,
    help="company, team:<id>, manager:<id>, region:<name>, product:<name>.",
)
@click.option(
    "--target",
    "targets",
    multiple=True,
    required=True,
    help="METRIC=VALUE, e.g. revenue=5000000 (repeat): revenue, won_deals, units, "
    "new_clients, calls, meetings, offers, cost:<item>, one_time_cost:<item>.",
)
@click.option("--author")
@click.option("--comment")
@common
@pass_app
def plan_create(
    app: AppContext,
    name: str,
    period: str,
    scope: str,
    targets: tuple[str, ...],
    author: str | None,
    comment: str | None,
    account_id: str | None,
    url: str | None,
) -> None:
    """Create a plan (or add lines to it, as a new version) from the command line."""
    from ropilot.core.plans.models import PlanDocument, make_line
    from ropilot.core.plans.store import list_plans, load_plan, save_plan

    store, acc, _, _ = _store_and_account(app, url, account_id)
    lines = []
    for item in targets:
        metric, sep, value = item.partition("=")
        if not sep:
            raise ConfigurationError(f"--target {item!r}: use METRIC=VALUE, e.g. revenue=5000000")
        lines.append(make_line(scope, period, metric.strip(), value.strip()))
    base = (
        load_plan(store, acc, name).document
        if name in list_plans(store, acc)
        else PlanDocument(name)
    )
    saved = save_plan(store, acc, base.with_lines(lines), author=author, comment=comment)
    click.echo(f"plan {saved.name!r} version {saved.version}: {len(saved.document.lines)} lines")


@plan.command("show")
@click.argument("name", required=False)
@click.option("--version", type=click.IntRange(min=1), help="An older version.")
@click.option("--history", is_flag=True, help="Every version with what changed.")
@click.option(
    "--export",
    "export",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Write the plan to FILE.toml or FILE.csv.",
)
@output
@common
@pass_app
def plan_show(
    app: AppContext,
    name: str | None,
    version: int | None,
    history: bool,
    export: Path | None,
    fmt: str,
    out: Path | None,
    account_id: str | None,
    url: str | None,
) -> None:
    """Show a plan's lines (the latest version unless --version), or its history."""
    from ropilot.core.plans.files import write_csv, write_toml
    from ropilot.core.plans.store import list_plans, load_plan, plan_history

    store, acc, currency, zone = _store_and_account(app, url, account_id)
    if name is None:
        plans = list_plans(store, acc)
        if not plans:
            raise ConfigurationError("no plan is stored yet")
        if len(plans) > 1:
            raise ConfigurationError(f"several plans ({', '.join(plans)}): name one")
        name = next(iter(plans))
    if history:
        for entry in plan_history(store, acc, name):
            v = entry.version
            click.echo(
                f"v{v.version} {v.created_at:%Y-%m-%d %H:%M} {v.author or ''} "
                f"{v.comment or ''}".rstrip()
            )
            for ch in entry.changes:
                click.echo(f"    {ch.scope} {ch.period} {ch.metric}: {ch.before} → {ch.after}")
        return
    saved = load_plan(store, acc, name, version)
    if export is not None:
        if export.suffix.lower() == ".toml":
            write_toml(saved.document, export)
        elif export.suffix.lower() == ".csv":
            write_csv(saved.document, export)
        else:
            raise ConfigurationError("--export FILE.toml or FILE.csv")
        click.echo(f"→ {export}", err=True)
        return
    _emit(app, _lines_report(saved.document, acc, currency, zone, f"v{saved.version}"), fmt, out)


@plan.command("decompose")
@click.argument("name")
@click.option("--parent", default="company", show_default=True, help="The scope to split.")
@click.option(
    "--to",
    "to",
    type=click.Choice(["team", "manager", "region", "product"]),
    help="Cascade to these children.",
)
@click.option(
    "--split",
    type=click.Choice(["equal", "history", "capacity", "manual"]),
    default="history",
    show_default=True,
)
@click.option("--weights", help="manual: child=weight,… e.g. manager:m1=2,manager:m2=1.")
@click.option(
    "--lookback",
    help="history: the period whose shares are used (default: the year before the plan's period).",
)
@click.option("--metric", "metrics", multiple=True, help="Only these metrics (repeat).")
@click.option("--period", "periods", multiple=True, help="Only lines of these periods.")
@click.option(
    "--grain",
    type=click.Choice(["quarter", "month", "day"]),
    help="Also split each line over time (production calendar, absences).",
)
@click.option("--percentages", help="Seasonal split: 2026-Q1=20,2026-Q2=25,… (sum 100).")
@click.option("--author")
@click.option("--comment")
@output
@common
@pass_app
def plan_decompose(
    app: AppContext,
    name: str,
    parent: str,
    to: str | None,
    split: str,
    weights: str | None,
    lookback: str | None,
    metrics: tuple[str, ...],
    periods: tuple[str, ...],
    grain: str | None,
    percentages: str | None,
    author: str | None,
    comment: str | None,
    fmt: str,
    out: Path | None,
    account_id: str | None,
    url: str | None,
) -> None:
    """Split a plan's lines down (company → teams → managers / regions / products) and over
    time (year → quarter → month → working day); saves a new version.
    """
    from ropilot.core.periods import parse_period
    from ropilot.core.plans import cascade as cas
    from ropilot.core.plans.models import period_of
    from ropilot.core.plans.seasonal import seasonal_lines
    from ropilot.core.plans.store import load_plan, save_plan

    store, acc, currency, zone = _store_and_account(app, url, account_id)
    doc = load_plan(store, acc, name).document
    chosen_metrics = list(metrics) or None
    chosen_periods = list(periods) or None
    parent_lines = [
        ln
        for ln in doc.targets
        if ln.scope == parent
        and (chosen_metrics is None or ln.metric in chosen_metrics)
        and (chosen_periods is None or ln.period in chosen_periods)
    ]
    if not parent_lines:
        raise ConfigurationError(f"plan {name!r} has no target line for {parent} to decompose")
    if to is not None:
        children = cas.children_of(store, acc, parent, to)
        first = period_of(parent_lines[0].period, zone)
        if split == "equal":
            w: Any = cas.equal_weights(children)
        elif split == "manual":
            if not weights:
                raise ConfigurationError("--split manual needs --weights child=weight,…")
            w = cas.manual_weights(dict(_pairs(weights)))
        elif split == "capacity":
            w = cas.capacity_weights(store, acc, first, children)
        else:
            look = (
                parse_period(lookback, zone, today=date.today())
                if lookback
                else parse_period(str(first.first_day.year - 1), zone, today=date.today())
            )
            basis = chosen_metrics[0] if chosen_metrics else "revenue"
            w = cas.historical_weights(store, acc, look, children, basis=basis)
        doc = cas.cascade(doc, parent, w, metrics=chosen_metrics, periods=chosen_periods)
    if grain is not None:
        pct = {k: Decimal(v) for k, v in _pairs(percentages)} if percentages else None
        # Over time: the children just made (with --to), else the parent's own lines.
        keys = {(ln.period, ln.metric) for ln in parent_lines}
        scopes = (
            {ln.scope for ln in doc.targets if ln.scope.startswith(to + ":")} if to else {parent}
        )
        for scope in sorted(scopes):
            for period, metric in sorted(keys):
                if doc.get(scope, period, metric) is not None:
                    doc = seasonal_lines(
                        doc, scope, metric, period, grain, zone=zone, percentages=pct
                    )
    saved = save_plan(
        store,
        acc,
        doc,
        author=author,
        comment=comment or f"decompose {parent} → {to or '-'} / {grain or '-'}",
    )
    click.echo(f"plan {name!r} version {saved.version}", err=True)
    _emit(app, _lines_report(saved.document, acc, currency, zone, f"v{saved.version}"), fmt, out)


def _pairs(text: str) -> list[tuple[str, str]]:
    out = []
    for item in text.split(","):
        key, sep, value = item.partition("=")
        if not sep:
            raise ConfigurationError(f"{item!r}: use KEY=VALUE")
        out.append((key.strip(), value.strip()))
    return out


@plan.command("propose")
@click.option("--period", required=True, help="A year, quarter or month: 2027, 2027-Q1, 2026-12.")
@click.option("--growth", default="1", show_default=True, help="Multiplier on last year's.")
@click.option("--years", type=click.IntRange(min=1), default=1, show_default=True)
@click.option(
    "--metric",
    "metrics",
    multiple=True,
    help="revenue (default), won_deals, calls, meetings, offers (repeat).",
)
@click.option("--name", help="Plan name (default: the period).")
@click.option("--save", is_flag=True, help="Store it as a new version.")
@click.option(
    "--export",
    "export",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Write it to FILE.toml / FILE.csv to edit.",
)
@output
@common
@pass_app
def plan_propose(
    app: AppContext,
    period: str,
    growth: str,
    years: int,
    metrics: tuple[str, ...],
    name: str | None,
    save: bool,
    export: Path | None,
    fmt: str,
    out: Path | None,
    account_id: str | None,
    url: str | None,
) -> None:
    """Propose a plan from history and seasonality: the same months of past years × growth,
    per manager (a manager without history gets the team's average).
    """
    from ropilot.core.plans.files import write_csv, write_toml
    from ropilot.core.plans.propose import propose
    from ropilot.core.plans.store import save_plan

    store, acc, currency, zone = _store_and_account(app, url, account_id)
    proposal = propose(
        store,
        acc,
        period,
        name=name,
        metrics=tuple(metrics) or ("revenue",),
        growth=growth,
        years=years,
    )
    doc = proposal.document
    if save:
        saved = save_plan(store, acc, doc, comment=f"proposed from history × {growth}")
        click.echo(f"plan {doc.name!r} version {saved.version}", err=True)
    if export is not None:
        (write_toml if export.suffix.lower() == ".toml" else write_csv)(doc, export)
        click.echo(f"→ {export}", err=True)
    _emit(app, _lines_report(doc, acc, currency, zone, "proposed"), fmt, out)


@plan.command("replan")
@click.argument("name", required=False)
@click.option("--period", required=True, help="The plan period being re-planned.")
@click.option("--as-of", "as_of", help="The day (counted as elapsed); default today.")
@click.option("--metric", default="revenue", show_default=True)
@click.option("--save", is_flag=True, help="Save the remainder as day lines (new version).")
@output
@common
@pass_app
def plan_replan(
    app: AppContext,
    name: str | None,
    period: str,
    as_of: str | None,
    metric: str,
    save: bool,
    fmt: str,
    out: Path | None,
    account_id: str | None,
    url: str | None,
) -> None:
    """Mid-period re-plan: remaining target ÷ remaining working days, per manager."""
    from datetime import datetime

    from ropilot.core.plans.replan import replan, replan_lines
    from ropilot.core.plans.store import load_plan, save_plan
    from ropilot.core.reports.context import make_context
    from ropilot.core.reports.plan_report import choose_plan

    store, acc, currency, zone = _store_and_account(app, url, account_id)
    ctx = make_context(store, acc, period)
    doc = choose_plan(ctx, name) if name is None else load_plan(store, acc, name).document
    day = date.fromisoformat(as_of) if as_of else datetime.now(zone).date()
    rows = replan(store, acc, doc, metric, period, day)
    if save:
        saved = save_plan(
            store,
            acc,
            doc.with_lines(replan_lines(rows)),
            comment=f"re-plan of {period} as of {day}",
        )
        click.echo(f"plan {doc.name!r} version {saved.version}", err=True)
    unit = "money" if metric == "revenue" else "number"
    section = Section(
        "replan",
        f"Переплан {period} на {day}: {metric}",
        f"Re-plan of {period} as of {day}: {metric}",
        [
            Column("manager", "Менеджер", "Manager", key=True),
            Column("plan", "План", "Plan", unit),  # type: ignore[arg-type]
            Column("fact", "Факт", "Actual", unit),  # type: ignore[arg-type]
            Column("remaining", "Осталось", "Remaining", unit),  # type: ignore[arg-type]
            Column("remaining_days", "Раб. дней осталось", "Working days left", "count"),
            Column("per_day", "В день", "Per day", unit),  # type: ignore[arg-type]
        ],
        [
            {
                "manager": r.keys.get("manager"),
                "plan": r.plan,
                "fact": r.fact,
                "remaining": r.remaining,
                "remaining_days": r.remaining_days,
                "per_day": r.per_day,
            }
            for r in rows
        ],
        [
            (
                "первая строка — компания; осталось = план − факт (не меньше 0) ÷ рабочие дни "
                "после даты (производственный календарь без отсутствий)",
                "first row: the company; remaining = plan − actual (never below 0) ÷ working "
                "days left after the as-of day (production calendar minus absences)",
            )
        ],
    )
    report = Report(
        "replan", acc, currency, str(zone), datetime.now(zone), [section], period_label=period
    )
    _emit(app, report, fmt, out)
