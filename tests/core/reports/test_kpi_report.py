"""The KPI report, its JSON schema and --explain lineage on the hand-computed outcomes dataset.

March 2026 in Moscow (see tests/core/kpi/test_outcomes.py for the derivation): company revenue
100,000.00 (d1; d2 won with an empty amount), won 3 (d1, d2, d5 in USD), lost 2 (d3 50,000,
d6 0), average check 50,000.00, win rate 3/5; m1: won d1, d2, lost d3 → 2/3; m2: d5 won (USD)
and d6 lost → win rate by value has no rouble denominator → null.
"""

from __future__ import annotations

import json
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from ropilot.connectors.bundle.importer import import_bundle
from ropilot.core.errors import ConfigurationError, PluginLoadError
from ropilot.core.kpi.builtins import BUILTIN_KPIS
from ropilot.core.kpi.registry import KpiCatalogue, KpiDefinition, KpiRow
from ropilot.core.reports.context import make_context, parse_as_of
from ropilot.core.reports.kpi_report import explain_report, kpi_report
from ropilot.core.store import Store
from ropilot.render import write_report

DATA = Path(__file__).parents[1] / "kpi" / "data" / "outcomes"
MSK = ZoneInfo("Europe/Moscow")
NOW = datetime(2026, 11, 24, 12, 0, tzinfo=MSK)


@pytest.fixture
def kpi_store(store: Store) -> Store:
    import_bundle(store, DATA)
    return store


def test_company_row_in_json(kpi_store: Store) -> None:
    ctx = make_context(kpi_store, None, "2026-03", now=NOW)
    doc = json.loads(
        write_report(kpi_report(KpiCatalogue(BUILTIN_KPIS), ctx), "json", "en", None) or ""
    )
    assert doc["schema"] == "ropilot.report/1"
    assert doc["period"]["start"] == "2026-03-01T00:00:00+03:00"
    assert doc["as_of"] == "2026-03-31T23:59:59.999999+03:00"  # the period is over
    (row,) = doc["sections"][0]["rows"]
    assert row["keys"] == {}
    figures = row["figures"]
    assert figures["revenue"] == "100000.00"
    assert (figures["won"], figures["lost"]) == (3, 2)
    assert figures["average_check"] == "50000.00"
    assert figures["win_rate"] == "0.600000"
    assert figures["win_rate_value"] == "0.666667"


def test_by_manager_nulls_and_names(kpi_store: Store) -> None:
    ctx = make_context(kpi_store, "k", "2026-03", by=["manager"], now=NOW)
    report = kpi_report(KpiCatalogue(BUILTIN_KPIS), ctx, ["win_rate", "win_rate_value"])
    rows = {r["manager"]: r for r in report.sections[0].rows}
    assert set(rows) == {"m1", "m2"}
    assert rows["m2"]["win_rate_value"] is None
    assert rows["m1"]["manager_name"]  # the name column sits next to the id
    text = write_report(report, "table", "ru", None) or ""
    assert "—" in text  # a null ratio reads as a dash, not 0
    assert "66,7 %" in text  # m1: 2 of 3, Russian decimal comma


def test_explain_lists_the_deals_behind_revenue(kpi_store: Store) -> None:
    ctx = make_context(kpi_store, "k", "2026-03", by=["manager"], now=NOW)
    report = explain_report(KpiCatalogue(BUILTIN_KPIS), ctx, ["revenue", "lost"], {"manager": "m1"})
    revenue, lost = report.sections
    assert sorted(r["id"] for r in revenue.rows) == ["d1", "d2"]  # d2: empty amount, counted
    assert [r["id"] for r in lost.rows] == ["d3"]
    assert "value = 100000.00" in revenue.texts("en")


def test_catalogue_refuses_a_duplicate_name() -> None:
    dup = KpiDefinition("revenue", "x", "x", "money", lambda ctx: [KpiRow({}, 1)])
    with pytest.raises(PluginLoadError, match="two KPIs are named 'revenue'"):
        KpiCatalogue([*BUILTIN_KPIS, dup])


def test_unknown_kpi_and_dimension_are_explained(kpi_store: Store) -> None:
    with pytest.raises(ConfigurationError, match="unknown KPI 'revnue'"):
        KpiCatalogue(BUILTIN_KPIS).get("revnue")
    with pytest.raises(ConfigurationError, match="--by colour"):
        make_context(kpi_store, "k", "2026-03", by=["colour"], now=NOW)
    with pytest.raises(ConfigurationError, match="no account 'x'"):
        make_context(kpi_store, "x", "2026-03", now=NOW)


def test_as_of_forms() -> None:
    assert parse_as_of("2026-03-31", MSK) == datetime(2026, 3, 31, 23, 59, 59, 999999, MSK)
    assert parse_as_of("2026-03-31T18:00", MSK) == datetime(2026, 3, 31, 18, 0, tzinfo=MSK)
    with pytest.raises(ConfigurationError, match="--as-of"):
        parse_as_of("31.03.2026", MSK)


def test_csv_and_xlsx(kpi_store: Store, tmp_path: Path) -> None:
    from openpyxl import load_workbook

    ctx = make_context(kpi_store, "k", "2026-03", by=["manager"], now=NOW)
    report = kpi_report(KpiCatalogue(BUILTIN_KPIS), ctx, ["revenue", "won"])
    lines = (write_report(report, "csv", "en", None) or "").splitlines()
    assert lines[0] == "manager,manager_name,revenue,won"
    assert lines[1].startswith("m1,") and lines[1].endswith(",100000.00,2")
    out = tmp_path / "kpi.xlsx"
    write_report(report, "xlsx", "en", out)
    sheet = load_workbook(out).active
    assert sheet is not None
    assert [c.value for c in sheet[1]] == ["Manager", "Name", "Revenue", "Won"]
    assert sheet["C2"].value == 100000 and sheet["C2"].number_format == "#,##0.00"
    with pytest.raises(ConfigurationError, match="--out"):
        write_report(report, "xlsx", "en", None)


def test_velocity_and_required_coverage_kpis(store: Store) -> None:
    """The velocity bundle (tests/core/kpi/test_forecast.py): for April 2026 the lookback is
    January–March = 2026-Q1, where the win rate is 0.25, the average check 25,000 and the mean
    cycle 90 days; as of 1 April 12:00, 45 deals are open → 45 × 0.25 × 25,000 ÷ 90 = 3,125.00
    per day; required coverage 1 ÷ 0.25 = 4."""
    import_bundle(store, Path(__file__).parents[1] / "kpi" / "data" / "pipeline" / "velocity")
    ctx = make_context(store, "v", "2026-04", as_of="2026-04-01T12:00", now=NOW)
    report = kpi_report(KpiCatalogue(BUILTIN_KPIS), ctx, ["velocity", "required_coverage"])
    (row,) = report.to_dict()["sections"][0]["rows"]
    assert row["figures"] == {"velocity": "3125.00", "required_coverage": "4.0000"}


def test_kpis_by_month(kpi_store: Store) -> None:
    """Q1 2026 by month: January nothing; February d4 won 30,000 (28 Feb 23:30 Moscow);
    March 100,000 with 3 won and 2 lost (as above)."""
    ctx = make_context(kpi_store, "k", "2026-Q1", now=NOW)
    report = kpi_report(KpiCatalogue(BUILTIN_KPIS), ctx, ["revenue", "won", "lost"], "month")
    rows = {r["keys"]["bucket"]: r["figures"] for r in report.to_dict()["sections"][0]["rows"]}
    assert rows == {
        "2026-01": {"revenue": "0.00", "won": 0, "lost": 0},
        "2026-02": {"revenue": "30000.00", "won": 1, "lost": 0},
        "2026-03": {"revenue": "100000.00", "won": 3, "lost": 2},
    }
