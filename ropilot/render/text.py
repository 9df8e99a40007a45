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
    cells = [
        [format_value(row.get(c.name), c.unit, lang) for c in section.columns]
        for row in section.rows
    ]
    for j, c in enumerate(section.columns):
        if c.unit == "text":
            widest = min(max((len(r[j]) for r in cells), default=1), 28)
            table.add_column(c.title(lang), justify="left", min_width=widest)
        else:
            # Numbers never wrap or get cut: the widest value sets the column's minimum width.
            widest = max((len(r[j]) for r in cells), default=1)
            table.add_column(c.title(lang), justify="right", no_wrap=True, min_width=widest)
    for r in cells:
        table.add_row(*r)
    return table


def _needed_width(section: Section, lang: Lang) -> int:
    widths = []
    for c in section.columns:
        values = [len(format_value(r.get(c.name), c.unit, lang)) for r in section.rows]
        widest = max(values, default=1)
        if c.unit == "text":
            widths.append(max(min(widest, 28), min(len(c.title(lang)), 14)))
        else:  # numbers and their headers do not wrap
            widths.append(max(widest, len(c.title(lang))))
    # + a margin: rich wraps long headers over words and needs a little more than the sum.
    return sum(widths) + 3 * len(widths) + 1 + 8


def dumps(report: Report, lang: Lang, width: int | None = None) -> str:
    """The report as terminal text: a heading line, then a table per section."""
    buf = io.StringIO()
    needed = max((_needed_width(s, lang) for s in report.sections), default=80)
    width = max(width or 100, needed)
    console = Console(file=buf, width=width, force_terminal=False, no_color=True)
    head = f"{t('report', lang)}: {report.name} · {report.account_id}"
    if report.period_label:
        head += f" · {report.period_label}"
    head += f" · {t('as_of', lang)} {report.as_of:%Y-%m-%d %H:%M} ({report.timezone})"
    console.print(head, highlight=False)
    for section in report.sections:
        console.print(section_table(section, lang))
        for note in section.texts(lang):
            console.print(f"  {note}", highlight=False)
    return buf.getvalue()
