"""CSV: one table per section with a header row of column names; sections apart by a blank line.

Values are machine-readable (decimal point, ISO dates, ratios as fractions), as in the JSON.
"""

from __future__ import annotations

import csv
import io

from ropilot.core.i18n import Lang
from ropilot.core.reports.model import Report, _json_value


def dumps(report: Report, lang: Lang) -> str:
    """The report as CSV text."""
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\n")
    for i, section in enumerate(report.sections):
        if len(report.sections) > 1:
            if i:
                buf.write("\n")
            writer.writerow([f"# {section.name}: {section.title(lang)}"])
        writer.writerow([c.name for c in section.columns])
        for row in section.rows:
            writer.writerow(
                [
                    "" if (v := _json_value(row.get(c.name), c.unit)) is None else v
                    for c in section.columns
                ]
            )
    return buf.getvalue()
