from __future__ import annotations

import pytest

from ropilot import hookimpl
from ropilot.connectors.amocrm.connector import AmoCRMConnector
from ropilot.core.errors import ConfigurationError
from ropilot.plugins.builtin_connectors import connector_registry
from ropilot.plugins.manager import get_plugin_manager


def test_amocrm_is_registered_through_ropilot_register_connectors() -> None:
    registry = connector_registry(get_plugin_manager(load_entrypoints=False))
    assert registry["amocrm"] is AmoCRMConnector


def test_two_connectors_with_one_name_are_refused() -> None:
    class Impostor:
        name = "amocrm"

    class Plugin:
        @hookimpl
        def ropilot_register_connectors(self) -> list[type]:
            return [Impostor]

    pm = get_plugin_manager(load_entrypoints=False)
    pm.register(Plugin(), name="impostor")
    with pytest.raises(ConfigurationError, match="two plugins register a connector named 'amocrm'"):
        connector_registry(pm)
