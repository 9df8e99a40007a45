"""Loss analysis on tests/core/kpi/data/outcomes, March 2026 (by hand): d3 lost 50,000 RUB,
reason «Дорого», moved s1 → s2 → lost, so its loss stage is s2; d6 lost 0 with no reason and no
history, so it was created lost: loss stage None."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from ropilot.connectors.bundle.importer import import_bundle
from ropilot.core.kpi.losses import losses
from ropilot.core.periods import month
from ropilot.core.store import Store

DATA = Path(__file__).parent / "data" / "outcomes"
MSK = ZoneInfo("Europe/Moscow")


@pytest.fixture
def kpi_store(store: Store) -> Store:
    import_bundle(store, DATA)
    return store


def test_loss_stage_and_reason(kpi_store: Store) -> None:
    rows = losses(kpi_store, "k", month(2026, 3, MSK))
    got = sorted((r.loss_stage_id or "", r.loss_reason or "", r.lost, r.amount) for r in rows)
    assert got == [("", "", 1, Decimal("0.00")), ("s2", "Дорого", 1, Decimal("50000.00"))]


def test_losses_by_manager(kpi_store: Store) -> None:
    rows = losses(kpi_store, "k", month(2026, 3, MSK), ["manager"])
    assert sorted((r.keys["manager"], r.loss_stage_id) for r in rows) == [
        ("m1", "s2"),
        ("m2", None),
    ]
    assert losses(kpi_store, "k", month(2026, 2, MSK)) == []
