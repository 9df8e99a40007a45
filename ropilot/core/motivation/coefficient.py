"""KPI coefficient (sales_definitions.md, "KPI coefficient" convention).

The coefficient is piecewise linear **in the fact**, against points whose x values are the
plan's levels in the KPI's own unit — not in the ratio fact ÷ plan. The default shape passes
through (minimum, 0), (optimal, 0.5), (maximum, 1.5). For any curve of strictly increasing
points: below the first point the coefficient is 0 (the minimum was not reached), between two
points it is linear, from the last point on it is capped at the last point's value.

Exact: the division of the linear step is done on fractions, so no digit is lost; the public
value is a Decimal (exact whenever it has a finite decimal form).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal
from fractions import Fraction

from ropilot.core.errors import ConfigurationError
from ropilot.core.i18n import Lang
from ropilot.core.motivation.fmt import fmt_number, to_decimal
from ropilot.core.motivation.models import DEFAULT_VALUES, KpiPlan, points_problem

Points = Sequence[tuple[Decimal, Decimal]]


def default_points(
    plan: KpiPlan, values: tuple[Decimal, Decimal, Decimal] = DEFAULT_VALUES
) -> tuple[tuple[Decimal, Decimal], ...]:
    """The default curve: ``values`` at the plan's minimum, optimal and maximum.

    Raises:
        ConfigurationError: unless minimum < optimal < maximum.
    """
    points = (
        (plan.minimum, values[0]),
        (plan.optimal, values[1]),
        (plan.maximum, values[2]),
    )
    problem = points_problem(points)
    if problem:
        raise ConfigurationError(f"plan levels {plan}: {problem}")
    return points


@dataclass(frozen=True)
class Coefficient:
    """A coefficient with how it was obtained.

    ``segment`` is the index i of the points (x_i, x_{i+1}) the fact falls between, -1 below the
    first point, and ``len(points) - 1`` at or above the last one (capped).
    """

    exact: Fraction
    segment: int
    fact: Decimal
    points: tuple[tuple[Decimal, Decimal], ...]

    @property
    def value(self) -> Decimal:
        """The coefficient as a Decimal."""
        return to_decimal(self.exact)

    def arithmetic(self, lang: Lang = "ru") -> str:
        """How the coefficient follows from the fact and the points, e.g.
        ``0,5 + (1 100 − 1 000) ÷ (1 200 − 1 000) × (1,5 − 0,5) = 1``.
        """

        def n(v: Decimal | Fraction) -> str:
            return fmt_number(v, lang)

        fact = n(self.fact)
        first_x = n(self.points[0][0])
        if self.segment < 0:
            word = "ниже минимума" if lang == "ru" else "below the minimum"
            return f"{fact} < {first_x} ({word}) → 0"
        if self.segment == len(self.points) - 1:
            last_x, last_y = self.points[-1]
            if self.fact == last_x:
                return f"{fact} → {n(last_y)}"
            word = "потолок" if lang == "ru" else "cap"
            return f"{fact} > {n(last_x)} ({word}) → {n(last_y)}"
        (x0, y0), (x1, y1) = self.points[self.segment], self.points[self.segment + 1]
        if self.fact == x0:
            return f"{fact} → {n(y0)}"
        return (
            f"{n(y0)} + ({fact} − {n(x0)}) ÷ ({n(x1)} − {n(x0)}) × ({n(y1)} − {n(y0)})"
            f" = {n(self.exact)}"
        )


def coefficient(fact: Decimal, points: Points) -> Coefficient:
    """The coefficient of ``fact`` on the curve through ``points`` (see the module docstring).

    Raises:
        ConfigurationError: when the points are not a curve (fewer than two, x not strictly
            increasing, a negative coefficient).
    """
    pts = tuple((Decimal(x), Decimal(y)) for x, y in points)
    problem = points_problem(pts)
    if problem:
        raise ConfigurationError(f"coefficient curve: {problem}")
    if fact < pts[0][0]:
        return Coefficient(Fraction(0), -1, fact, pts)
    if fact >= pts[-1][0]:
        return Coefficient(Fraction(pts[-1][1]), len(pts) - 1, fact, pts)
    for i in range(len(pts) - 1):
        (x0, y0), (x1, y1) = pts[i], pts[i + 1]
        if x0 <= fact < x1:
            exact = Fraction(y0) + Fraction(fact - x0) / Fraction(x1 - x0) * Fraction(y1 - y0)
            return Coefficient(exact, i, fact, pts)
    raise AssertionError("unreachable: the fact lies between the first and the last point")


def kpi_coefficient(fact: Decimal, points: Points) -> Decimal:
    """The coefficient of ``fact`` on the curve through ``points``, as a Decimal.

    Raises:
        ConfigurationError: when the points are not a curve.
    """
    return coefficient(fact, points).value
