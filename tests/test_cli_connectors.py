"""`ropilot auth amocrm` and `ropilot sync` against a running sandbox, from an empty directory."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from ropilot.cli import main
from ropilot.connectors.amocrm.sandbox.server import run_sandbox, sandbox_from_options
from ropilot.core.store import Store


@pytest.fixture
def sandbox(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):  # type: ignore[no-untyped-def]
    monkeypatch.chdir(tmp_path)
    for key in list(os.environ):
        if key.startswith("ROPILOT_") and key != "ROPILOT_TEST_POSTGRES_URL":
            monkeypatch.delenv(key)
    monkeypatch.setenv("ROPILOT_DISABLE_PLUGIN_AUTOLOAD", "1")
    state = sandbox_from_options(None, deals=40, seed=3, rate_limit=0)
    with run_sandbox(state, log_requests=False) as server:
        yield server


def _config(server, extra: str) -> None:  # type: ignore[no-untyped-def]
    c = server.credentials
    Path("ropilot.toml").write_text(
        'secret_key = "a-test-secret"\n'
        "[[accounts]]\n"
        'id = "main"\n'
        'connector = "amocrm"\n'
        f'base_url = "{server.base_url}"\n'
        "[accounts.credentials]\n"
        f'client_id = "{c.client_id}"\n'
        f'client_secret = "{c.client_secret}"\n'
        f'redirect_uri = "{c.redirect_uri}"\n' + extra,
        encoding="utf-8",
    )


def test_auth_with_a_code_then_sync(sandbox, capsys: pytest.CaptureFixture[str]) -> None:  # type: ignore[no-untyped-def]
    _config(sandbox, "")
    assert (
        main(
            [
                "auth",
                "amocrm",
                "--account",
                "main",
                "--code",
                sandbox.credentials.authorization_code,
            ]
        )
        == 0
    )
    assert "Stored amoCRM tokens for account main" in capsys.readouterr().out
    # The code is single use: a second exchange is refused with an actionable message.
    assert (
        main(
            [
                "auth",
                "amocrm",
                "--account",
                "main",
                "--code",
                sandbox.credentials.authorization_code,
            ]
        )
        == 1
    )
    assert "ropilot auth amocrm --account main" in " ".join(capsys.readouterr().err.split())
    assert main(["sync", "--entities", "pipelines,stages,deals"]) == 0
    store = Store.open("sqlite:///ropilot.db")
    assert store.counts("main")["deals"] == 40
    store.close()


def test_sync_with_a_long_lived_token(sandbox) -> None:  # type: ignore[no-untyped-def]
    _config(sandbox, f'long_lived_token = "{sandbox.credentials.long_lived_token}"\n')
    assert main(["sync", "--account", "main", "--entities", "deals"]) == 0
    assert main(["sync", "--account", "main", "--entities", "deals"]) == 0  # incremental
    store = Store.open("sqlite:///ropilot.db")
    assert store.counts("main")["deals"] == 40
    assert store.get_bookmark("main", "amocrm:deals") is not None
    store.close()


def test_sync_needs_a_known_account(sandbox, capsys: pytest.CaptureFixture[str]) -> None:  # type: ignore[no-untyped-def]
    _config(sandbox, "")
    assert main(["sync", "--account", "nope"]) == 3
    assert "no account 'nope'" in capsys.readouterr().err
