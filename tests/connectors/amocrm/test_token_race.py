"""Three processes syncing at once against the sandbox with strict refresh-token rotation and
two-second access tokens never lose access: the token store refreshes under a lock and commits
the new pair before using it, so no process ever sends an already-used refresh token."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from ropilot.connectors.amocrm import oauth
from ropilot.connectors.amocrm.sandbox.server import run_sandbox, sandbox_from_options
from ropilot.connectors.tokens import TokenManager
from ropilot.core.store import Store

KEY = "test-secret-key-for-tokens"
WORKER = r"""
import json, sys, time
from datetime import timedelta
from pydantic import SecretStr
from ropilot.connectors.amocrm import oauth
from ropilot.connectors.amocrm.connector import AmoCRMConfig, AmoCRMConnector
from ropilot.connectors.http import AMOCRM_RESOLUTIONS, HttpClient
from ropilot.connectors.tokens import BearerAuth, TokenManager
from ropilot.core.errors import RopilotError
from ropilot.core.store import Store

url, base, creds_json, key, seconds = sys.argv[1:6]
creds = {k: SecretStr(v) for k, v in json.loads(creds_json).items()}
store = Store.open(url)
manager = TokenManager(store, "demo", key, oauth.refresher(base, creds, account_id="demo"),
                       margin=timedelta(seconds=0))
client = HttpClient(base + "/", auth=BearerAuth(manager), resolutions=AMOCRM_RESOLUTIONS)
connector = AmoCRMConnector(AmoCRMConfig(account_id="demo", base_url=base), client)
reads, errors = 0, []
end = time.time() + float(seconds)
while time.time() < end:
    try:
        reads += len(list(connector.read("managers")))
    except RopilotError as exc:
        errors.append(f"{type(exc).__name__}: {exc}")
        break
print(json.dumps({"reads": reads, "errors": errors}))
"""


def test_three_processes_refreshing_never_lose_access(store_url: str, tmp_path: Path) -> None:
    state = sandbox_from_options(None, deals=30, seed=2, rate_limit=0, access_ttl=2)
    with run_sandbox(state, log_requests=False) as server:
        c = server.credentials
        creds = {
            "client_id": c.client_id,
            "client_secret": c.client_secret,
            "redirect_uri": c.redirect_uri,
        }
        from pydantic import SecretStr

        secret_creds = {k: SecretStr(v) for k, v in creds.items()}
        pair = oauth.exchange_code(
            server.base_url, secret_creds, c.authorization_code, account_id="demo"
        )
        store = Store.open(store_url)

        def unused(_: str) -> None:  # pragma: no cover - only saving here
            raise AssertionError

        TokenManager(store, "demo", KEY, unused).save(pair)  # type: ignore[arg-type]
        first_refresh = pair.refresh_token
        procs = [
            subprocess.Popen(
                [
                    sys.executable,
                    "-c",
                    WORKER,
                    store_url,
                    server.base_url,
                    json.dumps(creds),
                    KEY,
                    "7",
                ],
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                text=True,
            )
            for _ in range(3)
        ]
        results = []
        for proc in procs:
            out, err = proc.communicate(timeout=120)
            assert proc.returncode == 0, err
            results.append(json.loads(out.strip().splitlines()[-1]))
        final = TokenManager(store, "demo", KEY, unused).load()  # type: ignore[arg-type]
        store.close()
    assert [r["errors"] for r in results] == [[], [], []]
    assert all(r["reads"] > 0 for r in results)
    # Seven seconds of two-second tokens: the pair was rotated several times, and the stored
    # pair is the newest one (the first refresh token was used and replaced).
    assert final is not None and final.refresh_token != first_refresh
