"""The six identity checks over a store (SQLite and PostgreSQL), on identity_data.py.

Expected, by hand:

* invalid_phone — k3 "8 (495) 123-45-6" (ten digits 8495123456 with the 8 kept: in no
  operator range); c4 "123" (too short; its other phone +79121112233 is valid). → 2.
* invalid_email — c5 "ivan@@mail.ru". k7's cell "sales@vasilek.ru;SALES@VASILEK.RU" is two
  valid values (one key). → 1.
* invalid_inn — k3 7707083894 (7707083893 is the valid one: check digit 3), c5 500123456751
  (…50 is valid: 12th digit 0). k2 "77-07-083893" is valid once the hyphens go. → 2.
* invalid_ogrn — k3 "ogrn" 1027700132196 (…95 is valid). k1's ОГРН 1027700132195 is valid;
  k4's OGRNIP 304500116000050 is valid (30450011600005 mod 13 = 10, 10 mod 10 = 0) although
  stdnum rejects it. → 1.
* duplicate_company — k2 is k1 (same INN 7707083893, same name "ромашка"); k4 is k3 (names
  "ромашка трейд" / "ромашка трэйд": 92.3; k3's INN is invalid so it cannot veto). k5/k6 are two
  sole traders one letter apart: people's names are not fuzzy-matched. → 2 (k2, k4); k4's
  only evidence is its name, so its finding is "info" (a proposal), k2's "warning".
* duplicate_contact — c2 is c1 (same phone written two ways; same name "петр орлов" in the same
  company once duplicate k2 is taken as k1); c3 is c1 (same e-mail in other case; c3 has no
  company). The 25 reception contacts share +74951000000: noise (> 20), ignored. → 2 (c2, c3).
"""

from __future__ import annotations

import json
from collections import defaultdict
from datetime import UTC, datetime

import pytest

from ropilot.core.quality.checks_identity import (
    IDENTITY_CHECKS,
    DuplicateCompanies,
    duplicate_report,
    duplicate_settings,
    scan_identities,
)
from ropilot.core.quality.duplicates import DuplicateSettings
from ropilot.core.quality.registry import CheckCatalogue, FindingDraft, QualityContext
from ropilot.core.regulations import default_regulations, regulations_from_dict
from ropilot.core.store import Store
from tests.core.quality.identity_data import ACCOUNT, load

AS_OF = datetime(2026, 2, 24, 9, 0, tzinfo=UTC)


@pytest.fixture
def ctx(store: Store) -> QualityContext:
    load(store)
    return QualityContext(store, ACCOUNT, AS_OF, default_regulations())


def run_all(ctx: QualityContext) -> dict[str, list[FindingDraft]]:
    out: dict[str, list[FindingDraft]] = defaultdict(list)
    for check in IDENTITY_CHECKS:
        out[check.name].extend(check.run(ctx))
    return out


def ids(found: list[FindingDraft]) -> list[tuple[str, str]]:
    return sorted((f.entity, f.entity_id) for f in found)


def test_catalogue_accepts_the_checks() -> None:
    names = CheckCatalogue(IDENTITY_CHECKS).names()
    assert names == [
        "invalid_phone",
        "invalid_email",
        "invalid_inn",
        "invalid_ogrn",
        "duplicate_contact",
        "duplicate_company",
    ]


def test_invalid_values(ctx: QualityContext) -> None:
    found = run_all(ctx)
    assert ids(found["invalid_phone"]) == [("company", "k3"), ("contact", "c4")]
    c4 = next(f for f in found["invalid_phone"] if f.entity_id == "c4")
    assert c4.details == {
        "invalid": [{"value": "123", "reason": "too short"}],
        "valid": ["+79121112233"],
    }
    assert c4.owner_id == "m3" and c4.severity == "warning"
    assert c4.message == "fix the phone «123»: too short"

    assert ids(found["invalid_email"]) == [("contact", "c5")]
    assert found["invalid_email"][0].details["invalid"][0]["value"] == "ivan@@mail.ru"

    assert ids(found["invalid_inn"]) == [("company", "k3"), ("contact", "c5")]
    k3 = next(f for f in found["invalid_inn"] if f.entity_id == "k3")
    assert k3.details == {"value": "7707083894", "reason": "wrong check digit"}
    assert k3.severity == "error" and k3.owner_id == "m1"

    assert ids(found["invalid_ogrn"]) == [("company", "k3")]
    assert found["invalid_ogrn"][0].details == {
        "field": "ogrn",
        "value": "1027700132196",
        "reason": "wrong check digit",
    }


def test_duplicate_companies(ctx: QualityContext) -> None:
    found = run_all(ctx)["duplicate_company"]
    assert ids(found) == [("company", "k2"), ("company", "k4")]
    k2 = next(f for f in found if f.entity_id == "k2")
    assert k2.owner_id == "m2"
    assert k2.details == {
        "duplicate_of": "k1",
        "cluster_size": 2,
        "cluster": ["k1", "k2"],
        "pairs": [
            {
                "with": "k1",
                "keys": ["inn", "name"],
                "values": {"inn": "7707083893", "name": "ромашка"},
                "name_score": 100.0,
            }
        ],
    }
    assert k2.message == "looks like a duplicate of company k1 (same INN, same name): merge them"
    k4 = next(f for f in found if f.entity_id == "k4")
    assert k4.details["duplicate_of"] == "k3"
    assert k4.details["pairs"] == [
        {"with": "k3", "keys": ["fuzzy_name"], "values": {}, "name_score": 92.3}
    ]
    assert "similar name, score 92.3" in k4.message
    assert (k2.severity, k4.severity) == ("warning", "info")  # names alone: a proposal


def test_duplicate_contacts(ctx: QualityContext) -> None:
    found = run_all(ctx)["duplicate_contact"]
    assert ids(found) == [("contact", "c2"), ("contact", "c3")]
    c2 = next(f for f in found if f.entity_id == "c2")
    assert c2.details["duplicate_of"] == "c1" and c2.details["cluster"] == ["c1", "c2", "c3"]
    assert c2.details["pairs"] == [
        {
            "with": "c1",
            "keys": ["phone", "name"],
            "values": {"phone": "+79123456789", "name": "орлов петр"},
            "name_score": 100.0,
        }
    ]
    c3 = next(f for f in found if f.entity_id == "c3")
    assert c3.owner_id == "m3"
    assert c3.details["pairs"][0]["keys"] == ["email"]
    assert c3.details["pairs"][0]["values"] == {"email": "petr.orlov@mail.ru"}
    report = duplicate_report(ctx, "contact", DuplicateSettings())
    assert report.noise == {"phone": 1}  # the reception phone shared by 25


def test_findings_are_json_ready(ctx: QualityContext) -> None:
    for found in run_all(ctx).values():
        for f in found:
            json.dumps(dict(f.details), ensure_ascii=False)


def test_one_scan_per_context(ctx: QualityContext, store: Store) -> None:
    first = scan_identities(ctx)
    run_all(ctx)
    assert scan_identities(ctx) is first
    other = QualityContext(store, ACCOUNT, AS_OF, default_regulations())
    assert scan_identities(other) is not first


def test_scan_is_dropped_with_its_context(store: Store) -> None:
    import gc

    from ropilot.core.quality import checks_identity

    load(store)
    ctx = QualityContext(store, ACCOUNT, AS_OF, default_regulations())
    scan_identities(ctx)
    assert checks_identity._last is not None
    del ctx
    gc.collect()
    assert checks_identity._last is None


def test_settings_reach_the_check(ctx: QualityContext) -> None:
    strict = DuplicateCompanies(settings=DuplicateSettings(fuzzy_threshold=95))
    assert ids(list(strict.run(ctx))) == [("company", "k2")]  # 92.3 < 95: k4 is not proposed


def test_other_account_sees_nothing(store: Store) -> None:
    load(store)
    ctx = QualityContext(store, "someone-else", AS_OF, default_regulations())
    assert all(not v for v in run_all(ctx).values())


def test_the_regulations_tune_the_duplicate_search(store: Store) -> None:
    load(store)
    strict = regulations_from_dict({"quality": {"duplicates": {"fuzzy_threshold": 95}}})
    ctx = QualityContext(store, ACCOUNT, AS_OF, strict)
    assert ids(list(DuplicateCompanies().run(ctx))) == [("company", "k2")]  # 92.3 < 95
    loose = regulations_from_dict({"quality": {"duplicates": {"noise_limit": 30}}})
    ctx = QualityContext(store, ACCOUNT, AS_OF, loose)
    # 25 reception contacts now count as a phone group, and the name veto parts them all.
    assert duplicate_report(ctx, "contact", duplicate_settings(ctx)).noise == {}


def test_an_unset_quality_section_keeps_the_regulations_version() -> None:
    # a7d7d1671e5f: the built-in regulations' version before [quality] existed.
    assert default_regulations().version == "a7d7d1671e5f"
    assert regulations_from_dict({"quality": {"duplicates": {}}}).version == "a7d7d1671e5f"
    assert regulations_from_dict({"quality": {"duplicates": {"noise_limit": 5}}}).version != (
        "a7d7d1671e5f"
    )
