"""The reverse funnel of a plan (sales_definitions.md, "Plans"), with conversions from history.

From a revenue target back to the daily activity that reaches it, carrying exact values and
rounding up only for display::

    won deals = revenue ÷ average check
    offers    = won ÷ conv(offer→won)
    meetings  = offers ÷ conv(meeting→offer)
    calls     = meetings ÷ conv(call→meeting)
    per day   = calls ÷ working days

Example (the definitions'): 5,000,000 at an average check of 200,000 with 30 %, 60 %, 10 % →
25 → 83.3 → 138.9 → 1,388.9, shown as 1,389 calls. Exact values are ``Fraction`` (rational, so
83⅓ stays 83⅓ through the chain); ``display`` is the value rounded up to a whole number, ``approx``
the value to one decimal, half up, for showing the arithmetic.

Conventions this module fixes (labelled in the output):

* **History**: outcomes (won deals) are counted in a window W — deals whose current stage is won
  with ``closed_at`` in W, attributed to the current responsible and that manager's current team
  (``kpi.outcomes`` rules; deals in another currency count as won deals but stay out of the
  average check). Activities (``offer``, ``meeting``, ``call`` from the activities table, by
  ``manager_id``) are counted in W **shifted earlier by the cycle length**: the account's median
  sales cycle over deals won in W (``kpi.cycle``), rounded to whole days **half up** (10.5 → 11),
  unless a cycle is given. One shift for everyone, so a manager's, team's and company's counts
  come from the same windows. No deal won in W → no shift (0 days), said in ``cycle_source``.
* **Conversions**: offer→won = won deals ÷ offers; meeting→offer = offers ÷ meetings;
  call→meeting = meetings ÷ calls, all offers/meetings/calls from the same shifted window.
* **Shrinkage** (empirical Bayes / credibility weighting): a manager's rate is
  ``(x + k·p_team) ÷ (n + k)``: the own successes x of n trials plus k pseudo-trials at the
  team's rate. With k = 20 (the default) a manager with 20 trials gets half their own rate and
  half the team's; with 200, 91 % their own. The team's rate is shrunk the same way towards the
  company's raw rate (k_team, default 20); a manager without a team is shrunk to the company's.
  A manager with no history gets the team's rate. A company plan uses the company's raw rate.
  Rates above 1 (more won deals than offers) are clamped to 1; a rate of 0 or one without any
  trials anywhere is ``None`` and the funnel says why it cannot compute that step.
* **Average check** = revenue ÷ won deals in the account currency (empty amounts count in the
  denominator), shrunk the same way with k = 5 won deals by default:
  ``(revenue + k·check_team) ÷ (won + k)``; the team's towards the company's; or given.
* **Working days**: the Russian production calendar (``core.calendar``) minus the manager's
  absences (``managers.absences``: ``{start, end}``, both days included).

Counting is done in SQL (aggregates grouped by manager and team); shrinkage is arithmetic in
Python over those few aggregate rows. ``explain_activities`` / ``explain_won`` return the records
behind every count, filtered from the same facts selects.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from decimal import ROUND_CEILING, ROUND_FLOOR, ROUND_HALF_UP, Decimal
from fractions import Fraction
from typing import Any

from pydantic import TypeAdapter, ValidationError
from sqlalchemy import ColumnElement, and_, case, func, select
from sqlalchemy.sql.functions import coalesce

from ropilot.core.calendar import PersonalCalendar, count_working_days
from ropilot.core.errors import ConfigurationError
from ropilot.core.kpi.cycle import sales_cycle
from ropilot.core.kpi.scope import closed_in, deal_source
from ropilot.core.models import Absence
from ropilot.core.periods import Period
from ropilot.core.store import Store
from ropilot.core.store.schema import accounts, activities, deals, managers
from ropilot.core.store.types import Money

Number = int | Decimal | Fraction

FUNNEL_ACTIVITIES = ("offer", "meeting", "call")
"""Activity types the funnel counts, from the bottom of the funnel up."""

STEPS = ("offer_won", "meeting_offer", "call_meeting")
"""The three conversions, bottom up."""

LABELS = {
    "offer_won": "offer→won",
    "meeting_offer": "meeting→offer",
    "call_meeting": "call→meeting",
}
_TRIALS = {"offer_won": "offers", "meeting_offer": "meetings", "call_meeting": "calls"}
_SUCCESSES = {"offer_won": "won deals", "meeting_offer": "offers", "call_meeting": "meetings"}

DEFAULT_K = 20
DEFAULT_CHECK_K = 5

_ABSENCES: TypeAdapter[list[Absence]] = TypeAdapter(list[Absence])


def _frac(value: Number) -> Fraction:
    return value if isinstance(value, Fraction) else Fraction(value)


def _places(value: Fraction, places: int, rounding: str) -> Decimal:
    """``value`` as a Decimal to ``places`` decimals with ``rounding`` (exact before rounding)."""
    quantum = Decimal(1).scaleb(-places)
    scaled = value * 10**places
    if rounding == ROUND_CEILING:
        whole = math.ceil(scaled)
    elif rounding == ROUND_FLOOR:
        whole = math.floor(scaled)
    else:  # half up (away from zero for the positive values met here)
        whole = math.floor(scaled + Fraction(1, 2))
    return (Decimal(whole) * quantum).quantize(quantum)


# -- results -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Step:
    """One step of the reverse funnel: its exact value, or None with the reason."""

    name: str
    exact: Fraction | None
    reason: str | None = None

    @property
    def display(self) -> int | None:
        """The value rounded up to a whole number (what a plan shows: 1,388.9 → 1,389)."""
        return None if self.exact is None else math.ceil(self.exact)

    @property
    def approx(self) -> Decimal | None:
        """The value to one decimal, half up (83⅓ → 83.3), for showing the arithmetic."""
        return None if self.exact is None else _places(self.exact, 1, ROUND_HALF_UP)


@dataclass(frozen=True)
class ReverseFunnel:
    """Revenue target → won deals → offers → meetings → calls → per working day."""

    revenue: Fraction
    average_check: Fraction | None
    conversions: dict[str, Fraction | None]
    """``offer_won``, ``meeting_offer``, ``call_meeting``."""
    working_days: int
    won: Step
    offers: Step
    meetings: Step
    calls: Step
    calls_per_day: Step
    meetings_per_day: Step
    offers_per_day: Step

    @property
    def steps(self) -> tuple[Step, ...]:
        """The chain in order, per-day calls last."""
        return (self.won, self.offers, self.meetings, self.calls, self.calls_per_day)

    @property
    def per_day(self) -> dict[str, Step]:
        """Required activity per working day by activity (``calls``, ``meetings``, ``offers``)."""
        return {
            "calls": self.calls_per_day,
            "meetings": self.meetings_per_day,
            "offers": self.offers_per_day,
        }

    @property
    def complete(self) -> bool:
        """Whether every step could be computed."""
        return all(s.exact is not None for s in self.steps)


@dataclass(frozen=True)
class Evidence:
    """Counts behind a rate at one level: ``successes`` of ``trials``."""

    successes: int
    trials: int

    @property
    def rate(self) -> Fraction | None:
        """The raw rate, None without trials."""
        return None if self.trials == 0 else Fraction(self.successes, self.trials)


@dataclass(frozen=True)
class Conversion:
    """A conversion and where it came from (own, team and company counts, shrinkage)."""

    step: str
    """``offer_won``, ``meeting_offer`` or ``call_meeting``."""
    level: str
    """Whose rate it is: ``manager``, ``team``, ``company`` or ``given``."""
    own: Evidence | None
    """The counts of the manager (or team, for a team plan); None for company and given."""
    team_id: str | None
    team: Evidence | None
    team_rate: Fraction | None
    """The team's rate shrunk towards the company's (the prior of a manager in that team)."""
    company: Evidence | None
    company_rate: Fraction | None
    prior_strength: Fraction
    """k of the last shrinkage applied (manager → team, or team → company)."""
    shrunk: Fraction | None
    """The shrunk rate before clamping."""
    rate: Fraction | None
    """The rate the funnel uses: shrunk, clamped to (0, 1]; None when it cannot be used."""
    clamped: bool = False
    reason: str | None = None

    @property
    def label(self) -> str:
        return LABELS[self.step]

    @property
    def own_n(self) -> int | None:
        return None if self.own is None else self.own.trials

    @property
    def own_rate(self) -> Fraction | None:
        return None if self.own is None else self.own.rate

    @property
    def percent(self) -> Decimal | None:
        """The rate in percent to one decimal, half up."""
        return None if self.rate is None else _places(self.rate * 100, 1, ROUND_HALF_UP)


@dataclass(frozen=True)
class CheckEvidence:
    """Won deals in the account currency and their revenue, at one level."""

    won: int
    revenue: Decimal

    @property
    def check(self) -> Fraction | None:
        return None if self.won == 0 else Fraction(self.revenue) / self.won


@dataclass(frozen=True)
class AverageCheck:
    """The average check the funnel uses and where it came from."""

    level: str
    own: CheckEvidence | None
    team_id: str | None
    team: CheckEvidence | None
    team_check: Fraction | None
    company: CheckEvidence | None
    company_check: Fraction | None
    prior_strength: Fraction
    value: Fraction | None
    reason: str | None = None

    @property
    def display(self) -> Decimal | None:
        """To the kopeck, half up."""
        return None if self.value is None else _places(self.value, 2, ROUND_HALF_UP)


@dataclass(frozen=True)
class PlanFunnel:
    """A plan's reverse funnel with the provenance of every input."""

    keys: dict[str, str | None]
    """``{"manager": id}``, ``{"team": id}`` or ``{}`` for the company."""
    period: Period
    history: Period
    activity_window: Period
    cycle_days: int
    cycle_source: str
    working_days: int
    absent_days: int
    """Working days of the period the manager is absent (already taken out)."""
    conversions: dict[str, Conversion]
    average_check: AverageCheck
    funnel: ReverseFunnel


# -- the pure reverse funnel -------------------------------------------------------------------


def _check_rate(name: str, value: Number | None) -> Fraction | None:
    if value is None:
        return None
    rate = _frac(value)
    if not 0 < rate <= 1:
        raise ConfigurationError(
            f"conversion {name} = {value} is outside (0, 1]: give it as a fraction (0.3 for 30 %)"
        )
    return rate


def reverse_funnel(
    revenue: Number,
    average_check: Number | None,
    offer_won: Number | None,
    meeting_offer: Number | None,
    call_meeting: Number | None,
    working_days: int,
) -> ReverseFunnel:
    """The reverse funnel from explicit inputs (conversions as fractions: 0.3 for 30 %).

    A None input leaves the steps that need it None with a reason.

    Raises:
        ConfigurationError: for a negative revenue, a check ≤ 0, a conversion outside (0, 1] or
            negative working days.
    """
    if average_check is not None and _frac(average_check) <= 0:
        raise ConfigurationError(f"average check {average_check} must be positive")
    convs = {
        "offer_won": _check_rate("offer→won", offer_won),
        "meeting_offer": _check_rate("meeting→offer", meeting_offer),
        "call_meeting": _check_rate("call→meeting", call_meeting),
    }
    reasons = {s: f"conversion {LABELS[s]} not given" for s in STEPS if convs[s] is None}
    check = None if average_check is None else _frac(average_check)
    return _chain(
        _frac(revenue),
        check,
        None if check is not None else "average check not given",
        convs,
        reasons,
        working_days,
    )


def _chain(
    revenue: Fraction,
    check: Fraction | None,
    check_reason: str | None,
    convs: Mapping[str, Fraction | None],
    reasons: Mapping[str, str],
    working_days: int,
) -> ReverseFunnel:
    if revenue < 0:
        raise ConfigurationError(f"revenue target {revenue} must not be negative")
    if working_days < 0:
        raise ConfigurationError(f"working days {working_days} must not be negative")

    def divide(name: str, prev: Step, by: Fraction | None, why: str | None) -> Step:
        if prev.exact is None:
            return Step(name, None, prev.reason)
        if by is None:
            return Step(name, None, why)
        return Step(name, prev.exact / by)

    start = Step("revenue", revenue)
    won = divide("won", start, check, f"average check unknown: {check_reason}")
    offers = divide("offers", won, convs["offer_won"], reasons.get("offer_won"))
    meetings = divide("meetings", offers, convs["meeting_offer"], reasons.get("meeting_offer"))
    calls = divide("calls", meetings, convs["call_meeting"], reasons.get("call_meeting"))
    days = Fraction(working_days) if working_days else None
    no_days = "no working days in the period (holidays and absences cover it)"
    return ReverseFunnel(
        revenue=revenue,
        average_check=check,
        conversions=dict(convs),
        working_days=working_days,
        won=won,
        offers=offers,
        meetings=meetings,
        calls=calls,
        calls_per_day=divide("calls_per_day", calls, days, no_days),
        meetings_per_day=divide("meetings_per_day", meetings, days, no_days),
        offers_per_day=divide("offers_per_day", offers, days, no_days),
    )


# -- headcount, load, feasibility --------------------------------------------------------------


def _norms(norms: Mapping[str, Number]) -> dict[str, Fraction]:
    out = {}
    for activity, norm in norms.items():
        if activity not in ("calls", "meetings", "offers"):
            raise ConfigurationError(f"activity norm {activity!r}: use calls, meetings or offers")
        if _frac(norm) <= 0:
            raise ConfigurationError(f"the {activity} norm per day must be positive, not {norm}")
        out[activity] = _frac(norm)
    return out


@dataclass(frozen=True)
class Headcount:
    """Managers needed for one activity: required per working day ÷ the norm per manager."""

    activity: str
    required_per_day: Fraction | None
    norm: Fraction
    exact: Fraction | None
    reason: str | None = None

    @property
    def display(self) -> int | None:
        """Rounded up: 1.01 managers means 2."""
        return None if self.exact is None else math.ceil(self.exact)


def headcount(funnel: ReverseFunnel, norms: Mapping[str, Number]) -> list[Headcount]:
    """Headcount needed for a (company) plan per activity norm, e.g. ``{"calls": 40}``.

    The plan needs the largest of the lines (``needed_headcount``).

    Raises:
        ConfigurationError: for an unknown activity or a norm ≤ 0.
    """
    out = []
    for activity, norm in _norms(norms).items():
        step = funnel.per_day[activity]
        exact = None if step.exact is None else step.exact / norm
        out.append(Headcount(activity, step.exact, norm, exact, step.reason))
    return out


def needed_headcount(lines: Sequence[Headcount]) -> int | None:
    """The most managers any activity needs (rounded up); None when a line cannot be computed."""
    if not lines or any(line.display is None for line in lines):
        return None
    return max(line.display or 0 for line in lines)


@dataclass(frozen=True)
class Load:
    """A manager's required activity per working day against the norm."""

    activity: str
    required_per_day: Fraction | None
    norm: Fraction
    ratio: Fraction | None
    reason: str | None = None

    @property
    def percent(self) -> int | None:
        """Load in percent, rounded up (1.0001 → 101 %)."""
        return None if self.ratio is None else math.ceil(self.ratio * 100)

    @property
    def over_norm(self) -> bool | None:
        return None if self.ratio is None else self.ratio > 1


def load(funnel: ReverseFunnel, norms: Mapping[str, Number]) -> list[Load]:
    """Load vs norm per activity for one manager's funnel.

    Raises:
        ConfigurationError: for an unknown activity or a norm ≤ 0.
    """
    out = []
    for activity, norm in _norms(norms).items():
        step = funnel.per_day[activity]
        ratio = None if step.exact is None else step.exact / norm
        out.append(Load(activity, step.exact, norm, ratio, step.reason))
    return out


@dataclass(frozen=True)
class Feasibility:
    """Required coverage (1 ÷ win rate) against actual (open pipeline ÷ remaining plan)."""

    win_rate: Fraction | None
    open_pipeline: Decimal
    remaining_plan: Decimal
    required: Fraction | None
    actual: Fraction | None
    verdict: str
    """``ok``, ``short`` or ``unknown``."""
    short_by: Fraction | None = None
    """Coverage missing (required − actual), when short."""
    short_by_amount: Fraction | None = None
    """Pipeline missing: remaining plan × required coverage − open pipeline, when short."""
    reason: str | None = None

    @property
    def required_display(self) -> Decimal | None:
        """Rounded up to 0.01 (22 % → 4.55×)."""
        return None if self.required is None else _places(self.required, 2, ROUND_CEILING)

    @property
    def actual_display(self) -> Decimal | None:
        """Rounded down to 0.01, so the shown figures never look better than they are."""
        return None if self.actual is None else _places(self.actual, 2, ROUND_FLOOR)

    def __str__(self) -> str:
        if self.verdict == "short" and self.short_by is not None:
            amount = _places(self.short_by_amount or Fraction(0), 2, ROUND_CEILING)
            gap = _places(self.short_by, 2, ROUND_CEILING)
            return f"short by {gap}× ({amount} of pipeline)"
        return self.verdict if self.reason is None else f"{self.verdict}: {self.reason}"


def feasibility(
    win_rate: Number | None, open_pipeline: Decimal, remaining_plan: Decimal
) -> Feasibility:
    """Whether the open pipeline due in the period covers the remaining plan at this win rate.

    ``win_rate`` as a fraction (0.22), ``open_pipeline`` and ``remaining_plan`` in the account
    currency (both taken as inputs: coverage itself is ``kpi.forecast``'s).

    Raises:
        ConfigurationError: for a win rate outside [0, 1] or a negative pipeline.
    """
    rate = None if win_rate is None else _frac(win_rate)
    if rate is not None and not 0 <= rate <= 1:
        raise ConfigurationError(f"win rate {win_rate} is outside [0, 1]: give 0.22 for 22 %")
    if open_pipeline < 0:
        raise ConfigurationError(f"open pipeline {open_pipeline} must not be negative")
    pipeline, remaining = Fraction(open_pipeline), Fraction(remaining_plan)
    required = None if not rate else 1 / rate
    actual = None if remaining <= 0 else pipeline / remaining

    def made(verdict: str, **kw: Any) -> Feasibility:
        return Feasibility(
            rate, open_pipeline, remaining_plan, required, actual, verdict=verdict, **kw
        )

    if remaining <= 0:
        return made("ok", reason="the plan is already met")
    if required is None:
        why = "no win rate" if rate is None else "the win rate is 0: no deal was won"
        return made("unknown", reason=f"{why}, so the required coverage is unknown")
    assert actual is not None
    if actual >= required:
        return made("ok")
    return made(
        "short", short_by=required - actual, short_by_amount=remaining * required - pipeline
    )


# -- history -----------------------------------------------------------------------------------


def shifted(window: Period, days: int) -> Period:
    """``window`` moved ``days`` earlier (local midnights of the same zone)."""
    first = window.first_day - timedelta(days=days)
    end = window.end_day - timedelta(days=days)
    last = end - timedelta(days=1)
    return Period(first, end, window.zone, f"{first.isoformat()}..{last.isoformat()}")


def activity_facts(account_id: str, window: Period) -> Any:
    """One row per funnel activity (offer, meeting, call) in ``window``, with manager and team."""
    return (
        select(
            activities.c.id.label("activity_id"),
            activities.c.type.label("type"),
            activities.c.at.label("at"),
            activities.c.deal_id.label("deal_id"),
            activities.c.manager_id.label("manager"),
            managers.c.team_id.label("team"),
        )
        .select_from(
            activities.outerjoin(
                managers,
                and_(
                    managers.c.account_id == activities.c.account_id,
                    managers.c.id == activities.c.manager_id,
                ),
            )
        )
        .where(
            activities.c.account_id == account_id,
            activities.c.type.in_(FUNNEL_ACTIVITIES),
            activities.c.at >= window.start,
            activities.c.at < window.end,
        )
    )


def won_facts(account_id: str, window: Period) -> Any:
    """One row per deal won in ``window`` (current stage kind, ``closed_at``), current responsible
    and team, with whether its amount is in the account currency.
    """
    currency = select(accounts.c.currency).where(accounts.c.id == account_id).scalar_subquery()
    in_currency = deals.c.currency.is_(None) | (deals.c.currency == currency)
    return (
        select(
            deals.c.id.label("deal_id"),
            deals.c.responsible_id.label("manager"),
            managers.c.team_id.label("team"),
            deals.c.amount.label("amount"),
            deals.c.currency.label("currency"),
            case((in_currency, 1), else_=0).label("in_currency"),
            deals.c.created_at.label("created_at"),
            deals.c.closed_at.label("closed_at"),
        )
        .select_from(deal_source())
        .where(closed_in(account_id, window, ("won",)))
    )


@dataclass(frozen=True)
class _Counts:
    calls: int = 0
    meetings: int = 0
    offers: int = 0
    won: int = 0
    won_in_currency: int = 0
    revenue: Decimal = Decimal(0)

    def __add__(self, other: _Counts) -> _Counts:
        return _Counts(
            self.calls + other.calls,
            self.meetings + other.meetings,
            self.offers + other.offers,
            self.won + other.won,
            self.won_in_currency + other.won_in_currency,
            self.revenue + other.revenue,
        )

    def evidence(self, step: str) -> Evidence:
        if step == "offer_won":
            return Evidence(self.won, self.offers)
        if step == "meeting_offer":
            return Evidence(self.offers, self.meetings)
        return Evidence(self.meetings, self.calls)

    @property
    def check(self) -> CheckEvidence:
        return CheckEvidence(self.won_in_currency, self.revenue)


@dataclass(frozen=True)
class _Manager:
    team: str | None
    absences: tuple[tuple[date, date], ...]


@dataclass(frozen=True)
class FunnelHistory:
    """Funnel counts of a history window, aggregated by manager (and summed to team, company)."""

    account_id: str
    history: Period
    activity_window: Period
    cycle_days: int
    cycle_source: str
    by_manager: dict[str | None, _Counts] = field(repr=False)
    by_team: dict[str | None, _Counts] = field(repr=False)
    company: _Counts = field(repr=False)
    roster: dict[str, _Manager] = field(repr=False)

    def _team_of(self, manager: str) -> str | None:
        if manager not in self.roster:
            raise ConfigurationError(
                f"manager {manager!r} is not in account {self.account_id!r}: "
                "check the id (ropilot import loads managers.csv)"
            )
        return self.roster[manager].team

    def _scope(self, manager: str | None, team: str | None) -> str | None:
        """The team whose rate is the prior (the manager's team, or the team planned)."""
        if manager is not None:
            return self._team_of(manager)
        if team is not None and team not in {m.team for m in self.roster.values()}:
            raise ConfigurationError(
                f"team {team!r} has no managers in account {self.account_id!r}: check the id"
            )
        return team

    def conversions(
        self,
        *,
        manager: str | None = None,
        team: str | None = None,
        k: Number = DEFAULT_K,
        k_team: Number = DEFAULT_K,
    ) -> dict[str, Conversion]:
        """The three conversions of a manager, a team, or (neither given) the company.

        Raises:
            ConfigurationError: for an unknown manager or a negative k.
        """
        kk, kt = _strength(k), _strength(k_team)
        team_id = self._scope(manager, team)
        out = {}
        for step in STEPS:
            company = self.company.evidence(step)
            company_rate = company.rate
            team_ev = (
                None if team_id is None else self.by_team.get(team_id, _Counts()).evidence(step)
            )
            team_rate = company_rate if team_ev is None else _shrink(team_ev, company_rate, kt)
            own: Evidence | None
            if manager is not None:
                mine = self.by_manager.get(manager, _Counts()).evidence(step)
                level, own, shrunk, strength = "manager", mine, _shrink(mine, team_rate, kk), kk
            elif team is not None:
                level, own, shrunk, strength = "team", team_ev, team_rate, kt
            else:
                level, own, shrunk, strength = "company", None, company_rate, Fraction(0)
            rate, clamped, reason = _usable(step, shrunk, own or company, self.activity_window)
            out[step] = Conversion(
                step=step,
                level=level,
                own=own,
                team_id=team_id,
                team=team_ev,
                team_rate=None if team_id is None else team_rate,
                company=company,
                company_rate=company_rate,
                prior_strength=strength,
                shrunk=shrunk,
                rate=rate,
                clamped=clamped,
                reason=reason,
            )
        return out

    def average_check(
        self,
        *,
        manager: str | None = None,
        team: str | None = None,
        k: Number = DEFAULT_CHECK_K,
        k_team: Number = DEFAULT_CHECK_K,
    ) -> AverageCheck:
        """The average check of a manager, a team or the company, shrunk like the conversions.

        Raises:
            ConfigurationError: for an unknown manager or a negative k.
        """
        kk, kt = _strength(k), _strength(k_team)
        team_id = self._scope(manager, team)
        company = self.company.check
        company_check = company.check
        team_ev = None if team_id is None else self.by_team.get(team_id, _Counts()).check
        team_check = company_check if team_ev is None else _shrink_check(team_ev, company_check, kt)
        own: CheckEvidence | None
        if manager is not None:
            mine = self.by_manager.get(manager, _Counts()).check
            level, own, value, strength = "manager", mine, _shrink_check(mine, team_check, kk), kk
        elif team is not None:
            level, own, value, strength = "team", team_ev, team_check, kt
        else:
            level, own, value, strength = "company", None, company_check, Fraction(0)
        reason = None
        if value is None:
            reason = f"no deal won in the account currency in {self.history.label}"
        elif value <= 0:
            value, reason = None, f"deals won in {self.history.label} have no amounts (check 0)"
        return AverageCheck(
            level=level,
            own=own,
            team_id=team_id,
            team=team_ev,
            team_check=None if team_id is None else team_check,
            company=company,
            company_check=company_check,
            prior_strength=strength,
            value=value,
            reason=reason,
        )

    def working_days(self, period: Period, manager: str | None = None) -> tuple[int, int]:
        """(working days, absent working days) of ``period`` for a manager or the calendar."""
        all_days = count_working_days(period.first_day, period.end_day)
        if manager is None:
            return all_days, 0
        self._team_of(manager)
        cal = PersonalCalendar.of(self.roster[manager].absences)
        mine = len(cal.working_days(period.first_day, period.end_day))
        return mine, all_days - mine


def _strength(k: Number) -> Fraction:
    value = _frac(k)
    if value < 0:
        raise ConfigurationError(f"prior strength k = {k} must not be negative")
    return value


def _shrink(own: Evidence, prior: Fraction | None, k: Fraction) -> Fraction | None:
    """``(x + k·prior) ÷ (n + k)``; the raw rate without a prior; the prior without trials."""
    if prior is None:
        return own.rate
    if own.trials + k == 0:
        return prior
    return (own.successes + k * prior) / (own.trials + k)


def _shrink_check(own: CheckEvidence, prior: Fraction | None, k: Fraction) -> Fraction | None:
    """``(revenue + k·prior) ÷ (won + k)``; the own check without a prior."""
    if prior is None:
        return own.check
    if own.won + k == 0:
        return prior
    return (Fraction(own.revenue) + k * prior) / (own.won + k)


def _usable(
    step: str, shrunk: Fraction | None, evidence: Evidence, window: Period
) -> tuple[Fraction | None, bool, str | None]:
    """Clamp to (0, 1]: above 1 → 1; 0 or None → None with the reason."""
    label = LABELS[step]
    if shrunk is None:
        return (
            None,
            False,
            f"conversion {label} cannot be computed: no {_TRIALS[step]} in {window.label} "
            "(not by the manager, the team or anyone in the account)",
        )
    if shrunk <= 0:
        return (
            None,
            False,
            f"conversion {label} is 0 ({evidence.successes} {_SUCCESSES[step]} of "
            f"{evidence.trials} {_TRIALS[step]} in {window.label}): no amount of "
            f"{_TRIALS[step]} reaches the plan",
        )
    if shrunk > 1:
        return Fraction(1), True, None
    return shrunk, False, None


def _round_half_up(days: Decimal) -> int:
    return int(days.quantize(Decimal(1), ROUND_HALF_UP))


def funnel_history(
    store: Store, account_id: str, history: Period, *, cycle_days: int | None = None
) -> FunnelHistory:
    """Count won deals in ``history`` and activities in it shifted by the cycle, by manager.

    ``cycle_days`` given → that shift; otherwise the account's median cycle over deals won in
    ``history``, rounded half up to whole days (0 when nothing was won).

    Raises:
        ConfigurationError: for a negative cycle or a manager with malformed absences.
    """
    if cycle_days is not None:
        if cycle_days < 0:
            raise ConfigurationError(f"cycle length {cycle_days} days must not be negative")
        shift, source = cycle_days, "given"
    else:
        (cycle,) = sales_cycle(store, account_id, history)
        if cycle.median_days is None:
            shift, source = 0, f"no deal won in {history.label}: activity window not shifted"
        else:
            shift = _round_half_up(cycle.median_days)
            source = (
                f"median cycle of {cycle.won} deals won in {history.label}: "
                f"{cycle.median_days.normalize():f} days → {shift} (half up)"
            )
    window = shifted(history, shift)

    acts = activity_facts(account_id, window).subquery("acts")
    act_stmt = select(
        acts.c.manager,
        acts.c.team,
        *[func.count().filter(acts.c.type == t).label(t) for t in FUNNEL_ACTIVITIES],
    ).group_by(acts.c.manager, acts.c.team)
    won = won_facts(account_id, history).subquery("won")
    in_cur: ColumnElement[bool] = won.c.in_currency == 1
    revenue = coalesce(func.sum(case((in_cur, coalesce(won.c.amount, 0)), else_=0)), 0).cast(Money)
    won_stmt = select(
        won.c.manager,
        won.c.team,
        func.count().label("won"),
        func.count().filter(in_cur).label("won_in_currency"),
        revenue.label("revenue"),
    ).group_by(won.c.manager, won.c.team)
    roster_stmt = select(managers.c.id, managers.c.team_id, managers.c.absences).where(
        managers.c.account_id == account_id
    )
    by_manager: dict[str | None, _Counts] = {}
    by_team: dict[str | None, _Counts] = {}
    company = _Counts()
    with store.engine.connect() as conn:
        for r in conn.execute(act_stmt).mappings():
            c = _Counts(calls=r["call"], meetings=r["meeting"], offers=r["offer"])
            by_manager[r["manager"]] = by_manager.get(r["manager"], _Counts()) + c
            by_team[r["team"]] = by_team.get(r["team"], _Counts()) + c
            company += c
        for r in conn.execute(won_stmt).mappings():
            c = _Counts(won=r["won"], won_in_currency=r["won_in_currency"], revenue=r["revenue"])
            by_manager[r["manager"]] = by_manager.get(r["manager"], _Counts()) + c
            by_team[r["team"]] = by_team.get(r["team"], _Counts()) + c
            company += c
        roster = {r[0]: _Manager(r[1], _absences(r[0], r[2])) for r in conn.execute(roster_stmt)}
    by_team.pop(None, None)  # no team: counts only in the company
    return FunnelHistory(
        account_id=account_id,
        history=history,
        activity_window=window,
        cycle_days=shift,
        cycle_source=source,
        by_manager=by_manager,
        by_team=by_team,
        company=company,
        roster=roster,
    )


def _absences(manager: str, raw: Any) -> tuple[tuple[date, date], ...]:
    if not raw:
        return ()
    try:
        parsed = _ABSENCES.validate_python(raw)
    except ValidationError as exc:
        raise ConfigurationError(
            f"manager {manager!r}: absences must be a list of {{start, end}} dates ({exc})"
        ) from exc
    return tuple((a.start, a.end) for a in parsed)


def plan_funnel(
    history: FunnelHistory,
    period: Period,
    revenue: Number,
    *,
    manager: str | None = None,
    team: str | None = None,
    average_check: Number | None = None,
    k: Number = DEFAULT_K,
    k_team: Number = DEFAULT_K,
    check_k: Number = DEFAULT_CHECK_K,
    check_k_team: Number = DEFAULT_CHECK_K,
) -> PlanFunnel:
    """The reverse funnel of a revenue target for ``period``, conversions from ``history``.

    For a manager (own rates shrunk to the team's, personal working days), a team (the team's
    rates shrunk to the company's) or, with neither, the company (raw rates). ``average_check``
    given replaces the one from history.

    Raises:
        ConfigurationError: for both a manager and a team, an unknown manager, a check ≤ 0,
            a negative revenue or k.
    """
    if manager is not None and team is not None:
        raise ConfigurationError("plan for a manager or for a team, not both")
    convs = history.conversions(manager=manager, team=team, k=k, k_team=k_team)
    if average_check is not None:
        given = _frac(average_check)
        if given <= 0:
            raise ConfigurationError(f"average check {average_check} must be positive")
        check = AverageCheck("given", None, None, None, None, None, None, Fraction(0), given, None)
    else:
        check = history.average_check(manager=manager, team=team, k=check_k, k_team=check_k_team)
    days, absent = history.working_days(period, manager)
    funnel = _chain(
        _frac(revenue),
        check.value,
        check.reason,
        {s: c.rate for s, c in convs.items()},
        {s: c.reason for s, c in convs.items() if c.reason is not None},
        days,
    )
    keys: dict[str, str | None] = (
        {"manager": manager} if manager is not None else {"team": team} if team is not None else {}
    )
    return PlanFunnel(
        keys=keys,
        period=period,
        history=history.history,
        activity_window=history.activity_window,
        cycle_days=history.cycle_days,
        cycle_source=history.cycle_source,
        working_days=days,
        absent_days=absent,
        conversions=convs,
        average_check=check,
        funnel=funnel,
    )


def manager_plan_funnels(
    history: FunnelHistory, period: Period, targets: Mapping[str, Number], **options: Any
) -> list[PlanFunnel]:
    """``plan_funnel`` for each manager of ``targets`` (manager id → revenue), by id."""
    return [plan_funnel(history, period, targets[m], manager=m, **options) for m in sorted(targets)]


# -- lineage -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class ActivityRecord:
    """An activity behind a count."""

    activity_id: str
    type: str
    at: datetime
    manager_id: str | None
    team_id: str | None
    deal_id: str | None


@dataclass(frozen=True)
class WonRecord:
    """A won deal behind a count or an average check."""

    deal_id: str
    manager_id: str | None
    team_id: str | None
    amount: Decimal | None
    currency: str | None
    in_account_currency: bool
    created_at: datetime
    closed_at: datetime


def _key_filter(sub: Any, keys: Mapping[str, str | None]) -> list[ColumnElement[bool]]:
    out = []
    for name, value in keys.items():
        if name not in ("manager", "team", "type"):
            raise ConfigurationError(f"lineage key {name!r}: use manager, team or type")
        col = sub.c[name]
        out.append(col.is_(None) if value is None else col == value)
    return out


def explain_activities(
    store: Store, history: FunnelHistory, keys: Mapping[str, str | None] = {}
) -> list[ActivityRecord]:
    """The activities counted for ``keys`` (``manager``, ``team``, ``type``; none = company),
    from the same facts select as the counts, by time then id.
    """
    sub = activity_facts(history.account_id, history.activity_window).subquery("acts")
    stmt = select(sub).where(*_key_filter(sub, keys)).order_by(sub.c.at, sub.c.activity_id)
    with store.engine.connect() as conn:
        rows = conn.execute(stmt).mappings().all()
    return [
        ActivityRecord(r["activity_id"], r["type"], r["at"], r["manager"], r["team"], r["deal_id"])
        for r in rows
    ]


def explain_won(
    store: Store, history: FunnelHistory, keys: Mapping[str, str | None] = {}
) -> list[WonRecord]:
    """The won deals counted for ``keys`` (``manager``, ``team``; none = company), by close."""
    if "type" in keys:
        raise ConfigurationError("won deals have no activity type: use manager or team")
    sub = won_facts(history.account_id, history.history).subquery("won")
    stmt = select(sub).where(*_key_filter(sub, keys)).order_by(sub.c.closed_at, sub.c.deal_id)
    with store.engine.connect() as conn:
        rows = conn.execute(stmt).mappings().all()
    return [
        WonRecord(
            r["deal_id"],
            r["manager"],
            r["team"],
            r["amount"],
            r["currency"],
            bool(r["in_currency"]),
            r["created_at"],
            r["closed_at"],
        )
        for r in rows
    ]
