"""Forecast KPIs (sales_definitions.md): weighted and run-rate forecasts, coverage, velocity.

Conventions, fixed here where the definitions leave a choice:

* **Weighted forecast** of a period as of T = Σ amount × probability ÷ 100 over the deals open at
  T (``kpi.pipeline``: stage held at T, current amount and responsible) whose expected close day
  "falls in the period". A past expected day still counts: an overdue deal is taken as expected
  *from the as-of day on*, i.e. its effective day is ``max(expected_close_at, day of T)`` and it
  counts when that day is in ``[first_day, end_day)``. So, as of a day inside the period, every
  deal expected before the period end counts (including days before the period start); a future
  period gets only deals expected inside it (overdue deals belong to the current one, never to
  two periods); a period that ended before T gets nothing. No expected day → left out. The
  probability is the held stage's; a stage without probability weighs 0 (counted in
  ``without_probability``). Deals in another currency are listed apart, unconverted.
* **Run-rate forecast** = actual so far ÷ elapsed working days × all working days of the period
  (Russian production calendar, ``core.calendar``). Actual so far = revenue (``kpi.outcomes``
  rules: current stage won, account currency, empty = 0) of deals with ``closed_at`` in
  ``[period start, T]`` ("as of T includes T"). Elapsed working days = working days from the
  first day of the period to the day of T *inclusive* (whole days: a working as-of day counts,
  a weekend or holiday as-of day adds nothing); none elapsed → the forecast is None.
* **Coverage** = open pipeline due in the period (the weighted forecast's deals, unweighted,
  account currency) ÷ remaining plan; remaining plan ≤ 0 → None. **Required coverage** =
  1 ÷ win rate (win rate by count, given or computed over a lookback period); 0 or unknown →
  None.
* **Pipeline velocity** = open qualified deals × win rate × average deal ÷ cycle length (days)
  = revenue per day. Qualified: open at T and passing :class:`Qualified` (default: every open
  deal). Win rate (by count), average deal (= average check, exact) and the cycle (the *mean*
  sales cycle by default — labelled; ``cycle="median"`` takes the median) come from the deals
  closed in a lookback period. Every component is returned so the arithmetic is visible.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from decimal import Decimal
from typing import Any, Literal

from sqlalchemy import BigInteger, ColumnElement, Select, and_, case, false, func, select, true
from sqlalchemy.sql.functions import coalesce

from ropilot.core.calendar import count_working_days
from ropilot.core.errors import ConfigurationError
from ropilot.core.kpi.cycle import sales_cycle
from ropilot.core.kpi.outcomes import outcomes
from ropilot.core.kpi.pipeline import (
    HELD,
    PREFIX,
    PipelineDeal,
    account_currency,
    amount_units,
    deal_records,
    in_account_currency,
    keys_match,
    open_facts,
    sort_key,
)
from ropilot.core.kpi.scope import deal_source, dimension_columns
from ropilot.core.periods import Period
from ropilot.core.store import Store
from ropilot.core.store.schema import deals, stages
from ropilot.core.store.types import Money

Keys = dict[str, str | None]


def exact(units: int, scale: int) -> Decimal:
    """``units × 10^-scale`` as a Decimal: two places when exact to the kopeck, else all."""
    value = Decimal(units).scaleb(-scale)
    cents = value.quantize(Decimal("0.01"))
    return cents if cents == value else value.normalize()


def local_day(moment: datetime, period: Period) -> date:
    """The calendar day of ``moment`` in the period's zone."""
    if moment.tzinfo is None:
        raise ConfigurationError(f"as-of moment {moment} needs a time zone")
    return moment.astimezone(period.zone).date()


# -- weighted forecast --------------------------------------------------------------------------


def due_in(period: Period, as_of: datetime) -> ColumnElement[bool]:
    """Open deals expected to close in ``period`` as seen at ``as_of`` (module docstring)."""
    today = local_day(as_of, period)
    if today >= period.end_day:
        return false()
    expected = deals.c.expected_close_at
    cond = and_(expected.is_not(None), expected < period.end_day)
    if today < period.first_day:
        cond = and_(cond, expected >= period.first_day)
    return cond


def forecast_facts(
    account_id: str, period: Period, as_of: datetime, by: Sequence[str] = ()
) -> Select[Any]:
    """One row per deal counted in the weighted forecast (``open_facts`` columns plus
    ``weighted_x100`` = units × probability, a NULL probability weighing 0).

    Raises:
        ConfigurationError: for an unknown dimension or a naive ``as_of``.
    """
    return (
        open_facts(account_id, as_of, by)
        .where(due_in(period, as_of))
        .add_columns(
            (amount_units() * coalesce(HELD.c.probability, 0)).label("weighted_x100"),
        )
    )


@dataclass(frozen=True)
class WeightedRow:
    """Weighted forecast of one group: Σ amount × probability ÷ 100, with its unweighted base."""

    keys: Keys
    count: int
    """Deals counted (every currency)."""
    amount: Decimal
    """Unweighted Σ amount, account currency."""
    weighted: Decimal
    """Σ amount × probability ÷ 100, account currency, exact."""
    without_probability: int
    """Deals whose held stage has no probability (weighted as 0)."""
    without_amount: int
    other_currencies: dict[str, Decimal] = field(default_factory=dict)
    """Unweighted amounts in other currencies."""
    other_weighted: dict[str, Decimal] = field(default_factory=dict)
    """Weighted amounts in other currencies."""


def weighted_forecast(
    store: Store, account_id: str, period: Period, as_of: datetime, by: Sequence[str] = ()
) -> list[WeightedRow]:
    """Weighted forecast of ``period`` as of ``as_of``, grouped by ``by`` (deal dimensions and
    ``stage``, the stage held at ``as_of``). One company row without dimensions, always.

    Raises:
        ConfigurationError: for an unknown dimension or a naive ``as_of``.
    """
    facts = forecast_facts(account_id, period, as_of, by).subquery()
    keys = [facts.c[PREFIX + d] for d in by]
    # One pass grouped by currency too (the facts are costly to compute twice); folded below.
    stmt = select(
        *keys,
        facts.c.in_currency,
        facts.c.currency,
        func.count().label("n"),
        coalesce(func.sum(facts.c.units), 0).cast(Money).label("amount"),
        coalesce(func.sum(facts.c.weighted_x100), 0).cast(BigInteger).label("weighted"),
        func.count().filter(facts.c.probability.is_(None)).label("no_prob"),
        func.count().filter(facts.c.amount.is_(None)).label("no_amount"),
    ).group_by(*keys, facts.c.in_currency, facts.c.currency)
    n = len(by)
    groups: dict[tuple[Any, ...], dict[str, Any]] = {}
    with store.engine.connect() as conn:
        for r in conn.execute(stmt):
            g = groups.setdefault(
                tuple(r[:n]),
                {
                    "n": 0,
                    "amount": Decimal("0.0000"),
                    "weighted": 0,
                    "no_prob": 0,
                    "no_amount": 0,
                    "amounts": {},
                    "weights": {},
                },
            )
            g["n"] += int(r.n)
            g["no_prob"] += int(r.no_prob)
            g["no_amount"] += int(r.no_amount)
            if r.in_currency == 1:
                g["amount"] += r.amount
                g["weighted"] += int(r.weighted)
            else:
                g["amounts"][r.currency] = g["amounts"].get(r.currency, 0) + r.amount
                g["weights"][r.currency] = g["weights"].get(r.currency, 0) + int(r.weighted)
    out = [
        WeightedRow(
            keys=dict(zip(by, k, strict=True)),
            count=g["n"],
            amount=g["amount"],
            weighted=exact(g["weighted"], 6),
            without_probability=g["no_prob"],
            without_amount=g["no_amount"],
            other_currencies=g["amounts"],
            other_weighted={c: exact(w, 6) for c, w in g["weights"].items()},
        )
        for k, g in groups.items()
    ]
    if not by and not out:
        out.append(WeightedRow({}, 0, Decimal("0.0000"), exact(0, 6), 0, 0, {}, {}))
    return sorted(out, key=lambda row: sort_key(row.keys))


def forecast_deals(
    store: Store,
    account_id: str,
    period: Period,
    as_of: datetime,
    keys: Mapping[str, str | None] | None = None,
) -> list[PipelineDeal]:
    """Lineage of :func:`weighted_forecast` and :func:`coverage`: the deals counted for the group
    ``keys`` (``{}`` for the company), with stage, probability, amount and expected day.

    Raises:
        ConfigurationError: for an unknown dimension or a naive ``as_of``.
    """
    keys = dict(keys or {})
    facts = forecast_facts(account_id, period, as_of, list(keys)).subquery()
    return deal_records(store, facts, keys)


# -- run-rate forecast --------------------------------------------------------------------------


def working_days_elapsed(period: Period, as_of: datetime) -> tuple[int, int]:
    """``(elapsed, total)`` working days: elapsed from the first day to the day of ``as_of``
    inclusive (0 before the period, all of them after it).
    """
    total = count_working_days(period.first_day, period.end_day)
    if as_of < period.start:
        return 0, total
    end = min(local_day(as_of, period) + timedelta(days=1), period.end_day)
    return count_working_days(period.first_day, end), total


def won_facts(
    account_id: str, period: Period, as_of: datetime, by: Sequence[str] = ()
) -> Select[Any]:
    """One row per deal won in ``[period start, as_of]`` (and before the period end), with
    ``deal_id``, ``closed_at``, ``responsible_id``, ``amount``, ``currency``, ``in_currency``,
    ``units`` and ``by_<dimension>`` columns.

    Raises:
        ConfigurationError: for an unknown dimension.
    """
    dims = dimension_columns(by)
    return (
        select(
            deals.c.id.label("deal_id"),
            deals.c.closed_at,
            deals.c.responsible_id,
            deals.c.amount,
            coalesce(deals.c.currency, account_currency(account_id)).label("currency"),
            in_account_currency(account_id).label("in_currency"),
            amount_units().label("units"),
            *[col.label(PREFIX + name) for name, col in dims.items()],
        )
        .select_from(deal_source())
        .where(
            deals.c.account_id == account_id,
            stages.c.kind == "won",
            deals.c.closed_at >= period.start,
            deals.c.closed_at < period.end,
            deals.c.closed_at <= as_of,
        )
    )


@dataclass(frozen=True)
class RunRateRow:
    """Run-rate forecast of one group: actual ÷ elapsed working days × all working days."""

    keys: Keys
    won: int
    """Deals won so far, every currency."""
    actual: Decimal
    """Revenue so far, account currency."""
    elapsed_working_days: int
    working_days: int
    other_currencies: dict[str, Decimal] = field(default_factory=dict)
    """Revenue so far in other currencies (not extrapolated)."""

    @property
    def forecast(self) -> Decimal | None:
        """``actual ÷ elapsed × working_days``; None when no working day has elapsed."""
        if not self.elapsed_working_days:
            return None
        return self.actual / self.elapsed_working_days * self.working_days


def run_rate_forecast(
    store: Store, account_id: str, period: Period, as_of: datetime, by: Sequence[str] = ()
) -> list[RunRateRow]:
    """Run-rate forecast of ``period`` as of ``as_of`` by ``by``; one company row without
    dimensions, always; with dimensions, the groups that won something so far.

    Raises:
        ConfigurationError: for an unknown dimension or a naive ``as_of``.
    """
    elapsed, total = working_days_elapsed(period, as_of)
    facts = won_facts(account_id, period, as_of, by).subquery()
    keys = [facts.c[PREFIX + d] for d in by]
    in_cur = facts.c.in_currency == 1
    stmt = select(
        *keys,
        func.count().label("n"),
        coalesce(func.sum(case((in_cur, facts.c.units), else_=0)), 0).cast(Money).label("actual"),
    ).group_by(*keys)
    others = (
        select(*keys, facts.c.currency, func.sum(facts.c.units).cast(Money).label("amount"))
        .where(facts.c.in_currency == 0)
        .group_by(*keys, facts.c.currency)
    )
    n = len(by)
    with store.engine.connect() as conn:
        rows = list(conn.execute(stmt))
        extra: dict[tuple[Any, ...], dict[str, Decimal]] = {}
        for r in conn.execute(others):
            extra.setdefault(tuple(r[:n]), {})[r.currency] = r.amount
    out = [
        RunRateRow(
            keys=dict(zip(by, r[:n], strict=True)),
            won=int(r.n),
            actual=r.actual,
            elapsed_working_days=elapsed,
            working_days=total,
            other_currencies=extra.get(tuple(r[:n]), {}),
        )
        for r in rows
    ]
    return sorted(out, key=lambda row: sort_key(row.keys))


@dataclass(frozen=True)
class WonDeal:
    """A deal behind the actual of a run-rate forecast."""

    deal_id: str
    closed_at: datetime
    responsible_id: str | None
    amount: Decimal | None
    currency: str
    keys: Keys


def run_rate_deals(
    store: Store,
    account_id: str,
    period: Period,
    as_of: datetime,
    keys: Mapping[str, str | None] | None = None,
) -> list[WonDeal]:
    """Lineage of :func:`run_rate_forecast`: the deals won so far in the group ``keys``.

    Raises:
        ConfigurationError: for an unknown dimension.
    """
    keys = dict(keys or {})
    facts = won_facts(account_id, period, as_of, list(keys)).subquery()
    stmt = select(facts).where(keys_match(facts, keys)).order_by(facts.c.closed_at, facts.c.deal_id)
    with store.engine.connect() as conn:
        rows = list(conn.execute(stmt).mappings())
    return [
        WonDeal(
            deal_id=r["deal_id"],
            closed_at=r["closed_at"],
            responsible_id=r["responsible_id"],
            amount=r["amount"],
            currency=r["currency"],
            keys={k: r[PREFIX + k] for k in keys},
        )
        for r in rows
    ]


# -- coverage -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class CoverageRow:
    """Coverage of the remaining plan by the open pipeline due in the period."""

    keys: Keys
    count: int
    pipeline: Decimal
    """Unweighted open pipeline due in the period, account currency."""
    remaining_plan: Decimal | None
    win_rate: Decimal | None
    """Win rate by count used for the required coverage (given or from the lookback)."""
    other_currencies: dict[str, Decimal] = field(default_factory=dict)

    @property
    def coverage(self) -> Decimal | None:
        """Pipeline ÷ remaining plan; None when the remaining plan is unknown or ≤ 0."""
        if self.remaining_plan is None or self.remaining_plan <= 0:
            return None
        return self.pipeline / self.remaining_plan

    @property
    def required_coverage(self) -> Decimal | None:
        """1 ÷ win rate; None when the win rate is unknown or 0."""
        if not self.win_rate:
            return None
        return 1 / self.win_rate


def _group_value(plan: Mapping[Any, Decimal], key: tuple[Any, ...]) -> Decimal | None:
    if key in plan:
        return plan[key]
    if len(key) == 1 and key[0] in plan:
        return plan[key[0]]
    return None


def coverage(
    store: Store,
    account_id: str,
    period: Period,
    as_of: datetime,
    remaining_plan: Decimal | Mapping[Any, Decimal],
    *,
    win_rate: Decimal | None = None,
    lookback: Period | None = None,
    by: Sequence[str] = (),
) -> list[CoverageRow]:
    """Coverage and required coverage of ``period`` as of ``as_of``.

    ``remaining_plan`` is one Decimal for the company (no ``by``), or a mapping from a group's
    dimension values (a tuple in ``by`` order, or the bare value for one dimension) to its
    remaining plan; groups with a plan and no pipeline get a row with pipeline 0. The win rate
    is ``win_rate`` for every group when given, else each group's win rate by count over
    ``lookback`` (None without a lookback).

    Raises:
        ConfigurationError: for an unknown dimension, a naive ``as_of``, or a plan of the wrong
            shape.
    """
    if by and not isinstance(remaining_plan, Mapping):
        raise ConfigurationError(
            "coverage by dimensions needs remaining_plan as a mapping of group → amount"
        )
    if not by and isinstance(remaining_plan, Mapping):
        raise ConfigurationError("company coverage needs remaining_plan as one Decimal amount")
    n = len(by)
    pipes = {
        tuple(r.keys.values()): r for r in weighted_forecast(store, account_id, period, as_of, by)
    }
    rates: dict[tuple[Any, ...], Decimal | None] = {}
    if win_rate is None and lookback is not None:
        rates = {
            tuple(r.keys.values()): r.win_rate for r in outcomes(store, account_id, lookback, by)
        }
    groups = set(pipes)
    if isinstance(remaining_plan, Mapping):
        groups |= {k if isinstance(k, tuple) else (k,) for k in remaining_plan}
    out = []
    for key in groups:
        if len(key) != n:
            raise ConfigurationError(f"plan key {key!r} does not match the dimensions {by!r}")
        pipe = pipes.get(key)
        plan = (
            _group_value(remaining_plan, key)
            if isinstance(remaining_plan, Mapping)
            else remaining_plan
        )
        out.append(
            CoverageRow(
                keys=dict(zip(by, key, strict=True)),
                count=pipe.count if pipe else 0,
                pipeline=pipe.amount if pipe else Decimal("0.00"),
                remaining_plan=plan,
                win_rate=win_rate if win_rate is not None else rates.get(key),
                other_currencies=pipe.other_currencies if pipe else {},
            )
        )
    return sorted(out, key=lambda row: sort_key(row.keys))


# -- pipeline velocity --------------------------------------------------------------------------


@dataclass(frozen=True)
class Qualified:
    """Which open deals count as qualified: held stage ``sort >= min_sort`` (sorts are per
    pipeline) and/or held stage in ``stage_ids``; both None (default) = every open deal.
    """

    min_sort: int | None = None
    stage_ids: frozenset[str] | None = None

    def condition(self) -> ColumnElement[bool]:
        conds: list[ColumnElement[bool]] = []
        if self.min_sort is not None:
            conds.append(HELD.c.sort >= self.min_sort)
        if self.stage_ids is not None:
            conds.append(HELD.c.id.in_(tuple(self.stage_ids)))
        return and_(true(), *conds)


@dataclass(frozen=True)
class VelocityRow:
    """Pipeline velocity of one group and its components."""

    keys: Keys
    open_qualified: int
    win_rate: Decimal | None
    """Won ÷ (won + lost) by count over the lookback."""
    average_deal: Decimal | None
    """Average check over the lookback (account currency, exact)."""
    cycle_days: Decimal | None
    cycle_measure: str
    """``mean`` or ``median`` sales cycle, or ``given``."""
    lookback: str

    @property
    def velocity(self) -> Decimal | None:
        """Open qualified × win rate × average deal ÷ cycle days = revenue per day."""
        if self.win_rate is None or self.average_deal is None or not self.cycle_days:
            return None
        return self.open_qualified * self.win_rate * self.average_deal / self.cycle_days


def velocity_facts(
    account_id: str, as_of: datetime, qualified: Qualified | None = None, by: Sequence[str] = ()
) -> Select[Any]:
    """The open qualified deals at ``as_of`` (``open_facts`` shape)."""
    return open_facts(account_id, as_of, by).where((qualified or Qualified()).condition())


def pipeline_velocity(
    store: Store,
    account_id: str,
    as_of: datetime,
    lookback: Period,
    *,
    qualified: Qualified | None = None,
    by: Sequence[str] = (),
    cycle: Literal["mean", "median"] = "mean",
    win_rate: Decimal | None = None,
    average_deal: Decimal | None = None,
    cycle_days: Decimal | None = None,
) -> list[VelocityRow]:
    """Pipeline velocity (revenue per day) of the deals open at ``as_of``.

    Win rate, average deal and cycle come from the deals closed in ``lookback`` for each group,
    unless given (then they apply to every group). Rows: the groups with an open qualified deal
    or a closed deal in the lookback; one company row without dimensions, always.

    Raises:
        ConfigurationError: for an unknown dimension (``stage`` is not one here) or cycle
            measure.
    """
    if cycle not in ("mean", "median"):
        raise ConfigurationError(f"cycle {cycle!r}: use mean or median")
    dimension_columns(by)
    facts = velocity_facts(account_id, as_of, qualified, by).subquery()
    keys = [facts.c[PREFIX + d] for d in by]
    n = len(by)
    with store.engine.connect() as conn:
        counts = {
            tuple(r[:n]): int(r[n])
            for r in conn.execute(select(*keys, func.count()).select_from(facts).group_by(*keys))
        }
    history = {tuple(r.keys.values()): r for r in outcomes(store, account_id, lookback, by)}
    cycles = {tuple(r.keys.values()): r for r in sales_cycle(store, account_id, lookback, by)}
    groups = {k for k, v in counts.items() if v} | set(history) | ({()} if not by else set())
    out = []
    for key in groups:
        past = history.get(key)
        cyc = cycles.get(key)
        measured = None if cyc is None else cyc.mean_days if cycle == "mean" else cyc.median_days
        rate = None if past is None else past.win_rate
        average = (
            None
            if past is None or not past.won_in_currency
            else past.revenue / past.won_in_currency
        )
        out.append(
            VelocityRow(
                keys=dict(zip(by, key, strict=True)),
                open_qualified=counts.get(key, 0),
                win_rate=win_rate if win_rate is not None else rate,
                average_deal=average_deal if average_deal is not None else average,
                cycle_days=cycle_days if cycle_days is not None else measured,
                cycle_measure="given" if cycle_days is not None else cycle,
                lookback=lookback.label,
            )
        )
    return sorted(out, key=lambda row: sort_key(row.keys))


def velocity_deals(
    store: Store,
    account_id: str,
    as_of: datetime,
    keys: Mapping[str, str | None] | None = None,
    *,
    qualified: Qualified | None = None,
) -> list[PipelineDeal]:
    """Lineage of the open qualified count of :func:`pipeline_velocity` for the group ``keys``.

    Raises:
        ConfigurationError: for an unknown dimension.
    """
    keys = dict(keys or {})
    facts = velocity_facts(account_id, as_of, qualified, list(keys)).subquery()
    return deal_records(store, facts, keys)


# -- company totals from grouped rows (no second query) -----------------------------------------


def _merge(dicts: Sequence[Mapping[str, Decimal]]) -> dict[str, Decimal]:
    out: dict[str, Decimal] = {}
    for d in dicts:
        for k, v in d.items():
            out[k] = out.get(k, Decimal(0)) + v
    return out


def total_weighted(rows: Sequence[WeightedRow]) -> WeightedRow:
    """The company row of a weighted forecast grouped by any dimension: the groups' sums (a
    dimension's groups, its NULL group included, partition the deals).
    """
    return WeightedRow(
        keys={},
        count=sum(r.count for r in rows),
        amount=sum((r.amount for r in rows), Decimal("0.0000")),
        weighted=sum((r.weighted for r in rows), exact(0, 6)),
        without_probability=sum(r.without_probability for r in rows),
        without_amount=sum(r.without_amount for r in rows),
        other_currencies=_merge([r.other_currencies for r in rows]),
        other_weighted=_merge([r.other_weighted for r in rows]),
    )


def total_run_rate(rows: Sequence[RunRateRow], period: Period, as_of: datetime) -> RunRateRow:
    """The company row of a run-rate forecast grouped by any dimension (the groups' sums)."""
    elapsed, total = working_days_elapsed(period, as_of)
    return RunRateRow(
        keys={},
        won=sum(r.won for r in rows),
        actual=sum((r.actual for r in rows), Decimal("0.0000")),
        elapsed_working_days=elapsed,
        working_days=total,
        other_currencies=_merge([r.other_currencies for r in rows]),
    )
