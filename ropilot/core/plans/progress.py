"""Plan vs fact as of a date, per manager and for the company.

Follows sales_definitions.md ("as of T includes T"; ratios with a zero denominator are None).
Conventions this module fixes:

* ``as_of`` is a calendar day of the account's zone and counts as elapsed: the fact covers
  ``[period start, as_of + 1 day)`` (cut to the period), expected-by-now sums the day-level plan
  (``dayplan``) of the working days up to and including ``as_of``.
* Fact: revenue (account currency) and won deals from ``kpi.outcomes`` (deals closed won in the
  window, attributed to the current responsible); calls, meetings and offers from
  ``kpi.activity`` (activities of types call / meeting / offer done by the manager). Units and
  new clients have no fact in the store: asking for them is an error.
* A manager's plan is their ``manager:<id>`` lines over their personal calendar (absent days
  get nothing); the company's is the ``company`` lines over the production calendar.
* attainment = fact ÷ plan; pace = fact ÷ expected-by-now; gap = fact − expected-by-now
  (negative: behind); remaining = plan − fact.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from datetime import date, timedelta
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import select

from ropilot.core.calendar import PersonalCalendar
from ropilot.core.errors import ConfigurationError
from ropilot.core.kpi.scope import account_zone, closed_in, deal_source
from ropilot.core.periods import Period
from ropilot.core.plans.cascade import ACTIVITY_METRICS, absences_of, history_by
from ropilot.core.plans.dayplan import plan_for
from ropilot.core.plans.models import METRICS, PlanDocument, PlanLine, period_of
from ropilot.core.plans.seasonal import PRODUCTION
from ropilot.core.store import Store
from ropilot.core.store.schema import accounts, deals, stages

FACT_METRICS = ("revenue", "won_deals", *ACTIVITY_METRICS)


def as_period(period: Period | str, zone: ZoneInfo) -> Period:
    """A period from a Period or a plan label."""
    return period if isinstance(period, Period) else period_of(period, zone)


def elapsed_window(period: Period, as_of: date) -> Period:
    """``[period start, as_of + 1 day)`` cut to the period (empty before it starts)."""
    end = min(max(as_of + timedelta(days=1), period.first_day), period.end_day)
    return Period(period.first_day, end, period.zone, f"{period.label} as of {as_of}")


@dataclass(frozen=True)
class ProgressRow:
    """Plan vs fact of one manager (``keys`` {"manager": id}) or of the company (``{}``)."""

    keys: dict[str, str | None]
    metric: str
    period: str
    as_of: date
    plan: Decimal | None
    """None: the plan has no line for this scope and period."""
    fact: Decimal
    expected: Decimal | None
    """Expected by now: the plan of the working days up to ``as_of`` included."""
    working_days: int
    elapsed_working_days: int
    days: dict[date, Decimal] = field(default_factory=dict, compare=False, repr=False)
    """The day-level plan behind ``plan`` and ``expected``."""

    @property
    def attainment(self) -> Decimal | None:
        """Fact ÷ plan."""
        return None if not self.plan else self.fact / self.plan

    @property
    def pace(self) -> Decimal | None:
        """Fact ÷ expected-by-now."""
        return None if not self.expected else self.fact / self.expected

    @property
    def gap(self) -> Decimal | None:
        """Fact − expected-by-now (negative: behind the plan's pace)."""
        return None if self.expected is None else self.fact - self.expected

    @property
    def remaining(self) -> Decimal | None:
        """Plan − fact (negative when the plan is exceeded)."""
        return None if self.plan is None else self.plan - self.fact


def _check_metric(metric: str) -> None:
    if metric not in FACT_METRICS:
        if metric in METRICS:
            raise ConfigurationError(
                f"{metric}: the store has no fact for it; progress works for "
                f"{', '.join(FACT_METRICS)}"
            )
        raise ConfigurationError(f"metric {metric!r}: use {', '.join(FACT_METRICS)}")


def _row(
    keys: dict[str, str | None],
    document: PlanDocument,
    scope: str,
    metric: str,
    period: Period,
    as_of: date,
    fact: Decimal,
    calendar: PersonalCalendar,
) -> ProgressRow:
    plan = plan_for(document, scope, metric, period, calendar=calendar)
    work = calendar.working_days(period.first_day, period.end_day)
    elapsed = [d for d in work if d <= as_of]
    expected = None
    if plan is not None:
        expected = sum((v for d, v in plan.days.items() if d <= as_of), Decimal(0))
    return ProgressRow(
        keys,
        metric,
        period.label,
        as_of,
        None if plan is None else plan.value,
        fact,
        expected,
        len(work),
        len(elapsed),
        {} if plan is None else plan.days,
    )


def progress(
    store: Store,
    account_id: str,
    document: PlanDocument,
    metric: str,
    period: Period | str,
    as_of: date,
) -> list[ProgressRow]:
    """Plan vs fact for the company (first row) and every manager with a plan line for the
    metric or a fact in the period (then by id).

    Raises:
        ConfigurationError: for a metric without a fact in the store, or an unknown account.
    """
    _check_metric(metric)
    zone = account_zone(store, account_id)
    p = as_period(period, zone)
    window = elapsed_window(p, as_of)
    if window.first_day < window.end_day:
        facts = history_by(store, account_id, window, "manager", metric)
        company = history_by(store, account_id, window, None, metric).get("", Decimal(0))
    else:
        facts, company = {}, Decimal(0)
    planned = {
        ln.scope.partition(":")[2]
        for ln in document.targets
        if ln.metric == metric and ln.scope.startswith("manager:")
    }
    managers = sorted(planned | set(facts))
    calendars = absences_of(store, account_id, managers)
    rows = [_row({}, document, "company", metric, p, as_of, company, PRODUCTION)]
    for m in managers:
        rows.append(
            _row(
                {"manager": m},
                document,
                f"manager:{m}",
                metric,
                p,
                as_of,
                facts.get(m, Decimal(0)),
                calendars[m],
            )
        )
    return rows


@dataclass(frozen=True)
class ProgressLineage:
    """What one progress row is made of: plan lines used, the day plan, the fact's records."""

    plan_lines: tuple[PlanLine, ...]
    days: list[tuple[date, Decimal, bool]]
    """(day, planned value, elapsed as of the date)."""
    records: list[dict[str, Any]]
    """Won deals (id, amount, currency, closed_at, responsible_id) or activities."""


def explain_progress(
    store: Store,
    account_id: str,
    document: PlanDocument,
    metric: str,
    period: Period | str,
    as_of: date,
    manager: str | None = None,
) -> ProgressLineage:
    """The lineage of one row of :func:`progress` (the company's when ``manager`` is None)."""
    _check_metric(metric)
    zone = account_zone(store, account_id)
    p = as_period(period, zone)
    window = elapsed_window(p, as_of)
    scope = "company" if manager is None else f"manager:{manager}"
    calendar = PRODUCTION if manager is None else absences_of(store, account_id, [manager])[manager]
    plan = plan_for(document, scope, metric, p, calendar=calendar)
    days = [] if plan is None else [(d, v, d <= as_of) for d, v in plan.days.items()]
    records: list[dict[str, Any]] = []
    if window.first_day < window.end_day:
        if metric in ACTIVITY_METRICS:
            from ropilot.core.kpi.activity import activity_lineage

            keys = {} if manager is None else {"manager": manager}
            kind = ACTIVITY_METRICS[metric]
            found = activity_lineage(store, account_id, window, keys, types=(kind,))
            records = [asdict(a) for a in found]
        else:
            records = won_deals(store, account_id, window, manager)
    return ProgressLineage(() if plan is None else plan.lines, days, records)


def won_deals(
    store: Store, account_id: str, period: Period, manager: str | None = None
) -> list[dict[str, Any]]:
    """Deals won in the period (the records behind revenue and won deals), by closing time.

    ``in_currency`` tells whether the amount counts in revenue (account currency or none).
    """
    currency = select(accounts.c.currency).where(accounts.c.id == account_id).scalar_subquery()
    where = [closed_in(account_id, period, ("won",))]
    if manager is not None:
        where.append(deals.c.responsible_id == manager)
    stmt = (
        select(
            deals.c.id,
            deals.c.amount,
            deals.c.currency,
            deals.c.closed_at,
            deals.c.responsible_id,
            stages.c.id.label("stage_id"),
            (deals.c.currency.is_(None) | (deals.c.currency == currency)).label("in_currency"),
        )
        .select_from(deal_source())
        .where(*where)
        .order_by(deals.c.closed_at, deals.c.id)
    )
    with store.engine.connect() as conn:
        return [dict(r) for r in conn.execute(stmt).mappings()]
