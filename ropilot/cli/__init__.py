"""The ``ropilot`` command: the composition root that wires settings, store, connectors and
plugins together. Every command has ``--help``; errors print a message and exit non-zero.
"""

from __future__ import annotations

import shutil
import sys
import tempfile
import zipfile
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import date
from pathlib import Path
from typing import Any

import click
from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TaskProgressColumn,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
    TransferSpeedColumn,
)
from rich.table import Table
from rich.text import Text

from ropilot import __version__
from ropilot.cli.app import AppContext, pass_app
from ropilot.core.errors import BundleError, ConfigurationError, PluginLoadError, RopilotError
from ropilot.core.i18n import Lang, t
from ropilot.core.settings import DEFAULT_CONFIG, write_starter
from ropilot.core.store import Store

console = Console()
err_console = Console(stderr=True)


@click.group(context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100})
@click.version_option(__version__, "--version", "-V", prog_name="ropilot")
@click.option(
    "--config",
    "config_path",
    type=click.Path(dir_okay=False),
    envvar="ROPILOT_CONFIG",
    help="Settings file (default: ./ropilot.toml if present; env ROPILOT_CONFIG).",
)
@click.option(
    "--lang", type=click.Choice(["ru", "en"]), default=None, help="Language of the output."
)
@click.pass_context
def cli(ctx: click.Context, config_path: str | None, lang: str | None) -> None:
    """ropilot: plans, KPIs, lead routing and data quality on top of your CRM.

    ropilot: планы, KPI, распределение лидов и контроль качества данных поверх вашей CRM.
    """
    ctx.obj = AppContext(config_path=config_path, lang_option=lang)


# -- progress ---------------------------------------------------------------------------------


class _Bar:
    """Adapts a rich progress bar to the importer/exporter progress protocol."""

    def __init__(self, progress: Progress, description: str) -> None:
        self.progress = progress
        self.task = progress.add_task(description, total=None)

    def start(self, total: int) -> None:
        self.progress.update(self.task, total=total)

    def advance(self, units: int, table: str) -> None:
        self.progress.update(self.task, advance=units, description=table)


@contextmanager
def _progress(kind: str) -> Iterator[Progress]:
    columns: list[Any] = [TextColumn("[bold]{task.description:<14}"), BarColumn()]
    if kind == "bytes":
        columns += [TaskProgressColumn(), TransferSpeedColumn()]
    else:
        columns += [MofNCompleteColumn()]
    columns += [TimeElapsedColumn(), TimeRemainingColumn()]
    with Progress(*columns, console=err_console, transient=False) as progress:
        yield progress


# -- init, plugins, db ------------------------------------------------------------------------


@cli.command()
@click.argument("path", type=click.Path(dir_okay=False, path_type=Path), default=DEFAULT_CONFIG)
@click.option("--force", is_flag=True, help="Overwrite an existing file.")
def init(path: Path, force: bool) -> None:
    """Write a commented starter settings file (default ./ropilot.toml)."""
    write_starter(path, force=force)
    console.print(f"Wrote {path}. Edit it, then run `ropilot db upgrade`.")


@cli.command()
@pass_app
def plugins(app: AppContext) -> None:
    """List every plugin with its distribution, version and hooks."""
    from ropilot.plugins.listing import describe_plugins
    from ropilot.plugins.manager import get_plugin_manager

    table = Table(title="ropilot plugins")
    for key in ("plugin", "distribution", "version", "hooks"):
        table.add_column(t(key, app.lang), overflow="fold")
    for info in describe_plugins(get_plugin_manager()):
        table.add_row(info.name, info.distribution, info.version or "", "\n".join(info.hooks))
    console.print(table)


@cli.group()
def db() -> None:
    """Database schema commands."""


@db.command("upgrade")
@click.option("--url", help="Storage URL (default: from settings).")
@pass_app
def db_upgrade(app: AppContext, url: str | None) -> None:
    """Create or migrate the store's schema to this version (safe to repeat)."""
    from ropilot.core.store import migrate

    store = app.open_store(url)
    revision = migrate.current_revision(store.engine)
    console.print(f"{store.engine.url.render_as_string()} is at schema revision {revision}.")


# -- import / export / generate ---------------------------------------------------------------


def _counts_table(title: str, rows: dict[str, int], lang: Lang, seconds: float | None) -> Table:
    table = Table(title=title)
    table.add_column(t("table", lang))
    table.add_column(t("rows", lang), justify="right")
    for name, count in rows.items():
        table.add_row(t(name, lang), f"{count:,}".replace(",", " "))
    total = sum(rows.values())
    footer = f"{total:,}".replace(",", " ")
    if seconds:
        footer += f"  ({total / seconds:,.0f} {t('rows_per_s', lang)})".replace(",", " ")
    table.add_row(f"[bold]{t('total', lang)}", f"[bold]{footer}")
    return table


@cli.command("import")
@click.argument("path", type=click.Path(exists=True, path_type=Path))
@click.option("--url", help="Storage URL (default: from settings).")
@pass_app
def import_cmd(app: AppContext, path: Path, url: str | None) -> None:
    """Import an account bundle: a CSV folder, a .zip of it or an .xlsx workbook.

    All or nothing: any invalid row rejects the run and nothing changes. Re-importing the
    same bundle changes nothing (rows are upserted by account and id).
    """
    from ropilot.connectors.bundle.importer import import_bundle

    store = app.open_store(url)
    with _progress("bytes") as progress:
        report = import_bundle(store, path, progress=_Bar(progress, "import"))
    for note in report.notes:
        err_console.print(f"[dim]{note}[/dim]")
    title = f"{t('imported', app.lang)}: {report.account_id} ← {report.source}"
    console.print(_counts_table(title, report.rows, app.lang, report.seconds))


@cli.command("export")
@click.argument("path", type=click.Path(path_type=Path))
@click.option("--account", "account_id", help="Account id (needed when the store has several).")
@click.option("--url", help="Storage URL (default: from settings).")
@pass_app
def export_cmd(app: AppContext, path: Path, account_id: str | None, url: str | None) -> None:
    """Export an account as a bundle: PATH is a folder, a .zip or an .xlsx file."""
    from ropilot.connectors.bundle.exporter import export_bundle

    store = app.open_store(url)
    with _progress("rows") as progress:
        report = export_bundle(
            store, path, account_id=account_id, progress=_Bar(progress, "export")
        )
    title = f"{t('exported', app.lang)}: {report.account_id} → {report.path} ({report.format})"
    console.print(_counts_table(title, report.rows, app.lang, report.seconds))


def _generate(out: Path, deals: int, seed: int, end: date, months: int) -> dict[str, int]:
    from ropilot.generator import generate_bundle

    target = out
    zipped = out.suffix.lower() == ".zip"
    if out.suffix and not zipped:
        raise click.BadParameter("--out must be a folder or a .zip file", param_hint="--out")
    tmp: str | None = None
    if zipped:
        tmp = tempfile.mkdtemp(prefix="ropilot-gen-")
        target = Path(tmp)
    try:
        with _progress("rows") as progress:
            task = progress.add_task("deals", total=deals)
            summary = generate_bundle(
                target,
                deals=deals,
                seed=seed,
                end=end,
                months=months,
                progress=lambda n: progress.update(task, advance=n),
            )
        if zipped:
            out.parent.mkdir(parents=True, exist_ok=True)
            with zipfile.ZipFile(out, "w", compression=zipfile.ZIP_DEFLATED) as zf:
                for file in sorted(target.glob("*.csv")):
                    zf.write(file, file.name)
    finally:
        if tmp is not None:
            shutil.rmtree(tmp, ignore_errors=True)
    return summary.rows


_END_HELP = "The account's 'today': the last day with data (YYYY-MM-DD)."


@cli.command()
@click.option("--deals", type=click.IntRange(min=0), default=10_000, show_default=True)
@click.option("--seed", type=int, default=1, show_default=True, help="Same seed, same files.")
@click.option(
    "--out",
    type=click.Path(path_type=Path),
    required=True,
    help="Folder (or .zip) to write the bundle to.",
)
@click.option("--end", type=click.DateTime(["%Y-%m-%d"]), default="2026-11-24", help=_END_HELP)
@click.option("--months", type=click.IntRange(min=1, max=120), default=24, show_default=True)
@pass_app
def generate(app: AppContext, deals: int, seed: int, out: Path, end: Any, months: int) -> None:
    """Generate a realistic synthetic account and write it as a bundle."""
    import time

    started = time.perf_counter()
    rows = _generate(out, deals, seed, end.date(), months)
    title = f"{t('generated', app.lang)}: {out}"
    console.print(_counts_table(title, rows, app.lang, time.perf_counter() - started))


# -- connectors: auth, sync ------------------------------------------------------------------


def _connector_for(app: AppContext, account_id: str | None, store: Store) -> Any:
    settings = app.settings
    if account_id is None:
        if len(settings.accounts) != 1:
            known = ", ".join(a.id for a in settings.accounts) or "none configured"
            raise ConfigurationError(f"choose an account with --account ({known})")
        account = settings.accounts[0]
    else:
        account = settings.account(account_id)
    if account.connector != "amocrm":
        raise ConfigurationError(
            f"account {account.id}: connector {account.connector!r} cannot sync yet "
            "(available: amocrm; bundles are loaded with `ropilot import`)"
        )
    from ropilot.connectors.amocrm.factory import build_amocrm

    return build_amocrm(account, store, settings.secret_key)


class _SyncBar:
    def __init__(self, progress: Progress) -> None:
        self.progress = progress
        self.task: Any = None

    def stream(self, name: str) -> None:
        if self.task is not None:
            self.progress.update(self.task, total=self.progress.tasks[self.task].completed)
        self.task = self.progress.add_task(name, total=None)

    def advance(self, records: int) -> None:
        self.progress.update(self.task, advance=records)


@cli.command()
@click.option("--account", "account_id", help="Account id from ropilot.toml.")
@click.option("--full", is_flag=True, help="Ignore bookmarks and read everything.")
@click.option(
    "--entities",
    help="Comma-separated streams (default: all), e.g. deals,tasks.",
)
@click.option("--url", help="Storage URL (default: from settings).")
@pass_app
def sync(
    app: AppContext, account_id: str | None, full: bool, entities: str | None, url: str | None
) -> None:
    """Read a CRM account into the store, incrementally from the last sync."""
    from rich.progress import SpinnerColumn

    from ropilot.connectors.sync import run_sync

    store = app.open_store(url)
    connector = _connector_for(app, account_id, store)
    streams = [e.strip() for e in entities.split(",")] if entities else None
    columns = [SpinnerColumn(), TextColumn("[bold]{task.description:<14}"), MofNCompleteColumn()]
    columns += [TimeElapsedColumn()]
    with Progress(*columns, console=err_console) as progress:
        report = run_sync(store, connector, streams=streams, full=full, progress=_SyncBar(progress))
    title = f"sync {report.account_id}: {report.total} records in {report.seconds:.1f}s"
    console.print(_counts_table(title, report.records, app.lang, report.seconds))
    if report.deleted:
        console.print(f"deleted: {report.deleted}")


@cli.group()
def auth() -> None:
    """Authorise ropilot with a CRM account."""


@auth.command("amocrm")
@click.option("--account", "account_id", required=True, help="Account id from ropilot.toml.")
@click.option("--code", help="Authorization code (valid 20 minutes, single use).")
@click.option("--long-lived-token", help="Store a long-lived token instead of using OAuth.")
@click.option("--url", help="Storage URL (default: from settings).")
@pass_app
def auth_amocrm(
    app: AppContext,
    account_id: str,
    code: str | None,
    long_lived_token: str | None,
    url: str | None,
) -> None:
    """Exchange an authorization code (or store a long-lived token) for an amoCRM account.

    The tokens are kept in the store, encrypted with ROPILOT_SECRET_KEY.
    """
    from ropilot.connectors.amocrm import oauth
    from ropilot.connectors.tokens import TokenManager, TokenPair

    if bool(code) == bool(long_lived_token):
        raise click.UsageError("give exactly one of --code or --long-lived-token")
    account = app.settings.account(account_id)
    if not account.base_url:
        raise ConfigurationError(f"account {account_id}: base_url is required")
    store = app.open_store(url)
    if code:
        pair = oauth.exchange_code(
            account.base_url, account.credentials, code, account_id=account_id
        )
    else:
        assert long_lived_token is not None
        pair = TokenPair(
            access_token=long_lived_token, refresh_token=None, expires_at=None, long_lived=True
        )

    def no_refresh(_: str) -> TokenPair:  # pragma: no cover - never called while saving
        raise ConfigurationError("not refreshing while saving tokens")

    TokenManager(store, account_id, app.settings.secret_key, no_refresh).save(pair)
    expiry = (
        f", access token valid until {pair.expires_at:%Y-%m-%d %H:%M} UTC"
        if pair.expires_at
        else ""
    )
    console.print(f"Stored amoCRM tokens for account {account_id}{expiry}.")


# -- sandboxes --------------------------------------------------------------------------------


@cli.group()
def sandbox() -> None:
    """Offline CRM sandboxes that speak each CRM's documented API."""


@sandbox.command("amocrm")
@click.option("--port", type=click.IntRange(0, 65535), default=8765, show_default=True)
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option(
    "--bundle",
    type=click.Path(exists=True, path_type=Path),
    help="Seed from an account bundle (folder, .zip, .xlsx).",
)
@click.option("--deals", type=click.IntRange(min=1), default=300, show_default=True)
@click.option("--seed", type=int, default=1, show_default=True)
@click.option(
    "--rate-limit",
    type=float,
    default=7.0,
    show_default=True,
    help="Requests per second before 429 (0 = off).",
)
def sandbox_amocrm(
    port: int, host: str, bundle: Path | None, deals: int, seed: int, rate_limit: float
) -> None:
    """Serve an amoCRM API v4 sandbox and print the credentials it issued.

    Seeded from --bundle, or from the generator (--deals, --seed). Stop with Ctrl+C.
    """
    import time

    from ropilot.connectors.amocrm.sandbox.server import run_sandbox, sandbox_from_options

    state = sandbox_from_options(bundle, deals, seed, rate_limit=rate_limit)
    server = run_sandbox(state, host, port)
    # Plain output: rich would wrap long tokens, and a parent process may read this from a pipe.
    click.echo(server.credentials.describe())
    sys.stdout.flush()
    try:
        while True:
            time.sleep(3600)
    except KeyboardInterrupt:
        pass
    finally:
        server.stop()


# -- demo -------------------------------------------------------------------------------------


@cli.command()
@click.option("--deals", type=click.IntRange(min=1), default=20_000, show_default=True)
@click.option("--seed", type=int, default=7, show_default=True)
@click.option(
    "--dir",
    "workdir",
    type=click.Path(file_okay=False, path_type=Path),
    default=Path("ropilot-demo"),
    show_default=True,
    help="Where the demo keeps its bundle and SQLite store.",
)
@pass_app
def demo(app: AppContext, deals: int, seed: int, workdir: Path) -> None:
    """Run ropilot's main job on a generated account: no CRM, no servers.

    Generates an account as a bundle, imports it into an embedded SQLite store, proposes this
    month's plan from history and prints the morning report (plan vs fact, forecast, funnel,
    leaderboard, forgotten deals, losses, ABC × XYZ).
    """
    from ropilot.connectors.bundle.importer import import_bundle
    from ropilot.core.plans.propose import propose
    from ropilot.core.plans.store import save_plan
    from ropilot.core.reports.context import make_context
    from ropilot.core.reports.morning import morning_report
    from ropilot.render import write_report

    lang = app.lang
    bundle = workdir / "bundle"
    if bundle.exists():
        shutil.rmtree(bundle)
    end = date.today()
    step = {
        "ru": [
            f"создаю аккаунт: {deals:,} сделок (seed {seed}) → {bundle}",
            "импорт → {url}",
            "план {name!r} v{version} из прошлого года × 1,1 ({lines} строк; "
            "`ropilot plan show {name}`)",
            "утренний отчёт {period}",
            "распределение: последние лиды в момент поступления",
            "качество данных: проверка всех записей",
            "Дальше: cd {workdir} && ropilot report kpi --by manager · ropilot report funnel · "
            "ropilot route ID --dry-run --explain · ropilot check",
        ],
        "en": [
            f"generate {deals:,} deals (seed {seed}) → {bundle}",
            "import → {url}",
            "plan {name!r} v{version} proposed from last year × 1.1 ({lines} lines; "
            "`ropilot plan show {name}`)",
            "morning report {period}",
            "routing: the last leads, routed as they came in",
            "data quality: audit of every record",
            "More: cd {workdir} && ropilot report kpi --by manager · ropilot report funnel · "
            "ropilot route ID --dry-run --explain · ropilot check",
        ],
    }[lang]
    console.print(f"[bold]1.[/bold] {step[0]}", highlight=False)
    _generate(bundle, deals, seed, end, 24)
    url = f"sqlite:///{(workdir / 'ropilot.db').resolve()}"
    console.print(f"[bold]2.[/bold] {step[1].format(url=url)}", highlight=False)
    store = Store.open(url)
    with _progress("bytes") as progress:
        report = import_bundle(store, bundle, progress=_Bar(progress, "import"))
    console.print(_counts_table(t("imported", lang), report.rows, lang, report.seconds))
    ctx = make_context(store, report.account_id, "this-month")
    proposal = propose(store, report.account_id, ctx.period, growth="1.1")
    saved = save_plan(store, report.account_id, proposal.document, comment="demo: history × 1.1")
    plan_line = step[2].format(
        name=saved.name, version=saved.version, lines=len(saved.document.lines)
    )
    console.print(f"[bold]3.[/bold] {plan_line}", highlight=False)
    console.print(f"[bold]4.[/bold] {step[3].format(period=ctx.period.label)}")
    text = write_report(morning_report(ctx, saved.document), "table", lang, None)
    sys.stdout.write(text or "")
    console.print(f"[bold]5.[/bold] {step[4]}")
    sys.stdout.write(
        write_report(_demo_routing(store, report.account_id), "table", lang, None) or ""
    )
    console.print(f"[bold]6.[/bold] {step[5]}")
    sys.stdout.write(
        write_report(_demo_quality(store, report.account_id), "table", lang, None) or ""
    )
    console.print(step[6].format(workdir=workdir), highlight=False)


def _demo_routing(store: Store, account_id: str, leads: int = 10) -> Any:
    """Route the account's last ``leads`` leads that came in during working hours, each at the
    moment it came in, under the default regulations; a report of who got them and why.
    """
    from sqlalchemy import select

    from ropilot.core.business_hours import is_on_shift, schedule_for_regulations
    from ropilot.core.regulations import default_regulations
    from ropilot.core.reports.context import make_context
    from ropilot.core.reports.kpi_report import base_report
    from ropilot.core.reports.routing_report import decisions_section
    from ropilot.core.routing.engine import RoutingEngine
    from ropilot.core.store.schema import deals

    ctx = make_context(store, account_id, "this-month")
    regs = default_regulations()
    office = schedule_for_regulations(regs, str(ctx.zone))
    with store.engine.connect() as conn:
        recent = conn.execute(
            select(deals.c.id, deals.c.created_at)
            .where(deals.c.account_id == account_id)
            .order_by(deals.c.created_at.desc(), deals.c.id.desc())
            .limit(500)
        ).all()
    chosen = [(d, at) for d, at in recent if is_on_shift(office, at)][:leads]
    with RoutingEngine(store, account_id, regs) as engine:
        decisions = [engine.route(d, now=at) for d, at in reversed(chosen)]
    section = decisions_section(store, account_id, ctx.zone, decisions, dict(chosen))
    return base_report(ctx, "routing", [section])


def _demo_quality(store: Store, account_id: str, worst: int = 10) -> Any:
    """Audit every record with every registered check; open findings by check and the
    managers with the lowest data-quality score.
    """
    from datetime import UTC, datetime

    from ropilot.core.quality.audit import run_audit
    from ropilot.core.regulations import default_regulations
    from ropilot.core.reports.context import make_context
    from ropilot.core.reports.kpi_report import base_report
    from ropilot.core.reports.quality_report import quality_sections
    from ropilot.plugins.builtin_quality import check_catalogue
    from ropilot.plugins.manager import get_plugin_manager

    ctx = make_context(store, account_id, "this-month")
    checks = list(check_catalogue(get_plugin_manager()))
    summary = run_audit(
        store, account_id, checks, as_of=datetime.now(UTC), regulations=default_regulations()
    )
    scores, by_check = quality_sections(store, account_id)
    ranked = sorted(
        (r for r in scores.rows if r.get("score") is not None), key=lambda r: r["score"]
    )
    scores.rows = ranked[:worst]
    scores.notes.append(
        (
            f"{min(worst, len(ranked))} менеджеров с самым низким баллом; аудит: "
            f"{summary.found} замечаний за {summary.seconds:.1f} с",
            f"the {min(worst, len(ranked))} managers with the lowest score; audit: "
            f"{summary.found} findings in {summary.seconds:.1f} s",
        )
    )
    return base_report(ctx, "quality", [by_check, scores])


# -- entry point ------------------------------------------------------------------------------


def _add_builtin_groups() -> None:
    from ropilot.cli.check import check, quality
    from ropilot.cli.plan import plan
    from ropilot.cli.regulations import regulations
    from ropilot.cli.report import report, snapshot
    from ropilot.cli.route import route

    cli.add_command(regulations)
    cli.add_command(report)
    cli.add_command(check)
    report.add_command(quality)
    cli.add_command(snapshot)
    cli.add_command(plan)
    cli.add_command(route)


_add_builtin_groups()


def _add_plugin_commands() -> None:
    from ropilot.plugins.manager import get_plugin_manager

    pm = get_plugin_manager()
    pm.hook.ropilot_register_commands(cli=cli)


def _error(message: str) -> None:
    """An error line as written: no markup read from it, no wrapping inside a key or path."""
    err_console.print(Text(message, style="red"), soft_wrap=True)


def _report(exc: RopilotError) -> int:
    if isinstance(exc, BundleError):
        _error(str(exc))
        return 2
    if isinstance(exc, ConfigurationError):
        _error(f"configuration: {exc}")
        return 3
    _error(f"{type(exc).__name__}: {exc}")
    return 1


def main(argv: list[str] | None = None) -> int:
    """Run the command line; returns the exit status."""
    try:
        _add_plugin_commands()
    except PluginLoadError as exc:
        _error(f"plugin: {exc}")
        return 4
    try:
        cli.main(args=argv, prog_name="ropilot", standalone_mode=False)
    except click.exceptions.Exit as exc:
        return int(exc.exit_code)
    except click.ClickException as exc:
        exc.show()
        return exc.exit_code
    except click.exceptions.Abort:
        err_console.print("aborted")
        return 130
    except RopilotError as exc:
        return _report(exc)
    return 0


def entry() -> None:
    """Console-script entry point."""
    sys.exit(main())


if __name__ == "__main__":
    entry()
