"""Column types that behave the same on SQLite and PostgreSQL.

Timestamps are stored as integer microseconds since the epoch (UTC) and money as integer
ten-thousandths, so sums, differences and comparisons are exact and identical in both
databases (SQLite has neither a time zone aware timestamp nor an exact decimal).
"""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal, InvalidOperation
from typing import Any

from sqlalchemy import BigInteger, Dialect
from sqlalchemy.types import TypeDecorator

from ropilot.core.timeutil import from_epoch_us, to_epoch_us

MONEY_SCALE = 10_000
MONEY_DECIMALS = 4
_MONEY_QUANTUM = Decimal(1).scaleb(-MONEY_DECIMALS)
_CENT = Decimal("0.01")


class UtcTimestamp(TypeDecorator[datetime]):
    """An aware timestamp kept as microseconds since 1970-01-01 UTC (BIGINT).

    Binds accept aware datetimes; results are aware UTC datetimes. In SQL arithmetic
    (``closed_at - created_at``) wrap the expression in ``type_coerce(..., BigInteger)`` to get
    plain microseconds back.
    """

    impl = BigInteger
    cache_ok = True

    def process_bind_param(self, value: Any, dialect: Dialect) -> int | None:
        if value is None:
            return None
        if isinstance(value, datetime):
            return to_epoch_us(value)
        raise TypeError(f"expected an aware datetime, got {type(value).__name__}")

    def process_result_value(self, value: Any, dialect: Dialect) -> datetime | None:
        return None if value is None else from_epoch_us(int(value))


def money_to_units(value: Decimal) -> int:
    """Scale a Decimal to integer ten-thousandths, refusing values that would lose digits.

    Raises:
        ValueError: for non-finite values or more than four decimal places.
    """
    if not value.is_finite():
        raise ValueError("money must be a finite number")
    try:
        scaled = value.quantize(_MONEY_QUANTUM)
    except InvalidOperation as exc:
        raise ValueError(f"money value {value} is too large") from exc
    if scaled != value:
        raise ValueError(f"money value {value} has more than {MONEY_DECIMALS} decimal places")
    return int(scaled.scaleb(MONEY_DECIMALS))


def units_to_money(units: int) -> Decimal:
    """Integer ten-thousandths back to a Decimal with two places, or more when needed."""
    value = Decimal(units).scaleb(-MONEY_DECIMALS)
    cents = value.quantize(_CENT)
    return cents if cents == value else value.normalize()


class Money(TypeDecorator[Decimal]):
    """A Decimal amount kept as integer ten-thousandths (BIGINT): exact sums in SQL."""

    impl = BigInteger
    cache_ok = True

    def process_bind_param(self, value: Any, dialect: Dialect) -> int | None:
        if value is None:
            return None
        if isinstance(value, Decimal):
            return money_to_units(value)
        raise TypeError(f"expected a Decimal amount, got {type(value).__name__}")

    def process_result_value(self, value: Any, dialect: Dialect) -> Decimal | None:
        return None if value is None else units_to_money(int(value))
