"""Built-in connectors, registered through the same hook as a third party's."""

from __future__ import annotations

from typing import Any

from ropilot.connectors.amocrm.connector import AmoCRMConnector
from ropilot.core.errors import ConfigurationError
from ropilot.plugins.markers import hookimpl


@hookimpl
def ropilot_register_connectors() -> list[Any]:
    """The amoCRM (Kommo) connector."""
    return [AmoCRMConnector]


def connector_registry(pm: Any) -> dict[str, type[Any]]:
    """Connector classes by name from every plugin.

    Raises:
        ConfigurationError: when two plugins register connectors with the same name.
    """
    registry: dict[str, type[Any]] = {}
    for batch in pm.hook.ropilot_register_connectors():
        for cls in batch or []:
            name = getattr(cls, "name", None)
            if not name:
                raise ConfigurationError(f"connector class {cls!r} has no name")
            if name in registry and registry[name] is not cls:
                raise ConfigurationError(
                    f"two plugins register a connector named {name!r}: "
                    f"{registry[name].__module__} and {cls.__module__}"
                )
            registry[name] = cls
    return registry
