"""XLSX: one sheet per section, native number formats, a frozen header, widths that fit."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import xlsxwriter

from ropilot.core.i18n import Lang
from ropilot.core.reports.model import Report

FORMATS = {
    "money": "#,##0.00",
    "ratio": "0.0%",
    "days": "0.0",
    "hours": "0.0",
    "number": "0.0",
    "multiple": '0.00"×"',
    "count": "0",
    "datetime": "yyyy-mm-dd hh:mm",
    "date": "yyyy-mm-dd",
}


def _cell(value: Any) -> Any:
    if isinstance(value, Decimal):
        return float(value)  # Excel stores doubles; the exact value is in JSON/CSV
    if isinstance(value, datetime) and value.tzinfo is not None:
        return value.replace(tzinfo=None)
    return value


def write(report: Report, path: Path, lang: Lang) -> None:
    """Write the report to ``path`` as an XLSX workbook."""
    workbook = xlsxwriter.Workbook(str(path), {"strings_to_formulas": False})
    try:
        bold = workbook.add_format({"bold": True})
        formats = {unit: workbook.add_format({"num_format": f}) for unit, f in FORMATS.items()}
        used: set[str] = set()
        for section in report.sections:
            name = section.title(lang)[:31] or section.name[:31]
            for bad in "[]:*?/\\":
                name = name.replace(bad, " ")
            while name in used:
                name = name[:28] + f"_{len(used)}"
            used.add(name)
            sheet = workbook.add_worksheet(name)
            for j, col in enumerate(section.columns):
                sheet.write(0, j, col.title(lang), bold)
                sheet.set_column(j, j, max(12, len(col.title(lang)) + 2))
            for i, row in enumerate(section.rows, start=1):
                for j, col in enumerate(section.columns):
                    value = _cell(row.get(col.name))
                    if value is None:
                        continue
                    fmt = formats.get(col.unit)
                    if isinstance(value, datetime):
                        sheet.write_datetime(i, j, value, fmt)
                    elif fmt is not None and isinstance(value, int | float):
                        sheet.write_number(i, j, value, fmt)
                    else:
                        sheet.write(i, j, value if isinstance(value, int | float) else str(value))
            sheet.freeze_panes(1, len(section.key_columns))
    finally:
        workbook.close()
