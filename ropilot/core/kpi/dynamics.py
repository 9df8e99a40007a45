"""Dynamics: revenue and won deals per bucket (day … year) by any deal dimension, with the change
against the previous bucket and against the same bucket a year earlier.

Follows outcomes (sales_definitions.md): a deal is won by its current stage kind at
``closed_at``; revenue is in the account currency (other currencies count in the won count, not
in revenue; an empty amount is 0). Conventions this module fixes:

* Buckets are ``periods.buckets(period, grain)`` (cut to the period) and assigned in SQL by a
  join against a table of bucket bounds (``kpi.bucketing``); current, previous and year-ago
  buckets are all rows of that one table, so it is one grouped query.
* "Previous" of the first bucket is the whole bucket of the grain just before the period.
* "A year earlier" is the same dates one calendar year back (29 February → 28 February) for
  day, month, quarter and year; 52 weeks (364 days) back for weeks, so weekdays line up.
* Relative change = (current − base) ÷ base; None when the base is 0.
* With ``by`` dimensions, groups that won something in the period or in a bucket compared with
  it (previous, a year earlier) appear, each with every bucket, zeros included — so a region
  that stopped selling shows its −100 %; without dimensions, the company appears always.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from decimal import Decimal
from typing import Any

from sqlalchemy import BigInteger, ColumnElement, case, func, select, type_coerce
from sqlalchemy.sql.functions import coalesce

from ropilot.core.errors import ConfigurationError
from ropilot.core.kpi.bucketing import bucket_table, in_bucket
from ropilot.core.kpi.scope import deal_source, dimension_columns
from ropilot.core.periods import Period, buckets, day, iso_week, month, quarter, year_period
from ropilot.core.store import Store
from ropilot.core.store.schema import accounts, deals, stages
from ropilot.core.store.types import MONEY_SCALE

BASES = ("current", "previous", "year_ago")


@dataclass(frozen=True)
class Change:
    """Change of a figure against a base: ``absolute`` = current − base, ``relative`` ÷ base."""

    absolute: Decimal
    relative: Decimal | None


def change(current: Decimal | int, base: Decimal | int) -> Change:
    """Absolute and relative change (relative None when the base is 0)."""
    diff = Decimal(current) - Decimal(base)
    return Change(diff, None if base == 0 else diff / Decimal(base))


@dataclass(frozen=True)
class DynamicsRow:
    """One bucket of one group; ``keys`` holds the dimensions and "bucket" (its label)."""

    keys: dict[str, str | None]
    revenue: Decimal
    won: int
    previous_revenue: Decimal
    previous_won: int
    year_ago_revenue: Decimal
    year_ago_won: int

    @property
    def revenue_change(self) -> Change:
        """Against the previous bucket."""
        return change(self.revenue, self.previous_revenue)

    @property
    def won_change(self) -> Change:
        """Against the previous bucket."""
        return change(self.won, self.previous_won)

    @property
    def revenue_vs_year_ago(self) -> Change:
        """Against the same bucket a year earlier."""
        return change(self.revenue, self.year_ago_revenue)

    @property
    def won_vs_year_ago(self) -> Change:
        """Against the same bucket a year earlier."""
        return change(self.won, self.year_ago_won)


@dataclass(frozen=True)
class DynamicsDeal:
    """A won deal behind a dynamics figure (lineage)."""

    deal_id: str
    amount: Decimal | None
    currency: str | None
    in_account_currency: bool
    closed_at: datetime
    stage_id: str
    responsible_id: str | None


# -- spans -----------------------------------------------------------------------------------


def _year_back(d: date) -> date:
    try:
        return d.replace(year=d.year - 1)
    except ValueError:  # 29 February
        return d.replace(year=d.year - 1, day=28)


def _whole(d: date, grain: str, period: Period) -> Period:
    zone = period.zone
    if grain == "day":
        return day(d, zone)
    if grain == "week":
        return iso_week(*d.isocalendar()[:2], zone)
    if grain == "month":
        return month(d.year, d.month, zone)
    if grain == "quarter":
        return quarter(d.year, (d.month - 1) // 3 + 1, zone)
    return year_period(d.year, zone)


def _year_ago(span: Period, grain: str) -> Period:
    if grain == "week":
        back = timedelta(days=364)
        return Period(span.first_day - back, span.end_day - back, span.zone, span.label)
    first = _year_back(span.first_day)
    end = first + timedelta(days=1) if grain == "day" else _year_back(span.end_day)
    return Period(first, end, span.zone, span.label)


def comparison_spans(period: Period, grain: str) -> tuple[list[Period], Period, list[Period]]:
    """The period's buckets, the whole bucket before the first, and each bucket a year earlier.

    Raises:
        ConfigurationError: for an unknown grain.
    """
    current = buckets(period, grain)
    previous = _whole(period.first_day - timedelta(days=1), grain, period)
    return current, previous, [_year_ago(b, grain) for b in current]


# -- facts -----------------------------------------------------------------------------------


def dynamics_facts(account_id: str, spans: Sequence[Period], by: Sequence[str] = ()) -> Any:
    """One row per (won deal, span it falls in): deal_id, amount, currency, in_currency (1/0),
    units (amount × 10⁴ in the account currency, else 0), closed_at, stage_id, responsible_id,
    ``dim_<name>`` per dimension and ``bucket`` (index into ``spans``).

    Raises:
        ConfigurationError: for an unknown dimension.
    """
    dims = dimension_columns(by)
    currency = select(accounts.c.currency).where(accounts.c.id == account_id).scalar_subquery()
    in_currency = deals.c.currency.is_(None) | (deals.c.currency == currency)
    table = bucket_table(spans)
    lo = min(s.start for s in spans)
    hi = max(s.end for s in spans)
    return (
        select(
            deals.c.id.label("deal_id"),
            deals.c.amount,
            deals.c.currency,
            case((in_currency, 1), else_=0).label("in_currency"),
            case(
                (in_currency, type_coerce(coalesce(deals.c.amount, 0), BigInteger)), else_=0
            ).label("units"),
            deals.c.closed_at,
            deals.c.stage_id,
            deals.c.responsible_id,
            *[col.label(f"dim_{name}") for name, col in dims.items()],
            table.c.n.label("bucket"),
        )
        .select_from(deal_source().join(table, in_bucket(deals.c.closed_at, table)))
        .where(
            deals.c.account_id == account_id,
            deals.c.closed_at >= lo,
            deals.c.closed_at < hi,
            stages.c.kind == "won",
        )
    )


# -- figures ---------------------------------------------------------------------------------


def dynamics(
    store: Store, account_id: str, period: Period, grain: str, by: Sequence[str] = ()
) -> list[DynamicsRow]:
    """Revenue and won count per bucket of ``period``, grouped by ``by``, with the previous
    bucket and the same bucket a year earlier. Rows come by group, then in bucket order.

    Raises:
        ConfigurationError: for an unknown dimension or grain.
    """
    current, previous, year_ago = comparison_spans(period, grain)
    k = len(current)
    facts = dynamics_facts(account_id, [*current, previous, *year_ago], by).subquery()
    keys = [facts.c[f"dim_{d}"] for d in by]
    stmt = select(
        *keys,
        facts.c.bucket,
        func.count().label("won"),
        func.sum(facts.c.units).label("units"),
    ).group_by(*keys, facts.c.bucket)
    with store.engine.connect() as conn:
        rows = list(conn.execute(stmt).mappings())
    figures: dict[tuple[Any, ...], dict[int, tuple[int, int]]] = {}
    for r in rows:
        group = tuple(r[f"dim_{d}"] for d in by)
        figures.setdefault(group, {})[int(r["bucket"])] = (int(r["won"]), int(r["units"] or 0))
    groups = list(figures)
    if not by:
        groups = [()]
    out: list[DynamicsRow] = []
    for group in sorted(groups, key=lambda g: tuple("" if v is None else str(v) for v in g)):
        per = figures.get(group, {})

        def at(i: int, per: dict[int, tuple[int, int]] = per) -> tuple[int, Decimal]:
            won, units = per.get(i, (0, 0))
            return won, Decimal(units) / MONEY_SCALE

        for i, span in enumerate(current):
            won, revenue = at(i)
            prev_won, prev_revenue = at(i - 1 if i else k)
            ya_won, ya_revenue = at(k + 1 + i)
            out.append(
                DynamicsRow(
                    keys={**dict(zip(by, group, strict=True)), "bucket": span.label},
                    revenue=revenue,
                    won=won,
                    previous_revenue=prev_revenue,
                    previous_won=prev_won,
                    year_ago_revenue=ya_revenue,
                    year_ago_won=ya_won,
                )
            )
    return out


def dynamics_lineage(
    store: Store,
    account_id: str,
    period: Period,
    grain: str,
    keys: Mapping[str, str | None],
    base: str = "current",
) -> list[DynamicsDeal]:
    """The won deals behind one row of ``dynamics`` (``keys`` = the row's keys, with "bucket"),
    in its current bucket, its previous one or the one a year earlier (``base``).

    Raises:
        ConfigurationError: for an unknown dimension, grain, base or bucket label.
    """
    if base not in BASES:
        raise ConfigurationError(f"base {base!r}: use one of {', '.join(BASES)}")
    current, previous, year_ago = comparison_spans(period, grain)
    labels = [b.label for b in current]
    label = keys.get("bucket")
    if label not in labels:
        raise ConfigurationError(f"bucket {label!r} is not a {grain} of {period.label}")
    i = labels.index(str(label))
    span = {
        "current": current[i],
        "previous": current[i - 1] if i else previous,
        "year_ago": year_ago[i],
    }[base]
    by = [d for d in keys if d != "bucket"]
    facts = dynamics_facts(account_id, [span], by).subquery()
    where: list[ColumnElement[bool]] = []
    for d in by:
        col, value = facts.c[f"dim_{d}"], keys[d]
        where.append(col.is_(None) if value is None else col == value)
    stmt = (
        select(
            facts.c.deal_id,
            facts.c.amount,
            facts.c.currency,
            facts.c.in_currency,
            facts.c.closed_at,
            facts.c.stage_id,
            facts.c.responsible_id,
        )
        .where(*where)
        .order_by(facts.c.closed_at, facts.c.deal_id)
    )
    with store.engine.connect() as conn:
        rows = conn.execute(stmt).all()
    return [DynamicsDeal(r[0], r[1], r[2], bool(r[3]), r[4], r[5], r[6]) for r in rows]
