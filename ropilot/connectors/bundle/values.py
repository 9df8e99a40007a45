"""Parsers for bundle cells: each takes the raw cell (text from CSV, typed from XLSX) and
returns the store value or raises ``ValueError`` with a message that names the bad value.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from datetime import date, datetime, timedelta, tzinfo
from decimal import Decimal, InvalidOperation
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from ropilot.core.store.types import money_to_units
from ropilot.core.timeutil import EPOCH

_MICROSECOND = timedelta(microseconds=1)

Parser = Callable[[Any], Any]

_DATE_ONLY = re.compile(r"^\d{4}-?\d{2}-?\d{2}$")
_DOT_DECIMAL = re.compile(r"^[+-]?\d+(\.\d+)?$")
_COMMA_DECIMAL = re.compile(r"^[+-]?\d+,\d+$")
_CURRENCY = re.compile(r"^[A-Z]{3}$")
_TRUE = frozenset({"true", "1", "yes", "да"})
_FALSE = frozenset({"false", "0", "no", "нет"})


def text(raw: Any) -> str:
    """Any cell as text; integral XLSX numbers lose their ``.0``."""
    if type(raw) is str:
        return raw
    if isinstance(raw, bool):
        return "true" if raw else "false"
    if isinstance(raw, float) and raw.is_integer():
        return str(int(raw))
    if isinstance(raw, datetime):
        return raw.isoformat()
    return str(raw)


def timestamp_parser(zone: tzinfo) -> Parser:
    """ISO 8601 timestamp → epoch microseconds; no offset means the account's local time."""

    def parse(raw: Any) -> int:
        if type(raw) is str:
            s = raw.strip()
            try:
                value = datetime.fromisoformat(s)
            except ValueError:
                raise ValueError(f'"{s}" is not a timestamp (ISO 8601)') from None
            if len(s) <= 10:  # YYYY-MM-DD or YYYYMMDD: a day, not a moment
                raise ValueError(f'"{s}" is a date without a time; a timestamp is required')
        elif isinstance(raw, datetime):
            value = raw
        else:
            raise ValueError(f'"{raw}" is not a timestamp (ISO 8601)')
        if value.tzinfo is None:
            value = value.replace(tzinfo=zone)
        return (value - EPOCH) // _MICROSECOND

    return parse


def calendar_day_parser(zone: tzinfo) -> Parser:
    """A calendar day; a timestamp is taken as its day in the account's time zone."""

    def parse(raw: Any) -> date:
        if isinstance(raw, datetime):
            return raw.astimezone(zone).date() if raw.tzinfo else raw.date()
        if isinstance(raw, date):
            return raw
        s = text(raw).strip()
        try:
            if _DATE_ONLY.match(s):
                return date.fromisoformat(s)
            value = datetime.fromisoformat(s)
        except ValueError:
            raise ValueError(f'"{s}" is not a date (YYYY-MM-DD)') from None
        return value.astimezone(zone).date() if value.tzinfo else value.date()

    return parse


class MoneyParser:
    """Money → integer ten-thousandths. Remembers the decimal mark a file uses.

    A decimal comma is accepted only in files that use ``;`` as separator (what Excel saves
    in a Russian locale); a file that mixes ``,`` and ``.`` is refused, never guessed.
    """

    def __init__(self, allow_decimal_comma: bool) -> None:
        self.allow_decimal_comma = allow_decimal_comma
        self.mark: str | None = None

    def __call__(self, raw: Any) -> int:
        if isinstance(raw, bool):
            raise ValueError(f'"{raw}" is not an amount')
        if isinstance(raw, (int, float, Decimal)):
            number = Decimal(str(raw))
        else:
            s = text(raw).strip()
            if _DOT_DECIMAL.match(s):
                self._note_mark(".", s)
                number = Decimal(s)
            elif _COMMA_DECIMAL.match(s):
                if not self.allow_decimal_comma:
                    raise ValueError(
                        f'"{s}" uses a decimal comma in a comma-separated file; '
                        f"write {s.replace(',', '.')}"
                    )
                self._note_mark(",", s)
                number = Decimal(s.replace(",", "."))
            else:
                raise ValueError(
                    f'"{s}" is not an amount '
                    '(digits with "." as decimal mark, no thousands separator)'
                )
        try:
            return money_to_units(number)
        except (ValueError, InvalidOperation) as exc:
            raise ValueError(f'"{raw}": {exc}') from None

    def _note_mark(self, mark: str, s: str) -> None:
        if "." not in s and "," not in s:
            return
        if self.mark is None:
            self.mark = mark
        elif self.mark != mark:
            raise ValueError(
                f'"{s}" uses "{mark}" as decimal mark but earlier rows of this file use '
                f'"{self.mark}"; use one decimal mark per file'
            )


def boolean(raw: Any) -> bool:
    """true/false, 1/0, yes/no, да/нет in any case."""
    if isinstance(raw, bool):
        return raw
    s = text(raw).strip().lower()
    if s in _TRUE:
        return True
    if s in _FALSE:
        return False
    raise ValueError(f'"{raw}" is not a boolean (true/false, 1/0, yes/no, да/нет)')


def integer(raw: Any) -> int:
    """A whole number."""
    if isinstance(raw, int) and not isinstance(raw, bool):
        return raw
    if isinstance(raw, float) and raw.is_integer():
        return int(raw)
    s = text(raw).strip()
    try:
        return int(s)
    except ValueError:
        raise ValueError(f'"{s}" is not a whole number') from None


def bounded_integer(low: int, high: int) -> Parser:
    """A whole number in ``[low, high]``."""

    def parse(raw: Any) -> int:
        value = integer(raw)
        if not low <= value <= high:
            raise ValueError(f"{value} is outside {low}–{high}")
        return value

    return parse


def choice(*options: str) -> Parser:
    """One of fixed lower-case words."""
    allowed = frozenset(options)

    def parse(raw: Any) -> str:
        s = text(raw).strip().lower()
        if s not in allowed:
            raise ValueError(f'"{raw}" is not one of {", ".join(options)}')
        return s

    return parse


def currency(raw: Any) -> str:
    """An ISO 4217 code such as RUB."""
    s = text(raw).strip().upper()
    if not _CURRENCY.match(s):
        raise ValueError(f'"{raw}" is not an ISO 4217 currency code (e.g. RUB)')
    return s


def timezone_name(raw: Any) -> str:
    """An IANA time zone name."""
    s = text(raw).strip()
    try:
        ZoneInfo(s)
    except (ZoneInfoNotFoundError, ValueError):
        raise ValueError(f'"{s}" is not an IANA time zone (e.g. Europe/Moscow)') from None
    return s


def identifier(raw: Any) -> str:
    """An id as the source has it (surrounding spaces removed)."""
    s = raw.strip() if type(raw) is str else text(raw).strip()
    if len(s) > 128:
        raise ValueError(f'id "{s[:20]}…" is longer than 128 characters')
    return s


def multi(raw: Any) -> list[str]:
    """Several values separated by ``;``."""
    return [part.strip() for part in text(raw).split(";") if part.strip()]


def json_value(raw: Any) -> Any:
    """A JSON document (ropilot's extension columns)."""
    try:
        return json.loads(text(raw))
    except json.JSONDecodeError as exc:
        raise ValueError(f"not valid JSON: {exc.msg} at position {exc.pos}") from None
