"""`ropilot auth amocrm` and `ropilot sync` against a running sandbox, from an empty directory."""

from __future__ import annotations

import json
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


def test_route_then_apply_sets_the_responsible_in_the_crm_once(  # type: ignore[no-untyped-def]
    sandbox, capsys: pytest.CaptureFixture[str]
) -> None:
    import requests
    from sqlalchemy import select

    from ropilot.core.store.schema import deals, routing_decisions

    token = sandbox.credentials.long_lived_token
    _config(sandbox, f'long_lived_token = "{token}"\n')
    assert main(["sync", "--account", "main"]) == 0
    store = Store.open("sqlite:///ropilot.db")
    with store.engine.connect() as c:
        deal = c.execute(select(deals.c.id).order_by(deals.c.id).limit(1)).scalar_one()
    store.close()
    capsys.readouterr()
    now = "2026-03-02T12:00:00+03:00"  # a Monday noon: the built-in office hours
    assert main(["route", deal, "--account", "main", "--now", now, "--format", "json"]) == 0
    chosen = json.loads(capsys.readouterr().out)["manager_id"]
    assert chosen is not None

    auth = {"Authorization": f"Bearer {token}"}
    users = requests.get(f"{sandbox.base_url}/api/v4/users", headers=auth, timeout=10).json()
    other = next(u["id"] for u in users["_embedded"]["users"] if str(u["id"]) != chosen)
    moved = requests.patch(  # someone else holds the lead in the CRM until the decision applies
        f"{sandbox.base_url}/api/v4/leads/{deal}",
        json={"responsible_user_id": other},
        headers=auth,
        timeout=10,
    )
    assert moved.status_code == 200

    assert main(["route", "apply", "--account", "main"]) == 0
    assert "applied 1 decision(s)" in capsys.readouterr().out
    lead = requests.get(f"{sandbox.base_url}/api/v4/leads/{deal}", headers=auth, timeout=10).json()
    assert str(lead["responsible_user_id"]) == chosen
    assert main(["route", "apply", "--account", "main"]) == 0  # nothing left: nothing sent
    assert "applied 0 decision(s)" in capsys.readouterr().out
    store = Store.open("sqlite:///ropilot.db")
    with store.engine.connect() as c:
        applied = c.execute(select(routing_decisions.c.applied_at)).scalars().all()
    store.close()
    assert len(applied) == 1 and applied[0] is not None


def test_route_apply_needs_a_crm_account(  # type: ignore[no-untyped-def]
    sandbox, capsys: pytest.CaptureFixture[str]
) -> None:
    Path("ropilot.toml").write_text('secret_key = "s"\n', encoding="utf-8")
    Store.open("sqlite:///ropilot.db").close()
    from ropilot.core.models import Account

    store = Store.open("sqlite:///ropilot.db")
    store.upsert_account(Account(id="solo", name="Solo"))
    store.close()
    assert main(["route", "apply"]) == 3
    err = " ".join(capsys.readouterr().err.split())
    assert "route apply needs a CRM account in the settings: account 'solo'" in err
