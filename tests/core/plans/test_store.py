"""Plan versions in the store (SQLite and PostgreSQL): every save is a new immutable version.

v1 (anna, "first"): company 2026 revenue 100.00, manager:m1 2026 revenue 60.00.
v2 (boris, "raise"): company 2026 revenue 120.00 (changed 100 → 120), manager:m1 removed,
manager:m2 2026 revenue 70.00 added. Reading gets v2; v1 is still readable as saved.
"""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal

import pytest

from ropilot.core.errors import ConfigurationError
from ropilot.core.plans.models import LineChange, PlanDocument, make_line
from ropilot.core.plans.store import list_plans, load_plan, plan_history, save_plan
from ropilot.core.store import Store

V1 = PlanDocument(
    "2026",
    (
        make_line("company", "2026", "revenue", "100.00"),
        make_line("manager:m1", "2026", "revenue", 60),
    ),
)
V2 = PlanDocument(
    "2026",
    (make_line("company", "2026", "revenue", 120), make_line("manager:m2", "2026", "revenue", 70)),
)
T1 = datetime(2026, 1, 10, 9, 0, tzinfo=UTC)
T2 = datetime(2026, 2, 10, 9, 0, tzinfo=UTC)


def test_versions_keep_history(store: Store) -> None:
    first = save_plan(store, "k", V1, author="anna", comment="first", at=T1)
    second = save_plan(store, "k", V2, author="boris", comment="raise", at=T2)
    assert (first.version, second.version) == (1, 2)

    latest = load_plan(store, "k", "2026")
    assert (latest.version, latest.author, latest.comment, latest.created_at) == (
        2,
        "boris",
        "raise",
        T2,
    )
    assert latest.document == V2
    old = load_plan(store, "k", "2026", version=1)
    assert old.document == V1
    assert old.document.get("company", "2026", "revenue") == Decimal("100.00")

    history = plan_history(store, "k", "2026")
    assert [h.version.version for h in history] == [1, 2]
    assert history[0].changes == [
        LineChange("company", "2026", "revenue", None, Decimal("100.00")),
        LineChange("manager:m1", "2026", "revenue", None, Decimal("60.00")),
    ]
    assert history[1].changes == [
        LineChange("company", "2026", "revenue", Decimal("100.00"), Decimal("120.00")),
        LineChange("manager:m1", "2026", "revenue", Decimal("60.00"), None),
        LineChange("manager:m2", "2026", "revenue", None, Decimal("70.00")),
    ]
    assert list_plans(store, "k") == {"2026": 2}
    assert list_plans(store, "other") == {}


def test_missing_plan_or_version(store: Store) -> None:
    with pytest.raises(ConfigurationError, match="plan '2030' does not exist"):
        load_plan(store, "k", "2030")
    save_plan(store, "k", V1)
    with pytest.raises(ConfigurationError, match=r"version 5 does not exist \(versions: 1\)"):
        load_plan(store, "k", "2026", version=5)
    with pytest.raises(ConfigurationError, match="does not exist"):
        plan_history(store, "k", "nope")


def test_empty_plan_and_counts_round_trip(store: Store) -> None:
    save_plan(store, "k", PlanDocument("empty"))
    assert load_plan(store, "k", "empty").document.lines == ()
    doc = PlanDocument("c", (make_line("manager:m1", "2026-03", "calls", "1388.8889"),))
    save_plan(store, "k", doc)
    assert load_plan(store, "k", "c").document == doc
