"""The command line, run in-process through click and once as a real console script."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

from ropilot import __version__
from ropilot.cli import cli, main

SMALL = Path(__file__).parent / "connectors" / "bundle" / "data" / "small"


@pytest.fixture
def in_tmp(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.chdir(tmp_path)
    for key in list(os.environ):
        if key.startswith("ROPILOT_") and key != "ROPILOT_TEST_POSTGRES_URL":
            monkeypatch.delenv(key)
    monkeypatch.setenv("ROPILOT_DISABLE_PLUGIN_AUTOLOAD", "1")
    return tmp_path


def test_version() -> None:
    result = CliRunner().invoke(cli, ["--version"])
    assert result.exit_code == 0
    assert result.output.strip() == f"ropilot, version {__version__}"


@pytest.mark.parametrize(
    "command",
    [
        [],
        ["init"],
        ["plugins"],
        ["db"],
        ["db", "upgrade"],
        ["import"],
        ["export"],
        ["generate"],
        ["demo"],
        ["report"],
        ["report", "kpi"],
        ["report", "funnel"],
        ["report", "plan"],
        ["report", "abcxyz"],
        ["report", "forgotten"],
        ["report", "losses"],
        ["report", "morning"],
        ["plan"],
        ["plan", "import"],
        ["plan", "create"],
        ["plan", "show"],
        ["plan", "decompose"],
        ["plan", "propose"],
        ["plan", "replan"],
    ],
)
def test_every_command_has_help(command: list[str]) -> None:
    result = CliRunner().invoke(cli, [*command, "--help"])
    assert result.exit_code == 0, result.output
    assert "Usage: " in result.output
    assert "--help" in result.output


def test_init_writes_a_starter_and_refuses_to_overwrite(in_tmp: Path) -> None:
    assert main(["init"]) == 0
    text = (in_tmp / "ropilot.toml").read_text(encoding="utf-8")
    assert 'url = "sqlite:///ropilot.db"' in text
    assert main(["init"]) == 3  # configuration error: exists
    assert main(["init", "--force"]) == 0


def test_invalid_settings_file_names_file_and_key(
    in_tmp: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (in_tmp / "bad.toml").write_text('[storage]\nurl = "mysql://x"\n', encoding="utf-8")
    assert main(["--config", "bad.toml", "db", "upgrade"]) == 3
    err = capsys.readouterr().err
    assert "bad.toml: key storage.url: Value error, must start with sqlite:///" in " ".join(
        err.split()
    )


def test_import_export_generate_from_an_empty_directory(
    in_tmp: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["generate", "--deals", "300", "--seed", "3", "--out", "gen"]) == 0
    assert (in_tmp / "gen" / "deals.csv").is_file()
    assert main(["import", "gen"]) == 0
    assert (in_tmp / "ropilot.db").is_file()
    out = capsys.readouterr().out
    assert "300" in out
    assert main(["export", "out.zip"]) == 0
    assert (in_tmp / "out.zip").stat().st_size > 0
    assert main(["--lang", "en", "import", "out.zip"]) == 0
    assert "Imported: demo" in capsys.readouterr().out


def test_generate_zip_is_reproducible(in_tmp: Path) -> None:
    assert main(["generate", "--deals", "50", "--seed", "5", "--out", "a"]) == 0
    assert main(["generate", "--deals", "50", "--seed", "5", "--out", "b"]) == 0
    for file in sorted((in_tmp / "a").glob("*.csv")):
        assert file.read_bytes() == (in_tmp / "b" / file.name).read_bytes()


def test_bad_bundle_exit_code_and_message(in_tmp: Path, capsys: pytest.CaptureFixture[str]) -> None:
    import shutil

    shutil.copytree(SMALL, in_tmp / "b")
    deals = in_tmp / "b" / "deals.csv"
    deals.write_text(
        deals.read_text(encoding="utf-8").replace("150000.50", "abc"), encoding="utf-8"
    )
    assert main(["import", "b"]) == 2
    err = " ".join(capsys.readouterr().err.split())
    assert 'deals.csv line 2, column amount: "abc" is not an amount' in err
    assert "nothing in the store changed" in err


def test_db_upgrade_reports_the_revision(in_tmp: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from ropilot.core.store import migrate

    assert main(["db", "upgrade"]) == 0
    assert f"schema revision {migrate.head_revision()}" in capsys.readouterr().out


def test_plugins_lists_builtins(
    in_tmp: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    from rich.console import Console

    import ropilot.cli

    monkeypatch.setattr(ropilot.cli, "console", Console(width=200))
    assert main(["--lang", "en", "plugins"]) == 0
    out = capsys.readouterr().out
    assert "ropilot.plugins.builtin_notifiers" in out
    assert "ropilot_register_notifiers" in out


def test_demo_runs_as_a_console_script(in_tmp: Path) -> None:
    exe = Path(sys.executable).with_name("ropilot")
    if not exe.exists():
        pytest.skip("console script not installed in this environment")
    result = subprocess.run(
        [str(exe), "--lang", "en", "demo", "--deals", "500"],
        capture_output=True,
        text=True,
        cwd=in_tmp,
        timeout=120,
        env={**os.environ, "COLUMNS": "120"},
    )
    assert result.returncode == 0, result.stderr
    out = result.stdout
    for block in (
        "Plan vs actual: revenue",
        "Forecast and coverage",
        "Funnel: stage conversion",
        "Leaderboard",
        "Forgotten deals",
        "Where and why deals are lost",
        "ABC × XYZ",
        "Routing of the last leads",
        "Open findings by check",
        "Data quality by manager",
    ):
        assert block in out, block
    assert (in_tmp / "ropilot-demo" / "ropilot.db").is_file()
