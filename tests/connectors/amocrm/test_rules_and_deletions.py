"""Required-field rules and deletions from amoCRM, through HTTP mocked with `responses`."""

from __future__ import annotations

import re
from typing import Any

import pytest
import responses
from pydantic import SecretStr

from ropilot.connectors.amocrm.factory import build_amocrm
from ropilot.connectors.sync import run_sync
from ropilot.core.settings import AccountSettings
from ropilot.core.store import Store

BASE = "https://acme.amocrm.ru"


def _events(*items: tuple[str, int, int]) -> dict[str, Any]:
    return {
        "_page": 1,
        "_links": {"self": {"href": f"{BASE}/api/v4/events"}},
        "_embedded": {
            "events": [
                {
                    "id": f"e{n}",
                    "type": kind,
                    "entity_id": eid,
                    "entity_type": "lead",
                    "created_at": at,
                }
                for n, (kind, eid, at) in enumerate(items)
            ]
        },
    }


def _fields() -> dict[str, Any]:
    return {
        "_total_items": 2,
        "_page": 1,
        "_links": {"self": {"href": f"{BASE}/api/v4/leads/custom_fields"}},
        "_embedded": {
            "custom_fields": [
                {
                    "id": 701,
                    "name": "ИНН",
                    "type": "text",
                    "required_statuses": [
                        {"status_id": 5501, "pipeline_id": 77},
                        {"status_id": 142, "pipeline_id": 77},
                    ],
                },
                {"id": 702, "name": "Комментарий", "type": "textarea", "required_statuses": []},
            ]
        },
    }


@pytest.fixture
def connector(store: Store) -> Any:
    account = AccountSettings(
        id="acme",
        connector="amocrm",
        base_url=BASE,
        credentials={"long_lived_token": SecretStr("t")},
    )
    return build_amocrm(account, store, None, rate=1000)


@responses.activate
def test_required_statuses_become_rules_and_deleted_leads_leave_the_store(
    store: Store, connector: Any
) -> None:
    responses.get(f"{BASE}/api/v4/account", json={"id": 1, "name": "Acme", "currency": "RUB"})
    responses.get(f"{BASE}/api/v4/leads/custom_fields", json=_fields())
    responses.get(re.compile(rf"{BASE}/api/v4/(contacts|companies)/custom_fields.*"), status=204)
    leads = {
        "_page": 1,
        "_links": {},
        "_embedded": {
            "leads": [
                {
                    "id": i,
                    "name": f"L{i}",
                    "price": 1,
                    "status_id": 5501,
                    "pipeline_id": 77,
                    "responsible_user_id": 1,
                    "created_at": 1700000000,
                    "updated_at": 1700000000,
                }
                for i in (1, 2, 3)
            ]
        },
    }
    responses.get(f"{BASE}/api/v4/leads", json=leads)
    # Lead 2 deleted; lead 3 deleted and then restored: only 2 leaves the store.
    responses.get(
        re.compile(rf"{BASE}/api/v4/events\?.*lead_deleted.*"),
        json=_events(
            ("lead_deleted", 2, 1700000100),
            ("lead_deleted", 3, 1700000100),
            ("lead_restored", 3, 1700000200),
        ),
    )
    report = run_sync(store, connector, streams=["deals"])
    assert report.records == {"deals": 3}
    assert report.deleted == {"deals": 1}
    assert sorted(d.id for d in store.iter_models("deals", "acme")) == ["1", "3"]
    rules = {r["id"]: r for r in store.custom_field_defs("acme")}
    assert rules["701"]["required_stage_ids"] == ["5501", "77:142"]
    assert rules["701"]["entity"] == "deals"
    assert rules["702"]["required_stage_ids"] is None
