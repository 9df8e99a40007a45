"""Dynamics: revenue and won deals per bucket (day … year) by any deal dimension, with the change
against the previous bucket and against the same bucket a year earlier.

Follows outcomes (sales_definitions.md): a deal is won by its current stage kind at
``closed_at``; revenue is in the account currency (other currencies count in the won count, not
in revenue; an empty amount is 0). Conventions this module fixes:

* Buckets are ``periods.buckets(period, grain)`` (cut to the period), found in SQL
  (``kpi.bucketing``); each deal gets its current/previous bucket and its year-ago bucket in
  the same row, so it is one grouped query.
* "Previous" of the first bucket is the whole bucket of the grain before the one holding the
  period's first day (a period starting on a Wednesday compares its first, partial week with
  the whole ISO week before).
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

from sqlalchemy import BigInteger, ColumnElement, and_, case, func, or_, select, type_coerce
from sqlalchemy.sql.functions import coalesce

from ropilot.core.errors import ConfigurationError
from ropilot.core.kpi.bucketing import bucket_index
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
    """The period's buckets, the whole bucket before the first one's, and each bucket a year
    earlier.

    Raises:
        ConfigurationError: for an unknown grain.
    """
    current = buckets(period, grain)
    containing = _whole(period.first_day, grain, period)
    previous = _whole(containing.first_day - timedelta(days=1), grain, period)
    return current, previous, [_year_ago(b, grain) for b in current]


# -- facts -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Plan:
    """The spans one dynamics query looks at."""

    current: list[Period]
    base: list[Period]
    """[previous, *current]: the ``cur`` column indexes this list."""
    year_ago: list[Period]
    """Distinct year-ago spans in order: the ``ago`` column indexes this list."""
    ago_of: list[int]
    """For each current bucket, its year-ago span's index in ``year_ago``."""


def _plan(period: Period, grain: str) -> _Plan:
    current, previous, shifted = comparison_spans(period, grain)
    distinct: list[Period] = []
    ago_of: list[int] = []
    for span in shifted:
        # 29 February and 28 February of a leap year share the same day a year earlier.
        if not distinct or (distinct[-1].first_day, distinct[-1].end_day) != (
            span.first_day,
            span.end_day,
        ):
            distinct.append(span)
        ago_of.append(len(distinct) - 1)
    return _Plan(current, [previous, *current], distinct, ago_of)


def dynamics_facts(account_id: str, period: Period, grain: str, by: Sequence[str] = ()) -> Any:
    """One row per won deal closed in a compared span: deal_id, amount, currency, in_currency
    (1/0), units (amount × 10⁴ in the account currency, else 0), closed_at, stage_id,
    responsible_id, ``dim_<name>`` per dimension, ``cur`` (index into [previous bucket, *the
    period's buckets]) and ``ago`` (index into the distinct year-ago spans); either may be NULL.

    Raises:
        ConfigurationError: for an unknown dimension or grain.
    """
    plan = _plan(period, grain)
    dims = dimension_columns(by)
    currency = select(accounts.c.currency).where(accounts.c.id == account_id).scalar_subquery()
    in_currency = deals.c.currency.is_(None) | (deals.c.currency == currency)
    closed = deals.c.closed_at
    return (
        select(
            deals.c.id.label("deal_id"),
            deals.c.amount,
            deals.c.currency,
            case((in_currency, 1), else_=0).label("in_currency"),
            case(
                (in_currency, type_coerce(coalesce(deals.c.amount, 0), BigInteger)), else_=0
            ).label("units"),
            closed,
            deals.c.stage_id,
            deals.c.responsible_id,
            *[col.label(f"dim_{name}") for name, col in dims.items()],
            bucket_index(closed, plan.base).label("cur"),
            bucket_index(closed, plan.year_ago).label("ago"),
        )
        .select_from(deal_source())
        .where(
            deals.c.account_id == account_id,
            stages.c.kind == "won",
            or_(
                and_(closed >= plan.base[0].start, closed < plan.base[-1].end),
                and_(closed >= plan.year_ago[0].start, closed < plan.year_ago[-1].end),
            ),
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
    plan = _plan(period, grain)
    facts = dynamics_facts(account_id, period, grain, by).subquery()
    keys = [facts.c[f"dim_{d}"] for d in by]
    stmt = select(
        *keys,
        facts.c.cur,
        facts.c.ago,
        func.count().label("won"),
        func.sum(facts.c.units).label("units"),
    ).group_by(*keys, facts.c.cur, facts.c.ago)
    with store.engine.connect() as conn:
        rows = list(conn.execute(stmt).mappings())
    # Per group: (won, units) per base span and per year-ago span.
    base: dict[tuple[Any, ...], list[list[int]]] = {}
    ago: dict[tuple[Any, ...], list[list[int]]] = {}
    for r in rows:
        group = tuple(r[f"dim_{d}"] for d in by)
        won, units = int(r["won"]), int(r["units"] or 0)
        for column, table, size in (
            ("cur", base, len(plan.base)),
            ("ago", ago, len(plan.year_ago)),
        ):
            if r[column] is not None:
                cell = table.setdefault(group, [[0, 0] for _ in range(size)])[int(r[column])]
                cell[0] += won
                cell[1] += units
    groups = [()] if not by else list({**dict.fromkeys(base), **dict.fromkeys(ago)})
    empty_base = [[0, 0] for _ in plan.base]
    empty_ago = [[0, 0] for _ in plan.year_ago]
    out: list[DynamicsRow] = []
    for group in sorted(groups, key=lambda g: tuple("" if v is None else str(v) for v in g)):
        b, a = base.get(group, empty_base), ago.get(group, empty_ago)
        for i, span in enumerate(plan.current):
            now, prev, then = b[i + 1], b[i], a[plan.ago_of[i]]
            out.append(
                DynamicsRow(
                    keys={**dict(zip(by, group, strict=True)), "bucket": span.label},
                    revenue=Decimal(now[1]) / MONEY_SCALE,
                    won=now[0],
                    previous_revenue=Decimal(prev[1]) / MONEY_SCALE,
                    previous_won=prev[0],
                    year_ago_revenue=Decimal(then[1]) / MONEY_SCALE,
                    year_ago_won=then[0],
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
    plan = _plan(period, grain)
    labels = [b.label for b in plan.current]
    label = keys.get("bucket")
    if label not in labels:
        raise ConfigurationError(f"bucket {label!r} is not a {grain} of {period.label}")
    i = labels.index(str(label))
    by = [d for d in keys if d != "bucket"]
    facts = dynamics_facts(account_id, period, grain, by).subquery()
    where: list[ColumnElement[bool]] = [
        facts.c.ago == plan.ago_of[i]
        if base == "year_ago"
        else facts.c.cur == (i + 1 if base == "current" else i)
    ]
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
