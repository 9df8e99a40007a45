"""How a value of a given unit reads to a person, in Russian or English."""

from __future__ import annotations

from datetime import date, datetime
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from ropilot.core.i18n import Lang

NULL = "—"


def _group(text: str, lang: Lang) -> str:
    """``1234567.89`` → ``1 234 567,89`` (ru) or ``1,234,567.89`` (en)."""
    sign = "-" if text.startswith("-") else ""
    text = text.lstrip("-")
    whole, _, frac = text.partition(".")
    groups: list[str] = []
    while len(whole) > 3:
        groups.insert(0, whole[-3:])
        whole = whole[:-3]
    groups.insert(0, whole)
    sep, point = ("\u00a0", ",") if lang == "ru" else (",", ".")
    return sign + sep.join(groups) + (point + frac if frac else "")


def _fixed(value: Any, places: int) -> str:
    q = Decimal(1).scaleb(-places)
    return str(Decimal(str(value)).quantize(q, ROUND_HALF_UP))


def format_value(value: Any, unit: str, lang: Lang) -> str:
    """Display text; ``None`` reads "—" (a ratio with a zero denominator is not 0)."""
    if value is None:
        return NULL
    if isinstance(value, bool):
        return ("да" if value else "нет") if lang == "ru" else ("yes" if value else "no")
    if isinstance(value, datetime):
        return value.strftime("%Y-%m-%d %H:%M")
    if isinstance(value, date):
        return value.isoformat()
    if unit == "money":
        return _group(_fixed(value, 2), lang)
    if unit == "ratio":
        return _group(_fixed(Decimal(str(value)) * 100, 1), lang) + " %"
    if unit == "multiple":
        return _group(_fixed(value, 2), lang) + "×"
    if unit in ("days", "hours"):
        return _group(_fixed(value, 1), lang)
    if unit == "count" and isinstance(value, int):
        return _group(str(value), lang)
    if unit == "number" or isinstance(value, Decimal | float):
        return _group(_fixed(value, 1), lang)
    return str(value)
