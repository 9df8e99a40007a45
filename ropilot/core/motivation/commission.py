"""Commission tiers, *step* and *marginal* (sales_definitions.md, "Motivation" and the
"Marginal commission" convention).

* Tiers are half-open ``[from, to)``: a base exactly on a boundary (150,000 with tiers
  0–150k, 150–250k) is in the **upper** tier.
* **Step**: the tier containing the base sets one rate for the whole base.
* **Marginal**: each slice of the base is paid at its own tier's rate; attainment is carried
  from the start of the commission period (month, quarter or year in the account's time zone,
  set by the plan); deals are taken in ``closed_at`` order, ties by deal id (byte order).
  Reference example: tiers 0–150k 4 %, 150–250k 6 %, above 8 %; with 145k already closed a
  20k deal pays 5k × 4 % + 15k × 6 % = 1,100.
* The base is the won amount in the **account currency** (an empty amount is 0); won deals in
  another currency are never converted: they are left out and listed apart.
* A statement period shorter than the commission period pays the deals closed in it; earlier
  deals of the same commission period only carry attainment. For *step* the statement pays
  ``rate(B_end) × B_end − rate(B_start) × B_start`` (B = attainment since the commission period
  start, before and at the end of the statement period), shown as each new deal at the new
  rate plus a true-up of the carried base at the rate difference; this assumes the earlier
  statements of the commission period were paid by the same plan.

Selection and order of the deals are SQL (:func:`won_deals`); the slice arithmetic runs in
Python over that ordered list. All arithmetic is exact Decimal (inexact results are trapped).
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal, Inexact, localcontext
from zoneinfo import ZoneInfo

from sqlalchemy import select

from ropilot.core.kpi.scope import closed_in, deal_source
from ropilot.core.motivation.models import CommissionPeriod, CommissionPlan, Tier
from ropilot.core.periods import Period, month, quarter, year_period
from ropilot.core.store import Store
from ropilot.core.store.schema import accounts, deals


@contextmanager
def _exact() -> Iterator[None]:
    """Decimal arithmetic that raises instead of rounding."""
    with localcontext() as ctx:
        ctx.prec = 80
        ctx.traps[Inexact] = True
        yield


# --------------------------------------------------------------------------- pure tier arithmetic


def step_tier(tiers: Sequence[Tier], base: Decimal) -> Tier:
    """The tier ``[from, to)`` containing ``base`` (a negative base counts as the first tier)."""
    for tier in tiers:
        if tier.contains(base):
            return tier
    return tiers[0]


def step_commission(tiers: Sequence[Tier], base: Decimal) -> Decimal:
    """Step commission: the whole ``base`` at the rate of the tier containing it."""
    with _exact():
        return base * step_tier(tiers, base).rate


@dataclass(frozen=True)
class Slice:
    """The part ``base`` of a deal's amount that falls in ``tier``, and what it pays."""

    tier: Tier
    base: Decimal
    commission: Decimal

    @property
    def rate(self) -> Decimal:
        """The tier's rate."""
        return self.tier.rate


def marginal_slices(tiers: Sequence[Tier], before: Decimal, amount: Decimal) -> tuple[Slice, ...]:
    """The slices of a deal of ``amount`` closed when attainment was ``before``.

    The deal covers ``[before, before + amount)``; each tier pays its rate on the overlap.
    A deal of 0 (or less: not expected from a CRM) gives one empty slice in the current tier.
    """
    if amount <= 0:
        return (Slice(step_tier(tiers, max(before, Decimal(0))), Decimal(0), Decimal(0)),)
    lo, hi = before, before + amount
    out = []
    with _exact():
        for tier in tiers:
            start = max(lo, tier.start)
            end = hi if tier.end is None else min(hi, tier.end)
            if end > start:
                part = end - start
                out.append(Slice(tier, part, part * tier.rate))
    return tuple(out)


def marginal_commission(tiers: Sequence[Tier], before: Decimal, amount: Decimal) -> Decimal:
    """Marginal commission of one deal of ``amount`` with ``before`` already attained."""
    return sum((s.commission for s in marginal_slices(tiers, before, amount)), Decimal(0))


# --------------------------------------------------------------------------- deals from the store


@dataclass(frozen=True)
class WonDeal:
    """A won deal behind a commission (lineage row)."""

    deal_id: str
    closed_at: datetime
    amount: Decimal | None
    currency: str | None

    @property
    def base(self) -> Decimal:
        """The amount counted in the base: an empty amount is 0."""
        return Decimal(0) if self.amount is None else self.amount


@dataclass(frozen=True)
class WonDeals:
    """A manager's won deals from ``start`` to the end of the statement period."""

    start: date
    """First day of the commission period containing the statement period's first day."""
    deals: tuple[WonDeal, ...]
    """In the account currency (or without one), in ``closed_at`` order, ties by id."""
    other_currencies: tuple[WonDeal, ...]
    """Won in another currency: excluded from the base, listed apart (same order)."""


def commission_period(day: date, kind: CommissionPeriod, zone: ZoneInfo) -> Period:
    """The month, quarter or year containing ``day``."""
    if kind == "month":
        return month(day.year, day.month, zone)
    if kind == "quarter":
        return quarter(day.year, (day.month - 1) // 3 + 1, zone)
    return year_period(day.year, zone)


def won_deals(
    store: Store, account_id: str, manager_id: str, period: Period, kind: CommissionPeriod
) -> WonDeals:
    """Won deals of ``manager_id`` (current responsible) closed from the start of the commission
    period containing ``period`` to the end of ``period``, ordered in SQL by closed_at then id.
    """
    start = commission_period(period.first_day, kind, period.zone).first_day
    window = Period(start, period.end_day, period.zone, f"{start}..{period.label}")
    currency = select(accounts.c.currency).where(accounts.c.id == account_id).scalar_subquery()
    in_currency = deals.c.currency.is_(None) | (deals.c.currency == currency)
    base = (
        select(deals.c.id, deals.c.closed_at, deals.c.amount, deals.c.currency)
        .select_from(deal_source())
        .where(closed_in(account_id, window, ("won",)), deals.c.responsible_id == manager_id)
        .order_by(deals.c.closed_at, deals.c.id)
    )
    with store.engine.connect() as conn:
        mine, other = (
            tuple(
                WonDeal(r["id"], r["closed_at"], r["amount"], r["currency"])
                for r in conn.execute(base.where(cond)).mappings()
            )
            for cond in (in_currency, ~in_currency)
        )
    return WonDeals(start, mine, other)


# --------------------------------------------------------------------------- breakdown


@dataclass(frozen=True)
class DealCommission:
    """One deal's commission: its slices, the attainment around it, whether this period pays it."""

    deal: WonDeal
    commission_period: str
    attainment_before: Decimal
    attainment_after: Decimal
    slices: tuple[Slice, ...]
    paid: bool
    """False for a deal closed before the statement period: it only carries attainment."""

    @property
    def commission(self) -> Decimal:
        """Σ slices, exact."""
        return sum((s.commission for s in self.slices), Decimal(0))


@dataclass(frozen=True)
class StepAdjustment:
    """Step true-up: the base carried into the statement period moves to a new tier's rate."""

    commission_period: str
    carried_base: Decimal
    old_rate: Decimal
    new_rate: Decimal

    @property
    def amount(self) -> Decimal:
        """Carried base × (new rate − old rate), exact."""
        with _exact():
            return self.carried_base * (self.new_rate - self.old_rate)


@dataclass(frozen=True)
class CommissionResult:
    """The commission of one statement period with everything behind it."""

    plan: CommissionPlan
    period: Period
    deals: tuple[DealCommission, ...]
    """Every won deal in the account currency since the commission period start, in order."""
    adjustments: tuple[StepAdjustment, ...]
    other_currencies: tuple[WonDeal, ...]

    @property
    def paid(self) -> tuple[DealCommission, ...]:
        """The deals this statement period pays."""
        return tuple(d for d in self.deals if d.paid)

    @property
    def total(self) -> Decimal:
        """Exact commission of the statement period (paid deals + step true-ups)."""
        deals_sum = sum((d.commission for d in self.paid), Decimal(0))
        return deals_sum + sum((a.amount for a in self.adjustments), Decimal(0))


def commission_breakdown(
    plan: CommissionPlan,
    period: Period,
    deals_in_order: Sequence[WonDeal],
    other_currencies: Sequence[WonDeal] = (),
) -> CommissionResult:
    """Per-deal commission of ``period`` from the ordered won deals (see the module docstring).

    ``deals_in_order`` are the deals in the account currency from the start of the commission
    period containing ``period`` to its end, in closed_at order with ties by id (as
    :func:`won_deals` returns them); attainment restarts at each commission period.
    """
    zone = period.zone
    groups: dict[str, list[WonDeal]] = {}
    for deal in deals_in_order:
        local_day = deal.closed_at.astimezone(zone).date()
        groups.setdefault(commission_period(local_day, plan.period, zone).label, []).append(deal)
    out: list[DealCommission] = []
    adjustments: list[StepAdjustment] = []
    for label, group in groups.items():
        with _exact():
            carried = [d for d in group if d.closed_at < period.start]
            b_start = sum((d.base for d in carried), Decimal(0))
            b_end = sum((d.base for d in group), Decimal(0))
        attained = Decimal(0)
        start_tier, end_tier = step_tier(plan.tiers, b_start), step_tier(plan.tiers, b_end)
        for deal in group:
            paid = deal.closed_at >= period.start
            if plan.kind == "marginal":
                slices = marginal_slices(plan.tiers, attained, deal.base)
            else:
                tier = end_tier if paid else start_tier
                with _exact():
                    slices = (Slice(tier, deal.base, deal.base * tier.rate),)
            with _exact():
                after = attained + deal.base
            out.append(DealCommission(deal, label, attained, after, slices, paid))
            attained = after
        if plan.kind == "step" and b_start != 0 and start_tier.rate != end_tier.rate:
            adjustments.append(StepAdjustment(label, b_start, start_tier.rate, end_tier.rate))
    return CommissionResult(plan, period, tuple(out), tuple(adjustments), tuple(other_currencies))


def commission(
    store: Store, account_id: str, manager_id: str, period: Period, plan: CommissionPlan
) -> CommissionResult:
    """The commission ``manager_id`` earns in ``period`` under ``plan``, deal by deal."""
    found = won_deals(store, account_id, manager_id, period, plan.period)
    return commission_breakdown(plan, period, found.deals, found.other_currencies)
