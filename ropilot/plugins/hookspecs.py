"""Every hook a ropilot plugin can implement.

A plugin is any module or object with functions named after these hooks and decorated with
``ropilot.hookimpl``. pluggy calls an implementation with only the arguments it asks for, so an
implementation may accept fewer arguments than the spec lists (and keeps working when a later
ropilot version adds arguments).

The objects the ``ropilot_register_*`` hooks return (connectors, KPIs, checks, strategies,
notifiers) are typed loosely here; their docstrings say what each object must provide. The
author guide with one section and one example per hook is ``docs/plugins.md``.

This module is the stable contract with plugin authors: hooks get added, never changed.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from ropilot.plugins.markers import hookspec

if TYPE_CHECKING:
    import click

__all__ = [
    "HOOK_PREFIX",
    "ropilot_configure",
    "ropilot_on_event",
    "ropilot_pick_routing_strategy",
    "ropilot_register_blueprints",
    "ropilot_register_commands",
    "ropilot_register_connectors",
    "ropilot_register_kpis",
    "ropilot_register_notifiers",
    "ropilot_register_quality_checks",
    "ropilot_register_routing_strategies",
]

HOOK_PREFIX = "ropilot_"
"""Every hook name starts with this; a function with this prefix in a plugin is a hook."""


@hookspec(historic=True)
def ropilot_configure(settings: Any) -> None:
    """Hand the validated configuration to every plugin, once, at start-up.

    Declared ``historic``: a plugin registered after the call (for example one registered by
    code, late) still receives it, with the same ``settings``, at registration time. Read your
    own options here and keep them; do not start threads or open connections here.

    Args:
        settings: the validated ropilot settings (``ropilot.core.settings.Settings``: the
            ``ropilot.toml`` file plus ``ROPILOT_*`` environment variables). A plugin reads its
            own options from it and must treat the object as read-only.
    """


@hookspec
def ropilot_register_connectors() -> list[Any] | None:
    """Add CRM connectors (amoCRM, Bitrix24, account bundles, your own CRM).

    Called whenever ropilot builds its connector registry (CLI start-up, ``serve``,
    ``worker``). The results of all plugins are concatenated; a connector ``name`` used by two
    plugins is a configuration error.

    Returns:
        A list of connector **classes** (not instances), or ``None``. Each class subclasses
        ``ropilot.connectors.base.Connector`` and provides: a class attribute ``name: str``
        (the key used in ``ropilot.toml``, e.g. ``"amocrm"``), a class attribute
        ``capabilities`` (what it can read and write back), a constructor taking the account
        settings, incremental read methods that yield ``ropilot.core.models`` entities, the
        write-back methods it declares in ``capabilities``, and webhook verification and
        decoding. The connector conformance suite in ``ropilot.testing`` checks all of it.
    """


@hookspec
def ropilot_register_kpis() -> list[Any] | None:
    """Add KPI definitions to the engine (conversion, average check, call minutes ...).

    Called when the engine builds its KPI catalogue (reports, plans, the dashboard). The
    results of all plugins are concatenated.

    Returns:
        A list of ``ropilot.core.kpi.registry.KpiDefinition``, or ``None``. Each has ``name``
        (a unique key, e.g. ``"revenue"``), Russian and English titles, a ``unit``
        (``"money"``, ``"count"``, ``"ratio"``, ``"days"`` …), ``compute(ctx)`` returning one
        ``KpiRow(keys, value)`` per group for a ``KpiContext`` (store, account, period, as-of
        moment, dimensions) and optionally ``explain(ctx, keys)`` returning the records behind a
        value (lineage for ``--explain``). A name used twice is an error.
        KPIs are computed in the database, not by looping over Python objects.
    """


@hookspec
def ropilot_register_quality_checks() -> list[Any] | None:
    """Add data-quality checks (deals without a next task, stale stages, duplicates ...).

    Called when ``ropilot check``, ``ropilot report quality`` or a periodic audit collects
    checks. The results of all plugins are concatenated, built-ins first.

    Returns:
        A list of ``ropilot.core.quality.registry.QualityCheck`` objects, or ``None``. Each has
        ``name: str`` (unique key), ``description: str``, ``severity`` (``"info"``,
        ``"warning"`` or ``"error"``) and ``run(ctx)`` taking a ``QualityContext`` (store,
        account id, as-of moment, regulations) and yielding ``FindingDraft`` objects: the
        entity (kind and CRM id), the responsible manager when known, a one-line message of
        what to fix and the evidence.
    """


@hookspec
def ropilot_register_routing_strategies() -> list[Any] | None:
    """Add lead-routing strategies (round robin, by load, by skill, by region ...).

    Called when the distribution engine builds its strategy table; the configured strategy
    name is looked up in it (see also :func:`ropilot_pick_routing_strategy`).

    Returns:
        A list of strategies, or ``None``. Each strategy provides ``name: str`` (the key used
        in ``ropilot.toml``) and ``choose(deal, candidates, context)`` that returns the
        ``Manager`` to assign from ``candidates`` or ``None`` to leave the deal unassigned.
        ``choose`` must be deterministic for the same inputs and store state, because an
        event may be processed more than once.
    """


@hookspec(firstresult=True)
def ropilot_pick_routing_strategy(name: str, strategies: Mapping[str, Any]) -> Any | None:
    """Pick the routing strategy object for a configured strategy name.

    ``firstresult``: implementations are called (last registered first, ``tryfirst`` before,
    ``trylast`` after) until one returns something other than ``None``; that object is used.
    A built-in ``trylast`` implementation returns ``strategies.get(name)``, so a plugin only
    implements this hook to override, alias or parameterise strategies (``"weighted:3"``).

    Args:
        name: the strategy name from the configuration.
        strategies: every strategy from :func:`ropilot_register_routing_strategies`, by name.

    Returns:
        A strategy object (see :func:`ropilot_register_routing_strategies`), or ``None`` to
        let the next implementation decide.
    """


@hookspec
def ropilot_register_notifiers() -> list[Any] | None:
    """Add notification channels (log, e-mail, Telegram, CRM task ...).

    Called when ropilot builds its notifier table; ``ropilot.toml`` chooses which notifiers
    receive which notifications. The built-in ``"log"`` notifier writes to Python logging.

    Returns:
        A list of notifiers, or ``None``. Each notifier provides ``name: str`` (unique key) and
        ``notify(message: str, *, level: str = "info", recipient: str | None = None,
        data: Mapping[str, Any] | None = None) -> None``. ``level`` is one of ``"debug"``,
        ``"info"``, ``"warning"``, ``"error"``, ``"critical"``; ``recipient`` is a manager id
        or channel address; ``data`` is structured detail and must not contain secrets.
    """


@hookspec
def ropilot_register_blueprints() -> list[Any] | None:
    """Add Flask blueprints to the webhook server and dashboard (``ropilot serve``).

    Called once by the Flask app factory, after the built-in blueprints are registered.

    Returns:
        A list of ``flask.Blueprint`` objects, or ``None``. Each blueprint needs a name unique
        in the app; give it a ``url_prefix`` of its own (e.g. ``/plugins/<name>``) so it
        cannot shadow the webhook endpoints. Handlers must answer quickly: heavy work goes
        through the event inbox, not the request.
    """


@hookspec
def ropilot_register_commands(cli: click.Group) -> None:
    """Add sub-commands to the ``ropilot`` command line.

    Called once when the ``ropilot`` click group is built, before the command line is parsed.

    Args:
        cli: the ``ropilot`` :class:`click.Group`. Add commands with ``cli.add_command(...)``
            or decorate functions with ``@cli.command()``. Do not replace built-in commands.
    """


@hookspec
def ropilot_on_event(event: Any, context: Mapping[str, Any]) -> Any:
    """React to an event after the engine has processed it (fan-out to every plugin).

    Called by the worker for every event claimed from the inbox, through
    ``ropilot.plugins.events.dispatch_event``: every implementation sees every event, each is
    called separately, and an exception in one is logged with the plugin's name and reported
    without stopping the others. Delivery is at-least-once, so an implementation must be
    idempotent (``event.id`` is the dedup key: the same CRM event always has the same id).

    Args:
        event: the normalized event (``ropilot.core.models.Event``): ``id``, ``account_id``,
            ``connector``, ``entity`` (``"deal"``, ``"contact"`` ...), ``entity_id``,
            ``action`` (``EventAction``: ``added``, ``stage_changed`` ...), ``occurred_at``
            (UTC) and the connector's ``payload``.
        context: what the handler may use: ``"settings"``, ``"store"``, ``"connector"`` (to
            write back to the CRM), ``"notifiers"`` (by name) and ``"plugin_manager"``.
            Treat it as read-only; keys may be added in later versions.

    Returns:
        Anything, or ``None``. The value is recorded per plugin in the ``DispatchResult``
        (useful for tests and diagnostics); ropilot does not interpret it.
    """
