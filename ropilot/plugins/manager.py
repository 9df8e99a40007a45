"""Build the plugin manager: built-in plugins, then third-party plugins from entry points.

There is no global plugin manager: :func:`get_plugin_manager` builds a new one on every call,
so tests and embedded uses never share state. Third-party plugins are distributions that
declare an entry point in the group ``ropilot``; each one is loaded by our own loop so that the
allow-list applies and a broken plugin fails with a :class:`PluginLoadError` that names its
distribution and says how to disable it.

Environment switches (read from ``env``, by default ``os.environ``):

``ROPILOT_DISABLE_PLUGIN_AUTOLOAD``
    truthy (``1``, ``true``, ``yes``, ``on``): load no entry points; built-ins still load.
``ROPILOT_PLUGINS``
    comma-separated allow-list of entry-point names or distribution names; only those
    third-party plugins load. Unset or empty: every installed plugin loads.
``ROPILOT_TRACE_PLUGINS``
    truthy: every hook call is traced to standard error.
"""

from __future__ import annotations

import difflib
import importlib
import inspect
import logging
import os
import re
import sys
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from importlib import metadata
from typing import Any

import pluggy

from ropilot.core.errors import PluginLoadError
from ropilot.plugins import hookspecs
from ropilot.plugins.hookspecs import HOOK_PREFIX
from ropilot.plugins.markers import PROJECT_NAME

__all__ = [
    "BUILTIN_DISTRIBUTION",
    "DEFAULT_PLUGINS",
    "DISABLE_AUTOLOAD_ENV",
    "ENTRY_POINT_GROUP",
    "PLUGINS_ENV",
    "TRACE_ENV",
    "PluginSource",
    "RopilotPluginManager",
    "get_plugin_manager",
]

logger = logging.getLogger(__name__)

ENTRY_POINT_GROUP = "ropilot"
"""The entry-point group third-party plugins declare in their ``pyproject.toml``."""

DISABLE_AUTOLOAD_ENV = "ROPILOT_DISABLE_PLUGIN_AUTOLOAD"
PLUGINS_ENV = "ROPILOT_PLUGINS"
TRACE_ENV = "ROPILOT_TRACE_PLUGINS"

BUILTIN_DISTRIBUTION = "ropilot (built-in)"
"""The distribution name reported for built-in plugins."""

DEFAULT_PLUGINS: tuple[str, ...] = (
    "ropilot.plugins.builtin_connectors",
    "ropilot.plugins.builtin_kpis",
    "ropilot.plugins.builtin_notifiers",
    "ropilot.plugins.builtin_quality",
    "ropilot.plugins.builtin_routing",
)
"""Modules registered as plugins on every manager, before any third-party plugin."""

_TRUTHY = frozenset({"1", "true", "yes", "on"})
_DISABLE_HINT = (
    f"To disable it, uninstall the distribution, set {PLUGINS_ENV} to a comma-separated list "
    f"of the plugins you want (without this one), or set {DISABLE_AUTOLOAD_ENV}=1 to load no "
    "third-party plugins."
)


@dataclass(frozen=True)
class PluginSource:
    """Where a registered plugin came from.

    Attributes:
        name: the plugin's name in the manager (entry-point name, or module name of a
            built-in).
        distribution: the distribution's name, or :data:`BUILTIN_DISTRIBUTION`.
        version: the distribution's version (ropilot's version for built-ins).
        entry_point: ``"name = value"`` of the entry point, or ``None`` for built-ins.
    """

    name: str
    distribution: str
    version: str
    entry_point: str | None = None

    @property
    def builtin(self) -> bool:
        """Whether this is one of ropilot's own plugins."""
        return self.entry_point is None

    def describe(self) -> str:
        """Return a human description used in error messages."""
        if self.builtin:
            return f"built-in plugin {self.name!r} (a bug in ropilot, please report it)"
        return (
            f"plugin {self.name!r} from distribution {self.distribution} {self.version} "
            f"(entry point {self.entry_point!r} in group {ENTRY_POINT_GROUP!r})"
        )


class RopilotPluginManager(pluggy.PluginManager):
    """A :class:`pluggy.PluginManager` that remembers where each plugin came from.

    Functions whose name starts with ``ropilot_`` are hook implementations even without the
    ``@hookimpl`` marker (as in pytest), so a misspelled hook name is always caught by
    :meth:`check_pending` instead of being silently ignored.

    Attributes:
        plugin_sources: plugin name → :class:`PluginSource`, for plugins loaded by
            :func:`get_plugin_manager`. Plugins registered by code are not in it.
    """

    def __init__(self) -> None:
        super().__init__(PROJECT_NAME)
        self.plugin_sources: dict[str, PluginSource] = {}

    def parse_hookimpl_opts(self, plugin: Any, name: str) -> pluggy.HookimplOpts | None:
        """Treat unmarked ``ropilot_*`` functions as hook implementations with default options.

        Args:
            plugin: the plugin being registered.
            name: an attribute name of the plugin.

        Returns:
            The hookimpl options, or ``None`` if the attribute is not a hook implementation.
        """
        opts = super().parse_hookimpl_opts(plugin, name)
        if opts is None and name.startswith(HOOK_PREFIX):
            method = getattr(plugin, name, None)
            if inspect.isroutine(method):
                opts = pluggy.HookimplOpts(
                    wrapper=False,
                    hookwrapper=False,
                    optionalhook=False,
                    tryfirst=False,
                    trylast=False,
                    specname=None,
                )
        return opts

    def source_of(self, plugin: object) -> PluginSource | None:
        """Return where ``plugin`` came from, or ``None`` if it was registered by code.

        Args:
            plugin: a registered plugin object.

        Returns:
            The plugin's :class:`PluginSource`, if known.
        """
        name = self.get_name(plugin)
        return None if name is None else self.plugin_sources.get(name)


def get_plugin_manager(
    *,
    load_entrypoints: bool | None = None,
    allow: Iterable[str] | None = None,
    env: Mapping[str, str] | None = None,
) -> RopilotPluginManager:
    """Build a new plugin manager with the built-in and the installed plugins.

    Args:
        load_entrypoints: load third-party plugins from entry points of group ``ropilot``.
            ``None``: yes, unless ``ROPILOT_DISABLE_PLUGIN_AUTOLOAD`` is truthy.
        allow: entry-point names or distribution names of the third-party plugins to load;
            the others are skipped. ``None``: take the list from ``ROPILOT_PLUGINS`` (unset or
            empty: load all). An empty iterable loads none. Built-ins always load.
        env: the environment to read the switches from; defaults to ``os.environ``.

    Returns:
        A new manager; nothing else holds a reference to it.

    Raises:
        PluginLoadError: a plugin failed to import, raised while loading, has a hook
            implementation that does not match its spec, or implements an unknown hook. The
            message names the plugin's distribution and version and how to disable it.
    """
    environ: Mapping[str, str] = os.environ if env is None else env
    pm = RopilotPluginManager()
    pm.add_hookspecs(hookspecs)
    if _truthy(environ.get(TRACE_ENV)):
        pm.trace.root.setwriter(_write_stderr)
        pm.enable_tracing()

    for module_name in DEFAULT_PLUGINS:
        _register_builtin(pm, module_name)

    if load_entrypoints is None:
        load_entrypoints = not _truthy(environ.get(DISABLE_AUTOLOAD_ENV))
    if load_entrypoints:
        allowed = _parse_allow_list(environ.get(PLUGINS_ENV)) if allow is None else set(allow)
        _load_entrypoints(pm, allowed)

    _check_unknown_hooks(pm)
    return pm


def _truthy(value: str | None) -> bool:
    return value is not None and value.strip().lower() in _TRUTHY


def _write_stderr(text: str) -> None:
    sys.stderr.write(text)


def _parse_allow_list(value: str | None) -> set[str] | None:
    if value is None:
        return None
    names = {part.strip() for part in value.split(",") if part.strip()}
    return names or None


def _normalize(name: str) -> str:
    """Normalize a distribution name as PEP 503 does (``My_Plugin`` → ``my-plugin``)."""
    return re.sub(r"[-_.]+", "-", name).lower()


def _builtin_version() -> str:
    from ropilot import __version__

    return __version__


def _register_builtin(pm: RopilotPluginManager, module_name: str) -> None:
    source = PluginSource(module_name, BUILTIN_DISTRIBUTION, _builtin_version())
    try:
        module = importlib.import_module(module_name)
        pm.register(module, name=module_name)
    except Exception as exc:
        raise PluginLoadError(f"Could not load {source.describe()}: {exc}") from exc
    pm.plugin_sources[module_name] = source


def _entry_points() -> Iterable[metadata.EntryPoint]:
    """Return the installed entry points of group ``ropilot`` (replaced in tests)."""
    return metadata.entry_points(group=ENTRY_POINT_GROUP)


def _source_of_entry_point(ep: metadata.EntryPoint) -> PluginSource:
    dist = ep.dist
    dist_name = (dist.metadata["Name"] if dist is not None else None) or "(unknown distribution)"
    version = (dist.version if dist is not None else None) or "(unknown version)"
    return PluginSource(ep.name, dist_name, version, f"{ep.name} = {ep.value}")


def _load_entrypoints(pm: RopilotPluginManager, allowed: set[str] | None) -> None:
    allowed_normalized = None if allowed is None else {_normalize(name) for name in allowed}
    matched: set[str] = set()
    for ep in _entry_points():
        source = _source_of_entry_point(ep)
        if allowed is not None and allowed_normalized is not None:
            hits = ({ep.name} & allowed) | ({_normalize(source.distribution)} & allowed_normalized)
            if not hits:
                logger.debug("Skipping %s: not in the allow-list", source.describe())
                continue
            matched |= hits
        if pm.is_blocked(ep.name):
            logger.debug("Skipping %s: blocked", source.describe())
            continue
        previous = pm.plugin_sources.get(ep.name)
        if previous is not None or pm.get_plugin(ep.name) is not None:
            other = previous.describe() if previous is not None else f"plugin {ep.name!r}"
            raise PluginLoadError(
                f"Could not load {source.describe()}: the name {ep.name!r} is already taken by "
                f"{other}. Plugin names must be unique. {_DISABLE_HINT}"
            )
        try:
            plugin = ep.load()
        except Exception as exc:
            raise PluginLoadError(
                f"Could not import {source.describe()}: {type(exc).__name__}: {exc}. "
                f"{_DISABLE_HINT}"
            ) from exc
        try:
            pm.register(plugin, name=ep.name)
        except (pluggy.PluginValidationError, ValueError) as exc:
            raise PluginLoadError(
                f"Could not register {source.describe()}: {exc}. {_DISABLE_HINT}"
            ) from exc
        pm.plugin_sources[ep.name] = source
        logger.debug("Loaded %s", source.describe())

    if allowed is not None:
        unmatched = {
            name for name in allowed if name not in matched and _normalize(name) not in matched
        }
        if unmatched:
            logger.warning(
                "%s names plugins that are not installed: %s",
                PLUGINS_ENV,
                ", ".join(sorted(unmatched)),
            )


def _check_unknown_hooks(pm: RopilotPluginManager) -> None:
    """Fail loudly on hook implementations without a spec (a misspelled hook name)."""
    known = sorted(pm.hook.__dict__)
    problems: list[str] = []
    for name in known:
        if name.startswith("_"):
            continue
        caller = getattr(pm.hook, name)
        if caller.has_spec():
            continue
        for impl in caller.get_hookimpls():
            if impl.optionalhook:
                continue
            source = pm.source_of(impl.plugin)
            who = source.describe() if source else f"plugin {impl.plugin_name!r}"
            spec_names = [n for n in dir(hookspecs) if n.startswith(HOOK_PREFIX)]
            close = difflib.get_close_matches(name, spec_names, n=1)
            hint = f" Did you mean {close[0]!r}?" if close else ""
            problems.append(f"{who} implements unknown hook {name!r}.{hint}")
    if problems:
        raise PluginLoadError(
            " ".join(problems)
            + " Fix the hook name, or mark an implementation of a hook from a newer ropilot "
            "with @hookimpl(optionalhook=True). " + _DISABLE_HINT
        )
    try:
        pm.check_pending()
    except pluggy.PluginValidationError as exc:  # pragma: no cover - caught above
        raise PluginLoadError(f"{exc}. {_DISABLE_HINT}") from exc
