"""`ropilot regulations check|show` through the command line.

``check`` prints the version of the hand-written ``full.toml`` (the same as the library
computes, tested in tests/core/test_regulations.py) and exits 3 naming the key of a bad file.
``show`` on the outcomes bundle with ``regulations.toml`` in the working directory merges one
CRM-required deal field ("Бюджет", required for stage s-offer) with the file's rules for s-offer
(amount, company_id): three rows for s-offer, origins file, file, crm.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from ropilot.cli import main
from ropilot.core.regulations import load_regulations
from ropilot.core.store import Store

DATA = Path(__file__).parent / "core" / "data" / "regulations"
BUNDLE = Path(__file__).parent / "core" / "kpi" / "data" / "outcomes"


def test_check_prints_the_version(capsys: pytest.CaptureFixture[str]) -> None:
    version = load_regulations(DATA / "full.toml").version
    assert main(["regulations", "check", str(DATA / "full.toml"), "--format", "json"]) == 0
    captured = capsys.readouterr()
    assert f"valid, version {version}" in captured.err
    doc = json.loads(captured.out)
    rules = {r["keys"]["rule"]: r["figures"]["value"] for r in doc["sections"][0]["rows"]}
    assert rules["version"] == version
    assert rules["working_hours.fri"] == "09:00-13:00, 14:00-17:00"
    assert rules["stage_limits.s-offer"] == "40 h"
    pools = [r["keys"]["pool"] for r in doc["sections"][1]["rows"]]
    assert pools == ["b2b-inbound", "rest"]


def test_check_fails_with_exit_3(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    bad = tmp_path / "regulations.toml"
    bad.write_text('[[routing.pools]]\nname = "a"\ncaps = { per_period = { period = "year" } }\n')
    assert main(["regulations", "check", str(bad)]) == 3
    err = capsys.readouterr().err
    assert "key routing.pools[0].caps.per_period.period" in err
    assert "key routing.pools[0].caps.per_period.max" in err


def test_show_merges_crm_required_fields(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.chdir(tmp_path)
    assert main(["import", str(BUNDLE)]) == 0
    store = Store.open("sqlite:///ropilot.db")
    (account,) = store.list_accounts()
    store.upsert_custom_field_defs(
        account.id,
        [
            {
                "entity": "deals",
                "id": "701",
                "name": "Бюджет",
                "type": "numeric",
                "required_stage_ids": ["s-offer"],
            }
        ],
    )
    store.close()
    (tmp_path / "regulations.toml").write_text((DATA / "full.toml").read_text(encoding="utf-8"))
    capsys.readouterr()
    assert main(["regulations", "show", "--format", "json", "--versions"]) == 0
    doc = json.loads(capsys.readouterr().out)
    sections = {s["name"]: s for s in doc["sections"]}
    offer = [
        (r["keys"]["field"], r["figures"]["origin"])
        for r in sections["required_fields"]["rows"]
        if r["keys"]["stage"] == "s-offer"
    ]
    assert offer == [("amount", "file"), ("company_id", "file"), ("Бюджет", "crm")]
    rules = {r["keys"]["rule"]: r["figures"]["value"] for r in sections["rules"]["rows"]}
    assert rules["source"] == "regulations.toml"
    assert sections["versions"]["rows"] == []


def test_show_without_a_file_uses_defaults(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.chdir(tmp_path)
    assert main(["import", str(BUNDLE)]) == 0
    capsys.readouterr()
    assert main(["regulations", "show", "--format", "json"]) == 0
    doc = json.loads(capsys.readouterr().out)
    rules = {r["keys"]["rule"]: r["figures"]["value"] for r in doc["sections"][0]["rows"]}
    assert rules["source"] == "built-in defaults"
    assert rules["working_hours.mon"] == "09:00-13:00, 14:00-18:00"
    assert rules["working_hours.sat"] == "—"


def test_a_long_error_is_one_line_and_markup_in_it_is_text(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    deep = tmp_path / ("d" * 90) / "[bold]x[/bold]"
    deep.mkdir(parents=True)
    bad = deep / "regulations.toml"
    bad.write_text('[[routing.pools]]\nname = "a"\ncaps = { per_period = { period = "year" } }\n')
    assert main(["regulations", "check", str(bad)]) == 3
    lines = capsys.readouterr().err.splitlines()
    assert any(f"{bad}: key routing.pools[0].caps.per_period.period" in line for line in lines)
