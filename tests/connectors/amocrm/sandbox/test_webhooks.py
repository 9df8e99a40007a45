"""Outbound webhooks: PHP form encoding, delivery, retries."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl

import pytest
from flask import Flask, request
from werkzeug.serving import make_server

from ropilot.connectors.amocrm.sandbox import SandboxState, create_app, php_build_query
from ropilot.connectors.amocrm.sandbox.webhooks import disconnect_signature

FIXTURES = Path("/work/shared/reference/fixtures/amocrm")


@pytest.mark.parametrize("name", ["add", "status", "responsible", "update", "delete"])
def test_form_encoding_matches_the_fixtures(name: str) -> None:
    decoded = json.loads((FIXTURES / f"webhook_leads_{name}.synth.decoded.json").read_text())
    form = (FIXTURES / f"webhook_leads_{name}.synth.form.txt").read_text().strip()
    assert php_build_query(decoded) == form


class Receiver:
    def __init__(self) -> None:
        self.calls: list[dict[str, Any]] = []
        self.statuses: list[int] = []
        app = Flask("receiver")

        @app.post("/hook")
        def hook() -> tuple[str, int]:
            self.calls.append(
                {
                    "headers": dict(request.headers),
                    "body": request.get_data(as_text=True),
                }
            )
            status = self.statuses.pop(0) if self.statuses else 200
            return "ok", status

        self.server = make_server("127.0.0.1", 0, app, threaded=True)
        self.url = f"http://127.0.0.1:{self.server.server_port}/hook"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    r = Receiver()
    yield r
    r.stop()


def _subscribe(state: SandboxState, auth: dict[str, str], url: str, settings: list[str]) -> None:
    client = create_app(state).test_client()
    r = client.post(
        "/api/v4/webhooks", headers=auth, json={"destination": url, "settings": settings}
    )
    assert r.status_code == 201


def test_status_change_is_delivered_in_amocrm_format(
    state: SandboxState, auth: dict[str, str], receiver: Receiver
) -> None:
    _subscribe(state, auth, receiver.url, ["status_lead", "responsible_lead"])
    client = create_app(state).test_client()
    lead = next(x for x in state.records["leads"].values() if x["status_id"] not in (142, 143))
    old_status = lead["status_id"]
    old_resp = lead["responsible_user_id"]
    other = next(u for u in state.users if u != lead["responsible_user_id"])
    r = client.patch(
        "/api/v4/leads",
        headers=auth,
        json=[{"id": lead["id"], "status_id": 143, "responsible_user_id": other}],
    )
    assert r.status_code == 200
    assert state.dispatcher.flush(5)
    assert len(receiver.calls) == 1
    call = receiver.calls[0]
    assert call["headers"]["User-Agent"] == "amoCRM-WebHook-client/1.0"
    assert call["headers"]["Content-Type"] == "application/x-www-form-urlencoded"
    assert "leads%5Bstatus%5D%5B0%5D%5Bid%5D=" in call["body"]
    fields = dict(parse_qsl(call["body"]))
    assert fields["leads[status][0][id]"] == str(lead["id"])
    assert fields["leads[status][0][status_id]"] == "143"
    assert fields["leads[status][0][old_status_id]"] == str(old_status)
    assert fields["leads[status][0][old_pipeline_id]"] == str(lead["pipeline_id"])
    assert fields["leads[responsible][0][old_responsible_user_id]"] == str(old_resp)
    assert fields["leads[responsible][0][responsible_user_id]"] == str(other)
    assert fields["account[subdomain]"] == state.subdomain
    assert fields["account[id]"] == str(state.account["id"])
    assert "leads[update][0][id]" not in fields  # not subscribed
    assert any(k.startswith("leads[status][0][custom_fields][0][values][0]") for k in fields)


def test_failed_delivery_is_retried_on_the_schedule(
    state: SandboxState, auth: dict[str, str], receiver: Receiver
) -> None:
    _subscribe(state, auth, receiver.url, ["update_lead"])
    receiver.statuses = [500, 503]
    client = create_app(state).test_client()
    lead = next(iter(state.records["leads"].values()))
    client.patch(f"/api/v4/leads/{lead['id']}", headers=auth, json={"name": "x"})
    assert state.dispatcher.flush(5)
    assert len(receiver.calls) == 1
    state.clock.advance(5 * 60)
    assert state.dispatcher.flush(5)
    assert len(receiver.calls) == 2
    state.clock.advance(15 * 60)
    assert state.dispatcher.flush(5)
    assert len(receiver.calls) == 3
    assert [d.ok for d in state.dispatcher.deliveries] == [False, False, True]
    assert state.dispatcher.pending() == 0


def test_disconnect_signature() -> None:
    import hashlib
    import hmac

    want = hmac.new(b"secret", b"client|42", hashlib.sha256).hexdigest()
    assert disconnect_signature("client", "secret", 42) == want
