"""Built-in data-quality checks, registered through the same hook as a plugin's, and the
catalogue builder.
"""

from __future__ import annotations

from typing import Any

from ropilot.core.quality.checks_deals import DEAL_CHECKS
from ropilot.core.quality.registry import CheckCatalogue
from ropilot.plugins.markers import hookimpl

try:  # the identity and duplicate checks land separately (issue 6)
    from ropilot.core.quality.checks_identity import (  # type: ignore[import-not-found,unused-ignore]
        IDENTITY_CHECKS,
    )
except ImportError:  # pragma: no cover - until checks_identity exists
    IDENTITY_CHECKS: tuple[Any, ...] = ()  # type: ignore[no-redef,unused-ignore]


@hookimpl
def ropilot_register_quality_checks() -> list[Any]:
    """Deal and task checks (required fields, next task, overdue tasks, stage clocks, lost
    without reason, zero amount in late stages), then contact and company identity checks.
    """
    return [*DEAL_CHECKS, *IDENTITY_CHECKS]


def check_catalogue(pm: Any) -> CheckCatalogue:
    """Every registered check, built-ins first.

    Raises:
        PluginLoadError: when a check lacks a name, severity or ``run`` or reuses a name.
    """
    catalogue = CheckCatalogue()
    # pluggy calls the last-registered plugin first; built-ins were registered first.
    for batch in reversed(pm.hook.ropilot_register_quality_checks()):
        for check in batch or []:
            catalogue.add(check)
    return catalogue
