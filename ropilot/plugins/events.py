"""Event fan-out to plugins with per-plugin error isolation.

pluggy stops a hook call at the first exception, so one broken plugin would starve every
plugin called after it. :func:`dispatch_event` calls each ``ropilot_on_event``
implementation on its own, logs and collects what each one raised, and always reaches all of
them.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import pluggy

__all__ = ["DispatchResult", "PluginFailure", "dispatch_event"]

logger = logging.getLogger(__name__)

_HOOK = "ropilot_on_event"


@dataclass(frozen=True)
class PluginFailure:
    """One plugin's implementation raised while handling an event.

    Attributes:
        plugin: the plugin's name in the plugin manager.
        error: the exception it raised.
    """

    plugin: str
    error: Exception

    def __str__(self) -> str:
        return f"plugin {self.plugin!r} failed: {type(self.error).__name__}: {self.error}"


@dataclass
class DispatchResult:
    """What happened when one event was fanned out to the plugins.

    Attributes:
        results: plugin name → the value its implementation returned (``None`` included), for
            every plugin that handled the event without raising, in call order.
        failures: one entry per plugin whose implementation raised, in call order.
    """

    results: dict[str, Any] = field(default_factory=dict)
    failures: list[PluginFailure] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        """Whether every implementation handled the event without raising."""
        return not self.failures

    @property
    def called(self) -> list[str]:
        """Names of every plugin that was called, successful or not."""
        return [*self.results, *(failure.plugin for failure in self.failures)]


def dispatch_event(
    pm: pluggy.PluginManager, event: Any, context: Mapping[str, Any] | None = None
) -> DispatchResult:
    """Call every ``ropilot_on_event`` implementation with ``event``, isolating failures.

    Implementations are called in pluggy's order (``tryfirst`` first, then last registered
    first, ``trylast`` last), each through its own hook call so that hook wrappers and tracing
    still apply. An :class:`Exception` raised by one is logged with the plugin's name and
    recorded; the next implementation is called anyway. ``BaseException`` (``KeyboardInterrupt``,
    ``SystemExit``) is not caught.

    Args:
        pm: the plugin manager (see ``ropilot.plugins.manager.get_plugin_manager``).
        event: the event to dispatch (``ropilot.core.models.Event``).
        context: what the handlers may use (see the hook's documentation); ``None`` is an
            empty mapping.

    Returns:
        Each plugin's return value and each plugin's failure.
    """
    ctx: Mapping[str, Any] = {} if context is None else context
    result = DispatchResult()
    # One entry per plugin, in call order (a plugin may implement the hook more than once
    # through ``specname``; its implementations then run together in one call).
    plugins: dict[str, object] = {}
    for impl in reversed(pm.hook.ropilot_on_event.get_hookimpls()):
        if not (impl.wrapper or impl.hookwrapper):
            plugins.setdefault(impl.plugin_name, impl.plugin)
    for name, plugin in plugins.items():
        others = [other for other in plugins.values() if other is not plugin]
        caller = pm.subset_hook_caller(_HOOK, remove_plugins=others)
        try:
            outcome = caller(event=event, context=ctx)
        except Exception as exc:
            logger.exception(
                "Plugin %r failed in %s for event %s; the other plugins still receive it",
                name,
                _HOOK,
                _describe(event),
            )
            result.failures.append(PluginFailure(name, exc))
        else:
            result.results[name] = outcome[0] if outcome else None
    return result


def _describe(event: Any) -> str:
    """Name an event in a log line without dumping its payload (it may hold personal data)."""
    entity = getattr(event, "entity", None)
    action = getattr(event, "action", None)
    kind = f"{entity}.{action}" if entity and action else type(event).__name__
    ident = getattr(event, "id", None)
    return kind if ident is None else f"{kind} (id {ident})"
