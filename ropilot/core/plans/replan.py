"""Mid-period re-plan: remaining target ÷ remaining working days (sales_definitions.md, "Plans").

Conventions this module fixes:

* "As of T includes T": the as-of day is elapsed, so the remaining working days are those after
  it to the end of the period — the person's calendar for a manager (absent days excluded), the
  production calendar for the company.
* Remaining = plan − fact so far (``progress``), never below 0 (an exceeded plan asks for
  nothing more), rounded **up** to the metric's unit (kopeck / 1e-4) so meeting the re-plan meets
  the plan. ``per_day`` is the exact quotient; ``days`` spreads the remaining target over the
  remaining days by largest remainder (summing exactly to it).
* The result is a derived view; :func:`replan_lines` turns it into day lines that can be saved
  as a new version of the plan (``dayplan`` then takes those days over the old split).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, timedelta
from decimal import ROUND_CEILING, Decimal

from ropilot.core.kpi.scope import account_zone
from ropilot.core.periods import Period
from ropilot.core.plans.cascade import absences_of, allocate
from ropilot.core.plans.models import PlanDocument, PlanLine, unit_of
from ropilot.core.plans.progress import as_period, progress
from ropilot.core.plans.seasonal import PRODUCTION
from ropilot.core.store import Store


@dataclass(frozen=True)
class ReplanRow:
    """The re-plan of one manager (``keys`` {"manager": id}) or of the company (``{}``)."""

    keys: dict[str, str | None]
    metric: str
    period: str
    as_of: date
    plan: Decimal
    fact: Decimal
    remaining: Decimal
    remaining_days: int
    days: dict[date, Decimal] = field(default_factory=dict, compare=False, repr=False)

    @property
    def per_day(self) -> Decimal | None:
        """Remaining ÷ remaining working days (exact quotient); None when no day is left."""
        return None if not self.remaining_days else self.remaining / self.remaining_days


def replan(
    store: Store,
    account_id: str,
    document: PlanDocument,
    metric: str,
    period: Period | str,
    as_of: date,
) -> list[ReplanRow]:
    """The re-plan of the company and of every manager that has a plan for the period."""
    p = as_period(period, account_zone(store, account_id))
    unit = unit_of(metric)
    rows = [
        r for r in progress(store, account_id, document, metric, p, as_of) if r.plan is not None
    ]
    managers = [str(r.keys["manager"]) for r in rows if r.keys]
    calendars = absences_of(store, account_id, managers)
    start = max(as_of + timedelta(days=1), p.first_day)
    out = []
    for r in rows:
        assert r.plan is not None
        calendar = calendars[str(r.keys["manager"])] if r.keys else PRODUCTION
        left = calendar.working_days(start, p.end_day) if start < p.end_day else []
        remaining = max(r.plan - r.fact, Decimal(0)).quantize(unit, ROUND_CEILING)
        days = allocate(remaining, dict.fromkeys(left, 1), unit) if left else {}
        out.append(
            ReplanRow(r.keys, metric, p.label, as_of, r.plan, r.fact, remaining, len(left), days)
        )
    return out


def replan_lines(rows: list[ReplanRow]) -> list[PlanLine]:
    """Day lines (``2026-03-18``) of a re-plan, to save with ``document.with_lines``."""
    out = []
    for r in rows:
        scope = f"manager:{r.keys['manager']}" if r.keys else "company"
        out += [PlanLine(scope, d.isoformat(), r.metric, v) for d, v in r.days.items()]
    return out
