"""The engine's Python API: what the webhook server, the dashboard and scripts call.

Every function takes a store and returns a :class:`~ropilot.core.reports.model.Report` (its
``to_dict()`` is the documented JSON of docs/reports.md) or the engine's own rows::

    from ropilot.core import api
    from ropilot.core.store import Store

    store = Store.open("sqlite:///ropilot.db")
    ctx = api.context(store, "this-month", by=["manager"])
    api.kpis(ctx, ["revenue", "win_rate"]).to_dict()
    api.morning(api.context(store, "this-month")).to_dict()

Plugins' KPIs join when the caller passes the catalogue built by
``ropilot.plugins.builtin_kpis.kpi_catalogue(pm)``; without one the built-ins are used.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from ropilot.core.kpi.builtins import BUILTIN_KPIS
from ropilot.core.kpi.registry import KpiCatalogue, KpiContext
from ropilot.core.reports.context import make_context
from ropilot.core.reports.kpi_report import explain_report, kpi_report
from ropilot.core.reports.model import Report
from ropilot.core.reports.morning import morning_report
from ropilot.core.reports.plan_report import plan_for_period, plan_report
from ropilot.core.store import Store


def context(
    store: Store,
    period: str = "this-month",
    *,
    account_id: str | None = None,
    as_of: str | None = None,
    by: Sequence[str] = (),
    now: datetime | None = None,
) -> KpiContext:
    """A context for a period (``2026-03``, ``this-month`` …), an as-of moment and dimensions.

    Raises:
        ConfigurationError: for an unknown account, period, moment or dimension.
    """
    return make_context(store, account_id, period, as_of=as_of, by=by, now=now)


def kpis(
    ctx: KpiContext, names: Sequence[str] | None = None, catalogue: KpiCatalogue | None = None
) -> Report:
    """KPIs per group of ``ctx.by`` (the main set when ``names`` is empty)."""
    return kpi_report(catalogue or KpiCatalogue(BUILTIN_KPIS), ctx, names)


def explain(
    ctx: KpiContext,
    names: Sequence[str],
    keys: dict[str, str | None],
    catalogue: KpiCatalogue | None = None,
) -> Report:
    """The records behind each KPI of ``names`` for the group ``keys`` (lineage)."""
    return explain_report(catalogue or KpiCatalogue(BUILTIN_KPIS), ctx, names, keys)


def morning(ctx: KpiContext, plan: str | None = None) -> Report:
    """The morning report; plan vs fact from ``plan``, the plan named like the period, or the
    only plan stored.
    """
    return morning_report(ctx, plan_for_period(ctx, plan))


def plan_vs_fact(
    ctx: KpiContext, plan: str | None = None, metrics: Sequence[str] = ("revenue",)
) -> Report:
    """Plan vs fact with the expected-by-now line (and the revenue plan's reverse funnel)."""
    return plan_report(ctx, plan, list(metrics))
