"""`ropilot route` end to end on a small seeded store (3 managers a, b, c, equal weights).

--dry-run decides but records nothing, so routing the same deal for real gives the same
manager; --explain lists the eligible managers (level 0, weight 1 each before any lead).
simulate: 6 deals created Monday 2 March 2026 11:00 Moscow under a file with weights a = 4
(b, c = 1): a's level grows by 0.25, b's and c's by 1. a, b, c all start at 0; a must take
leads while its level is below 1 (0, 0.25, 0.5, 0.75 → 4 leads) and b and c one each before
any level reaches 1 → a 4, b 1, c 1 of 6 (target a 4/6).
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from sqlalchemy import func, select

from ropilot.cli import main
from ropilot.core.store import Store
from ropilot.core.store.schema import routing_decisions
from tests.core.routing.helpers import seed


@pytest.fixture
def url(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> str:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("COLUMNS", "200")
    u = f"sqlite:///{tmp_path / 'r.db'}"
    store = Store.open(u)
    seed(store, ["a", "b", "c"], 6)
    store.close()
    return u


def _decisions(url: str) -> int:
    store = Store.open(url)
    try:
        with store.engine.connect() as c:
            return int(c.execute(select(func.count()).select_from(routing_decisions)).scalar_one())
    finally:
        store.close()


NOW = "2026-03-02T12:00+03:00"


def test_dry_run_explain_then_route(url: str, capsys: pytest.CaptureFixture[str]) -> None:
    args = ["route", "d00000", "--url", url, "--now", NOW]
    assert main([*args, "--dry-run", "--explain", "--format", "json"]) == 0
    dry = json.loads(capsys.readouterr().out)
    assert dry["dry_run"] is True and _decisions(url) == 0
    eligible = dry["explanation"]["eligible"]
    assert [(e["manager_id"], e["level"], e["weight"]) for e in eligible] == [
        ("a", 0.0, 1.0),
        ("b", 0.0, 1.0),
        ("c", 0.0, 1.0),
    ]
    assert dry["explanation"]["tie"]["between"] == ["a", "b", "c"]
    assert main(args) == 0
    out = capsys.readouterr().out
    assert out.startswith(f"deal d00000 → {dry['manager_id']} [fairness, pool default")
    assert _decisions(url) == 1


def test_explain_table_and_reroute(url: str, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["route", "d00001", "--url", url, "--now", NOW, "--explain"]) == 0
    out = capsys.readouterr().out
    assert "eligible:" in out and "excluded:" in out and "tie between a, b, c" in out
    assert main(["route", "reroute", "--url", url, "--now", NOW]) == 0
    assert "nothing to re-route" in capsys.readouterr().out


def test_simulate_other_regulations(
    url: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    rules = tmp_path / "regulations.toml"
    rules.write_text(
        '[[routing.pools]]\nname = "main"\nweights = { a = 4 }\n',
        encoding="utf-8",
    )
    argv = ["route", "simulate", "--since", "2026-02-28", "--weeks", "1", "--url", url]
    assert main([*argv, "--regulations", str(rules), "--format", "json"]) == 0
    (pool,) = json.loads(capsys.readouterr().out)
    shares = {line["manager_id"]: line["simulated"] for line in pool["lines"]}
    assert pool["leads"] == 6 and shares == {"a": 4, "b": 1, "c": 1}
