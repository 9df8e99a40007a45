"""``ropilot report …``: KPI, funnel, plan, payout, ABC/XYZ, forgotten, losses, morning."""

from __future__ import annotations

import functools
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import click

from ropilot.cli.app import AppContext, pass_app
from ropilot.core.errors import ConfigurationError
from ropilot.core.i18n import Lang
from ropilot.core.kpi.registry import KpiContext
from ropilot.core.reports.context import make_context
from ropilot.core.reports.model import Report
from ropilot.render import FORMATS, write_report

F = Callable[..., Any]


@dataclass(frozen=True)
class ReportArgs:
    """The options every report shares, parsed once."""

    period: str
    by: str
    as_of: str | None
    fmt: str
    out: Path | None
    lang: str | None
    account_id: str | None
    url: str | None

    def context(self, app: AppContext) -> KpiContext:
        """The KPI context these options describe."""
        dims = [b.strip() for b in self.by.split(",") if b.strip()]
        store = app.open_store(self.url)
        return make_context(store, self.account_id, self.period, as_of=self.as_of, by=dims)

    def language(self, app: AppContext) -> Lang:
        """--lang, else the global setting."""
        return self.lang if self.lang in ("ru", "en") else app.lang  # type: ignore[return-value]

    def emit(self, app: AppContext, report: Report) -> None:
        """Print the report, or write it to --out."""
        text = write_report(report, self.fmt, self.language(app), self.out)
        if text is not None:
            sys.stdout.write(text)
        else:
            click.echo(f"→ {self.out}", err=True)


_COMMON = ("period", "by", "as_of", "fmt", "out", "lang_opt", "account_id", "url")


def report_options(func: F) -> F:
    """Add the shared options; the command receives them as one ``opts: ReportArgs`` argument
    (right after the application context).
    """

    @functools.wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        values = [kwargs.pop(name) for name in _COMMON]
        return func(*args[:1], ReportArgs(*values), *args[1:], **kwargs)

    options = [
        click.option(
            "--period",
            default="this-month",
            show_default=True,
            help="2026, 2026-Q1, 2026-03, 2026-W10, 2026-03-05, 2026-03-01..2026-03-31, "
            "this-month, last-month … (account time zone).",
        ),
        click.option(
            "--by",
            default="",
            help="Dimensions, comma-separated: manager, team, pipeline, source, product, "
            "region, segment, company.",
        ),
        click.option(
            "--as-of",
            "as_of",
            help="The moment figures 'as of T' use: a date (its end) or a timestamp. Default: "
            "now, or the period's end once it is over.",
        ),
        click.option(
            "--format", "fmt", type=click.Choice(FORMATS), default="table", show_default=True
        ),
        click.option("--out", type=click.Path(dir_okay=False, path_type=Path), help="File."),
        click.option("--lang", "lang_opt", type=click.Choice(["ru", "en"]), help="Language."),
        click.option("--account", "account_id", help="Account id (when the store has several)."),
        click.option("--url", help="Storage URL (default: from settings)."),
    ]
    decorated: Any = wrapper
    for option in reversed(options):
        decorated = option(decorated)
    return decorated  # type: ignore[no-any-return]


@click.group()
def report() -> None:
    """Reports on the store: KPIs, funnel, plan vs fact, payouts, ABC/XYZ, losses, morning.

    Отчёты: KPI, воронка, план-факт, выплаты, ABC/XYZ, забытые сделки, потери, утренний отчёт.
    """


def _parse_where(items: tuple[str, ...]) -> dict[str, str | None]:
    out: dict[str, str | None] = {}
    for item in items:
        name, sep, value = item.partition("=")
        if not sep:
            raise ConfigurationError(f"--where {item!r}: use DIMENSION=VALUE, e.g. manager=m12")
        out[name.strip()] = value.strip() or None
    return out


@report.command("kpi")
@report_options
@click.option(
    "--kpi", "kpis", default="", help="KPI names, comma-separated (default: the main set)."
)
@click.option("--explain", is_flag=True, help="List the records behind each figure.")
@click.option(
    "--where",
    multiple=True,
    help="With --explain: the group to explain, DIMENSION=VALUE (repeat for several --by).",
)
@click.option(
    "--grain",
    type=click.Choice(["day", "week", "month", "quarter", "year"]),
    help="Also cut by period: one row per day/week/month/quarter/year of --period.",
)
@click.option("--list", "list_kpis", is_flag=True, help="List the KPIs you can ask for.")
@pass_app
def report_kpi(
    app: AppContext,
    opts: ReportArgs,
    kpis: str,
    explain: bool,
    where: tuple[str, ...],
    grain: str | None,
    list_kpis: bool,
) -> None:
    """KPIs per group: revenue, won/lost, average check, win rates, cycle, pipeline, forecast.

    With --explain, the deals (ids, amounts, dates) behind every figure of one group.
    """
    from ropilot.core.reports.kpi_report import explain_report, kpi_report
    from ropilot.plugins.builtin_kpis import kpi_catalogue
    from ropilot.plugins.manager import get_plugin_manager

    catalogue = kpi_catalogue(get_plugin_manager())
    if list_kpis:
        lang = opts.language(app)
        for d in catalogue:
            click.echo(f"{d.name:<28} {d.unit:<8} {d.title(lang)}")
        return
    ctx = opts.context(app)
    names = [k.strip() for k in kpis.split(",") if k.strip()]
    if explain:
        keys = _parse_where(where)
        missing = [b for b in ctx.by if b not in keys]
        extra = [k for k in keys if k not in ctx.by]
        if missing or extra:
            raise ConfigurationError(
                "--explain needs one --where DIMENSION=VALUE for each --by dimension "
                f"(by: {', '.join(ctx.by) or 'none'}; got: {', '.join(keys) or 'none'})"
            )
        opts.emit(app, explain_report(catalogue, ctx, names, keys))
        return
    opts.emit(app, kpi_report(catalogue, ctx, names, grain))


@report.command("forgotten")
@report_options
@click.option(
    "--days",
    type=click.IntRange(min=1),
    default=14,
    show_default=True,
    help="Untouched for more than this many days.",
)
@pass_app
def report_forgotten(
    app: AppContext,
    opts: ReportArgs,
    days: int,
) -> None:
    """Forgotten deals as of --as-of: no activity for --days and no future task."""
    from ropilot.core.reports.lists import forgotten_report

    ctx = opts.context(app)
    opts.emit(app, forgotten_report(ctx, days))


@report.command("losses")
@report_options
@pass_app
def report_losses(
    app: AppContext,
    opts: ReportArgs,
) -> None:
    """Deals lost in the period by loss stage × reason (× --by)."""
    from ropilot.core.reports.lists import losses_report

    ctx = opts.context(app)
    opts.emit(app, losses_report(ctx))


@report.command("funnel")
@report_options
@click.option("--pipeline", "pipeline_id", help="One pipeline (default: every pipeline).")
@click.option(
    "--reading",
    type=click.Choice(["funnel", "strict"]),
    default="funnel",
    show_default=True,
    help="funnel: reaching a stage = entering it or any later one; strict: that stage only.",
)
@click.option(
    "--horizon-days",
    type=click.IntRange(min=0),
    default=90,
    show_default=True,
    help="Cohort: converted when the next stage is reached within this many days.",
)
@pass_app
def report_funnel(
    app: AppContext,
    opts: ReportArgs,
    pipeline_id: str | None,
    reading: str,
    horizon_days: int,
) -> None:
    """Stage conversion per pipeline step (snapshot and cohort, labelled) and time in stage."""
    from ropilot.core.reports.funnel_report import funnel_report

    ctx = opts.context(app)
    opts.emit(app, funnel_report(ctx, pipeline_id, reading, horizon_days))


@report.command("abcxyz")
@report_options
@click.option(
    "--limit", type=click.IntRange(min=1), help="Clients listed (default: all; 30 in a table)."
)
@click.pass_context
def report_abcxyz(
    click_ctx: click.Context,
    opts: ReportArgs,
    limit: int | None,
) -> None:
    """ABC (revenue share) and XYZ (monthly variability) of client companies.

    Without --period: the 12 complete calendar months before --as-of.
    """
    from ropilot.core.reports.abcxyz_report import abcxyz_report

    app = click_ctx.find_object(AppContext)
    assert app is not None
    given = click_ctx.get_parameter_source("period") != click.core.ParameterSource.DEFAULT
    ctx = opts.context(app)
    if limit is None and opts.fmt == "table":
        limit = 30
    opts.emit(app, abcxyz_report(ctx, ctx.period if given else None, limit))


@report.command("plan")
@report_options
@click.option("--plan", "plan_name", help="Plan name (default: the only stored plan).")
@click.option(
    "--metric",
    "metrics",
    multiple=True,
    help="revenue (default), won_deals, calls, meetings, offers (repeat).",
)
@click.option(
    "--calls-norm",
    type=click.IntRange(min=1),
    help="Calls per manager per working day (sales regulations): adds the headcount needed.",
)
@click.option("--no-funnel", is_flag=True, help="Leave out the plan's reverse funnel.")
@pass_app
def report_plan(
    app: AppContext,
    opts: ReportArgs,
    plan_name: str | None,
    metrics: tuple[str, ...],
    calls_norm: int | None,
    no_funnel: bool,
) -> None:
    """Plan vs actual per manager and for the company, with the expected-by-now line, and the
    revenue plan's reverse funnel (won deals, offers, meetings, calls per working day).
    """
    from ropilot.core.reports.plan_report import plan_report

    ctx = opts.context(app)
    report_obj = plan_report(
        ctx,
        plan_name,
        list(metrics) or ["revenue"],
        reverse_funnel=not no_funnel,
        calls_norm=calls_norm,
    )
    opts.emit(app, report_obj)


@report.command("morning")
@report_options
@click.option("--plan", "plan_name", help="Plan (default: the one named like the period).")
@click.option(
    "--limit",
    type=click.IntRange(min=1),
    default=10,
    show_default=True,
    help="Rows in the leaderboard, forgotten and losses blocks.",
)
@click.option(
    "--days",
    type=click.IntRange(min=1),
    default=14,
    show_default=True,
    help="Forgotten: untouched for more than this many days.",
)
@pass_app
def report_morning(
    app: AppContext,
    opts: ReportArgs,
    plan_name: str | None,
    limit: int,
    days: int,
) -> None:
    """The morning report: plan vs fact, forecast, funnel, leaderboard, forgotten, losses."""
    from ropilot.core.reports.morning import morning_report
    from ropilot.core.reports.plan_report import plan_for_period

    if opts.by:
        raise ConfigurationError("the morning report has fixed cuts; use `report kpi --by`")
    ctx = opts.context(app)
    plan_doc = plan_for_period(ctx, plan_name)
    report_obj = morning_report(ctx, plan_doc, limit=limit, forgotten_days=days)
    opts.emit(app, report_obj)


@report.command("payout")
@report_options
@click.option(
    "--scheme",
    "scheme_path",
    required=True,
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="Motivation schemes (TOML, docs/motivation.md).",
)
@click.option("--plan", "plan_name", help="Plan whose targets set the KPI levels.")
@click.option("--gate", "gates", multiple=True, help="NAME=VALUE, e.g. data_quality=0.95.")
@click.option("--manager", help="One manager (default: every active one with a scheme).")
@pass_app
def report_payout(
    app: AppContext,
    opts: ReportArgs,
    scheme_path: Path,
    plan_name: str | None,
    gates: tuple[str, ...],
    manager: str | None,
) -> None:
    """Payout statements: KPI coefficients, bonus, commission; each line with its arithmetic."""
    from decimal import Decimal, InvalidOperation

    from ropilot.core.motivation import load_schemes
    from ropilot.core.plans.store import load_plan
    from ropilot.core.reports.payout_report import payout_report
    from ropilot.plugins.builtin_kpis import kpi_catalogue
    from ropilot.plugins.manager import get_plugin_manager

    ctx = opts.context(app)
    gate_values: dict[str, Decimal] = {}
    for item in gates:
        name, sep, value = item.partition("=")
        text = value.strip()
        try:
            number = Decimal(text.rstrip("%").strip())
        except InvalidOperation:
            number = None
        if not sep or number is None:
            raise ConfigurationError(f"--gate {item!r}: use NAME=VALUE, e.g. data_quality=0.95")
        gate_values[name.strip()] = number / 100 if text.endswith("%") else number
    plan_doc = load_plan(ctx.store, ctx.account_id, plan_name).document if plan_name else None
    lang = opts.language(app)
    report_obj = payout_report(
        ctx,
        kpi_catalogue(get_plugin_manager()),
        load_schemes(scheme_path),
        plan_doc,
        gate_values,
        manager,
        lang=lang,
    )
    opts.emit(app, report_obj)


@report.command("accuracy")
@report_options
@click.option(
    "--method", type=click.Choice(["weighted", "run_rate"]), default="weighted", show_default=True
)
@click.option("--day", "snapshot_day", help="Which snapshot (default: the period's first).")
@pass_app
def report_accuracy(
    app: AppContext,
    opts: ReportArgs,
    method: str,
    snapshot_day: str | None,
) -> None:
    """Forecast accuracy and bias per manager of a closed period, from `ropilot snapshot`."""
    from ropilot.core.reports.snapshot_report import accuracy_report

    ctx = opts.context(app)
    opts.emit(app, accuracy_report(ctx, method, snapshot_day))


@click.command("snapshot")
@click.option("--period", default="this-month", show_default=True, help="The forecast period.")
@click.option("--as-of", "as_of", help="Default: now.")
@click.option("--format", "fmt", type=click.Choice(FORMATS), default="table", show_default=True)
@click.option("--out", type=click.Path(dir_okay=False, path_type=Path))
@click.option("--account", "account_id", help="Account id (when the store has several).")
@click.option("--url", help="Storage URL (default: from settings).")
@pass_app
def snapshot(
    app: AppContext,
    period: str,
    as_of: str | None,
    fmt: str,
    out: Path | None,
    account_id: str | None,
    url: str | None,
) -> None:
    """Store today's forecasts (weighted, run-rate) per manager; run daily (cron).

    `ropilot report accuracy --period …` compares them with the actual once the period closes.
    """
    from ropilot.core.reports.snapshot_report import snapshot_report

    opts = ReportArgs(period, "", as_of, fmt, out, None, account_id, url)
    opts.emit(app, snapshot_report(opts.context(app)))
