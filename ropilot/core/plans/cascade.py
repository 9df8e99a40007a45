"""Cascade a plan down: company → teams → managers / regions / products by a split rule.

Follows sales_definitions.md, "Plans" (split rules: equal, historical share, capacity, manual
weights). Rounding, the convention this module fixes:

* Shares are exact: weights are Decimals or integers, a child's share ``wᵢ ÷ Σw`` is carried as
  an exact fraction (a Decimal cannot hold 1/3), never rounded before the last step.
* Each child's value is rounded to the metric's unit — money to the kopeck, counts to 1e-4 (the
  counts are shown rounded up only for display) — by the **largest-remainder** method: every
  child gets the floor of its exact part, and the units left over go one each to the children
  with the largest remainders (ties: the child listed first). So the children sum exactly to
  the parent.
* Historical share: a child's part of the metric over a lookback period (revenue and won deals
  from ``kpi.outcomes``, calls / meetings / offers from ``kpi.activity``); children without
  history get 0. Capacity: weight = capacity (1 when not given) × working days the manager is
  available in the period (production calendar minus the manager's absences).
"""

from __future__ import annotations

import math
from collections.abc import Hashable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from fractions import Fraction
from typing import Any, TypeVar

from sqlalchemy import and_, distinct, select

from ropilot.core.calendar import PersonalCalendar
from ropilot.core.errors import ConfigurationError
from ropilot.core.kpi.outcomes import outcomes
from ropilot.core.periods import Period
from ropilot.core.plans.models import PlanDocument, PlanLine, parse_scope, unit_of
from ropilot.core.store import Store
from ropilot.core.store.schema import deals, managers, teams

K = TypeVar("K", bound=Hashable)
Weight = Decimal | int | Fraction

ACTIVITY_METRICS = {"calls": "call", "meetings": "meeting", "offers": "offer"}
"""Plan metrics counted from activities, and the activity type each counts."""


def _fraction(value: Weight | str, what: str) -> Fraction:
    try:
        f = Fraction(Decimal(value) if isinstance(value, str) else value)
    except (ArithmeticError, ValueError, TypeError) as exc:
        raise ConfigurationError(f"{what}: {value!r} is not a number") from exc
    if f < 0:
        raise ConfigurationError(f"{what}: weight {value} is negative")
    return f


def allocate(total: Decimal, weights: Mapping[K, Weight], unit: Decimal) -> dict[K, Decimal]:
    """Split ``total`` by ``weights`` into multiples of ``unit`` that sum exactly to ``total``.

    Largest remainder: floors of the exact parts, then one unit each to the largest remainders
    (ties: the key listed first).

    Raises:
        ConfigurationError: for negative weights, weights summing to 0 (with a non-zero total),
            or a total that is not a whole number of units.
    """
    if not weights:
        raise ConfigurationError("nothing to split into: no children / periods given")
    fractions = {k: _fraction(w, f"weight of {k}") for k, w in weights.items()}
    whole = Fraction(total) / Fraction(unit)
    if whole.denominator != 1:
        raise ConfigurationError(f"{total} is not a whole number of {unit}")
    units = whole.numerator
    weight_sum = sum(fractions.values(), Fraction(0))
    if weight_sum == 0:
        if units == 0:
            return {k: Decimal(0) * unit for k in fractions}
        raise ConfigurationError(
            "all weights are 0, so nothing decides the split: give weights or split equally"
        )
    exact = {k: units * w / weight_sum for k, w in fractions.items()}
    floors = {k: math.floor(v) for k, v in exact.items()}
    left = units - sum(floors.values())
    order = sorted(fractions, key=lambda k: -(exact[k] - floors[k]))  # stable: ties keep order
    for k in order[:left]:
        floors[k] += 1
    return {k: Decimal(n) * unit for k, n in floors.items()}


@dataclass(frozen=True)
class Share:
    """How one child's value was computed (lineage of a split)."""

    child: str
    weight: Decimal
    share: Fraction
    """Exact ``weight ÷ Σ weights``."""
    exact: Fraction
    """The parent's value × share, before rounding."""
    value: Decimal


def explain_split(total: Decimal, weights: Mapping[str, Weight], unit: Decimal) -> list[Share]:
    """Weight, exact share, exact part and rounded value of every child of a split."""
    values = allocate(total, weights, unit)
    fractions = {k: _fraction(w, k) for k, w in weights.items()}
    weight_sum = sum(fractions.values(), Fraction(0)) or Fraction(1)
    return [
        Share(
            k,
            Decimal(w.numerator) / Decimal(w.denominator),
            w / weight_sum,
            Fraction(total) * w / weight_sum,
            values[k],
        )
        for k, w in fractions.items()
    ]


# -- split rules: weights per child scope ----------------------------------------------------


def equal_weights(children: Sequence[str]) -> dict[str, int]:
    """Every child weighs 1."""
    return dict.fromkeys(children, 1)


def manual_weights(weights: Mapping[str, Weight | str]) -> dict[str, Fraction]:
    """Weights as given (any scale: 2:1:1 or 50/25/25), validated.

    Raises:
        ConfigurationError: for a negative or non-numeric weight, or none above 0.
    """
    out = {str(parse_scope(k)): _fraction(v, f"weight of {k}") for k, v in weights.items()}
    if not any(out.values()):
        raise ConfigurationError("manual weights are all 0: give at least one positive weight")
    return out


def _dimension(children: Sequence[str]) -> str:
    kinds = {parse_scope(c).kind for c in children}
    if len(kinds) != 1 or "company" in kinds:
        raise ConfigurationError(
            f"children must be of one kind (team, manager, region or product): {list(children)}"
        )
    return kinds.pop()


def historical_weights(
    store: Store,
    account_id: str,
    lookback: Period,
    children: Sequence[str],
    basis: str = "revenue",
) -> dict[str, Decimal]:
    """Each child's ``basis`` figure over ``lookback``: revenue (account currency) or won deals
    from closed deals, calls / meetings / offers from activities. Children without any get 0.

    Raises:
        ConfigurationError: for a basis that has no history in the store (units, new_clients).
    """
    dim = _dimension(children)
    figures = history_by(store, account_id, lookback, dim, basis)
    return {c: figures.get(parse_scope(c).key or "", Decimal(0)) for c in children}


def history_by(
    store: Store, account_id: str, period: Period, dimension: str | None, metric: str
) -> dict[str, Decimal]:
    """A metric's fact per dimension value over ``period`` (SQL aggregates of ``kpi``); without
    a dimension, the company's under the key ``""``. Groups with a NULL value are left out.
    """
    by = [] if dimension is None else [dimension]

    def key(keys: Mapping[str, str | None]) -> str | None:
        return "" if dimension is None else keys[dimension]

    if metric in ("revenue", "won_deals"):
        rows = outcomes(store, account_id, period, by=by)
        return {
            k: (r.revenue if metric == "revenue" else Decimal(r.won))
            for r in rows
            if (k := key(r.keys)) is not None
        }
    if metric in ACTIVITY_METRICS:
        from ropilot.core.kpi.activity import activity_counts

        kind = ACTIVITY_METRICS[metric]
        acts = activity_counts(store, account_id, period, by=by, types=(kind,))
        return {k: Decimal(r.counts.get(kind, 0)) for r in acts if (k := key(r.keys)) is not None}
    raise ConfigurationError(
        f"no history for {metric!r} in the store: use revenue, won_deals, calls, meetings or "
        "offers as the basis, or manual weights"
    )


def absences_of(store: Store, account_id: str, manager_ids: Sequence[str]) -> dict[str, Any]:
    """Each manager's personal calendar (production calendar minus ``managers.absences``)."""
    stmt = select(managers.c.id, managers.c.absences).where(
        managers.c.account_id == account_id, managers.c.id.in_(list(manager_ids))
    )
    with store.engine.connect() as conn:
        found = {r[0]: r[1] for r in conn.execute(stmt)}
    return {m: personal_calendar(found.get(m)) for m in manager_ids}


def personal_calendar(absences: Any) -> PersonalCalendar:
    """A calendar from the stored JSON ``[{"start": "2026-03-10", "end": …}, …]``."""
    spans = []
    for item in absences or []:
        spans.append((date.fromisoformat(str(item["start"])), date.fromisoformat(str(item["end"]))))
    return PersonalCalendar.of(spans)


def capacity_weights(
    store: Store,
    account_id: str,
    period: Period,
    children: Sequence[str],
    capacity: Mapping[str, Weight | str] | None = None,
) -> dict[str, Fraction]:
    """Weight = capacity (1 when not given; e.g. 0.5 for half-time) × the manager's available
    working days in ``period`` (production calendar minus absences).
    """
    if _dimension(children) != "manager":
        raise ConfigurationError("capacity weights are for managers: children manager:<id>")
    ids = [parse_scope(c).key or "" for c in children]
    calendars = absences_of(store, account_id, ids)
    out: dict[str, Fraction] = {}
    for child, mid in zip(children, ids, strict=True):
        given = (capacity or {}).get(child, (capacity or {}).get(mid, 1))
        days = len(calendars[mid].working_days(period.first_day, period.end_day))
        out[child] = _fraction(given, f"capacity of {child}") * days
    return out


# -- children --------------------------------------------------------------------------------


def children_of(store: Store, account_id: str, parent: str, kind: str) -> list[str]:
    """Child scopes of ``parent``, sorted: company → team (all teams) / manager / region /
    product (values found on deals); team:<id> → its managers. Managers are the active ones
    whose role is not ``assistant``.

    Raises:
        ConfigurationError: for a pair that is not a cascade step.
    """
    p = parse_scope(parent)
    if kind == "manager" and p.kind in ("company", "team"):
        where = [
            managers.c.account_id == account_id,
            managers.c.active.is_(True),
            managers.c.role != "assistant",
        ]
        if p.kind == "team":
            where.append(managers.c.team_id == p.key)
        stmt: Any = select(managers.c.id).where(and_(*where))
    elif p.kind == "company" and kind == "team":
        stmt = select(teams.c.id).where(teams.c.account_id == account_id)
    elif p.kind == "company" and kind in ("region", "product"):
        col = deals.c[kind]
        stmt = select(distinct(col)).where(deals.c.account_id == account_id, col.is_not(None))
    else:
        raise ConfigurationError(
            f"cannot cascade {parent} into {kind}: use company → team / manager / region / "
            "product, or team:<id> → manager"
        )
    with store.engine.connect() as conn:
        return [f"{kind}:{v}" for v in sorted(str(r[0]) for r in conn.execute(stmt))]


def cascade(
    document: PlanDocument,
    parent: str,
    weights: Mapping[str, Weight],
    *,
    metrics: Sequence[str] | None = None,
    periods: Sequence[str] | None = None,
) -> PlanDocument:
    """Split every target line of ``parent`` among the children of ``weights``.

    Each (period, metric) line of the parent becomes one line per child (replacing what the
    child had for that period and metric); costs stay with the parent. ``metrics`` and
    ``periods`` restrict which lines are split.

    Raises:
        ConfigurationError: when the parent has no line to split, or the weights are unusable.
    """
    parent = str(parse_scope(parent))
    children = [str(parse_scope(c)) for c in weights]
    if parent in children:
        raise ConfigurationError(f"{parent} cannot be its own child")
    chosen = [
        line
        for line in document.targets
        if line.scope == parent
        and (metrics is None or line.metric in metrics)
        and (periods is None or line.period in periods)
    ]
    if not chosen:
        raise ConfigurationError(
            f"plan {document.name!r} has no target of {parent} to split"
            + (f" for {', '.join(metrics)}" if metrics else "")
            + (f" in {', '.join(periods)}" if periods else "")
        )
    child_weights = {str(parse_scope(c)): w for c, w in weights.items()}
    new: list[PlanLine] = []
    for line in chosen:
        parts = allocate(line.value, child_weights, unit_of(line.metric))
        new += [PlanLine(c, line.period, line.metric, v) for c, v in parts.items()]
    return document.with_lines(new)
