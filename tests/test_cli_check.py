"""`ropilot check` and `ropilot report quality` on the hand-made account of
tests/core/quality/bundle.py (numbers worked out in tests/core/quality/test_checks.py and
test_audit.py): 17 findings as of 24 Feb 2026 12:00 Moscow; m1 scores 1 − 6.5/10 = 0.35 and m2
1 − 3/6 = 0.5. The regulations file holds the bundle's rules (clock 12.5 h, s1 limit 20 h, s2
requires product and "Бюджет")."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from ropilot.cli import main
from ropilot.core.store import Store
from tests.core.quality.bundle import load

REGS = """
[clocks]
no_activity_hours = 12.5

[stage_limits]
s1 = 20

[required_fields]
s2 = ["product", "Бюджет"]
"""


@pytest.fixture
def url(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> str:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("COLUMNS", "200")
    (tmp_path / "regulations.toml").write_text(REGS, encoding="utf-8")
    address = f"sqlite:///{tmp_path / 'q.db'}"
    store = Store.open(address)
    load(store)
    store.close()
    return address


def run_json(capsys: pytest.CaptureFixture[str], argv: list[str]) -> dict:  # type: ignore[type-arg]
    capsys.readouterr()
    assert main(argv) == 0
    return json.loads(capsys.readouterr().out)  # type: ignore[no-any-return]


def flat(section: dict) -> list[dict]:  # type: ignore[type-arg]
    return [{**r["keys"], **r["figures"]} for r in section["rows"]]


AUDIT = ["check", "--as-of", "2026-02-24T12:00", "--regulations", "regulations.toml"]


def test_check_json(url: str, capsys: pytest.CaptureFixture[str]) -> None:
    doc = run_json(capsys, [*AUDIT, "--url", url, "--format", "json", "--limit", "0"])
    sections = {s["name"]: s for s in doc["sections"]}
    found = {r["check"]: r["found"] for r in flat(sections["checks"])}
    assert sum(found.values()) == 17
    assert found["deal_without_next_task"] == 4
    rows = flat(sections["findings"])
    assert len(rows) == 17
    d2 = next(r for r in rows if r["check"] == "stage_time_limit")
    assert (d2["entity_id"], d2["owner_id"]) == ("D2", "m2")
    # A second run finds the same 17 and records nothing new.
    again = run_json(capsys, [*AUDIT, "--url", url, "--format", "json", "--limit", "0"])
    assert {r["id"] for r in flat(again["sections"][1])} == {r["id"] for r in rows}


def test_check_one_check_and_limit(url: str, capsys: pytest.CaptureFixture[str]) -> None:
    argv = [*AUDIT, "--url", url, "--format", "json", "--check", "overdue_task", "--limit", "5"]
    doc = run_json(capsys, argv)
    assert [r["check"] for r in flat(doc["sections"][0])] == ["overdue_task"]
    assert [r["entity_id"] for r in flat(doc["sections"][1])] == ["t9"]


def test_report_quality(url: str, capsys: pytest.CaptureFixture[str]) -> None:
    assert main([*AUDIT, "--url", url, "--format", "json"]) == 0
    doc = run_json(capsys, ["report", "quality", "--url", url, "--format", "json"])
    scores = {r["manager_id"]: r for r in flat(doc["sections"][0])}
    assert scores["m1"]["score"] == "0.350000"
    assert scores["m2"]["score"] == "0.500000"
    by_check = {(r["check"], r["severity"]): r["open"] for r in flat(doc["sections"][1])}
    assert by_check[("required_fields", "error")] == 2
    assert by_check[("lost_without_reason", "warning")] == 2


def test_unknown_check_is_an_error(url: str) -> None:
    assert main([*AUDIT, "--url", url, "--check", "nope"]) != 0
