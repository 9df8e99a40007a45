"""``ropilot check``: the data-quality audit (and ``--fix``: CRM tasks and escalation), and
``ropilot report quality``: per-manager scores and open findings by check and severity.
"""

from __future__ import annotations

import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import click

from ropilot.cli.app import AppContext, pass_app
from ropilot.core.errors import ConfigurationError
from ropilot.core.quality.audit import AuditSummary, run_audit
from ropilot.core.quality.findings import open_findings
from ropilot.core.regulations import Regulations, resolve_regulations
from ropilot.core.reports.context import parse_as_of, resolve_account
from ropilot.core.reports.model import Column, Report, Section
from ropilot.core.reports.quality_report import quality_sections
from ropilot.core.settings import AccountSettings
from ropilot.core.store import Store
from ropilot.render import FORMATS, write_report

__all__ = ["check", "quality"]


def _account_settings(app: AppContext, account_id: str) -> AccountSettings | None:
    try:
        return app.settings.account(account_id)
    except ConfigurationError:
        return None


def _base_url(account: AccountSettings | None) -> str | None:
    """The CRM address finding links start with (amoCRM accounts only)."""
    if account is None or account.connector != "amocrm":
        return None
    return account.base_url


def _regulations(app: AppContext, path: Path | None) -> Regulations:
    regs, _ = resolve_regulations(path, app.settings.source if path is None else None)
    return regs


def _emit(app: AppContext, report: Report, fmt: str, out: Path | None, lang: str | None) -> None:
    language = lang if lang in ("ru", "en") else app.lang
    text = write_report(report, fmt, language, out)  # type: ignore[arg-type]
    if text is not None:
        sys.stdout.write(text)
    else:
        click.echo(f"→ {out}", err=True)


def _findings_section(store: Store, acc: str, names: list[str] | None, limit: int) -> Section:
    found = open_findings(store, acc, checks=names or None)
    shown = found if limit <= 0 else found[:limit]
    section = Section(
        "findings",
        "Открытые замечания",
        "Open findings",
        [
            Column("check", "Проверка", "Check", key=True),
            Column("severity", "Важность", "Severity"),
            Column("entity", "Объект", "Entity"),
            Column("entity_id", "ID", "ID", key=True),
            Column("owner_id", "Ответственный", "Owner"),
            Column("message", "Что исправить", "What to fix"),
            Column("crm_link", "Ссылка", "Link"),
            Column("first_seen", "Впервые", "First seen", unit="datetime"),
            Column("id", "Замечание", "Finding"),
        ],
        [
            {
                "check": f.check,
                "severity": f.severity,
                "entity": f.entity,
                "entity_id": f.entity_id,
                "owner_id": f.owner_id,
                "message": f.message,
                "crm_link": f.crm_link,
                "first_seen": f.first_seen,
                "id": f.id,
            }
            for f in shown
        ],
    )
    if len(shown) < len(found):
        section.notes.append(
            (
                f"Показаны {len(shown)} из {len(found)}; --limit 0 — все.",
                f"{len(shown)} of {len(found)} shown; --limit 0 shows all.",
            )
        )
    return section


def _audit_report(
    summary: AuditSummary, zone: str, currency: str, findings: Section, fixed: Any
) -> Report:
    checks = Section(
        "checks",
        "Проверки",
        "Checks",
        [
            Column("check", "Проверка", "Check", key=True),
            Column("severity", "Важность", "Severity"),
            Column("found", "Найдено", "Found", unit="count"),
            Column("seconds", "Секунд", "Seconds", unit="number"),
        ],
        [
            {"check": c.name, "severity": c.severity, "found": c.found, "seconds": c.seconds}
            for c in summary.checks
        ],
    )
    saved = summary.saved
    checks.notes.append(
        (
            f"Новых {saved.new}, повторно {saved.seen}, изменилось {saved.changed}, "
            f"устранено {saved.resolved}; регламент {summary.regulations_version}.",
            f"New {saved.new}, seen again {saved.seen}, changed {saved.changed}, "
            f"resolved {saved.resolved}; regulations {summary.regulations_version}.",
        )
    )
    sections = [checks, findings]
    if fixed is not None:
        sections.append(
            Section(
                "actions",
                "Действия в CRM",
                "CRM actions",
                [
                    Column("step", "Шаг", "Step", key=True),
                    Column("count", "Сделано", "Done", unit="count"),
                ],
                [{"step": k, "count": v} for k, v in sorted(fixed.done.items())]
                + [{"step": "no_target", "count": fixed.skipped_no_target}],
            )
        )
    return Report(
        name="check",
        account_id=summary.account_id,
        currency=currency,
        timezone=zone,
        as_of=summary.as_of,
        sections=sections,
    )


_FORMAT = click.option(
    "--format", "fmt", type=click.Choice(FORMATS), default="table", show_default=True
)
_OUT = click.option("--out", type=click.Path(dir_okay=False, path_type=Path), help="File.")
_LANG = click.option("--lang", "lang_opt", type=click.Choice(["ru", "en"]), help="Language.")
_ACCOUNT = click.option("--account", "account_id", help="Account id (when the store has several).")
_URL = click.option("--url", help="Storage URL (default: from settings).")


@click.command("check")
@click.option("--fix", is_flag=True, help="Create CRM tasks for open findings and escalate.")
@click.option(
    "--check",
    "names",
    multiple=True,
    help="Run only this check (repeatable; default: every registered check).",
)
@click.option("--as-of", "as_of", help="The audit moment (default: now), account time zone.")
@click.option(
    "--regulations",
    "path",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Regulations file (default: regulations.toml next to ropilot.toml, else built-in).",
)
@click.option("--limit", default=100, show_default=True, help="Findings listed (0 = all of them).")
@_FORMAT
@_OUT
@_LANG
@_ACCOUNT
@_URL
@pass_app
def check(
    app: AppContext,
    fix: bool,
    names: tuple[str, ...],
    as_of: str | None,
    path: Path | None,
    limit: int,
    fmt: str,
    out: Path | None,
    lang_opt: str | None,
    account_id: str | None,
    url: str | None,
) -> None:
    """Audit data quality: run the checks, record findings, list what to fix.

    Проверка качества данных: запускает проверки, сохраняет замечания, показывает что исправить.
    """
    from ropilot.plugins.builtin_quality import check_catalogue
    from ropilot.plugins.manager import get_plugin_manager

    catalogue = check_catalogue(get_plugin_manager())
    selected = catalogue.select(names)
    regs = _regulations(app, path)
    store = app.open_store(url)
    try:
        acc, currency, zone = resolve_account(store, account_id)
        moment = parse_as_of(as_of, zone) if as_of else datetime.now(UTC)
        account = _account_settings(app, acc)
        summary = run_audit(
            store, acc, selected, as_of=moment, regulations=regs, base_url=_base_url(account)
        )
        fixed = None
        if fix:
            fixed = _fix(app, store, acc, moment, regs, [c.name for c in selected])
        findings = _findings_section(store, acc, [c.name for c in selected], limit)
        report = _audit_report(summary, str(zone), currency, findings, fixed)
        _emit(app, report, fmt, out, lang_opt)
    finally:
        store.close()


def _fix(
    app: AppContext,
    store: Store,
    acc: str,
    moment: datetime,
    regs: Regulations,
    names: list[str],
) -> Any:
    from ropilot.connectors.quality_actions import apply_actions

    connector = app.crm_connector(store, acc, "--fix")
    return apply_actions(store, connector, acc, as_of=moment, regulations=regs, checks=names)


@click.command("quality")
@click.option("--as-of", "as_of", help="Shown as the report's moment (default: now).")
@_FORMAT
@_OUT
@_LANG
@_ACCOUNT
@_URL
@pass_app
def quality(
    app: AppContext,
    as_of: str | None,
    fmt: str,
    out: Path | None,
    lang_opt: str | None,
    account_id: str | None,
    url: str | None,
) -> None:
    """Data quality per manager (score) and open findings by check and severity.

    Качество данных по менеджерам (балл) и открытые замечания по проверкам и важности.
    """
    store = app.open_store(url)
    try:
        acc, currency, zone = resolve_account(store, account_id)
        moment = parse_as_of(as_of, zone) if as_of else datetime.now(UTC)
        scores, by_check = quality_sections(store, acc)
        report = Report(
            name="quality",
            account_id=acc,
            currency=currency,
            timezone=str(zone),
            as_of=moment,
            sections=[scores, by_check],
        )
        _emit(app, report, fmt, out, lang_opt)
    finally:
        store.close()
