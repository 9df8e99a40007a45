"""Replay a stored decision from its stored inputs: the same rules give the same answer."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from ropilot.core.routing.decide import decide
from ropilot.core.routing.engine import _stored
from ropilot.core.routing.strategies import RoutingStrategy
from ropilot.core.store import Store


@dataclass(frozen=True)
class Replay:
    """The stored and the recomputed answer (both in the stored, compact form)."""

    decision_id: str
    stored_manager_id: str | None
    replayed_manager_id: str | None
    stored: dict[str, Any]
    replayed: dict[str, Any]

    @property
    def same(self) -> bool:
        """Whether the recomputed decision equals the stored one (manager and explanation)."""
        return self.stored == self.replayed


def _norm(data: dict[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = json.loads(json.dumps(data, sort_keys=True))
    out.pop("regulations_version", None)
    return out


def replay(
    store: Store, account_id: str, decision_id: str, strategies: dict[str, RoutingStrategy]
) -> Replay:
    """Recompute ``decision_id`` from its stored inputs with the named strategy.

    Compares who, the rule, the tie, the rejoins, the exclusions by rule and the number of
    eligible members with what was stored.
    """
    row, compact, inputs = _stored(store, account_id, decision_id)
    outcome = decide(inputs, strategies[row["strategy"]])
    return Replay(
        decision_id=decision_id,
        stored_manager_id=row["manager_id"],
        replayed_manager_id=outcome.manager_id,
        stored=_norm(compact),
        replayed=_norm(outcome.compact()),
    )
