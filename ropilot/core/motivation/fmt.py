"""Number formatting for payout notes: Russian (``5 000,00``, ``4 %``) and English
(``5,000.00``, ``4%``), and exact conversions between :class:`~fractions.Fraction` and Decimal.

Inside the motivation engine values stay exact (Decimal for money and rates, Fraction where a
coefficient divides); rounding to kopecks happens once per payout line (:func:`round_money`).
"""

from __future__ import annotations

from decimal import ROUND_HALF_UP, Decimal, localcontext
from fractions import Fraction

from ropilot.core.i18n import Lang

CENT = Decimal("0.01")
SHOWN_PLACES = 6
"""Places shown for a value with no finite decimal form (such values are prefixed with ≈)."""


def round_money(value: Fraction | Decimal) -> Decimal:
    """Round to kopecks, halves away from zero (ROUND_HALF_UP), exactly even for fractions."""
    if isinstance(value, Decimal):
        return value.quantize(CENT, ROUND_HALF_UP)
    scaled = abs(value) * 100
    kopecks = int(scaled + Fraction(1, 2))  # floor(x + ½) for x ≥ 0
    return (Decimal(-kopecks if value < 0 else kopecks) / 100).quantize(CENT)


def finite_decimal(value: Fraction) -> Decimal | None:
    """The exact Decimal of ``value`` when it has a finite decimal form, else None."""
    den = value.denominator
    for p in (2, 5):
        while den % p == 0:
            den //= p
    if den != 1:
        return None
    with localcontext() as ctx:
        ctx.prec = max(60, len(str(value.numerator)) + len(str(value.denominator)) + 10)
        return (Decimal(value.numerator) / Decimal(value.denominator)).normalize()


def to_decimal(value: Fraction) -> Decimal:
    """``value`` as a Decimal: exact when it has a finite decimal form, else to 28 digits."""
    exact = finite_decimal(value)
    if exact is not None:
        return exact
    return Decimal(value.numerator) / Decimal(value.denominator)


def _plain(value: Decimal, min_places: int) -> tuple[str, str, str]:
    """Sign, integer digits and fraction digits of ``value`` without exponent."""
    text = format(value.normalize() if value != 0 else Decimal(0), "f")
    sign = ""
    if text.startswith("-"):
        sign, text = "-", text[1:]
    whole, _, frac = text.partition(".")
    frac = frac.rstrip("0")
    if len(frac) < min_places:
        frac += "0" * (min_places - len(frac))
    return sign, whole, frac


def fmt_decimal(value: Decimal, lang: Lang = "ru", *, min_places: int = 0) -> str:
    """``value`` with grouped thousands and at least ``min_places`` decimals (no rounding)."""
    sign, whole, frac = _plain(value, min_places)
    group = " " if lang == "ru" else ","
    point = "," if lang == "ru" else "."
    groups: list[str] = []
    while len(whole) > 3:
        groups.insert(0, whole[-3:])
        whole = whole[:-3]
    groups.insert(0, whole)
    out = sign + group.join(groups)
    return out + (point + frac if frac else "")


def fmt_money(value: Decimal, lang: Lang = "ru") -> str:
    """Money with two decimals (more when the value has them: amounts keep 4 places)."""
    return fmt_decimal(value, lang, min_places=2)


def fmt_number(value: Decimal | Fraction, lang: Lang = "ru") -> str:
    """A fact, weight or coefficient; one with no finite decimal form is shown ≈ to 6 places."""
    if isinstance(value, Fraction):
        exact = finite_decimal(value)
        if exact is None:
            shown = to_decimal(value).quantize(Decimal(1).scaleb(-SHOWN_PLACES), ROUND_HALF_UP)
            return "≈" + fmt_decimal(shown, lang)
        value = exact
    return fmt_decimal(value, lang)


def fmt_percent(rate: Decimal | Fraction, lang: Lang = "ru") -> str:
    """A rate as a percentage: ``4 %`` (ru) or ``4%`` (en)."""
    number = fmt_number(rate * 100, lang)
    return f"{number} %" if lang == "ru" else f"{number}%"
