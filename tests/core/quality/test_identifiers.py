"""Phones, e-mails, INN, OGRN, OGRNIP, KPP, BIK (ropilot.core.quality.identifiers).

Hand-checked numbers:

* INN 7707083893 (10 digits): weights 2 4 10 3 5 9 4 6 8 on 7 7 0 7 0 8 3 8 9 give
  14+28+0+21+0+72+12+48+72 = 267; 267 mod 11 = 3, mod 10 = 3 = the last digit. 7707083894
  therefore fails.
* INN 500123456750 (12 digits): weights 7 2 4 10 3 5 9 4 6 8 on 5 0 0 1 2 3 4 5 6 7 give
  35+0+0+10+6+15+36+20+36+56 = 214; 214 mod 11 = 5 → 11th digit 5. Weights 3 7 2 4 10 3 5 9 4
  6 8 on 5 0 0 1 2 3 4 5 6 7 5 give 15+0+0+4+20+9+20+45+24+42+40 = 219; 219 mod 11 = 10, mod
  10 = 0 → 12th digit 0.
* OGRN 1027700132195: 102770013219 = 11 × 9342728474 + 5; 5 mod 10 = 5 = the last digit.
* OGRNIP 304500116000050: 30450011600005 = 13 × 2342308584615 + 10; 10 mod 10 = 0 = the last
  digit, so it is valid — stdnum wants "10" there and rejects it. OGRNIP 304500116000157:
  30450011600015 = 30450011600005 + 10 ≡ 10 + 10 = 20 ≡ 7 (mod 13) → last digit 7 (both agree).
* "8 (912) 345-67-8" (one digit short) has ten digits in all, so the library keeps the 8 and
  reads the national number 8912345678: ten digits, "possible", but in no operator range, so not
  valid. "+7 912 345 67 8" has nine national digits where Russia has ten: "too short".
"""

from __future__ import annotations

import phonenumbers
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from stdnum.ru import ogrn as stdnum_ogrn

from ropilot.core.quality.identifiers import (
    EmailChecker,
    PhoneChecker,
    check_email,
    check_phone,
    inn_problem,
    is_valid_bik,
    is_valid_inn,
    is_valid_kpp,
    is_valid_ogrn,
    is_valid_ogrnip,
    ogrn_problem,
    split_values,
)

# -- phones ---------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "raw", ["8 (912) 345-67-89", "+7 912 345 67 89", "89123456789", "9123456789", "79123456789"]
)
def test_russian_spellings_give_one_e164(raw: str) -> None:
    res = check_phone(raw)
    assert res.valid and res.e164 == "+79123456789" and res.raw == raw


def test_not_a_number_and_one_digit_short_are_invalid() -> None:
    assert check_phone("123").valid is False
    assert check_phone("123").e164 is None
    short = check_phone("8 (912) 345-67-8")
    assert short.valid is False and short.e164 is None
    assert short.reason == "not a valid number for its country and operator range"
    # the library calls it "possible": that is why validity is gated on is_valid_number
    assert phonenumbers.is_possible_number(phonenumbers.parse("8 (912) 345-67-8", "RU"))
    assert check_phone("+7 912 345 67 8").reason == "too short"
    assert check_phone("абв").reason == "not a phone number"


def test_toll_free_landline_and_kazakhstan() -> None:
    assert check_phone("8-800-555-35-35").e164 == "+78005553535"
    assert check_phone("+7 (495) 123-45-67").e164 == "+74951234567"
    kz = check_phone("+7 701 123 45 67")
    assert kz.valid and kz.e164 == "+77011234567"
    assert phonenumbers.region_code_for_number(phonenumbers.parse(kz.e164)) == "KZ"


def test_bare_810_is_the_international_prefix_not_a_shortcut() -> None:
    # 810 is Russia's "dial abroad" prefix: the library reads 810 49 51234567 as a German
    # number and bare 810 1234567 as +1 234567; the shortcut must leave both to it.
    assert check_phone("8104951234567").e164 == "+4951234567"
    bare = check_phone("8101234567")
    assert bare.valid is False and bare.reason == "too short"
    # with a prefix, 8101234567 is a ten-digit Russian national number (in no range)
    assert check_phone("+7 810 123-45-67").reason == (
        "not a valid number for its country and operator range"
    )


_STYLES = (
    lambda n: f"+7 {n[:3]} {n[3:6]}-{n[6:8]}-{n[8:]}",
    lambda n: f"8 ({n[:3]}) {n[3:6]}-{n[6:8]}-{n[8:]}",
    lambda n: f"+7{n}",
    lambda n: f"8{n}",
    lambda n: n,
    lambda n: f"7({n[:3]}){n[3:]}",
    lambda n: f"8-{n[:3]}-{n[3:6]}-{n[6:8]}-{n[8:]}",
)


@settings(max_examples=400, deadline=None)
@given(
    national=st.from_regex(r"[3-9]\d{9}", fullmatch=True),
    style=st.integers(min_value=0, max_value=len(_STYLES) - 1),
)
def test_shortcut_agrees_with_phonenumbers(national: str, style: int) -> None:
    """The fast path must give exactly what parse + is_valid_number gives."""
    raw = _STYLES[style](national)
    try:
        number = phonenumbers.parse(raw, "RU")
        valid = phonenumbers.is_valid_number(number)
        e164 = phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)
    except phonenumbers.NumberParseException:
        valid, e164 = False, ""
    res = check_phone(raw)
    assert res.valid == valid
    assert res.e164 == (e164 if valid else None)


def test_phone_checker_memo() -> None:
    checker = PhoneChecker()
    assert checker("89123456789") is checker("89123456789")


def test_split_values() -> None:
    assert split_values("8 912 345 67 89; +7 495 123-45-67") == [
        "8 912 345 67 89",
        "+7 495 123-45-67",
    ]
    assert split_values(["a@b.ru;c@d.ru", " ", "e@f.ru"]) == ["a@b.ru", "c@d.ru", "e@f.ru"]
    assert split_values(None) == [] and split_values("") == []


# -- e-mails --------------------------------------------------------------------------------------


def test_email_normalised_and_key_lower_cased() -> None:
    res = check_email("  Ivan.Petrov@Example.RU ")
    assert res.valid
    assert res.normalized == "Ivan.Petrov@example.ru"  # the library lower-cases the domain only
    assert res.key == "ivan.petrov@example.ru"


def test_email_cyrillic_domain() -> None:
    res = check_email("info@пример.рф")
    assert res.valid and res.key == "info@пример.рф"


@pytest.mark.parametrize("raw", ["ivan@@mail.ru", "ivan @mail.ru", "ivan@mail", "ivan.mail.ru"])
def test_email_invalid(raw: str) -> None:
    res = check_email(raw)
    assert not res.valid and res.key is None and res.reason


def test_email_checker_memo() -> None:
    checker = EmailChecker()
    assert checker("a@b.ru") is checker("a@b.ru")


# -- registration numbers -----------------------------------------------------------------------


def test_inn() -> None:
    assert is_valid_inn("7707083893")
    assert is_valid_inn("77-07-083893")  # hyphens removed first
    assert is_valid_inn("500123456750")
    assert inn_problem("7707083894") == "wrong check digit"
    assert inn_problem("770708389") == "an INN has 10 or 12 digits, this one 9"
    assert inn_problem("77070838А3") == "an INN has only digits"
    assert inn_problem("500123456751") == "wrong check digit"


def test_ogrn_and_ogrnip() -> None:
    assert is_valid_ogrn("1027700132195")
    assert ogrn_problem("1027700132196") == "wrong check digit"
    assert is_valid_ogrnip("304500116000157") and stdnum_ogrn.is_valid("304500116000157")
    # valid, remainder 10: stdnum is wrong here
    assert is_valid_ogrnip("304500116000050") and not stdnum_ogrn.is_valid("304500116000050")
    assert is_valid_ogrn("304500116000050")
    assert ogrn_problem("304500116000051") == "wrong check digit"
    assert ogrn_problem("504500116000050") == "an OGRNIP starts with 3 or 4"
    assert ogrn_problem("12345") == "an OGRN has 13 digits (OGRNIP 15), this one 5"


def test_kpp_and_bik_formats() -> None:
    assert is_valid_kpp("773601001") and is_valid_kpp("7736AB001")
    assert not is_valid_kpp("77360100")
    assert is_valid_bik("044525225") and not is_valid_bik("123456789")
