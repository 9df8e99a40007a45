"""Built-in routing strategies and the fallback of the "pick one" strategy hook.

``ropilot_register_routing_strategies`` contributes the three strategies that ship with
ropilot (weighted fair, round robin, least loaded). Plugins may implement
``ropilot_pick_routing_strategy`` to override, alias or parameterise strategies; when none of
them returns a strategy, this ``trylast`` implementation looks the configured name up among the
registered strategies.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from ropilot.core.routing.strategies import LeastLoaded, RoundRobin, WeightedFair
from ropilot.plugins.markers import hookimpl

__all__ = ["ropilot_pick_routing_strategy", "ropilot_register_routing_strategies"]


@hookimpl
def ropilot_register_routing_strategies() -> list[Any]:
    """The built-in strategies: ``weighted_fair``, ``round_robin``, ``least_loaded``."""
    return [WeightedFair(), RoundRobin(), LeastLoaded()]


@hookimpl(trylast=True)
def ropilot_pick_routing_strategy(name: str, strategies: Mapping[str, Any]) -> Any | None:
    """Return the registered strategy called ``name``.

    Args:
        name: the strategy name from the configuration.
        strategies: the registered strategies by name.

    Returns:
        The strategy, or ``None`` if no strategy has that name.
    """
    return strategies.get(name)


def routing_strategies(pm: Any, names: list[str] | None = None) -> dict[str, Any]:
    """Every registered strategy by name, with ``names`` resolved through the pick hook."""
    registered: dict[str, Any] = {}
    # pluggy returns the last registered plugin's answer first: walk backwards so that a
    # plugin's strategy overrides a built-in of the same name.
    for batch in reversed(pm.hook.ropilot_register_routing_strategies()):
        for strategy in batch or ():
            registered[strategy.name] = strategy
    out = dict(registered)
    for name in names or ():
        picked = pm.hook.ropilot_pick_routing_strategy(name=name, strategies=registered)
        if picked is not None:
            out[name] = picked
    return out
