"""Sync from the amoCRM sandbox gives the store that importing its seed bundle gives.

The sandbox is seeded from a generated bundle; the same bundle is imported into a second store.
amoCRM gives won and lost statuses the ids 142/143 in every pipeline, so those stage ids are
translated ("{pipeline}:142") before comparing; history rows are compared by content, because
amoCRM events carry their own ids.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from pydantic import SecretStr

from ropilot.connectors.amocrm.factory import build_amocrm
from ropilot.connectors.amocrm.sandbox.server import run_sandbox, sandbox_from_options
from ropilot.connectors.bundle.importer import import_bundle
from ropilot.connectors.sync import run_sync
from ropilot.core.settings import AccountSettings
from ropilot.core.store import Store
from ropilot.generator import generate_bundle

DEALS = 120


@pytest.fixture(scope="module")
def bundle(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("seed") / "bundle"
    generate_bundle(out, deals=DEALS, seed=5)
    return out


@pytest.fixture
def synced(bundle: Path, store: Store) -> Iterator[tuple[Store, Any]]:
    state = sandbox_from_options(bundle, rate_limit=0)
    with run_sandbox(state, log_requests=False) as server:
        creds = server.credentials
        account = AccountSettings(
            id="demo",
            connector="amocrm",
            base_url=server.base_url,
            credentials={"long_lived_token": SecretStr(creds.long_lived_token)},
        )
        connector = build_amocrm(account, store, None, rate=1000)
        report = run_sync(store, connector)
        yield store, report


def _stage_map(reference: Store) -> dict[str, str]:
    out = {}
    for stage in reference.iter_models("stages", "demo"):
        if stage.kind.value == "won":
            out[stage.id] = f"{stage.pipeline_id}:142"
        elif stage.kind.value == "lost":
            out[stage.id] = f"{stage.pipeline_id}:143"
    return out


def test_deals_match_the_bundle(bundle: Path, synced: tuple[Store, Any], tmp_path: Path) -> None:
    store, report = synced
    reference = Store.open(f"sqlite:///{tmp_path / 'ref.db'}")
    import_bundle(reference, bundle)
    stages = _stage_map(reference)
    assert report.records["deals"] == DEALS
    want = {d.id: d for d in reference.iter_models("deals", "demo")}
    got = {d.id: d for d in store.iter_models("deals", "demo")}
    assert set(got) == set(want)
    for deal_id, expected in want.items():
        actual = got[deal_id]
        assert actual.stage_id == stages.get(expected.stage_id, expected.stage_id), deal_id
        # amoCRM keeps no empty budget: an empty amount reads back as 0 (0 in sums either way).
        assert (actual.amount or 0) == (expected.amount or 0), deal_id
        for field in (
            "pipeline_id",
            "responsible_id",
            "created_at",
            "closed_at",
            "contact_id",
            "company_id",
            "loss_reason",
            "source",
            "product",
            "region",
            "expected_close_at",
            "currency",
        ):
            assert getattr(actual, field) == getattr(expected, field), (deal_id, field)
    reference.close()


def test_history_tasks_and_activities_match(
    bundle: Path, synced: tuple[Store, Any], tmp_path: Path
) -> None:
    store, _ = synced
    reference = Store.open(f"sqlite:///{tmp_path / 'ref.db'}")
    import_bundle(reference, bundle)
    stages = _stage_map(reference)

    def moves(s: Store, translate: bool) -> set[tuple[Any, ...]]:
        m = stages if translate else {}
        return {
            (
                c.deal_id,
                m.get(c.from_stage_id, c.from_stage_id),
                m.get(c.to_stage_id, c.to_stage_id),
                c.changed_at,
                c.changed_by,
            )
            for c in s.iter_models("stage_changes", "demo")
        }

    assert moves(store, False) == moves(reference, True)
    tasks_want = {
        (t.id, t.responsible_id, t.due_at, t.completed_at is None, t.deal_id)
        for t in reference.iter_models("tasks", "demo")
    }
    tasks_got = {
        (t.id, t.responsible_id, t.due_at, t.completed_at is None, t.deal_id)
        for t in store.iter_models("tasks", "demo")
    }
    assert tasks_got == tasks_want
    acts_want = {
        (a.id, a.type, a.manager_id, a.at, a.direction, a.duration_s)
        for a in reference.iter_models("activities", "demo")
    }
    acts_got = {
        (a.id, a.type, a.manager_id, a.at, a.direction, a.duration_s)
        for a in store.iter_models("activities", "demo")
    }
    assert acts_got == acts_want
    reference.close()
