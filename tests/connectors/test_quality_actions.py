"""Quality actions against a running amoCRM sandbox: one task per open finding however often
``--fix`` runs, then the ladder on business hours (default regulations: 09–13, 14–18 Moscow;
manager at 0 h, senior 8 h, head 24 h, re-route 40 h).

The finding is first seen Monday 2 Mar 2026 10:00 Moscow. Business hours open:
* Mon 10:00–18:00 = 3 + 4 = 7 → Tue 3 Mar 09:59 is 7.98 h (no senior yet), Tue 10:00 is 8.0
  (senior task);
* Tue 8 + Wed 8 → 23 by Wed 18:00; Thu 5 Mar 10:00 = 24.0 (head task);
* Thu 8 + Fri 8 → 39 by Fri 6 Mar 18:00; Sat, Sun and Mon 9 Mar (8 March moved to Monday) are
  days off, so Mon 9 Mar 12:00 is still 39 h; Tue 10 Mar 10:00 = 40.0 (re-route requested).
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime, timedelta, timezone
from typing import Any

import pytest
from pydantic import SecretStr

from ropilot.connectors.amocrm.connector import AmoCRMConnector
from ropilot.connectors.amocrm.factory import build_amocrm
from ropilot.connectors.amocrm.sandbox import SandboxServer, SandboxState
from ropilot.connectors.amocrm.sandbox.server import run_sandbox, sandbox_from_options
from ropilot.connectors.quality_actions import apply_actions, recorded_actions
from ropilot.core.models import Account, Manager, Team
from ropilot.core.quality.findings import open_findings, save_findings
from ropilot.core.quality.registry import FindingDraft
from ropilot.core.regulations import default_regulations
from ropilot.core.settings import AccountSettings
from ropilot.core.store import Store

ACCOUNT = "demo"
MSK = timezone(timedelta(hours=3))
FIRST = datetime(2026, 3, 2, 10, 0, tzinfo=MSK)


@pytest.fixture
def sandbox() -> Iterator[tuple[SandboxState, SandboxServer]]:
    state = sandbox_from_options(None, deals=20, seed=5, rate_limit=0)
    try:
        with run_sandbox(state, log_requests=False) as server:
            yield state, server
    finally:
        state.dispatcher.stop()


def connector_for(server: SandboxServer, store: Store) -> AmoCRMConnector:
    account = AccountSettings(
        id=ACCOUNT,
        connector="amocrm",
        base_url=server.base_url,
        credentials={"long_lived_token": SecretStr(server.credentials.long_lived_token)},
    )
    return build_amocrm(account, store, None, rate=1000).attach_store(store)


def tasks_with(state: SandboxState, fragment: str) -> list[dict[str, Any]]:
    with state.lock:
        return [dict(t) for t in state.records["tasks"].values() if fragment in t["text"]]


@pytest.fixture
def world(
    sandbox: tuple[SandboxState, SandboxServer], store: Store
) -> tuple[SandboxState, AmoCRMConnector, list[int], int]:
    state, server = sandbox
    connector = connector_for(server, store)
    users = [
        int(u["id"]) for u in connector.client.get_json("/api/v4/users", {})["_embedded"]["users"]
    ]
    leads = connector.client.get_json("/api/v4/leads", {"limit": 5})["_embedded"]["leads"]
    lead = int(leads[0]["id"])
    owner, senior, head = (str(u) for u in users[:3])
    store.upsert_account(Account(id=ACCOUNT, name="Demo"))
    store.upsert_models(
        [
            Team(account_id=ACCOUNT, id="t", name="Sales", head_id=head),
            Manager(account_id=ACCOUNT, id=owner, name="Owner", team_id="t", working_schedule=[]),
            Manager(
                account_id=ACCOUNT,
                id=senior,
                name="Senior",
                team_id="t",
                role="senior",
                working_schedule=[],
            ),
            Manager(
                account_id=ACCOUNT,
                id=head,
                name="Head",
                team_id="t",
                role="head",
                working_schedule=[],
            ),
        ]
    )
    save_findings(
        store,
        ACCOUNT,
        ["deal_without_next_task"],
        [
            FindingDraft(
                check="deal_without_next_task",
                entity="deal",
                entity_id=str(lead),
                severity="warning",
                owner_id=owner,
                message="plan the next task",
            )
        ],
        as_of=FIRST,
        regulations_version=default_regulations().version,
    )
    return state, connector, [int(owner), int(senior), int(head)], lead


def fix(store: Store, connector: AmoCRMConnector, at: datetime):  # type: ignore[no-untyped-def]
    return apply_actions(store, connector, ACCOUNT, as_of=at, regulations=default_regulations())


def test_task_created_once_even_when_fix_runs_twice(store: Store, world: Any) -> None:
    state, connector, (owner, _, _), lead = world
    first = fix(store, connector, FIRST)
    second = fix(store, connector, FIRST + timedelta(minutes=5))
    assert first.done == {"task_manager": 1}
    assert second.done == {}
    (task,) = tasks_with(state, "plan the next task")
    assert task["responsible_user_id"] == owner
    assert task["entity_id"] == lead
    (finding,) = open_findings(store, ACCOUNT)
    (row,) = recorded_actions(store, ACCOUNT)
    assert (row["finding_id"], row["step"], row["status"]) == (finding.id, "task_manager", "done")
    assert row["external_id"] == str(task["id"])


def test_escalation_ladder_on_business_hours(store: Store, world: Any) -> None:
    state, connector, (owner, senior, head), _ = world
    fix(store, connector, FIRST)
    assert fix(store, connector, datetime(2026, 3, 3, 9, 59, tzinfo=MSK)).done == {}
    assert fix(store, connector, datetime(2026, 3, 3, 10, 0, tzinfo=MSK)).done == {"task_senior": 1}
    assert fix(store, connector, datetime(2026, 3, 5, 9, 59, tzinfo=MSK)).done == {}
    assert fix(store, connector, datetime(2026, 3, 5, 10, 0, tzinfo=MSK)).done == {"task_head": 1}
    assert fix(store, connector, datetime(2026, 3, 9, 12, 0, tzinfo=MSK)).done == {}
    assert fix(store, connector, datetime(2026, 3, 10, 10, 0, tzinfo=MSK)).done == {
        "reroute_requested": 1
    }
    assert fix(store, connector, datetime(2026, 3, 20, 10, 0, tzinfo=MSK)).done == {}
    tasks = tasks_with(state, "plan the next task")
    assert sorted(t["responsible_user_id"] for t in tasks) == sorted([owner, senior, head])
    steps = {r["step"]: r for r in recorded_actions(store, ACCOUNT)}
    assert set(steps) == {"task_manager", "task_senior", "task_head", "reroute_requested"}
    assert steps["reroute_requested"]["status"] == "requested"
    assert steps["task_senior"]["target_id"] == str(senior)
    assert steps["task_head"]["details"]["business_hours_open"] == 24.0


def test_resolved_findings_get_no_actions(store: Store, world: Any) -> None:
    state, connector, _, _ = world
    save_findings(
        store,
        ACCOUNT,
        ["deal_without_next_task"],
        [],
        as_of=FIRST,
        regulations_version=None,
    )
    assert fix(store, connector, FIRST + timedelta(days=30)).done == {}
    assert tasks_with(state, "plan the next task") == []
