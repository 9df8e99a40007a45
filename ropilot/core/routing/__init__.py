"""Lead routing: pools, eligibility, caps, fairness levels, efficiency, explained decisions.

``decide`` is pure (inputs → outcome); ``RoutingEngine`` gathers the inputs from the store and
records the outcome in one locked transaction; ``replay`` recomputes a stored decision.
"""

from ropilot.core.routing.decide import decide
from ropilot.core.routing.engine import (
    Decision,
    RoutingEngine,
    builtin_strategies,
    rebuild_counters,
    recount,
    stored_counters,
)
from ropilot.core.routing.models import (
    Candidate,
    Choice,
    DecisionInputs,
    Lead,
    MemberFacts,
    Outcome,
    PoolRules,
    TieBreak,
)
from ropilot.core.routing.replay import Replay, replay
from ropilot.core.routing.strategies import LeastLoaded, RoundRobin, RoutingStrategy, WeightedFair

__all__ = [
    "Candidate",
    "Choice",
    "Decision",
    "DecisionInputs",
    "Lead",
    "LeastLoaded",
    "MemberFacts",
    "Outcome",
    "PoolRules",
    "Replay",
    "RoundRobin",
    "RoutingEngine",
    "RoutingStrategy",
    "TieBreak",
    "WeightedFair",
    "builtin_strategies",
    "decide",
    "rebuild_counters",
    "recount",
    "replay",
    "stored_counters",
]
