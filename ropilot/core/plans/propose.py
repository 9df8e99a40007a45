"""A plan proposed from history: the same months of past years × a growth factor, per manager.

Follows sales_definitions.md, "Plans" (seasonality learned from history). Conventions this module
fixes:

* The plan is built bottom-up from today's sales staff: active managers whose role is not
  ``assistant``. A manager's month = the mean of their fact in the same month of the past
  ``years`` years (revenue and won deals from ``kpi.outcomes``, calls / meetings / offers from
  ``kpi.activity``) × ``growth``. Seasonality comes with the months themselves.
* A manager **with history** is one with any fact row (a deal closed won or lost, or an
  activity of the type) in the base months; a month without one counts as 0. A manager
  **without history** (new) gets, per month, the mean of the team-mates who have history, or,
  when no team-mate has any, the mean of every manager with history (the company average);
  ``Proposal.basis`` says which.
* Values are rounded half up to the metric's unit (kopeck / 1e-4) per manager and month; teams,
  the company and whole-period lines are sums of those, so the document is consistent.
  History of managers who left is not carried into the plan.
* The result is a plan document for the user to edit and save.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal
from fractions import Fraction

from sqlalchemy import select

from ropilot.core.errors import ConfigurationError
from ropilot.core.kpi.scope import account_zone
from ropilot.core.periods import Period, buckets, month
from ropilot.core.plans.cascade import history_by
from ropilot.core.plans.models import PlanDocument, PlanLine, unit_of
from ropilot.core.plans.progress import as_period
from ropilot.core.store import Store
from ropilot.core.store.schema import managers


@dataclass(frozen=True)
class Proposal:
    """A proposed plan and, per manager and metric, where their numbers come from."""

    document: PlanDocument
    basis: dict[tuple[str, str], str]
    """(manager id, metric) → ``own``, ``team average`` or ``company average``."""


def _staff(store: Store, account_id: str) -> dict[str, str | None]:
    stmt = (
        select(managers.c.id, managers.c.team_id)
        .where(
            managers.c.account_id == account_id,
            managers.c.active.is_(True),
            managers.c.role != "assistant",
        )
        .order_by(managers.c.id)
    )
    with store.engine.connect() as conn:
        return {r[0]: r[1] for r in conn.execute(stmt)}


def _round(value: Fraction, unit: Decimal) -> Decimal:
    exact = Decimal(value.numerator) / Decimal(value.denominator)
    return exact.quantize(unit, ROUND_HALF_UP)


def _mean(values: list[Fraction]) -> Fraction:
    return sum(values, Fraction(0)) / len(values)


def propose(
    store: Store,
    account_id: str,
    period: Period | str,
    *,
    name: str | None = None,
    metrics: tuple[str, ...] = ("revenue",),
    growth: Decimal | int | str = 1,
    years: int = 1,
) -> Proposal:
    """Propose a plan for ``period`` (a year, quarter or month) from the past ``years`` years.

    Raises:
        ConfigurationError: for a period not made of whole months, years < 1, a negative
            growth, a metric without history in the store, or no history at all.
    """
    p = as_period(period, account_zone(store, account_id))
    months = buckets(p, "month")
    if months[0].first_day != p.first_day or any(
        (m.first_day.day != 1 or m.end_day.day != 1) for m in months
    ):
        raise ConfigurationError(
            f"propose needs whole months: {p.label} is not a year, quarter or month"
        )
    if years < 1:
        raise ConfigurationError("years must be at least 1")
    g = Fraction(Decimal(str(growth)))
    if g < 0:
        raise ConfigurationError(f"growth {growth} is negative")
    staff = _staff(store, account_id)
    lines: list[PlanLine] = []
    basis: dict[tuple[str, str], str] = {}
    for metric in metrics:
        unit = unit_of(metric)
        # exact per-manager means per month, from SQL aggregates of each base month
        own: dict[str, dict[str, Fraction]] = {m: {} for m in staff}
        seen: set[str] = set()
        for mo in months:
            sums = dict.fromkeys(staff, Fraction(0))
            for back in range(1, years + 1):
                base = month(mo.first_day.year - back, mo.first_day.month, p.zone)
                for mid, value in history_by(store, account_id, base, "manager", metric).items():
                    if mid in sums:
                        sums[mid] += Fraction(value)
                        seen.add(mid)
            for mid in staff:
                own[mid][mo.label] = sums[mid] / years * g
        if not seen:
            raise ConfigurationError(
                f"no {metric} history for any current manager in the {years} year(s) before "
                f"{p.label}: write the plan by hand or cascade a company target"
            )
        values: dict[str, dict[str, Decimal]] = {}
        for mid, team in staff.items():
            if mid in seen:
                source, peers = "own", [mid]
            else:
                mates = [x for x in seen if staff[x] == team and team is not None]
                source, peers = (
                    ("team average", mates) if mates else ("company average", sorted(seen))
                )
            basis[(mid, metric)] = source
            values[mid] = {
                mo.label: _round(
                    sum((own[x][mo.label] for x in peers), Fraction(0)) / len(peers), unit
                )
                for mo in months
            }
        lines += _lines(values, staff, metric, p, [mo.label for mo in months], unit)
    return Proposal(PlanDocument(name or p.label, tuple(lines)), basis)


def _lines(
    values: dict[str, dict[str, Decimal]],
    staff: dict[str, str | None],
    metric: str,
    period: Period,
    labels: list[str],
    unit: Decimal,
) -> list[PlanLine]:
    """Manager, team and company lines per month and for the whole period (sums)."""
    groups: dict[str, list[str]] = {"company": list(staff)}
    for mid, team in staff.items():
        groups[f"manager:{mid}"] = [mid]
        if team is not None:
            groups.setdefault(f"team:{team}", []).append(mid)
    out = []
    zero = Decimal(0) * unit
    for scope, members in groups.items():
        per_month = {lb: sum((values[m][lb] for m in members), zero) for lb in labels}
        out += [PlanLine(scope, lb, metric, v) for lb, v in per_month.items()]
        if period.label not in per_month:
            out.append(PlanLine(scope, period.label, metric, sum(per_month.values(), zero)))
    return out
