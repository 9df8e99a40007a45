"""The hand-made clients test_checks_identity.py audits (expected findings in its docstring)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from ropilot.core.models import Account, Company, Contact
from ropilot.core.store import Store

ACCOUNT = "idq"


def _at(month: int, day: int = 1) -> datetime:
    return datetime(2025, month, day, 9, 0, tzinfo=UTC)


def companies() -> list[Company]:
    def c(rid: str, name: str, **kw: Any) -> Company:
        return Company(account_id=ACCOUNT, id=rid, name=name, **kw)

    return [
        c(
            "k1",
            "ООО «Ромашка»",
            inn="7707083893",
            phones=["+7 495 123-45-67"],
            emails=["info@romashka.ru"],
            region="Москва",
            responsible_id="m1",
            created_at=_at(1),
            custom_fields={"ОГРН": "1027700132195"},
        ),
        c(
            "k2",
            "«Ромашка» ООО",
            inn="77-07-083893",
            region="Москва",
            responsible_id="m2",
            created_at=_at(2),
        ),
        c(
            "k3",
            "ООО Ромашка-Трейд",
            inn="7707083894",
            phones=["8 (495) 123-45-6"],
            region="Москва",
            responsible_id="m1",
            created_at=_at(3),
            custom_fields={"ogrn": "1027700132196"},
        ),
        c(
            "k4",
            "Ромашка Трэйд",
            region="Москва",
            responsible_id="m2",
            created_at=_at(4),
            custom_fields={"OGRNIP": ["304500116000050"]},
        ),
        c(
            "k5",
            "ИП Гусева Алина Олеговна",
            inn="500123456750",
            region="Москва",
            created_at=_at(5),
        ),
        c("k6", "ИП Гусева Анна Олеговна", region="Москва", created_at=_at(6)),
        c(
            "k7",
            "АО «Василёк»",
            inn="5001007329",
            emails=["sales@vasilek.ru;SALES@VASILEK.RU"],
            region="Московская область",
            created_at=_at(7),
        ),
    ]


def contacts() -> list[Contact]:
    def p(rid: str, name: str, **kw: Any) -> Contact:
        return Contact(account_id=ACCOUNT, id=rid, name=name, **kw)

    people = [
        p(
            "c1",
            "Пётр Орлов",
            company_id="k1",
            phones=["8 (912) 345-67-89"],
            emails=["Petr.Orlov@Mail.ru"],
            responsible_id="m1",
            created_at=_at(1, 10),
        ),
        p(
            "c2",
            "Петр Орлов",
            company_id="k2",
            phones=["+79123456789"],
            responsible_id="m2",
            created_at=_at(2, 10),
        ),
        p(
            "c3",
            "П. Орлов",
            emails=[" PETR.ORLOV@mail.ru "],
            responsible_id="m3",
            created_at=_at(3, 10),
        ),
        p(
            "c4",
            "Мария Сидорова",
            company_id="k7",
            phones=["123", "+7 912 111-22-33"],
            responsible_id="m3",
            created_at=_at(4, 10),
        ),
        p(
            "c5",
            "Иван Иванов",
            emails=["ivan@@mail.ru"],
            inn="500123456751",
            responsible_id="m1",
            created_at=_at(5, 10),
        ),
    ]
    reception = [
        p(
            f"r{i:02d}",
            f"Сотрудник {i}",
            company_id="k7",
            phones=["+7 495 100-00-00"],
            created_at=_at(6, 1 + i),
        )
        for i in range(25)
    ]
    return people + reception


def load(store: Store) -> None:
    """Write the account, its companies and contacts."""
    with store.begin() as conn:
        store.upsert_account(Account(id=ACCOUNT, name="Identity checks"), conn)
        store.upsert_models(companies(), conn)
        store.upsert_models(contacts(), conn)
