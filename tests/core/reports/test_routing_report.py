"""The routing section of the demo: who got each lead, by which rule, how many were tied."""

from __future__ import annotations

from zoneinfo import ZoneInfo

from ropilot.core.reports.routing_report import decisions_section
from ropilot.core.routing import RoutingEngine
from ropilot.core.store import Store
from tests.core.routing.helpers import ACCOUNT, NOON, regs, seed


def test_rows_name_the_rule_the_eligible_and_the_tie(store: Store) -> None:
    ids = seed(store, ["a", "b", "c"], 2, c={"active": False})
    with RoutingEngine(store, ACCOUNT, regs(managers=["a", "b", "c"])) as engine:
        first = engine.route(ids[0], now=NOON)
        second = engine.route(ids[1], now=NOON)
    section = decisions_section(
        store, ACCOUNT, ZoneInfo("Europe/Moscow"), [first, second], {ids[0]: NOON}
    )
    rows = {r["deal"]: r for r in section.rows}
    # Lead 1: a and b at level 0 (c is inactive) → a tie of 2. Lead 2: the other one alone.
    assert rows[ids[0]]["tie"] == 2 and rows[ids[0]]["eligible"] == 2
    assert rows[ids[0]]["excluded"] == "inactive ×1"
    assert rows[ids[1]]["tie"] is None
    assert {rows[ids[0]]["manager"], rows[ids[1]]["manager"]} == {"a", "b"}
    assert rows[ids[0]]["rule"] == "fairness"
    assert rows[ids[0]]["created_at"].utcoffset().total_seconds() == 3 * 3600
    assert rows[ids[1]]["created_at"] is None
    tie = section.columns[-1]
    assert (tie.name, tie.unit, tie.title("ru"), tie.title("en")) == (
        "tie",
        "count",
        "В ничьей",
        "Tied",
    )
