"""Describe the registered plugins (what ``ropilot plugins`` prints)."""

from __future__ import annotations

from dataclasses import dataclass

import pluggy

from ropilot.plugins.manager import BUILTIN_DISTRIBUTION, RopilotPluginManager

__all__ = ["RUNTIME_DISTRIBUTION", "PluginInfo", "describe_plugins"]

RUNTIME_DISTRIBUTION = "(registered by code)"
"""The distribution reported for a plugin registered directly with ``pm.register``."""


@dataclass(frozen=True)
class PluginInfo:
    """One registered plugin.

    Attributes:
        name: the plugin's name in the manager (entry-point name; module name of a built-in).
        distribution: the distribution it came from, ``"ropilot (built-in)"`` for built-ins.
        version: the distribution's version (ropilot's version for built-ins; empty when
            unknown).
        hooks: the names of the hooks it implements, sorted.
    """

    name: str
    distribution: str
    version: str
    hooks: list[str]

    @property
    def builtin(self) -> bool:
        """Whether this is one of ropilot's own plugins."""
        return self.distribution == BUILTIN_DISTRIBUTION


def describe_plugins(pm: pluggy.PluginManager) -> list[PluginInfo]:
    """List the plugins registered in ``pm``, in registration order.

    Args:
        pm: a plugin manager, normally from ``get_plugin_manager()``. With a plain
            :class:`pluggy.PluginManager` the distributions are taken from pluggy's own
            record of ``load_setuptools_entrypoints``.

    Returns:
        One :class:`PluginInfo` per registered plugin.
    """
    pluggy_dists = {id(plugin): dist for plugin, dist in pm.list_plugin_distinfo()}
    infos: list[PluginInfo] = []
    for name, plugin in pm.list_name_plugin():
        if plugin is None:  # blocked name
            continue
        hooks = sorted({caller.name for caller in pm.get_hookcallers(plugin) or ()})
        source = pm.plugin_sources.get(name) if isinstance(pm, RopilotPluginManager) else None
        if source is not None:
            distribution, version = source.distribution, source.version
        elif id(plugin) in pluggy_dists:
            dist = pluggy_dists[id(plugin)]
            distribution, version = dist.project_name, dist.version
        else:
            distribution, version = RUNTIME_DISTRIBUTION, ""
        infos.append(PluginInfo(name, distribution, version, hooks))
    return infos
