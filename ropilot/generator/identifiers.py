"""INNs, phone numbers and e-mails as people type them into a CRM (valid and not)."""

from __future__ import annotations

import random

_W10 = (2, 4, 10, 3, 5, 9, 4, 6, 8)
_W11 = (7, 2, 4, 10, 3, 5, 9, 4, 6, 8)
_W12 = (3, 7, 2, 4, 10, 3, 5, 9, 4, 6, 8)

MOBILE_CODES = tuple(
    [*range(900, 940), *range(950, 970), 977, 978, *range(980, 990), *range(991, 1000)]
)


def _check(digits: list[int], weights: tuple[int, ...]) -> int:
    return sum(d * w for d, w in zip(digits, weights, strict=False)) % 11 % 10


def company_inn(rng: random.Random, region_code: str) -> str:
    """A valid 10-digit INN of a legal entity registered in a region.

    Args:
        rng: random source.
        region_code: two-digit region code (the INN's first two digits).

    Returns:
        The INN.
    """
    digits = [int(region_code[0]), int(region_code[1])]
    digits += [int(rng.random() * 10) for _ in range(7)]
    if digits[2] == 0 and digits[3] == 0:
        digits[3] = 1
    digits.append(_check(digits, _W10))
    return "".join(map(str, digits))


def person_inn(rng: random.Random, region_code: str) -> str:
    """A valid 12-digit INN of an individual (an individual entrepreneur).

    Args:
        rng: random source.
        region_code: two-digit region code.

    Returns:
        The INN.
    """
    digits = [int(region_code[0]), int(region_code[1])]
    digits += [int(rng.random() * 10) for _ in range(8)]
    if digits[2] == 0 and digits[3] == 0:
        digits[3] = 1
    digits.append(_check(digits, _W11))
    digits.append(_check(digits, _W12))
    return "".join(map(str, digits))


def spoil_inn(rng: random.Random, inn: str) -> str:
    """An INN as mistyped: a wrong check digit, or a digit dropped.

    Args:
        rng: random source.
        inn: a valid INN.

    Returns:
        An INN that fails the checksum or the length check.
    """
    if rng.random() < 0.75:
        last = (int(inn[-1]) + 1 + int(rng.random() * 9)) % 10
        return inn[:-1] + str(last)
    cut = 1 + int(rng.random() * (len(inn) - 2))
    return inn[:cut] + inn[cut + 1 :]


def mobile_digits(rng: random.Random) -> str:
    """Ten national digits of a Russian mobile number (``9123456789``)."""
    code = MOBILE_CODES[int(rng.random() * len(MOBILE_CODES))]
    return f"{code}{int(rng.random() * 10_000_000):07d}"


def landline_digits(rng: random.Random, area_codes: tuple[str, ...]) -> str:
    """Ten national digits of a landline in one of ``area_codes`` (``4951234567``)."""
    code = area_codes[int(rng.random() * len(area_codes))]
    return f"{code}{2_000_000 + int(rng.random() * 7_999_999):07d}"


def format_phone(national: str, style: int) -> str:
    """Write ten national digits in one of the formats people use.

    Args:
        national: ten digits without the country code.
        style: 0–7, which of the written forms to use.

    Returns:
        e.g. ``+7 912 345-67-89``, ``8 (912) 345-67-89``, ``89123456789``.
    """
    a, b, c, d = national[:3], national[3:6], national[6:8], national[8:]
    if style == 0:
        return f"+7 {a} {b}-{c}-{d}"
    if style == 1:
        return f"8 ({a}) {b}-{c}-{d}"
    if style == 2:
        return f"+7{national}"
    if style == 3:
        return f"8{national}"
    if style == 4:
        return f"8-{a}-{b}-{c}-{d}"
    if style == 5:
        return f"+7 ({a}) {b} {c} {d}"
    if style == 6:
        return national
    return f"7({a}){b}{c}{d}"


PHONE_STYLES = 8
_STYLE_WEIGHTS = (30, 25, 15, 12, 6, 6, 3, 3)
_STYLE_TABLE = tuple(s for s, w in enumerate(_STYLE_WEIGHTS) for _ in range(w))


def random_style(rng: random.Random) -> int:
    """A phone writing style, the common ones more often."""
    return _STYLE_TABLE[int(rng.random() * len(_STYLE_TABLE))]


def broken_phone(rng: random.Random, national: str) -> str:
    """A phone that cannot be a valid number: too short, or a local number without a code."""
    r = rng.random()
    if r < 0.4:
        return f"8 ({national[:3]}) {national[3:6]}-{national[6:8]}-{national[8]}"
    if r < 0.7:
        return f"{national[3:6]}-{national[6:8]}-{national[8:]}"
    if r < 0.85:
        return f"+7 {national[:3]} {national[3:6]}-{national[6:8]}"
    return str(100 + int(rng.random() * 900))


def broken_email(rng: random.Random, local: str, domain: str) -> str:
    """An e-mail with a typo that no validator accepts."""
    r = rng.random()
    if r < 0.3:
        return f"{local}@{domain.split('.')[0]}"
    if r < 0.55:
        return f"{local}.{domain}"
    if r < 0.8:
        return f"{local}@@{domain}"
    return f"{local} @{domain}"
