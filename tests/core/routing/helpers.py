"""A small account for routing tests: managers, one pipeline, N new deals."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from ropilot.core.models import Account, Deal, Manager, Pipeline, Stage, StageKind
from ropilot.core.regulations import Regulations, regulations_from_dict
from ropilot.core.store import Store

ACCOUNT = "acc"
# Monday 2 March 2026, 12:00 Moscow (09:00 UTC): a working day, inside 09:00-18:00.
NOON = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)


def seed(store: Store, manager_ids: list[str], n_deals: int, **manager_kw: Any) -> list[str]:
    """Account, managers, a pipeline with an open/won/lost stage, and unassigned deals."""
    store.upsert_account(Account(id=ACCOUNT, name="Test", timezone="Europe/Moscow"))
    models: list[Any] = [
        Manager(account_id=ACCOUNT, id=m, name=m, **manager_kw.get(m, {})) for m in manager_ids
    ]
    models += [
        Pipeline(account_id=ACCOUNT, id="p", name="Sales"),
        Stage(
            account_id=ACCOUNT, id="new", pipeline_id="p", name="New", sort=1, kind=StageKind.OPEN
        ),
        Stage(
            account_id=ACCOUNT, id="won", pipeline_id="p", name="Won", sort=9, kind=StageKind.WON
        ),
        Stage(
            account_id=ACCOUNT,
            id="lost",
            pipeline_id="p",
            name="Lost",
            sort=10,
            kind=StageKind.LOST,
        ),
    ]
    ids = [f"d{i:05d}" for i in range(n_deals)]
    models += [
        Deal(
            account_id=ACCOUNT,
            id=d,
            pipeline_id="p",
            stage_id="new",
            created_at=NOON - timedelta(hours=1) + timedelta(seconds=i),
        )
        for i, d in enumerate(ids)
    ]
    store.upsert_models(models)
    return ids


def regs(**pool: Any) -> Regulations:
    """Regulations with one pool named ``main`` with these settings."""
    return regulations_from_dict({"routing": {"pools": [{"name": "main", **pool}]}})
