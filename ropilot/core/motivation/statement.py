"""Payout statement of one manager for one period: KPI bonus lines, commission lines, totals.

* Bonus = base bonus × Σ wᵢ·coefᵢ (Σ wᵢ = 1), one line per KPI (base × wᵢ × coefᵢ).
* Gates: each gate that fails removes its ``cut`` (a share; 1 = everything) of the bonus, or of
  the bonus and the commission when ``applies_to = "all"``. Cuts of several failing gates add
  up, capped at 100 %. The remaining share multiplies every affected line, and the line's note
  shows it: ``50 000,00 × 0,6 × 1 × (1 − 100 %) = 0,00``.
* Commission: one line per deal the period pays (its slices in the note) and, for step plans,
  a true-up line when carried attainment changes tier (see :mod:`.commission`).
* Rounding: values are carried exactly (Decimal, fractions for coefficients); each line's
  amount is rounded to kopecks half-up (ROUND_HALF_UP) once, and the totals are the sums of the
  rounded lines, so a printed statement adds up. ``exact_total`` keeps the unrounded sum.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal
from fractions import Fraction
from typing import Any, Literal

from sqlalchemy import select

from ropilot.core.errors import ConfigurationError
from ropilot.core.i18n import Lang
from ropilot.core.motivation.coefficient import coefficient, default_points
from ropilot.core.motivation.commission import (
    CommissionResult,
    DealCommission,
    StepAdjustment,
    WonDeal,
    commission,
)
from ropilot.core.motivation.fmt import (
    fmt_money,
    fmt_number,
    fmt_percent,
    round_money,
    to_decimal,
)
from ropilot.core.motivation.models import Gate, KpiPlan, KpiRule, Scheme, scheme_for
from ropilot.core.periods import Period
from ropilot.core.store import Store
from ropilot.core.store.schema import managers

LineKind = Literal["bonus", "commission", "commission_adjustment"]

_WORDS: dict[str, tuple[str, str]] = {
    "bonus": ("Премия по KPI {}", "KPI bonus: {}"),
    "deal": ("Комиссия: сделка {} ({}, закрыта {})", "Commission: deal {} ({}, closed {})"),
    "true_up": (
        "Комиссия: пересчёт ступени за {} (перенесённая база {})",
        "Commission: step true-up for {} (carried base {})",
    ),
    "coef": ("коэффициент", "coefficient"),
    "passed": ("пройден", "passed"),
    "failed": ("не пройден, снимается {} {}", "failed, removes {} of {}"),
    "of_bonus": ("премии", "the bonus"),
    "of_all": ("премии и комиссии", "the bonus and the commission"),
    "needs": ("нужно", "needs"),
}


def _w(key: str, lang: Lang) -> str:
    ru, en = _WORDS[key]
    return ru if lang == "ru" else en


def _s(value: Decimal) -> str:
    """A Decimal as a plain string (no exponent)."""
    return format(value, "f")


@dataclass(frozen=True)
class PayoutLine:
    """One line of a statement: ``amount`` is rounded to kopecks, ``exact`` is not."""

    kind: LineKind
    label: str
    amount: Decimal
    exact: Decimal
    arithmetic: str
    ref: str | None = None
    """The KPI name or the deal id behind the line."""


@dataclass(frozen=True)
class KpiResult:
    """A KPI's fact, curve and coefficient."""

    name: str
    weight: Decimal
    fact: Decimal
    points: tuple[tuple[Decimal, Decimal], ...]
    points_from: str
    """``scheme points``, ``plan`` or ``scheme levels``: where the curve came from."""
    coefficient: Decimal
    arithmetic: str


@dataclass(frozen=True)
class GateResult:
    """A gate's value and verdict."""

    name: str
    metric: str
    value: Decimal
    minimum: Decimal | None
    maximum: Decimal | None
    passed: bool
    cut: Decimal
    applies_to: str
    note: str


@dataclass(frozen=True)
class PayoutStatement:
    """What one manager is paid for one period, line by line."""

    manager_id: str
    scheme: str
    period: str
    lang: Lang
    base_bonus: Decimal
    kpis: tuple[KpiResult, ...]
    gates: tuple[GateResult, ...]
    bonus_cut: Decimal
    """Share of the bonus removed by failing gates (0 … 1)."""
    commission_cut: Decimal
    """Share of the commission removed by failing gates with ``applies_to = "all"``."""
    lines: tuple[PayoutLine, ...]
    commission: CommissionResult | None
    exact_total: Decimal

    @property
    def bonus_total(self) -> Decimal:
        """Σ of the rounded bonus lines."""
        return sum((ln.amount for ln in self.lines if ln.kind == "bonus"), Decimal("0.00"))

    @property
    def commission_total(self) -> Decimal:
        """Σ of the rounded commission lines (deals and true-ups)."""
        return sum((ln.amount for ln in self.lines if ln.kind != "bonus"), Decimal("0.00"))

    @property
    def total(self) -> Decimal:
        """Σ of all rounded lines: what the statement pays."""
        return self.bonus_total + self.commission_total

    @property
    def other_currency_deals(self) -> tuple[WonDeal, ...]:
        """Won deals in another currency: not in the commission base, listed apart."""
        return () if self.commission is None else self.commission.other_currencies

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready dict; money and every other number as decimal strings."""
        out: dict[str, Any] = {
            "manager_id": self.manager_id,
            "scheme": self.scheme,
            "period": self.period,
            "base_bonus": _s(self.base_bonus),
            "bonus_cut": _s(self.bonus_cut),
            "commission_cut": _s(self.commission_cut),
            "lines": [
                {
                    "kind": ln.kind,
                    "label": ln.label,
                    "amount": _s(ln.amount),
                    "exact": _s(ln.exact),
                    "arithmetic": ln.arithmetic,
                    "ref": ln.ref,
                }
                for ln in self.lines
            ],
            "totals": {
                "bonus": _s(self.bonus_total),
                "commission": _s(self.commission_total),
                "total": _s(self.total),
                "exact_total": _s(self.exact_total),
            },
            "kpis": [
                {
                    "name": k.name,
                    "weight": _s(k.weight),
                    "fact": _s(k.fact),
                    "points": [[_s(x), _s(y)] for x, y in k.points],
                    "points_from": k.points_from,
                    "coefficient": _s(k.coefficient),
                    "arithmetic": k.arithmetic,
                }
                for k in self.kpis
            ],
            "gates": [
                {
                    "name": g.name,
                    "metric": g.metric,
                    "value": _s(g.value),
                    "minimum": None if g.minimum is None else _s(g.minimum),
                    "maximum": None if g.maximum is None else _s(g.maximum),
                    "passed": g.passed,
                    "cut": _s(g.cut),
                    "applies_to": g.applies_to,
                    "note": g.note,
                }
                for g in self.gates
            ],
            "commission": None,
            "other_currency_deals": [_deal_dict(d) for d in self.other_currency_deals],
        }
        if self.commission is not None:
            c = self.commission
            out["commission"] = {
                "kind": c.plan.kind,
                "period": c.plan.period,
                "deals": [_commission_dict(d) for d in c.deals],
                "adjustments": [
                    {
                        "commission_period": a.commission_period,
                        "carried_base": _s(a.carried_base),
                        "old_rate": _s(a.old_rate),
                        "new_rate": _s(a.new_rate),
                        "amount": _s(a.amount),
                    }
                    for a in c.adjustments
                ],
                "total": _s(c.total),
            }
        return out


def _deal_dict(d: WonDeal) -> dict[str, Any]:
    return {
        "deal_id": d.deal_id,
        "closed_at": d.closed_at.isoformat(),
        "amount": None if d.amount is None else _s(d.amount),
        "currency": d.currency,
    }


def _commission_dict(d: DealCommission) -> dict[str, Any]:
    return {
        **_deal_dict(d.deal),
        "commission_period": d.commission_period,
        "attainment_before": _s(d.attainment_before),
        "attainment_after": _s(d.attainment_after),
        "paid": d.paid,
        "slices": [
            {
                "from": _s(s.tier.start),
                "to": None if s.tier.end is None else _s(s.tier.end),
                "rate": _s(s.rate),
                "base": _s(s.base),
                "commission": _s(s.commission),
            }
            for s in d.slices
        ],
        "commission": _s(d.commission),
    }


# --------------------------------------------------------------------------- building


def _curve(
    rule: KpiRule, plans: Mapping[str, KpiPlan]
) -> tuple[tuple[tuple[Decimal, Decimal], ...], str]:
    if rule.points is not None:
        return rule.points, "scheme points"
    if rule.name in plans:
        return default_points(plans[rule.name], rule.values), "plan"
    if rule.levels is not None:
        return default_points(rule.levels, rule.values), "scheme levels"
    raise ConfigurationError(
        f"KPI {rule.name!r} has no plan: pass plans[{rule.name!r}] (minimum, optimal, maximum) "
        "or give `minimum`/`optimal`/`maximum` or `points` in the scheme"
    )


def _gate(
    gate: Gate, facts: Mapping[str, Decimal], gate_values: Mapping[str, Decimal], lang: Lang
) -> GateResult:
    if gate.metric in gate_values:
        value = Decimal(gate_values[gate.metric])
    elif gate.metric in facts:
        value = Decimal(facts[gate.metric])
    else:
        raise ConfigurationError(
            f"gate {gate.name!r} needs a value for {gate.metric!r}: pass it in gate_values"
        )
    passed = gate.passes(value)
    bounds = []
    if gate.minimum is not None:
        bounds.append(f"≥ {fmt_number(gate.minimum, lang)}")
    if gate.maximum is not None:
        bounds.append(f"≤ {fmt_number(gate.maximum, lang)}")
    head = f"{gate.metric} = {fmt_number(value, lang)}, {_w('needs', lang)} {', '.join(bounds)}: "
    if passed:
        verdict = _w("passed", lang)
    else:
        target = _w("of_all" if gate.applies_to == "all" else "of_bonus", lang)
        verdict = _w("failed", lang).format(fmt_percent(gate.cut, lang), target)
    return GateResult(
        gate.name,
        gate.metric,
        value,
        gate.minimum,
        gate.maximum,
        passed,
        gate.cut,
        gate.applies_to,
        head + verdict,
    )


def _cut_factor(cut: Decimal, lang: Lang) -> str:
    return f" × (1 − {fmt_percent(cut, lang)})" if cut else ""


def _deal_line(d: DealCommission, cut: Decimal, zone: Any, lang: Lang) -> PayoutLine:
    exact = d.commission * (1 - cut)
    amount = round_money(exact)
    terms = " + ".join(f"{fmt_money(s.base, lang)} × {fmt_percent(s.rate, lang)}" for s in d.slices)
    if cut and len(d.slices) > 1:
        terms = f"({terms})"
    closed = d.deal.closed_at.astimezone(zone).date().isoformat()
    label = _w("deal", lang).format(d.deal.deal_id, fmt_money(d.deal.base, lang), closed)
    note = f"{terms}{_cut_factor(cut, lang)} = {fmt_money(amount, lang)}"
    return PayoutLine("commission", label, amount, exact, note, d.deal.deal_id)


def _adjustment_line(a: StepAdjustment, cut: Decimal, lang: Lang) -> PayoutLine:
    exact = a.amount * (1 - cut)
    amount = round_money(exact)
    label = _w("true_up", lang).format(a.commission_period, fmt_money(a.carried_base, lang))
    rates = f"({fmt_percent(a.new_rate, lang)} − {fmt_percent(a.old_rate, lang)})"
    note = (
        f"{fmt_money(a.carried_base, lang)} × {rates}{_cut_factor(cut, lang)}"
        f" = {fmt_money(amount, lang)}"
    )
    return PayoutLine("commission_adjustment", label, amount, exact, note, a.commission_period)


def build_statement(
    scheme: Scheme,
    manager_id: str,
    period: Period,
    facts: Mapping[str, Decimal],
    *,
    plans: Mapping[str, KpiPlan] | None = None,
    gate_values: Mapping[str, Decimal] | None = None,
    commission_result: CommissionResult | None = None,
    lang: Lang = "ru",
) -> PayoutStatement:
    """The statement from given facts (``{kpi: fact}``), plans, gate values and commission.

    The curve of a KPI comes from the scheme's ``points``, else from ``plans[kpi]``, else from
    the scheme's levels (see :class:`~.models.KpiRule`).

    Raises:
        ConfigurationError: a KPI without a fact or a plan, a gate without a value, or a scheme
            with a commission plan but no ``commission_result``.
    """
    plans = plans or {}
    gate_values = gate_values or {}
    if scheme.commission is not None and commission_result is None:
        raise ConfigurationError(
            f"scheme {scheme.name!r} pays commission: pass commission_result "
            "(payout_statement computes it from the store)"
        )
    gates = tuple(_gate(g, facts, gate_values, lang) for g in scheme.gates)
    failing = [g for g in gates if not g.passed]
    bonus_cut = min(Decimal(1), sum((g.cut for g in failing), Decimal(0)))
    commission_cut = min(
        Decimal(1), sum((g.cut for g in failing if g.applies_to == "all"), Decimal(0))
    )
    kpis: list[KpiResult] = []
    lines: list[PayoutLine] = []
    exact_total = Fraction(0)
    for rule in scheme.kpis:
        if rule.name not in facts:
            raise ConfigurationError(
                f"no fact for KPI {rule.name!r} of scheme {scheme.name!r}: "
                f"pass facts[{rule.name!r}]"
            )
        fact = Decimal(facts[rule.name])
        points, source = _curve(rule, plans)
        coef = coefficient(fact, points)
        kpis.append(
            KpiResult(
                rule.name,
                rule.weight,
                fact,
                points,
                source,
                coef.value,
                coef.arithmetic(lang),
            )
        )
        share = Fraction(rule.weight) * coef.exact * (1 - Fraction(bonus_cut))
        exact = Fraction(scheme.base_bonus) * share
        amount = round_money(exact)
        exact_total += exact
        note = (
            f"{fmt_money(scheme.base_bonus, lang)} × {fmt_number(rule.weight, lang)} × "
            f"{fmt_number(coef.exact, lang)}{_cut_factor(bonus_cut, lang)} = "
            f"{fmt_money(amount, lang)} ({_w('coef', lang)}: {coef.arithmetic(lang)})"
        )
        lines.append(
            PayoutLine(
                "bonus",
                _w("bonus", lang).format(rule.name),
                amount,
                to_decimal(exact),
                note,
                rule.name,
            )
        )
    if commission_result is not None:
        for d in commission_result.paid:
            line = _deal_line(d, commission_cut, period.zone, lang)
            exact_total += Fraction(line.exact)
            lines.append(line)
        for a in commission_result.adjustments:
            line = _adjustment_line(a, commission_cut, lang)
            exact_total += Fraction(line.exact)
            lines.append(line)
    return PayoutStatement(
        manager_id=manager_id,
        scheme=scheme.name,
        period=period.label,
        lang=lang,
        base_bonus=scheme.base_bonus,
        kpis=tuple(kpis),
        gates=gates,
        bonus_cut=bonus_cut,
        commission_cut=commission_cut,
        lines=tuple(lines),
        commission=commission_result,
        exact_total=to_decimal(exact_total),
    )


def payout_statement(
    store: Store,
    account_id: str,
    manager_id: str,
    period: Period,
    scheme: Scheme,
    facts: Mapping[str, Decimal],
    *,
    plans: Mapping[str, KpiPlan] | None = None,
    gate_values: Mapping[str, Decimal] | None = None,
    lang: Lang = "ru",
) -> PayoutStatement:
    """The statement of ``manager_id`` for ``period``: the commission deals come from the store
    (won deals in the account currency since the commission period start, by closed_at, id).

    Raises:
        ConfigurationError: as :func:`build_statement`.
    """
    result = None
    if scheme.commission is not None:
        result = commission(store, account_id, manager_id, period, scheme.commission)
    return build_statement(
        scheme,
        manager_id,
        period,
        facts,
        plans=plans,
        gate_values=gate_values,
        commission_result=result,
        lang=lang,
    )


def scheme_for_manager(
    store: Store, account_id: str, manager_id: str, schemes: Mapping[str, Scheme]
) -> Scheme:
    """The scheme naming the manager, else the one for the manager's role in the store.

    Raises:
        ConfigurationError: when no scheme applies.
    """
    with store.engine.connect() as conn:
        role = conn.execute(
            select(managers.c.role).where(
                managers.c.account_id == account_id, managers.c.id == manager_id
            )
        ).scalar_one_or_none()
    return scheme_for(schemes, manager_id, role)
