from __future__ import annotations

from datetime import UTC, date, datetime, timedelta, timezone
from zoneinfo import ZoneInfo

import pytest

from ropilot.connectors.bundle import values
from ropilot.core.timeutil import to_epoch_us

MSK = ZoneInfo("Europe/Moscow")
ts = values.timestamp_parser(MSK)


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("2026-03-01T10:00:00Z", datetime(2026, 3, 1, 10, tzinfo=UTC)),
        ("2026-03-01T10:00:00+05:00", datetime(2026, 3, 1, 5, tzinfo=UTC)),
        ("2026-03-01T10:00:00", datetime(2026, 3, 1, 7, tzinfo=UTC)),  # Moscow = UTC+3
        ("2026-03-01 10:00", datetime(2026, 3, 1, 7, tzinfo=UTC)),
        ("2026-03-01T10:00:00.123456Z", datetime(2026, 3, 1, 10, 0, 0, 123456, tzinfo=UTC)),
        ("  2026-12-31T23:59:59+03:00 ", datetime(2026, 12, 31, 20, 59, 59, tzinfo=UTC)),
        (datetime(2026, 3, 1, 10, 0), datetime(2026, 3, 1, 7, tzinfo=UTC)),  # XLSX cell
    ],
)
def test_timestamps(raw: object, expected: datetime) -> None:
    assert ts(raw) == to_epoch_us(expected)


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        ("2026-03-01", "is a date without a time"),
        ("20260301", "is a date without a time"),
        ("2026-13-01", "is not a timestamp"),
        ("01.03.2026 10:00", "is not a timestamp"),
        ("yesterday", "is not a timestamp"),
    ],
)
def test_bad_timestamps(raw: str, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        ts(raw)


def test_calendar_day_takes_a_timestamp_as_its_local_day() -> None:
    day = values.calendar_day_parser(MSK)
    assert day("2026-03-31") == date(2026, 3, 31)
    # 22:30 UTC on the 31st is 01:30 on April 1st in Moscow.
    assert day("2026-03-31T22:30:00Z") == date(2026, 4, 1)
    assert day(datetime(2026, 3, 31, 22, 30, tzinfo=timezone(timedelta(0)))) == date(2026, 4, 1)
    with pytest.raises(ValueError, match="is not a date"):
        day("31.03.2026")


@pytest.mark.parametrize(
    ("raw", "units"),
    [("100", 1_000_000), ("-12.5", -125_000), ("0.0001", 1), ("0", 0), (1234.5, 12_345_000)],
)
def test_money_units(raw: object, units: int) -> None:
    assert values.MoneyParser(allow_decimal_comma=False)(raw) == units


def test_money_refuses_what_it_cannot_store_exactly() -> None:
    money = values.MoneyParser(allow_decimal_comma=False)
    with pytest.raises(ValueError, match="more than 4 decimal places"):
        money("1.00001")
    with pytest.raises(ValueError, match="is not an amount"):
        money("1e5")
    with pytest.raises(ValueError, match="is not an amount"):
        money("₽100")


def test_money_decimal_comma_only_when_allowed_and_consistent() -> None:
    ru = values.MoneyParser(allow_decimal_comma=True)
    assert ru("1234,56") == 12_345_600
    assert ru("100") == 1_000_000  # no mark: fine either way
    with pytest.raises(ValueError, match="earlier rows of this file use"):
        ru("1.5")


def test_ids_and_lists() -> None:
    assert values.identifier(" 42 ") == "42"
    assert values.identifier(42.0) == "42"  # an XLSX number cell
    assert values.multi("+7 900 000-00-00; 8 495 1234567 ;") == [
        "+7 900 000-00-00",
        "8 495 1234567",
    ]
    with pytest.raises(ValueError, match="longer than 128"):
        values.identifier("x" * 129)


def test_choices_probability_currency_zone() -> None:
    assert values.choice("open", "won", "lost")("Won") == "won"
    with pytest.raises(ValueError, match='"closed" is not one of open, won, lost'):
        values.choice("open", "won", "lost")("closed")
    with pytest.raises(ValueError, match="outside 0–100"):
        values.bounded_integer(0, 100)("101")
    assert values.currency("rub") == "RUB"
    with pytest.raises(ValueError, match="ISO 4217"):
        values.currency("рубль")
    with pytest.raises(ValueError, match="IANA"):
        values.timezone_name("MSK")
