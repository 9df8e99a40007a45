"""Exact conversions between aware datetimes and the store's integer microseconds."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_US = timedelta(microseconds=1)


def to_epoch_us(value: datetime) -> int:
    """Microseconds since 1970-01-01 UTC, exactly (no float rounding).

    Raises:
        ValueError: if ``value`` is naive.
    """
    if value.tzinfo is None or value.utcoffset() is None:
        raise ValueError(f"naive datetime {value!r}: ropilot keeps aware UTC timestamps")
    return (value - EPOCH) // _US


def from_epoch_us(value: int) -> datetime:
    """The aware UTC datetime for microseconds since the epoch."""
    return EPOCH + timedelta(microseconds=value)
