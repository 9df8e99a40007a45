"""``ropilot route``: route a lead, simulate other regulations, re-route stalled leads.

``ropilot route DEAL_ID [--dry-run] [--explain]`` is the default subcommand (``deal``), so a
deal id can follow ``route`` directly.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime, time
from pathlib import Path
from typing import Any

import click

from ropilot.cli.app import AppContext, pass_app
from ropilot.core.regulations import Regulations, default_regulations, load_regulations
from ropilot.core.reports.context import resolve_account
from ropilot.core.routing.engine import Decision, RoutingEngine
from ropilot.core.store import Store


class _RouteGroup(click.Group):
    """A group whose first argument, when not a subcommand, is a deal id for ``deal``."""

    def parse_args(self, ctx: click.Context, args: list[str]) -> list[str]:
        if args and args[0] not in self.commands and not args[0].startswith("-"):
            args = ["deal", *args]
        return super().parse_args(ctx, args)


def _account(store: Store, account_id: str | None) -> str:
    return resolve_account(store, account_id)[0]


def _regulations(path: str | None) -> Regulations:
    return load_regulations(path) if path else default_regulations()


def _engine(store: Store, account_id: str, regulations: Regulations) -> RoutingEngine:
    from ropilot.plugins.builtin_routing import routing_strategies
    from ropilot.plugins.manager import get_plugin_manager

    names = [p.strategy for p in regulations.routing.pools]
    strategies = routing_strategies(get_plugin_manager(), names)
    engine = RoutingEngine(store, account_id, regulations, strategies)
    # Efficiency-enabled pools: measured factors (win rate, speed to first contact) now.
    engine.refresh_efficiency(datetime.now(UTC))
    return engine


def _moment(text: str | None) -> datetime | None:
    if text is None:
        return None
    value = datetime.fromisoformat(text)
    if value.tzinfo is None:
        raise click.BadParameter(
            "give a time zone, e.g. 2026-03-02T12:00+03:00", param_hint="--now"
        )
    return value


def _print(decision: Decision, explain: bool, fmt: str) -> None:
    if fmt == "json":
        out: dict[str, Any] = {
            "decision_id": decision.id,
            "deal_id": decision.deal_id,
            "pool": decision.pool,
            "manager_id": decision.manager_id,
            "rule": decision.rule,
            "reason": decision.reason,
            "strategy": decision.strategy,
            "regulations_version": decision.regulations_version,
            "dry_run": decision.dry_run,
        }
        if explain:
            out["explanation"] = decision.explanation
        click.echo(json.dumps(out, ensure_ascii=False, indent=2))
        return
    tag = " (dry run, not recorded)" if decision.dry_run else ""
    who = decision.manager_id or "nobody"
    click.echo(
        f"deal {decision.deal_id} → {who} [{decision.rule}, pool {decision.pool}, "
        f"{decision.strategy}, regulations {decision.regulations_version}]{tag}"
    )
    if not explain:
        return
    ex = decision.explanation
    click.echo("eligible:")
    for e in ex["eligible"]:
        click.echo(
            f"  {e['manager_id']:<16} level {e['level']:.4f}  load {e['load']:g}  weight "
            f"{e['weight']:g} (declared {e['declared_weight']:g} × efficiency {e['factor']:g})"
        )
    click.echo("excluded:")
    for e in ex["excluded"]:
        click.echo(f"  {e['manager_id']:<16} {e['rule']}: {e['detail']}")
    if ex.get("tie"):
        tie = ex["tie"]
        click.echo(f"tie between {', '.join(tie['between'])}, broken by {tie['by']}")
    for r in ex.get("rejoined", []):
        click.echo(f"rejoined: {r['manager_id']} {r['level_before']} → {r['level_after']}")


_common = [
    click.option("--account", "account_id", help="Account id (when the store has several)."),
    click.option("--url", help="Storage URL (default: from settings)."),
    click.option("--regulations", "regulations_path", help="regulations.toml (default: built-in)."),
    click.option("--format", "fmt", type=click.Choice(["table", "json"]), default="table"),
]


def _options(func: Any) -> Any:
    for option in reversed(_common):
        func = option(func)
    return func


@click.group(cls=_RouteGroup)
def route() -> None:
    """Route leads: route DEAL_ID, route apply, route simulate, route reroute."""


@route.command("deal")
@click.argument("deal_id")
@click.option("--dry-run", is_flag=True, help="Decide and show, record nothing.")
@click.option("--explain", is_flag=True, help="Show eligible and excluded managers and why.")
@click.option("--now", "now_text", help="Decide as of this moment (ISO, with zone).")
@_options
@pass_app
def route_deal(
    app: AppContext,
    deal_id: str,
    dry_run: bool,
    explain: bool,
    now_text: str | None,
    account_id: str | None,
    url: str | None,
    regulations_path: str | None,
    fmt: str,
) -> None:
    """Decide who gets DEAL_ID and record it ('route apply' sets it in the CRM)."""
    store = app.open_store(url)
    try:
        account = _account(store, account_id)
        with _engine(store, account, _regulations(regulations_path)) as engine:
            decision = engine.route(deal_id, now=_moment(now_text), dry_run=dry_run)
        _print(decision, explain, fmt)
    finally:
        store.close()


@route.command("apply")
@click.option(
    "--limit", default=500, show_default=True, type=click.IntRange(1), help="At most this many."
)
@click.option("--account", "account_id", help="Account id (when the store has several).")
@click.option("--url", help="Storage URL (default: from settings).")
@pass_app
def route_apply(app: AppContext, limit: int, account_id: str | None, url: str | None) -> None:
    """Set the CRM responsible of every recorded decision not applied yet (each one once).

    A decision the CRM refuses keeps its error and is tried again next time; the exit status
    is 1 when any was refused.
    """
    from ropilot.connectors.routing_actions import apply_all

    store = app.open_store(url)
    try:
        account = _account(store, account_id)
        connector = app.crm_connector(store, account, "route apply")
        result = apply_all(store, connector, account, limit)
    finally:
        store.close()
    click.echo(f"applied {result.applied} decision(s) in the CRM")
    for decision_id, error in result.failed:
        click.echo(f"not applied {decision_id}: {error}", err=True)
    if result.failed:
        raise click.exceptions.Exit(1)


@route.command("reroute")
@click.option("--dry-run", is_flag=True, help="Show what would be re-routed, record nothing.")
@click.option("--now", "now_text", help="As of this moment (ISO, with zone).")
@_options
@pass_app
def route_reroute(
    app: AppContext,
    dry_run: bool,
    now_text: str | None,
    account_id: str | None,
    url: str | None,
    regulations_path: str | None,
    fmt: str,
) -> None:
    """Re-route leads not taken into work within the pool's take_into_work_minutes."""
    from ropilot.core.routing.reroute import reroute

    store = app.open_store(url)
    try:
        account = _account(store, account_id)
        with _engine(store, account, _regulations(regulations_path)) as engine:
            decisions = reroute(engine, _moment(now_text), dry_run=dry_run)
        for decision in decisions:
            _print(decision, False, fmt)
        if not decisions and fmt == "table":
            click.echo("nothing to re-route")
    finally:
        store.close()


@route.command("simulate")
@click.option("--since", required=True, help="First day of the window (YYYY-MM-DD).")
@click.option("--weeks", default=4, show_default=True, type=click.IntRange(1, 520))
@click.option("--account", "account_id", help="Account id (when the store has several).")
@click.option("--url", help="Storage URL (default: from settings).")
@click.option("--regulations", "regulations_path", required=True, help="regulations.toml to try.")
@click.option("--format", "fmt", type=click.Choice(["table", "json"]), default="table")
@pass_app
def route_simulate(
    app: AppContext,
    since: str,
    weeks: int,
    account_id: str | None,
    url: str | None,
    regulations_path: str,
    fmt: str,
) -> None:
    """Replay the leads of N weeks from SINCE through another regulations file."""
    from ropilot.core.routing.whatif import what_if

    store = app.open_store(url)
    try:
        account = _account(store, account_id)
        regulations = load_regulations(Path(regulations_path))
        first = datetime.combine(datetime.fromisoformat(since).date(), time(), tzinfo=UTC)
        with _engine(store, account, regulations) as engine:
            results = what_if(engine, first, weeks)
        if fmt == "json":
            click.echo(json.dumps([r.as_dict() for r in results], ensure_ascii=False, indent=2))
            return
        for r in results:
            click.echo(
                f"pool {r.pool}: {r.leads} leads; max deviation from target simulated "
                f"{r.simulated_max_deviation:.1%} vs actual {r.actual_max_deviation:.1%}; "
                f"SLA breaches simulated {r.simulated_breaches} vs actual {r.actual_breaches}"
            )
            click.echo(f"  {'manager':<16} {'target':>7} {'simulated':>10} {'actual':>8}")
            for line in r.lines:
                click.echo(
                    f"  {line.manager_id:<16} {line.target:>7.1%} {line.simulated_share:>10.1%} "
                    f"{line.actual_share:>8.1%}"
                )
    finally:
        store.close()
