"""The hand-made account every quality test audits (arithmetic in test_checks.py's docstring).

As of Tuesday 24 Feb 2026 12:00 Moscow (09:00 UTC). Monday 23 Feb 2026 is a public holiday.
Regulations: 09:00–13:00 and 14:00–18:00 Monday to Friday, no-activity clock 12.5 business
hours, stage limit 20 h in ``s1``, ``s2`` requires ``product`` and the custom field "Бюджет";
the CRM (custom_field_defs, amoCRM required_statuses) requires field ``cf1`` "ИНН клиента" in
``s3``. Manager m2 works in Yekaterinburg (UTC+5, Moscow is UTC+3).
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from decimal import Decimal
from typing import Any

from ropilot.core.models import (
    Account,
    Activity,
    Company,
    Contact,
    Deal,
    Manager,
    Pipeline,
    Stage,
    StageChange,
    Task,
    Team,
)
from ropilot.core.regulations import Regulations, regulations_from_dict
from ropilot.core.store import Store

ACC = "acc"
MSK = timezone(timedelta(hours=3))
AS_OF = datetime(2026, 2, 24, 12, 0, tzinfo=MSK).astimezone(UTC)


def msk(day: int, hour: int, minute: int = 0) -> datetime:
    """A moment of February 2026, Moscow time."""
    return datetime(2026, 2, day, hour, minute, tzinfo=MSK).astimezone(UTC)


def regs() -> Regulations:
    return regulations_from_dict(
        {
            "clocks": {"no_activity_hours": 12.5},
            "stage_limits": {"s1": 20},
            "required_fields": {"s2": ["product", "Бюджет"]},
        }
    )


def load(store: Store) -> None:
    created = msk(2, 10)
    store.upsert_account(Account(id=ACC, name="Test", timezone="Europe/Moscow"))
    models: list[Any] = [
        Team(account_id=ACC, id="t1", name="Sales", head_id="h"),
        # No schedule of their own: they follow the regulations' working hours.
        Manager(account_id=ACC, id="m1", name="M1", team_id="t1", working_schedule=[]),
        Manager(
            account_id=ACC,
            id="m2",
            name="M2",
            team_id="t1",
            timezone="Asia/Yekaterinburg",
            working_schedule=[],
        ),
        Manager(account_id=ACC, id="sen", name="Senior", team_id="t1", role="senior"),
        Manager(account_id=ACC, id="h", name="Head", team_id="t1", role="head"),
        Pipeline(account_id=ACC, id="p", name="Sales"),
        Stage(
            account_id=ACC,
            id="s1",
            pipeline_id="p",
            name="New",
            sort=10,
            kind="open",
            probability=10,
        ),
        Stage(
            account_id=ACC,
            id="s2",
            pipeline_id="p",
            name="Offer",
            sort=20,
            kind="open",
            probability=50,
        ),
        Stage(account_id=ACC, id="s3", pipeline_id="p", name="Contract", sort=30, kind="open"),
        Stage(account_id=ACC, id="won", pipeline_id="p", name="Won", sort=40, kind="won"),
        Stage(account_id=ACC, id="lost", pipeline_id="p", name="Lost", sort=50, kind="lost"),
        Company(account_id=ACC, id="co1", name="Co", responsible_id="m2"),
        Contact(account_id=ACC, id="c1", name="C1", responsible_id="m1"),
        Contact(account_id=ACC, id="c2", name="C2", responsible_id="m2"),
        Contact(account_id=ACC, id="c3", name="C3", responsible_id="m2"),
    ]

    def deal(did: str, owner: str, stage: str, **kw: Any) -> Deal:
        return Deal(
            account_id=ACC,
            id=did,
            pipeline_id="p",
            stage_id=stage,
            responsible_id=owner,
            created_at=created,
            **kw,
        )

    def act(aid: str, did: str, at: datetime, who: str = "m1") -> Activity:
        return Activity(account_id=ACC, id=aid, type="call", manager_id=who, at=at, deal_id=did)

    def task(
        tid: str, did: str, due: datetime, who: str = "m1", done: datetime | None = None
    ) -> Task:
        return Task(
            account_id=ACC,
            id=tid,
            responsible_id=who,
            created_at=created,
            due_at=due,
            completed_at=done,
            deal_id=did,
        )

    def entered(did: str, stage: str, at: datetime) -> StageChange:
        return StageChange(
            account_id=ACC, id=f"sc-{did}", deal_id=did, to_stage_id=stage, changed_at=at
        )

    fresh = msk(24, 11)
    models += [
        deal("D1", "m1", "s1"),
        act("a1", "D1", msk(19, 16)),
        entered("D1", "s1", msk(20, 10)),
        deal("D2", "m2", "s1"),
        act("a2", "D2", msk(19, 16), "m2"),
        entered("D2", "s1", msk(16, 9)),
        deal("D3", "m1", "s1"),
        act("a3", "D3", msk(18, 10)),
        task("t3", "D3", msk(25, 10)),
        entered("D3", "s1", msk(24, 8)),
        deal("D4", "m1", "s1"),
        act("a4", "D4", msk(18, 10)),
        task("t4", "D4", AS_OF),
        entered("D4", "s1", msk(24, 9)),
        deal("D5", "m1", "s1"),
        act("a5", "D5", fresh),
        task("t5", "D5", msk(27, 10), done=msk(20, 12)),
        entered("D5", "s1", msk(24, 9)),
        deal("D6", "m1", "s2", amount=Decimal(0), product="X", custom_fields={"Бюджет": ""}),
        act("a6", "D6", fresh),
        task("t6", "D6", msk(26, 10)),
        deal("D7", "m1", "s3", amount=Decimal(100), custom_fields={"cf1": "7707083893"}),
        act("a7", "D7", fresh),
        task("t7", "D7", msk(26, 10)),
        deal("D8", "m1", "s3"),
        act("a8", "D8", fresh),
        task("t8", "D8", msk(26, 10)),
        deal("D9", "m2", "lost", closed_at=msk(10, 10)),
        task("t9", "D9", msk(20, 10), who="m2"),
        deal("D10", "m2", "lost", closed_at=msk(10, 10), loss_reason=" "),
        deal("D11", "m1", "lost", closed_at=msk(10, 10), loss_reason="Дорого"),
        deal("D12", "m1", "won", closed_at=msk(10, 10), amount=Decimal(5)),
    ]
    store.upsert_models(models)
    store.upsert_custom_field_defs(
        ACC,
        [
            {
                "entity": "deals",
                "id": "cf1",
                "name": "ИНН клиента",
                "type": "text",
                "required_stage_ids": ["s3"],
            }
        ],
    )
