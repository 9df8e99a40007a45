"""Incremental sync: read a connector stream by stream into the store.

Bookmarks are per stream and capped at the sync's start: a record changed while the sync runs
is read again next time rather than missed. A small overlap is subtracted from the bookmark
when reading, because CRMs stamp ``updated_at`` in whole seconds and commit out of order.
Streams a connector reads in cursor order are checkpointed after every batch (bookmark and
rows in one transaction), so an interrupted sync resumes where it stopped.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any, Protocol

from ropilot.connectors.base import Capability, Connector
from ropilot.core.errors import ConnectorError
from ropilot.core.store import Store

DEFAULT_OVERLAP = timedelta(minutes=5)


class SyncProgress(Protocol):
    """What the sync reports to a progress display."""

    def stream(self, name: str) -> None:
        """A stream starts."""

    def advance(self, records: int) -> None:
        """Records stored since the last call."""


class _Quiet:
    def stream(self, name: str) -> None:
        pass

    def advance(self, records: int) -> None:
        pass


@dataclass
class SyncReport:
    """What a sync did."""

    account_id: str
    started_at: datetime
    records: dict[str, int] = field(default_factory=dict)
    deleted: dict[str, int] = field(default_factory=dict)
    seconds: float = 0.0

    @property
    def total(self) -> int:
        """Records stored over all streams."""
        return sum(self.records.values())


def bookmark_key(connector: Connector, stream: str) -> str:
    """The bookmark name of a connector's stream."""
    return f"{connector.name}:{stream}"


def run_sync(
    store: Store,
    connector: Connector,
    *,
    streams: Iterable[str] | None = None,
    full: bool = False,
    overlap: timedelta = DEFAULT_OVERLAP,
    batch_size: int = 500,
    clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    progress: SyncProgress | None = None,
) -> SyncReport:
    """Sync ``streams`` (default: all the connector reads) from the CRM into the store.

    Raises:
        ConnectorError: when a stream cannot be read completely; streams already done keep
            their bookmarks, the failed one resumes from its last checkpoint.
    """
    bar = progress or _Quiet()
    account = connector.account()
    store.upsert_account(account)
    started = clock()
    report = SyncReport(account_id=account.id, started_at=started)
    t0 = time.perf_counter()
    wanted = list(streams) if streams is not None else list(connector.streams())
    unknown = [s for s in wanted if s not in connector.streams()]
    if unknown:
        raise ConnectorError(
            f"the {connector.name} connector has no stream(s) {', '.join(unknown)}; "
            f"it reads {', '.join(connector.streams())}"
        )
    defs = [
        {
            "entity": d.entity,
            "id": d.id,
            "name": d.name,
            "type": d.type,
            "required_stage_ids": list(d.required_stage_ids) or None,
        }
        for d in connector.custom_field_defs()
    ]
    if defs:
        store.upsert_custom_field_defs(account.id, defs)
    incremental = Capability.INCREMENTAL in connector.capabilities and not full
    ordered = connector.cursor_ordered_streams
    for stream in (s for s in connector.streams() if s in wanted):
        bar.stream(stream)
        key = bookmark_key(connector, stream)
        since: datetime | None = None
        if incremental:
            mark = store.get_bookmark(account.id, key)
            since = None if mark is None else datetime.fromisoformat(mark) - overlap
        report.records[stream] = _copy_stream(
            store,
            connector,
            stream,
            since,
            account.id,
            key,
            started,
            batch_size,
            stream in ordered,
            bar,
        )
        gone = list(connector.deleted(stream, since=since))
        if gone:
            report.deleted[stream] = store.delete(stream, account.id, gone)
        store.set_bookmark(account.id, key, started.isoformat())
    report.seconds = time.perf_counter() - t0
    return report


def _cursor(model: Any) -> datetime | None:
    value = getattr(model, "updated_at", None)
    return value if isinstance(value, datetime) else None


def _copy_stream(
    store: Store,
    connector: Connector,
    stream: str,
    since: datetime | None,
    account_id: str,
    key: str,
    started: datetime,
    batch_size: int,
    checkpoint: bool,
    bar: SyncProgress,
) -> int:
    batch: list[Any] = []
    total = 0

    def flush() -> None:
        nonlocal batch, total
        if not batch:
            return
        with store.begin() as conn:
            store.upsert_models(batch, conn)
            if checkpoint:
                seen = [c for c in (_cursor(m) for m in batch) if c is not None]
                if seen:
                    mark = min(max(seen), started)
                    store.set_bookmark(account_id, key, mark.isoformat(), conn)
        total += len(batch)
        bar.advance(len(batch))
        batch = []

    for model in connector.read(stream, since=since):
        batch.append(model)
        if len(batch) >= batch_size:
            flush()
    flush()
    return total
