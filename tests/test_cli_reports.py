"""`ropilot report …`, `ropilot plan …` and `ropilot snapshot` end to end on the hand-computed
outcomes bundle (tests/core/kpi/data/outcomes), through the command line and its JSON.

Hand-computed for March 2026 (Moscow):
- m1 closed d1 won 100,000 (1 March 00:30), d2 won with no amount (15 March), d3 lost 50,000
  (31 March 23:59:59) → revenue 100,000.00, won 2, lost 1; m2: d5 won in USD, d6 lost 0 →
  revenue 0, won 1; m3: nothing closed in March (d8 is 1 April 00:00).
- Plan m1 revenue 200,000 for 2026-03: March has 21 working days (9 March is a holiday);
  200,000 ÷ 21 = 9,523.8095… → the first 20 days get 9,523.81 and the last 9,523.80 (largest
  remainder, earlier days first). As of 16 March, 10 working days have passed (2–6, 10–13, 16):
  expected = 10 × 9,523.81 = 95,238.10; fact by then = d1 100,000 + d2 0 = 100,000;
  attainment = 0.5; pace = 100,000 ÷ 95,238.10 = 1.0499999… → "1.050000"; gap = 4,761.90.
- Payout of m1: revenue coefficient at 100,000 on (50k, 0), (100k, 0.5), (150k, 1.5) = 0.5,
  bonus 10,000 × 1 × 0.5 = 5,000; marginal commission 4 % on d1 = 4,000 (d2 pays 0) → 9,000.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from ropilot.cli import main

DATA = Path(__file__).parent / "core" / "kpi" / "data" / "outcomes"


@pytest.fixture
def account(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("COLUMNS", "200")
    assert main(["import", str(DATA)]) == 0
    return tmp_path


def _json(capsys: pytest.CaptureFixture[str], argv: list[str]) -> dict:  # type: ignore[type-arg]
    capsys.readouterr()
    assert main(argv) == 0
    return json.loads(capsys.readouterr().out)  # type: ignore[no-any-return]


def _march_plan_report(capsys: pytest.CaptureFixture[str]) -> dict:  # type: ignore[type-arg]
    """Plan m1 200,000 for March 2026, then `report plan` as of 16 March in JSON."""
    argv = "plan create march --period 2026-03 --scope manager:m1 --target revenue=200000"
    assert main(argv.split()) == 0
    report = "report plan --plan march --period 2026-03 --as-of 2026-03-16 --format json"
    return _json(capsys, report.split())


def test_report_kpi_json_by_manager(account: Path, capsys: pytest.CaptureFixture[str]) -> None:
    doc = _json(
        capsys, ["report", "kpi", "--period", "2026-03", "--by", "manager", "--format", "json"]
    )
    rows = {r["keys"]["manager"]: r["figures"] for r in doc["sections"][0]["rows"]}
    assert rows["m1"]["revenue"] == "100000.00"
    assert (rows["m1"]["won"], rows["m1"]["lost"]) == (2, 1)
    assert rows["m2"]["won"] == 1 and rows["m2"]["revenue"] == "0.00"
    assert "m3" not in rows


def test_plan_vs_fact_mid_month(account: Path, capsys: pytest.CaptureFixture[str]) -> None:
    doc = _march_plan_report(capsys)
    rows = {r["keys"]["manager"]: r["figures"] for r in doc["sections"][0]["rows"]}
    m1 = rows["m1"]
    assert m1["plan"] == "200000.00"
    assert m1["expected"] == "95238.10"
    assert m1["fact"] == "100000.00"
    assert m1["attainment"] == "0.500000"
    assert m1["pace"] == "1.050000"
    assert m1["gap"] == "4761.90"
    assert rows[None]["plan"] is None  # the company has no line in this plan


def test_plan_versions_and_bad_target(account: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["plan", "create", "q", "--period", "2026-03", "--target", "revenue=1"]) == 0
    assert main(["plan", "create", "q", "--period", "2026-03", "--target", "revenue=2"]) == 0
    capsys.readouterr()
    assert main(["plan", "show", "q", "--history"]) == 0
    out = capsys.readouterr().out
    assert "v1" in out and "v2" in out and "1.00 → 2.00" in out
    assert main(["plan", "create", "q", "--period", "2026-03", "--target", "revenue"]) == 3
    assert "METRIC=VALUE" in capsys.readouterr().err


def test_payout_statement(account: Path, capsys: pytest.CaptureFixture[str]) -> None:
    scheme = account / "scheme.toml"
    scheme.write_text(
        """
[schemes.sales]
roles = ["manager"]
base_bonus = 10000
[schemes.sales.kpis.revenue]
weight = 1
minimum = 50000
optimal = 100000
maximum = 150000
[schemes.sales.commission]
kind = "marginal"
period = "month"
tiers = [{ from = 0, to = 150000, rate = "4%" }, { from = 150000, rate = "6%" }]
""",
        encoding="utf-8",
    )
    doc = _json(
        capsys,
        [
            "report",
            "payout",
            "--period",
            "2026-03",
            "--scheme",
            str(scheme),
            "--manager",
            "m1",
            "--format",
            "json",
        ],
    )
    (total,) = doc["sections"][0]["rows"]
    assert total["figures"]["bonus"] == "5000.00"
    assert total["figures"]["commission"] == "4000.00"
    assert total["figures"]["total"] == "9000.00"
    arithmetic = [r["figures"]["arithmetic"] for r in doc["sections"][1]["rows"]]
    assert any("100" in a and "4" in a for a in arithmetic)


def test_morning_report_json(account: Path, capsys: pytest.CaptureFixture[str]) -> None:
    doc = _json(capsys, ["report", "morning", "--period", "2026-03", "--format", "json"])
    names = [s["name"] for s in doc["sections"]]
    assert names == [
        "forecast",
        "funnel_snapshot",
        "leaderboard",
        "forgotten",
        "losses",
        "abcxyz_matrix",
    ]  # no plan stored: no plan block
    board = doc["sections"][2]["rows"]
    assert [r["keys"]["manager"] for r in board] == ["m1", "m2", "m3"]
    assert board[0]["figures"]["revenue"] == "100000.00"


def test_snapshot_then_accuracy(account: Path, capsys: pytest.CaptureFixture[str]) -> None:
    # As of 16 March noon: won so far 100,000 (d1; d2 has no amount); the only open deal (d7)
    # has no expected close date, so the weighted pipeline adds 0 → forecast 100,000 = actual.
    assert main(["snapshot", "--period", "2026-03", "--as-of", "2026-03-16T12:00"]) == 0
    doc = _json(capsys, ["report", "accuracy", "--period", "2026-03", "--format", "json"])
    company = doc["sections"][0]["rows"][0]["figures"]
    assert company["forecast"] == "100000.00"
    assert company["accuracy"] == "1.000000"
    assert company["bias"] == "0.00"


def test_unknown_period_is_a_configuration_error(
    account: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["report", "kpi", "--period", "March"]) == 3
    assert "is not a period" in capsys.readouterr().err


def test_reverse_funnel_in_the_plan_report(
    account: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """History for March = December..February: the only deal won then is m2's d4 (30,000 on
    28 Feb 23:30). m1 has no won deal: its check shrinks to the team's (north: m1, m2), which
    shrinks to the company's — all 30,000 — so 200,000 ÷ 30,000 = 6.67 → 7 won deals. Nobody
    sent offers, so offer→won has no rate and the funnel stops there, saying why."""
    doc = _march_plan_report(capsys)
    funnel = {r["keys"]["manager"]: r["figures"] for r in doc["sections"][1]["rows"]}
    m1 = funnel["m1"]
    assert m1["average_check"] == "30000.00"
    assert m1["won"] == 7
    assert m1["offers"] is None and m1["offer_won"] is None
    assert m1["why"]
