"""Name normalisation (ropilot.core.quality.normalize).

Hand-computed Indel ratios (``fuzz.ratio`` = 100 · (1 − distance / (len a + len b)), where an
Indel distance counts insertions and deletions):

* "ромашка" (7) vs "ромашка трейд" (13): delete " трейд" (6) → 100 · (1 − 6/20) = 70.
* "ромашка трейд" vs "ромашка трэйд" (13 each): е→э is one deletion + one insertion →
  100 · (1 − 2/26) = 92.307…
"""

from __future__ import annotations

import pytest
from rapidfuzz import fuzz

from ropilot.core.quality.normalize import (
    is_sole_trader,
    normalize_company_name,
    normalize_person_name,
    normalize_text,
    sorted_tokens,
)


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("«Ромашка» ООО", "ромашка"),
        ('ООО "Ромашка"', "ромашка"),
        ("ООО „Ромашка“", "ромашка"),
        ("Общество с ограниченной ответственностью «РОМАШКА»", "ромашка"),
        ("ПАО «Зелёный сад»", "зеленый сад"),
        ("ЗАО «Ёлка»", "елка"),
        ("ОАО Ёлка", "елка"),
        ("НКО «Ромашка»", "ромашка"),
        ("ООО Ромашка-Трейд", "ромашка трейд"),
        ("Ромашка  Трейд,  ООО", "ромашка трейд"),
        ("ИП  Орлов Пётр Иванович", "орлов петр иванович"),
        ("Индивидуальный предприниматель Орлов П. И.", "орлов п и"),
        ("Пётр и партнёры, ООО", "петр и партнеры"),
        ("ООО «Инфоснабжение 2000»", "инфоснабжение 2000"),
        ("ООО", "ооо"),  # nothing but a form: kept, so bare forms never match everything
        ("", ""),
        (None, ""),
    ],
)
def test_company_names(raw: str | None, expected: str) -> None:
    assert normalize_company_name(raw) == expected


def test_sole_trader() -> None:
    assert is_sole_trader("ИП Орлов Пётр Иванович")
    assert is_sole_trader("Орлов Пётр Иванович ИП")
    assert is_sole_trader("Индивидуальный предприниматель Орлов")
    assert not is_sole_trader("ООО «Ромашка»")
    assert not is_sole_trader("ООО «Типография»")  # "ип" only as a whole word
    assert not is_sole_trader(None)


def test_person_names() -> None:
    assert normalize_person_name("  Пётр   ОРЛОВ ") == "петр орлов"
    assert normalize_person_name("Орлова-Петрова Алёна") == "орлова петрова алена"
    assert normalize_person_name(None) == ""
    assert normalize_text("«А»—б") == "а б"


def test_sorted_tokens_is_token_sort_ratio() -> None:
    assert sorted_tokens("петр орлов") == sorted_tokens("орлов петр") == "орлов петр"
    a, b = "ромашка трейд", "трэйд ромашка"
    assert fuzz.ratio(sorted_tokens(a), sorted_tokens(b)) == fuzz.token_sort_ratio(a, b)


def test_hand_computed_scores() -> None:
    assert fuzz.token_sort_ratio("ромашка", "ромашка трейд") == pytest.approx(70.0)
    assert fuzz.token_sort_ratio("ромашка трейд", "ромашка трэйд") == pytest.approx(100 * 24 / 26)
    # token_set_ratio would merge different companies: one name contains the other
    assert fuzz.token_set_ratio("ромашка", "ромашка трейд") == 100
