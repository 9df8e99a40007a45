"""Company and person names reduced to what identifies them, for duplicate matching.

A company name loses its legal form (ООО, АО, ПАО, ЗАО, ОАО, ИП, НКО … and the spelled-out
forms such as «Общество с ограниченной ответственностью»), its quotes («» "" „“), case (folded)
and the difference between ё and е; punctuation and runs of spaces become one space. So
``«Ромашка» ООО``, ``ООО "Ромашка"`` and ``общество с ограниченной ответственностью «РОМАШКА»``
all become ``ромашка``, while ``Ромашка-Трейд`` becomes ``ромашка трейд`` (a different name).
"""

from __future__ import annotations

import re
from typing import Final

__all__ = [
    "FULL_LEGAL_FORMS",
    "LEGAL_FORMS",
    "is_sole_trader",
    "normalize_company",
    "normalize_company_name",
    "normalize_person_name",
    "normalize_text",
    "sorted_tokens",
]

LEGAL_FORMS: Final[frozenset[str]] = frozenset(
    {
        # Russian abbreviations (case-folded)
        "ооо", "оао", "зао", "пао", "ао", "нао", "ип", "нко", "ано", "тоо", "одо", "пк", "мкк",
        "мфк", "гуп", "муп", "фгуп", "фгбу", "гбу", "мбу", "мау", "кфх", "снт", "тсж", "нп",
        "чп", "оо",
        # Latin spellings seen in CRMs
        "ooo", "oao", "zao", "pao", "ao", "ip", "llc", "ltd", "inc", "jsc", "gmbh", "corp",
    }
)  # fmt: skip
"""Legal-form tokens removed from company names wherever they stand."""

FULL_LEGAL_FORMS: Final[tuple[str, ...]] = (
    "общество с ограниченной ответственностью",
    "публичное акционерное общество",
    "непубличное акционерное общество",
    "закрытое акционерное общество",
    "открытое акционерное общество",
    "акционерное общество",
    "индивидуальный предприниматель",
    "автономная некоммерческая организация",
    "некоммерческая организация",
    "некоммерческое партнерство",
    "товарищество с ограниченной ответственностью",
    "производственный кооператив",
    "крестьянское фермерское хозяйство",
    "глава кфх",
    "limited liability company",
)
"""Spelled-out legal forms (after ё→е and case folding), removed before the tokens."""

_SOLE_TRADER = re.compile(r"(?:^|\s)(?:ип|индивидуальный предприниматель|глава кфх)(?:\s|$)")
_NON_WORD = re.compile(r"[^\w]+|_+")
_FULL_FORMS = re.compile(
    r"(?:^|\s)(?:" + "|".join(re.escape(f) for f in FULL_LEGAL_FORMS) + r")(?=\s|$)"
)


def normalize_text(text: str) -> str:
    """Case-folded, ё→е, quotes and punctuation turned into single spaces, trimmed."""
    folded = text.casefold().replace("ё", "е")
    return " ".join(_NON_WORD.sub(" ", folded).split())


def normalize_company_name(name: str | None) -> str:
    """A company name without legal form, quotes, case, ё and punctuation (``""`` when empty).

    When nothing but a legal form is left (``"ООО"``), the name is returned without stripping
    so that it never matches every other bare form.
    """
    return normalize_company(name)[0]


def normalize_company(name: str | None) -> tuple[str, bool]:
    """:func:`normalize_company_name` and :func:`is_sole_trader` in one pass."""
    if not name:
        return "", False
    text = normalize_text(name)
    if not text:
        return "", False
    sole = _SOLE_TRADER.search(text) is not None
    stripped = _FULL_FORMS.sub(" ", text)
    tokens = [t for t in stripped.split() if t not in LEGAL_FORMS]
    return (" ".join(tokens) if tokens else text), sole


def is_sole_trader(name: str | None) -> bool:
    """Whether a company name carries the sole-trader form (ИП …): its name is a person's."""
    return bool(name) and _SOLE_TRADER.search(normalize_text(name or "")) is not None


def normalize_person_name(name: str | None) -> str:
    """A person's name case-folded, ё→е, punctuation collapsed; word order kept."""
    return normalize_text(name) if name else ""


def sorted_tokens(normalized: str) -> str:
    """The words of a normalised name in sorted order: what ``token_sort_ratio`` compares.

    ``fuzz.ratio(sorted_tokens(a), sorted_tokens(b))`` equals ``fuzz.token_sort_ratio(a, b)``,
    and the sorted form is also an order-free exact key (``Иван Петров`` = ``Петров Иван``).
    """
    return " ".join(sorted(normalized.split()))
