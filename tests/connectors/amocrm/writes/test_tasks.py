"""create_task against a running sandbox: idempotent per key, safe after a dropped connection."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from ropilot.connectors.amocrm.connector import AmoCRMConnector
from ropilot.connectors.amocrm.sandbox import Fault, SandboxState
from ropilot.connectors.amocrm.writes import AmoCRMValidationError
from ropilot.connectors.base import TaskDraft
from ropilot.connectors.http import HTTPStatusError
from ropilot.core.errors import FatalAPIError
from ropilot.core.store import Store

DUE = datetime(2030, 5, 6, 15, 0, tzinfo=UTC)


def once(predicate: Callable[[Any], bool]) -> Callable[[Any], bool]:
    fired = [False]

    def check(sent: Any) -> bool:
        if not fired[0] and predicate(sent):
            fired[0] = True
            return True
        return False

    return check


def _post_tasks(sent: Any) -> bool:
    return bool(sent.method == "POST" and sent.path == "/api/v4/tasks")


def _draft(lead: int, user: int, text: str = "Call back about the invoice") -> TaskDraft:
    return TaskDraft(
        text=text, due_at=DUE, responsible_id=str(user), deal_id=str(lead), type="call"
    )


def _tasks_with(state: SandboxState, text: str) -> list[dict[str, Any]]:
    with state.lock:
        return [dict(t) for t in state.records["tasks"].values() if t["text"] == text]


def test_create_task_sends_the_documented_body(
    connector: AmoCRMConnector, state: SandboxState, wire: Any, leads: list[int], users: list[int]
) -> None:
    wire.sent.clear()
    task_id = connector.create_task(
        TaskDraft(
            text="Meet the buyer",
            due_at=DUE,
            responsible_id=str(users[1]),
            deal_id=str(leads[0]),
            type="meeting",
        ),
        idempotency_key="k-body",
    )
    posts = wire.requests_to("POST", "/api/v4/tasks")
    assert [p.body for p in posts] == [
        [
            {
                "text": "Meet the buyer",
                "complete_till": int(DUE.timestamp()),
                "responsible_user_id": users[1],
                "entity_type": "leads",
                "entity_id": leads[0],
                "task_type_id": 2,
                "request_id": "k-body",
            }
        ]
    ]
    (task,) = _tasks_with(state, "Meet the buyer")
    assert str(task["id"]) == task_id
    assert task["complete_till"] == int(DUE.timestamp())
    assert (task["entity_type"], task["entity_id"]) == ("leads", leads[0])
    assert (task["responsible_user_id"], task["task_type_id"]) == (users[1], 2)


def test_same_key_twice_creates_one_task(
    connector: AmoCRMConnector,
    another_connector: Callable[[], AmoCRMConnector],
    state: SandboxState,
    wire: Any,
    leads: list[int],
    users: list[int],
) -> None:
    draft = _draft(leads[0], users[0])
    first = connector.create_task(draft, idempotency_key="task-1")
    wire.sent.clear()
    second = connector.create_task(draft, idempotency_key="task-1")
    assert second == first
    assert wire.sent == []  # answered from the store, amoCRM not called
    # Another worker (a new connector on the same store) gets the same answer.
    assert another_connector().create_task(draft, idempotency_key="task-1") == first
    assert [str(t["id"]) for t in _tasks_with(state, draft.text)] == [first]


def test_different_keys_create_different_tasks(
    connector: AmoCRMConnector, state: SandboxState, leads: list[int], users: list[int]
) -> None:
    draft = _draft(leads[0], users[0], text="Two on purpose")
    a = connector.create_task(draft, idempotency_key="a")
    b = connector.create_task(draft, idempotency_key="b")
    assert a != b
    assert sorted(str(t["id"]) for t in _tasks_with(state, "Two on purpose")) == sorted([a, b])


def test_dropped_connection_before_processing_creates_exactly_one_task(
    connector: AmoCRMConnector, state: SandboxState, wire: Any, leads: list[int], users: list[int]
) -> None:
    """Fault(0): the sandbox drops the connection without applying the POST."""
    draft = _draft(leads[2], users[0], text="Dropped before")
    state.faults.add("POST /api/v4/tasks", [Fault(0)])
    wire.sent.clear()

    task_id = connector.create_task(draft, idempotency_key="drop-1")

    assert state.faults.pending() == 0
    assert [str(t["id"]) for t in _tasks_with(state, "Dropped before")] == [task_id]
    # POST (dropped) → GET to look for it (absent) → POST again.
    assert [(s.method, s.path) for s in wire.sent] == [
        ("POST", "/api/v4/tasks"),
        ("GET", "/api/v4/tasks"),
        ("POST", "/api/v4/tasks"),
    ]


def test_answer_lost_after_processing_creates_exactly_one_task(
    connector: AmoCRMConnector, state: SandboxState, wire: Any, leads: list[int], users: list[int]
) -> None:
    """The sandbox created the task, the answer never arrived: found, not created again."""
    draft = _draft(leads[3], users[0], text="Lost answer")
    wire.lose_when = once(_post_tasks)
    wire.sent.clear()

    task_id = connector.create_task(draft, idempotency_key="lost-1")

    assert [str(t["id"]) for t in _tasks_with(state, "Lost answer")] == [task_id]
    assert len(wire.requests_to("POST", "/api/v4/tasks")) == 1
    assert len(wire.requests_to("GET", "/api/v4/tasks")) == 1
    # The found id is remembered: the next call with the key sends nothing.
    wire.sent.clear()
    assert connector.create_task(draft, idempotency_key="lost-1") == task_id
    assert wire.sent == []


def test_crash_after_sending_is_recovered_on_the_next_attempt(
    connector: AmoCRMConnector,
    another_connector: Callable[[], AmoCRMConnector],
    state: SandboxState,
    store: Store,
    wire: Any,
    leads: list[int],
    users: list[int],
) -> None:
    """The worker dies after amoCRM applied the POST; the retry (another worker) finds it."""
    draft = _draft(leads[4], users[0], text="Crashed worker")
    wire.crash_when = once(_post_tasks)
    with pytest.raises(RuntimeError):
        connector.create_task(draft, idempotency_key="crash-1")
    record = json.loads(store.get_bookmark("demo", "amocrm:write:crash-1") or "{}")
    assert (record["kind"], record["state"], record["id"]) == ("task", "pending", None)

    retry = another_connector()
    task_id = retry.create_task(draft, idempotency_key="crash-1")

    assert [str(t["id"]) for t in _tasks_with(state, "Crashed worker")] == [task_id]
    record = json.loads(store.get_bookmark("demo", "amocrm:write:crash-1") or "{}")
    assert (record["state"], record["id"]) == ("done", task_id)


def test_long_keys_are_stored_by_digest(
    connector: AmoCRMConnector, store: Store, leads: list[int], users: list[int]
) -> None:
    key = "decision:" + "x" * 120
    first = connector.create_task(_draft(leads[5], users[0], "Long key"), idempotency_key=key)
    digest = hashlib.sha256(key.encode()).hexdigest()[:50]
    stored = json.loads(store.get_bookmark("demo", f"amocrm:write:#{digest}") or "{}")
    assert (stored["state"], stored["id"]) == ("done", first)
    assert (
        connector.create_task(_draft(leads[5], users[0], "Long key"), idempotency_key=key) == first
    )


def test_missing_text_fails_with_the_amocrm_validation_detail(
    connector: AmoCRMConnector, state: SandboxState, leads: list[int], users: list[int]
) -> None:
    with state.lock:
        before = len(state.records["tasks"])
    with pytest.raises(HTTPStatusError) as caught:
        connector.create_task(_draft(leads[0], users[0], text=""), idempotency_key="no-text")
    error = caught.value
    assert isinstance(error, AmoCRMValidationError)
    assert isinstance(error, FatalAPIError)
    assert error.status == 400
    assert "text: This value should not be blank. (NotBlank)" in str(error)
    assert error.errors[0]["request_id"] == "no-text"
    with state.lock:
        assert len(state.records["tasks"]) == before


def test_task_without_entity_and_with_an_account_task_type(
    connector: AmoCRMConnector, state: SandboxState, users: list[int]
) -> None:
    draft = TaskDraft(
        text="Send the e-mail",
        due_at=DUE + timedelta(days=1),
        responsible_id=str(users[2]),
        type="email",
    )
    task_id = connector.create_task(draft, idempotency_key="no-entity")
    (task,) = _tasks_with(state, "Send the e-mail")
    assert str(task["id"]) == task_id
    assert task["entity_id"] is None
    with state.lock:
        email_type = next(t["id"] for t in state.task_types.values() if t["name"] == "email")
    assert task["task_type_id"] == email_type


def test_key_reused_for_another_kind_is_refused(
    connector: AmoCRMConnector, leads: list[int], users: list[int]
) -> None:
    connector.create_task(_draft(leads[0], users[0], "Kind check"), idempotency_key="shared")
    with pytest.raises(Exception, match="already used for a task"):
        connector.add_note("deal", str(leads[0]), "x", idempotency_key="shared")
