"""Built-in KPIs, registered through the same hook as a plugin's, and the catalogue builder."""

from __future__ import annotations

from typing import Any

from ropilot.core.kpi.builtins import BUILTIN_KPIS
from ropilot.core.kpi.registry import KpiCatalogue, KpiDefinition
from ropilot.plugins.markers import hookimpl


@hookimpl
def ropilot_register_kpis() -> list[KpiDefinition]:
    """The built-in KPIs (outcomes, cycle, conversion, pipeline, forecasts, activity)."""
    return list(BUILTIN_KPIS)


def kpi_catalogue(pm: Any) -> KpiCatalogue:
    """Every registered KPI, built-ins first.

    Raises:
        PluginLoadError: when a plugin returns something that is not a ``KpiDefinition`` or
            reuses a KPI name.
    """
    catalogue = KpiCatalogue()
    # pluggy calls the last-registered plugin first; built-ins were registered first.
    for batch in reversed(pm.hook.ropilot_register_kpis()):
        for definition in batch or []:
            catalogue.add(definition)
    return catalogue
