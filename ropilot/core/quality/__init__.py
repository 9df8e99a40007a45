"""Data quality: checks over the store, stored findings, per-manager scores (issue 6)."""

from ropilot.core.quality.registry import (
    SEVERITIES,
    CheckCatalogue,
    FindingDraft,
    QualityCheck,
    QualityContext,
    Severity,
)

__all__ = [
    "SEVERITIES",
    "CheckCatalogue",
    "FindingDraft",
    "QualityCheck",
    "QualityContext",
    "Severity",
]
