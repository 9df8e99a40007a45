"""The shape every report has, whatever produced it and whatever format prints it.

A report is a list of sections; a section has columns (dimension keys first, then figures) and
rows. Values stay exact Python values here (``Decimal`` money and ratios, ``int`` counts,
aware ``datetime``); renderers decide how to show them. The JSON form is a stable, documented
schema (docs/reports.md, ``SCHEMA``).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import ROUND_HALF_UP, Decimal
from typing import Any, Literal

from ropilot.core.i18n import Lang

SCHEMA = "ropilot.report/1"

Unit = Literal[
    "text", "count", "money", "ratio", "days", "hours", "number", "date", "datetime", "multiple"
]
"""How a column's values are to be read: ``ratio`` is a fraction (0.25 = 25 %), ``multiple``
a factor such as coverage 4.55×, ``number`` any other quantity (possibly fractional)."""

# Places kept in the JSON form; money to the kopeck, the rest far below anything displayed.
JSON_PLACES: dict[str, int] = {"money": 2, "ratio": 6, "days": 4, "hours": 4, "number": 4}
JSON_PLACES["multiple"] = 4


Text = str | tuple[str, str]
"""A text in English, or a (Russian, English) pair."""


def in_lang(text: Text, lang: Lang) -> str:
    """The text in ``lang``."""
    if isinstance(text, tuple):
        return text[0] if lang == "ru" else text[1]
    return text


@dataclass(frozen=True)
class Column:
    """One column: ``key`` columns hold dimension values, the others named figures."""

    name: str
    title_ru: str
    title_en: str
    unit: Unit = "text"
    key: bool = False

    def title(self, lang: Lang) -> str:
        return self.title_ru if lang == "ru" else self.title_en


@dataclass
class Section:
    """A titled table of rows (``dict`` by column name)."""

    name: str
    title_ru: str
    title_en: str
    columns: list[Column]
    rows: list[dict[str, Any]] = field(default_factory=list)
    conventions: list[Text] = field(default_factory=list)
    """Labels of the conventions the figures follow (e.g. "stage conversion: funnel reading"),
    each in English or as a (Russian, English) pair."""
    notes: list[Text] = field(default_factory=list)

    def title(self, lang: Lang) -> str:
        return self.title_ru if lang == "ru" else self.title_en

    def texts(self, lang: Lang) -> list[str]:
        """Conventions and notes in ``lang`` (English where no Russian is given)."""
        return [in_lang(t, lang) for t in [*self.conventions, *self.notes]]

    @property
    def key_columns(self) -> list[Column]:
        return [c for c in self.columns if c.key]

    @property
    def figure_columns(self) -> list[Column]:
        return [c for c in self.columns if not c.key]


@dataclass
class Report:
    """What ``ropilot report …`` prints and the dashboard will show."""

    name: str
    account_id: str
    currency: str
    timezone: str
    as_of: datetime
    sections: list[Section]
    period_label: str | None = None
    period_start: datetime | None = None
    period_end: datetime | None = None
    by: tuple[str, ...] = ()

    def section(self, name: str) -> Section:
        for s in self.sections:
            if s.name == name:
                return s
        raise KeyError(name)

    def to_dict(self) -> dict[str, Any]:
        """The JSON form (docs/reports.md): money and ratios as decimal strings."""
        return {
            "schema": SCHEMA,
            "report": self.name,
            "account": {
                "id": self.account_id,
                "currency": self.currency,
                "timezone": self.timezone,
            },
            "period": None
            if self.period_label is None
            else {
                "label": self.period_label,
                "start": _json_value(self.period_start, "datetime"),
                "end": _json_value(self.period_end, "datetime"),
            },
            "as_of": _json_value(self.as_of, "datetime"),
            "by": list(self.by),
            "sections": [_section_dict(s) for s in self.sections],
        }


def _section_dict(section: Section) -> dict[str, Any]:
    return {
        "name": section.name,
        "title": {"ru": section.title_ru, "en": section.title_en},
        "conventions": [in_lang(t, "en") for t in section.conventions],
        "conventions_ru": [in_lang(t, "ru") for t in section.conventions],
        "notes": [in_lang(t, "en") for t in section.notes],
        "notes_ru": [in_lang(t, "ru") for t in section.notes],
        "columns": [
            {
                "name": c.name,
                "kind": "dimension" if c.key else "figure",
                "unit": c.unit,
                "title": {"ru": c.title_ru, "en": c.title_en},
            }
            for c in section.columns
        ],
        "rows": [
            {
                "keys": {c.name: _json_value(row.get(c.name), c.unit) for c in section.key_columns},
                "figures": {
                    c.name: _json_value(row.get(c.name), c.unit) for c in section.figure_columns
                },
            }
            for row in section.rows
        ],
    }


def _json_value(value: Any, unit: str) -> Any:
    if value is None:
        return None
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, bool):
        return value
    if unit == "count" and isinstance(value, int):
        return value
    if isinstance(value, Decimal | int | float) and unit in JSON_PLACES:
        places = Decimal(1).scaleb(-JSON_PLACES[unit])
        return str(Decimal(str(value)).quantize(places, ROUND_HALF_UP))
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, int | float | str):
        return value
    return str(value)
