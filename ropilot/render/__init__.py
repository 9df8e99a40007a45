"""Output formats for reports: terminal tables, JSON, CSV and XLSX (``render(report, fmt)``)."""

from __future__ import annotations

from pathlib import Path

from ropilot.core.errors import ConfigurationError
from ropilot.core.i18n import Lang
from ropilot.core.reports.model import Report

FORMATS = ("table", "json", "csv", "xlsx")


def write_report(report: Report, fmt: str, lang: Lang, out: Path | None) -> str | None:
    """Render ``report``; returns the text for stdout, or ``None`` when written to ``out``.

    Raises:
        ConfigurationError: for an unknown format, or XLSX without ``out``.
    """
    from ropilot.render import csv_out, json_out, text, xlsx

    if fmt == "xlsx":
        if out is None:
            raise ConfigurationError("--format xlsx needs --out FILE.xlsx")
        xlsx.write(report, out, lang)
        return None
    if fmt == "json":
        body = json_out.dumps(report)
    elif fmt == "csv":
        body = csv_out.dumps(report, lang)
    elif fmt == "table":
        body = text.dumps(report, lang, width=None if out is None else 160)
    else:
        raise ConfigurationError(f"unknown format {fmt!r}; use {', '.join(FORMATS)}")
    if out is not None:
        out.write_text(body, encoding="utf-8")
        return None
    return body
