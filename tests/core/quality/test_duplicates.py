"""Duplicate clustering (ropilot.core.quality.duplicates) on hand-made records.

Scores (Indel ratio of the sorted-word names, see test_normalize.py):

* "ромашка трейд" vs "ромашка трэйд": 100 · (1 − 2/26) = 92.3 ≥ 90 → a fuzzy match;
* "ромашка" vs "ромашка трейд": 70 < 90 → no match;
* "алина гусева олеговна" (21) vs "анна гусева олеговна" (20): алина→анна keeps "ана" (LCS 3), so
  distance 5 + 4 − 2·3 = 3 → 100 · (1 − 3/41) = 92.68 → 92.7: two different people, which is
  why people's names are not fuzzy-matched by default.

INNs: 7707083893 and 5001007329 are both valid (5001007329: weights 2 4 10 3 5 9 4 6 8 on
5 0 0 1 0 0 7 3 2 give 10+0+0+3+0+0+28+18+16 = 75; 75 mod 11 = 9 = the last digit).
"""

from __future__ import annotations

import pytest

from ropilot.core.errors import ConfigurationError
from ropilot.core.quality.duplicates import (
    DuplicateSettings,
    PartyRecord,
    find_duplicates,
    names_compatible,
)
from ropilot.core.quality.identifiers import check_email, check_phone
from ropilot.core.quality.normalize import normalize_company_name, normalize_person_name

INN_A = "7707083893"
INN_B = "5001007329"


def company(
    rid: str,
    name: str,
    *,
    inn: str | None = None,
    phones: tuple[str, ...] = (),
    emails: tuple[str, ...] = (),
    region: str | None = None,
    created: int | None = None,
    person: bool = False,
) -> PartyRecord:
    """A record as the scan builds it: valid phones as E.164, e-mails as lower-cased keys."""
    e164 = tuple(p for p in (check_phone(x).e164 for x in phones) if p)
    keys = tuple(k for k in (check_email(x).key for x in emails) if k)
    return PartyRecord(
        id=rid,
        name=normalize_company_name(name),
        phones=e164,
        emails=keys,
        inn=inn,
        region=region,
        created_at=created,
        person=person,
    )


def contact(
    rid: str,
    name: str,
    *,
    company_id: str | None = None,
    phones: tuple[str, ...] = (),
    emails: tuple[str, ...] = (),
    created: int | None = None,
) -> PartyRecord:
    e164 = tuple(p for p in (check_phone(x).e164 for x in phones) if p)
    keys = tuple(k for k in (check_email(x).key for x in emails) if k)
    return PartyRecord(
        id=rid,
        name=normalize_person_name(name),
        phones=e164,
        emails=keys,
        group=company_id,
        created_at=created,
        person=True,
    )


def only_pair(records: list[PartyRecord], **kw: bool) -> tuple[str, str, tuple[str, ...], float]:
    report = find_duplicates(records, **kw)
    assert len(report.pairs) == 1, report.pairs
    p = report.pairs[0]
    return p.a, p.b, p.keys, p.name_score


def test_same_phone_in_different_formats() -> None:
    recs = [
        contact("c1", "Пётр Орлов", phones=("8 (912) 345-67-89",)),
        contact("c2", "Петр Орлов", phones=("+7 912 345 67 89",)),
        contact("c3", "Анна Белова", phones=("+7 912 345 67 80",)),
    ]
    a, b, keys, score = only_pair(recs, by_group=True)
    assert (a, b, keys, score) == ("c1", "c2", ("phone",), 100.0)
    assert find_duplicates(recs, by_group=True).pairs[0].values == {"phone": "+79123456789"}


def test_same_email_in_different_case() -> None:
    recs = [
        contact("c1", "Иван", emails=("Ivan.Petrov@Mail.ru",)),
        contact("c2", "Иван Петров", emails=(" IVAN.PETROV@MAIL.RU",)),
    ]
    report = find_duplicates(recs, by_group=True)
    assert [(p.keys, p.values) for p in report.pairs] == [
        (("email",), {"email": "ivan.petrov@mail.ru"})
    ]


def test_same_inn_different_names_decides() -> None:
    recs = [
        company("k1", "ООО «Ромашка»", inn=INN_A, region="Москва"),
        company("k2", "АО «Василёк»", inn=INN_A, region="Санкт-Петербург"),
    ]
    a, b, keys, _ = only_pair(recs)
    assert (a, b, keys) == ("k1", "k2", ("inn",))  # the INN beats the region difference


def test_exact_and_fuzzy_names() -> None:
    recs = [
        company("k1", "ООО Ромашка-Трейд"),
        company("k2", "Ромашка Трейд"),  # same normalised name
        company("k3", "ООО «Ромашка Трэйд»"),  # one letter off: 92.3
        company("k4", "Ромашка"),  # 70 against the others: a different company
    ]
    report = find_duplicates(recs)
    got = sorted((p.a, p.b, p.keys, p.name_score) for p in report.pairs)
    assert ("k1", "k2", ("name",), 100.0) in got
    fuzzy = [g for g in got if g[2] == ("fuzzy_name",)]
    assert fuzzy and all(g[3] == pytest.approx(92.3) for g in fuzzy)
    assert all("k4" not in (g[0], g[1]) for g in got)
    assert [c.members for c in report.clusters] == [("k1", "k2", "k3")]


def test_threshold_is_configurable() -> None:
    recs = [company("k1", "Ромашка Трейд"), company("k2", "Ромашка Трэйд")]
    assert find_duplicates(recs, DuplicateSettings(fuzzy_threshold=93)).pairs == []
    assert len(find_duplicates(recs, DuplicateSettings(fuzzy_threshold=92)).pairs) == 1


def test_different_inns_veto() -> None:
    recs = [
        company("k1", "ООО «Ромашка-Трейд»", inn=INN_A, phones=("+7 495 123-45-67",)),
        company("k2", "Ромашка Трейд", inn=INN_B, phones=("8 (495) 123-45-67",)),
        company("k3", "ООО «Ромашка Трэйд»", inn=INN_B),
    ]
    report = find_duplicates(recs)
    # k1–k2 (name, phone) and k1–k3 (fuzzy) are vetoed; k2–k3 share INN_B (and are 92.3 alike)
    assert [(p.a, p.b, p.keys) for p in report.pairs] == [("k2", "k3", ("inn", "fuzzy_name"))]
    assert report.vetoed == 2


def test_regions_veto_without_inn() -> None:
    recs = [
        company("k1", "ООО «Квант»", region="Москва", emails=("info@kvant.ru",)),
        company("k2", "АО «Квант»", region="Самарская область", emails=("info@kvant.ru",)),
        company("k3", "Квант", emails=("INFO@kvant.ru",)),  # no region: no conflict
    ]
    report = find_duplicates(recs)
    assert [c.members for c in report.clusters] == [("k1", "k3")]
    assert report.vetoed >= 1


def test_noise_phone_shared_by_25_contacts_is_ignored() -> None:
    recs = [contact(f"c{i:02d}", "Пётр Орлов", phones=("+7 495 100-00-00",)) for i in range(25)]
    report = find_duplicates(recs, by_group=True)
    assert report.clusters == [] and report.noise == {"phone": 1}
    # 20 sharing is still evidence (the limit is "more than 20")
    report = find_duplicates(recs[:20], by_group=True)
    assert len(report.clusters) == 1 and len(report.clusters[0].members) == 20
    assert len(report.pairs) == 19  # each linked to the oldest, not 190 pairs
    assert find_duplicates(recs, DuplicateSettings(noise_limit=30), by_group=True).noise == {}


def test_contact_names_match_only_inside_a_company() -> None:
    recs = [
        contact("c1", "Орлов Пётр", company_id="k1"),
        contact("c2", "Пётр Орлов", company_id="k1"),
        contact("c3", "Пётр Орлов", company_id="k2"),
        contact("c4", "Пётр Орлов"),
    ]
    assert only_pair(recs, by_group=True)[:3] == ("c1", "c2", ("name",))


def test_contacts_of_different_companies_are_different_people() -> None:
    recs = [
        contact("c1", "Пётр Орлов", company_id="k1", emails=("buh@firm.ru",)),
        contact("c2", "Анна Орлова", company_id="k2", emails=("buh@firm.ru",)),
        contact("c3", "П. Орлов", emails=("buh@firm.ru",)),
    ]
    report = find_duplicates(recs, by_group=True)
    assert [c.members for c in report.clusters] == [("c1", "c3")]


@pytest.mark.parametrize(
    ("a", "b", "same"),
    [
        ("нина", "нина кузнецова", True),
        ("п орлов", "орлов петр", True),
        ("орлов петр иванович", "орлов петр", True),
        ("анастасия карпова олеговна", "анастасия карпова федоровна", False),
        ("анна орлова", "орлов петр", False),
        ("", "кто угодно", True),
    ],
)
def test_names_compatible(a: str, b: str, same: bool) -> None:
    assert names_compatible(a, b) is same


def test_people_sharing_an_email_but_not_a_name_are_two_people() -> None:
    recs = [
        contact("c1", "Карпова Анастасия Олеговна", emails=("anastasiya.karpova@mail.ru",)),
        contact("c2", "Карпова Анастасия Фёдоровна", emails=("anastasiya.karpova@mail.ru",)),
        contact("c3", "Анастасия", emails=("anastasiya.karpova@mail.ru",)),
    ]
    report = find_duplicates(recs, by_group=True)
    # c1–c2 vetoed (another patronymic); c3 (first name only) fits c1, the group's oldest
    assert [c.members for c in report.clusters] == [("c1", "c3")]
    assert report.vetoed == 1


def test_a_lone_first_name_is_not_a_key() -> None:
    recs = [
        contact("c1", "Валерий", company_id="k1"),
        contact("c2", "Валерий", company_id="k1"),
    ]
    assert find_duplicates(recs, by_group=True).clusters == []


def test_people_are_not_fuzzy_matched_by_default() -> None:
    recs = [
        company("k1", "ИП Гусева Алина Олеговна", person=True),
        company("k2", "ИП Гусева Анна Олеговна", person=True),
    ]
    assert find_duplicates(recs).pairs == []
    pairs = find_duplicates(recs, DuplicateSettings(fuzzy_person_names=True)).pairs
    assert [(p.keys, p.name_score) for p in pairs] == [(("fuzzy_name",), 92.7)]


def test_cluster_refuses_to_mix_two_inns() -> None:
    recs = [
        company("k1", "Альфа", inn=INN_A, phones=("+7 495 111-11-11",), created=1),
        company("k2", "Бета", phones=("+7 495 111-11-11",), emails=("a@b.ru",), created=2),
        company("k3", "Гамма", inn=INN_B, emails=("a@b.ru",), created=3),
    ]
    report = find_duplicates(recs)
    # k1–k2 (phone) joins first; k2–k3 (e-mail) would put INN_A and INN_B in one cluster
    assert [c.members for c in report.clusters] == [("k1", "k2")]
    assert report.vetoed == 1


def test_primary_is_the_oldest_and_evidence_lists_all_shared_keys() -> None:
    recs = [
        company("k1", "ООО «Ромашка»", phones=("+7 495 123-45-67",), created=20),
        company(
            "k2",
            "«Ромашка» ООО",
            phones=("84951234567",),
            emails=("info@romashka.ru",),
            created=10,
        ),
        company("k3", "Ромашка", emails=("Info@Romashka.ru",), created=None),
    ]
    report = find_duplicates(recs)
    (cluster,) = report.clusters
    assert cluster.primary == "k2" and cluster.members == ("k2", "k1", "k3")
    by_pair = {(p.a, p.b): p for p in cluster.pairs}
    assert by_pair[("k1", "k2")].keys == ("phone", "name")
    assert by_pair[("k2", "k3")].keys == ("email", "name")
    assert by_pair[("k2", "k3")].values == {"email": "info@romashka.ru", "name": "ромашка"}
    evidence = by_pair[("k1", "k2")].as_evidence("k1")
    assert evidence == {
        "with": "k2",
        "keys": ["phone", "name"],
        "values": {"phone": "+74951234567", "name": "ромашка"},
        "name_score": 100.0,
    }


@pytest.mark.parametrize(
    "kw",
    [{"fuzzy_threshold": 40}, {"fuzzy_threshold": 101}, {"noise_limit": 1}, {"block_chars": 0}],
)
def test_settings_are_validated(kw: dict[str, float]) -> None:
    with pytest.raises(ConfigurationError):
        DuplicateSettings(**kw)  # type: ignore[arg-type]


def test_a_member_parted_from_the_oldest_still_links_to_the_next() -> None:
    recs = [
        company("k1", "Альфа", region="Москва", emails=("office@alfa.ru",), created=1),
        company(
            "k2", "Альфа-Юг", region="Самарская область", emails=("office@alfa.ru",), created=2
        ),
        company(
            "k3", "Альфа Юг", region="Самарская область", emails=("office@alfa.ru",), created=3
        ),
    ]
    report = find_duplicates(recs)
    # k2 and k3 are parted from k1 by region; k3 then links to k2 (e-mail, and the same name)
    assert [c.members for c in report.clusters] == [("k2", "k3")]
    assert report.pairs[0].keys == ("email", "name")
    assert report.vetoed == 2  # k1–k2 and k1–k3
