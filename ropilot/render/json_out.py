"""The JSON form of a report (schema in docs/reports.md)."""

from __future__ import annotations

import json

from ropilot.core.reports.model import Report


def dumps(report: Report) -> str:
    """The report as indented JSON (UTF-8 text, not escaped)."""
    return json.dumps(report.to_dict(), ensure_ascii=False, indent=2) + "\n"
