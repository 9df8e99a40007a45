"""The built-in strategies: weighted fair (default), round robin and least loaded.

A strategy gets the eligible candidates (levels, loads, weights already computed) and returns
a :class:`~ropilot.core.routing.models.Choice`: the manager and how far their level advances.
Strategies are plain objects registered through the ``ropilot_register_routing_strategies``
hook; core receives the object and never imports plugins. They must be deterministic.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol, runtime_checkable

from ropilot.core.routing.candidates import Candidates
from ropilot.core.routing.fairness import increment, lowest, tied_at_lowest
from ropilot.core.routing.models import Candidate, Choice, Lead, PoolRules


@runtime_checkable
class RoutingStrategy(Protocol):
    """What the engine needs from a strategy."""

    name: str

    def choose(self, lead: Lead, candidates: Sequence[Candidate], pool: PoolRules) -> Choice | None:
        """Pick one of ``candidates`` (never empty) or return ``None`` to leave it unassigned."""
        ...


class WeightedFair:
    """Lowest level first; the level then grows by cost ÷ (declared weight × efficiency)."""

    name = "weighted_fair"

    def choose(self, lead: Lead, candidates: Sequence[Candidate], pool: PoolRules) -> Choice | None:
        """Lowest fairness level wins."""
        best, tie = lowest(candidates, _levels(candidates))
        return Choice(best.id, increment(pool.cost, best.weight), tie, "lowest fairness level")


class RoundRobin:
    """Take turns regardless of weights: the level grows by the cost alone."""

    name = "round_robin"

    def choose(self, lead: Lead, candidates: Sequence[Candidate], pool: PoolRules) -> Choice | None:
        """Lowest level wins; every lead costs the same to everyone."""
        best, tie = lowest(candidates, _levels(candidates))
        return Choice(best.id, pool.cost, tie, "next in turn")


class LeastLoaded:
    """The lowest load per unit of weight; the fairness level breaks equal loads."""

    name = "least_loaded"

    def choose(self, lead: Lead, candidates: Sequence[Candidate], pool: PoolRules) -> Choice | None:
        """Lowest load ÷ weight wins, then lowest level, then the usual tie-break."""
        if isinstance(candidates, Candidates):
            ratios = [ld / w for ld, w in zip(candidates.loads, candidates.weights, strict=True)]
            least: Sequence[Candidate] = candidates.only(tied_at_lowest(ratios))
        else:
            ratios = [c.load / c.weight for c in candidates]
            least = [candidates[i] for i in tied_at_lowest(ratios)]
        best, tie = lowest(least, _levels(least))
        return Choice(best.id, increment(pool.cost, best.weight), tie, "least load per weight")


def _levels(candidates: Sequence[Candidate]) -> Sequence[float]:
    """The level column (read from the lazy view without building candidates)."""
    if isinstance(candidates, Candidates):
        return candidates.levels
    return [c.level for c in candidates]


BUILTIN_STRATEGIES: tuple[type[WeightedFair] | type[RoundRobin] | type[LeastLoaded], ...] = (
    WeightedFair,
    RoundRobin,
    LeastLoaded,
)
