"""The engine's Python API on the hand-computed outcomes bundle (see tests/core/kpi/test_outcomes.py:
March 2026 revenue 100,000.00 — d1; m1 won 2 and lost 1)."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

from ropilot.connectors.bundle.importer import import_bundle
from ropilot.core import api
from ropilot.core.plans.models import PlanDocument, make_line
from ropilot.core.plans.store import save_plan
from ropilot.core.store import Store

DATA = Path(__file__).parent / "kpi" / "data" / "outcomes"
NOW = datetime(2026, 11, 24, 12, tzinfo=ZoneInfo("Europe/Moscow"))


def test_api_kpis_explain_and_morning(store: Store) -> None:
    import_bundle(store, DATA)
    ctx = api.context(store, "2026-03", by=["manager"], now=NOW)
    rows = {
        r["keys"]["manager"]: r["figures"] for r in api.kpis(ctx).to_dict()["sections"][0]["rows"]
    }
    assert rows["m1"]["revenue"] == "100000.00" and rows["m1"]["lost"] == 1
    lineage = api.explain(ctx, ["won"], {"manager": "m1"})
    assert sorted(r["id"] for r in lineage.sections[0].rows) == ["d1", "d2"]
    save_plan(
        store, "k", PlanDocument("2026-03", (make_line("company", "2026-03", "revenue", 200000),))
    )
    morning = api.morning(api.context(store, "2026-03", now=NOW)).to_dict()
    plan = morning["sections"][0]
    assert plan["name"] == "plan_revenue"
    company = plan["rows"][0]["figures"]
    assert (company["plan"], company["fact"], company["attainment"]) == (
        "200000.00",
        "100000.00",
        "0.500000",
    )
