"""The sync engine against an in-memory connector, on SQLite and PostgreSQL."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest
from pydantic import BaseModel

from ropilot.connectors.base import Capability, CheckResult, Connector, ConnectorConfig
from ropilot.connectors.sync import bookmark_key, run_sync
from ropilot.core.errors import ConnectorError
from ropilot.core.models import Account, Deal
from ropilot.core.store import Store

T0 = datetime(2026, 3, 1, 9, 0, tzinfo=UTC)


class FakeCRM(Connector):
    name = "fake"
    capabilities = frozenset({Capability.READ, Capability.INCREMENTAL})
    cursor_ordered_streams = frozenset({"deals"})

    def __init__(self) -> None:
        super().__init__(ConnectorConfig(account_id="acc", base_url="mem://"))
        self.deals: dict[str, Deal] = {}
        self.gone: list[str] = []
        self.reads: list[datetime | None] = []
        self.fail_after: int | None = None

    def put(self, deal_id: str, updated: datetime, amount: str = "1") -> None:
        self.deals[deal_id] = Deal.model_validate(
            {
                "account_id": "acc",
                "id": deal_id,
                "pipeline_id": "p",
                "stage_id": "s",
                "created_at": T0,
                "updated_at": updated,
                "amount": amount,
            }
        )

    def check(self) -> CheckResult:
        return CheckResult(ok=True, message="ok")

    def account(self) -> Account:
        return Account(id="acc", name="Fake")

    def streams(self) -> tuple[str, ...]:
        return ("deals",)

    def read(self, stream: str, *, since: datetime | None = None) -> Iterator[BaseModel]:
        self.reads.append(since)
        rows = sorted(self.deals.values(), key=lambda d: (d.updated_at, d.id))
        for n, deal in enumerate(rows):
            if self.fail_after is not None and n >= self.fail_after:
                raise ConnectorError("connection reset")
            if since is None or (deal.updated_at and deal.updated_at >= since):
                yield deal

    def deleted(self, stream: str, *, since: datetime | None = None) -> Iterator[str]:
        return iter(self.gone)


def test_full_then_incremental_with_overlap_and_cap(store: Store) -> None:
    crm = FakeCRM()
    for i in range(5):
        crm.put(f"d{i}", T0 + timedelta(minutes=i))
    start = T0 + timedelta(hours=1)
    report = run_sync(store, crm, clock=lambda: start, batch_size=2)
    assert report.records == {"deals": 5}
    assert crm.reads == [None]
    # The bookmark is the sync's start, not the newest record.
    assert store.get_bookmark("acc", bookmark_key(crm, "deals")) == start.isoformat()

    crm.put("d1", start + timedelta(minutes=1), amount="99")
    crm.put("d9", start + timedelta(minutes=2))
    report = run_sync(store, crm, clock=lambda: start + timedelta(hours=1))
    assert crm.reads[-1] == start - timedelta(minutes=5)  # bookmark minus the overlap
    assert report.records == {"deals": 2}
    deals = {d.id: d for d in store.iter_models("deals", "acc")}
    assert len(deals) == 6
    assert str(deals["d1"].amount) == "99.00"


def test_full_flag_ignores_the_bookmark(store: Store) -> None:
    crm = FakeCRM()
    crm.put("d0", T0)
    run_sync(store, crm, clock=lambda: T0 + timedelta(hours=1))
    run_sync(store, crm, full=True, clock=lambda: T0 + timedelta(hours=2))
    assert crm.reads == [None, None]


def test_interrupted_sync_resumes_from_the_checkpoint(store: Store) -> None:
    crm = FakeCRM()
    for i in range(6):
        crm.put(f"d{i}", T0 + timedelta(minutes=i))
    crm.fail_after = 4
    start = T0 + timedelta(hours=1)
    with pytest.raises(ConnectorError, match="connection reset"):
        run_sync(store, crm, clock=lambda: start, batch_size=2)
    # Two batches of two were committed with their checkpoint: d3 at T0+3 min.
    assert store.counts("acc")["deals"] == 4
    assert store.get_bookmark("acc", "fake:deals") == (T0 + timedelta(minutes=3)).isoformat()
    crm.fail_after = None
    run_sync(store, crm, clock=lambda: start)
    assert crm.reads[-1] == T0 + timedelta(minutes=3) - timedelta(minutes=5)
    assert store.counts("acc")["deals"] == 6


def test_deletions_are_applied(store: Store) -> None:
    crm = FakeCRM()
    crm.put("d0", T0)
    crm.put("d1", T0)
    run_sync(store, crm, clock=lambda: T0 + timedelta(hours=1))
    crm.gone = ["d1", "never-seen"]
    report = run_sync(store, crm, clock=lambda: T0 + timedelta(hours=2))
    assert report.deleted == {"deals": 1}
    assert [d.id for d in store.iter_models("deals", "acc")] == ["d0"]


def test_unknown_stream_is_refused(store: Store) -> None:
    with pytest.raises(ConnectorError, match="has no stream"):
        run_sync(store, FakeCRM(), streams=["leads"])
