"""What KPI queries share: the deal source with its joins, dimensions, and period filters."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import ColumnElement, and_, true

from ropilot.core.errors import ConfigurationError
from ropilot.core.periods import Period
from ropilot.core.store import Store
from ropilot.core.store.schema import companies, deals, managers, stages


def _dimensions() -> dict[str, ColumnElement[Any]]:
    return {
        "manager": deals.c.responsible_id,
        "team": managers.c.team_id,
        "pipeline": deals.c.pipeline_id,
        "source": deals.c.source,
        "product": deals.c.product,
        "region": deals.c.region,
        "segment": companies.c.segment,
        "company": deals.c.company_id,
    }


DIMENSIONS = tuple(_dimensions())
"""Dimensions every deal KPI can be cut by (attribution: the current responsible's team)."""


def dimension_columns(by: Sequence[str]) -> dict[str, ColumnElement[Any]]:
    """The columns of the ``by`` dimensions, in order.

    Raises:
        ConfigurationError: for an unknown dimension.
    """
    dims = _dimensions()
    unknown = [d for d in by if d not in dims]
    if unknown:
        raise ConfigurationError(
            f"unknown dimension(s) {', '.join(unknown)}; use {', '.join(DIMENSIONS)}"
        )
    return {d: dims[d] for d in by}


def deal_source(by: Sequence[str] | None = None) -> Any:
    """Deals joined to their current stage, and to the responsible manager and the company
    when ``by`` needs them (``team``, ``segment``; ``None`` joins both).
    """
    source = deals.join(
        stages, and_(stages.c.account_id == deals.c.account_id, stages.c.id == deals.c.stage_id)
    )
    if by is None or "team" in by:
        source = source.outerjoin(
            managers,
            and_(
                managers.c.account_id == deals.c.account_id,
                managers.c.id == deals.c.responsible_id,
            ),
        )
    if by is None or "segment" in by:
        source = source.outerjoin(
            companies,
            and_(
                companies.c.account_id == deals.c.account_id,
                companies.c.id == deals.c.company_id,
            ),
        )
    return source


def closed_in(account_id: str, period: Period, kinds: Sequence[str] = ("won", "lost")) -> Any:
    """Deals whose current stage kind is in ``kinds`` and whose ``closed_at`` is in the period."""
    return and_(
        deals.c.account_id == account_id,
        deals.c.closed_at >= period.start,
        deals.c.closed_at < period.end,
        stages.c.kind.in_(tuple(kinds)),
    )


def keys_filter(by: Sequence[str], keys: dict[str, str | None]) -> ColumnElement[bool]:
    """The condition selecting one group: each ``by`` dimension equal to its key (or NULL).

    Raises:
        ConfigurationError: for an unknown dimension.
    """
    dims = dimension_columns(by)
    conds = [dims[d].is_(None) if keys.get(d) is None else dims[d] == keys[d] for d in by]
    return and_(true(), *conds)


def account_zone(store: Store, account_id: str) -> ZoneInfo:
    """The account's time zone.

    Raises:
        ConfigurationError: for an account that is not in the store.
    """
    account = store.get_account(account_id)
    if account is None:
        raise ConfigurationError(f"account {account_id!r} is not in the store")
    return ZoneInfo(account.timezone)
