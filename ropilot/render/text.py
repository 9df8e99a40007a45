"""Terminal tables (rich): titles in the chosen language, numbers right-aligned, "—" for null."""

from __future__ import annotations

import io

from rich.console import Console
from rich.table import Table

from ropilot.core.i18n import Lang, t
from ropilot.core.reports.model import Report, Section
from ropilot.render.values import format_value


def section_table(section: Section, lang: Lang) -> Table:
    """One section as a rich table."""
    table = Table(title=section.title(lang), title_justify="left", show_lines=False)
    for c in section.columns:
        table.add_column(c.title(lang), justify="left" if c.unit == "text" else "right")
    for row in section.rows:
        table.add_row(*[format_value(row.get(c.name), c.unit, lang) for c in section.columns])
    return table


def dumps(report: Report, lang: Lang, width: int | None = None) -> str:
    """The report as terminal text: a heading line, then a table per section."""
    buf = io.StringIO()
    console = Console(file=buf, width=width or 140, force_terminal=False, no_color=True)
    head = f"{t('report', lang)}: {report.name} · {report.account_id}"
    if report.period_label:
        head += f" · {report.period_label}"
    head += f" · {t('as_of', lang)} {report.as_of:%Y-%m-%d %H:%M} ({report.timezone})"
    console.print(head, highlight=False)
    for section in report.sections:
        console.print(section_table(section, lang))
        for note in [*section.conventions, *section.notes]:
            console.print(f"  {note}", highlight=False)
    return buf.getvalue()
