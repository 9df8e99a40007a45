"""Built-in routing-strategy lookup: the fallback implementation of the "pick one" hook.

Plugins may implement ``ropilot_pick_routing_strategy`` to override, alias or parameterise
strategies; when none of them returns a strategy, this ``trylast`` implementation looks the
configured name up among the registered strategies.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from ropilot.plugins.markers import hookimpl

__all__ = ["ropilot_pick_routing_strategy"]


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
