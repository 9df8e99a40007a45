"""Turning what a user typed (account, period, as-of, dimensions) into a ``KpiContext``."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from ropilot.core.errors import ConfigurationError
from ropilot.core.kpi.registry import KpiContext
from ropilot.core.kpi.scope import DIMENSIONS
from ropilot.core.periods import Period, parse_period
from ropilot.core.store import Store
from ropilot.core.store.schema import deals
from ropilot.core.timeutil import from_epoch_us

_US = timedelta(microseconds=1)


def resolve_account(store: Store, account_id: str | None) -> tuple[str, str, ZoneInfo]:
    """``(id, currency, zone)`` of the account; with one account in the store it is the default.

    Raises:
        ConfigurationError: when the store is empty, the id is unknown, or several accounts
            are stored and none was named.
    """
    accounts = store.list_accounts()
    if not accounts:
        raise ConfigurationError(
            "the store holds no account yet: run `ropilot import BUNDLE` or `ropilot sync` first"
        )
    if account_id is None:
        if len(accounts) > 1:
            ids = ", ".join(a.id for a in accounts)
            raise ConfigurationError(f"the store holds several accounts ({ids}): pass --account")
        chosen = accounts[0]
    else:
        found = [a for a in accounts if a.id == account_id]
        if not found:
            ids = ", ".join(a.id for a in accounts)
            raise ConfigurationError(f"no account {account_id!r} in the store (it has {ids})")
        chosen = found[0]
    return chosen.id, chosen.currency, ZoneInfo(chosen.timezone)


def parse_as_of(text: str, zone: ZoneInfo) -> datetime:
    """A moment: a timestamp as written (local time of ``zone`` without an offset), or a bare
    date meaning the end of that day (so the whole day counts: "as of T includes T").

    Raises:
        ConfigurationError: for text that is neither.
    """
    s = text.strip()
    try:
        if len(s) == 10:
            d = date.fromisoformat(s)
            return datetime.combine(d + timedelta(days=1), time(), zone) - _US
        moment = datetime.fromisoformat(s.replace("Z", "+00:00"))
    except ValueError:
        raise ConfigurationError(
            f"--as-of {text!r}: use a date (2026-03-31, its end) or a timestamp "
            "(2026-03-31T18:00, 2026-03-31T18:00+03:00)"
        ) from None
    return moment if moment.tzinfo else moment.replace(tzinfo=zone)


def default_as_of(period: Period, now: datetime) -> datetime:
    """Now while the period runs or before it; the period's last microsecond once it is over."""
    return min(now, period.end - _US)


def latest_activity_day(store: Store, account_id: str, zone: ZoneInfo) -> date | None:
    """The local day of the newest deal creation (to anchor demos on generated data)."""
    from sqlalchemy import func, select

    with store.engine.connect() as conn:
        us = conn.execute(
            select(func.max(deals.c.created_at)).where(deals.c.account_id == account_id)
        ).scalar()
    if us is None:
        return None
    moment = us if isinstance(us, datetime) else from_epoch_us(int(us))
    return moment.astimezone(zone).date()


def make_context(
    store: Store,
    account_id: str | None,
    period: str,
    *,
    as_of: str | None = None,
    by: Sequence[str] = (),
    now: datetime | None = None,
    options: Mapping[str, Any] | None = None,
) -> KpiContext:
    """A context from command-line style arguments.

    Raises:
        ConfigurationError: for an unknown account, period, moment or dimension.
    """
    acc, currency, zone = resolve_account(store, account_id)
    now = now or datetime.now(zone)
    p = parse_period(period, zone, today=now.astimezone(zone).date())
    unknown = [b for b in by if b not in DIMENSIONS]
    if unknown:
        raise ConfigurationError(
            f"--by {', '.join(unknown)}: use {', '.join(DIMENSIONS)} (comma-separated)"
        )
    moment = parse_as_of(as_of, zone) if as_of else default_as_of(p, now)
    return KpiContext(
        store=store,
        account_id=acc,
        period=p,
        as_of=moment,
        by=tuple(by),
        currency=currency,
        options=dict(options or {}),
    )
