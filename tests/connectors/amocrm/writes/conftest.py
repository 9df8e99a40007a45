"""Fixtures: a running amoCRM sandbox (real HTTP on 127.0.0.1) and a connector writing to it.

The connector is built as production builds it (``build_amocrm``) and given the test's store
(SQLite or PostgreSQL) for its idempotency records. :class:`Wire` is a transport adapter
mounted on the connector's session: it records every request sent over the wire and can lose
the answer of a request that the sandbox has already applied (what a connection dropped
after the server processed the request looks like to the client).
"""

from __future__ import annotations

import http.client
import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

import pytest
import requests
from pydantic import SecretStr
from requests.adapters import HTTPAdapter
from urllib3.exceptions import ProtocolError

from ropilot.connectors.amocrm.connector import AmoCRMConnector
from ropilot.connectors.amocrm.factory import build_amocrm
from ropilot.connectors.amocrm.sandbox import SandboxServer, SandboxState
from ropilot.connectors.amocrm.sandbox.server import run_sandbox, sandbox_from_options
from ropilot.connectors.http import HttpClient
from ropilot.core.settings import AccountSettings
from ropilot.core.store import Store

ACCOUNT = "demo"


@dataclass(frozen=True)
class Sent:
    method: str
    path: str
    body: Any


class Wire(HTTPAdapter):
    """Records requests; ``lose(predicate)`` loses the answers of matching requests (once each
    time the predicate says so) after the server has answered them; ``crash`` raises instead."""

    def __init__(self) -> None:
        super().__init__(max_retries=0)
        self.sent: list[Sent] = []
        self.lose_when: Callable[[Sent], bool] | None = None
        self.crash_when: Callable[[Sent], bool] | None = None

    def send(self, request: requests.PreparedRequest, *args: Any, **kwargs: Any) -> Any:
        raw = request.body
        body = json.loads(raw) if raw else None
        sent = Sent(str(request.method), urlsplit(str(request.url)).path, body)
        self.sent.append(sent)
        response = super().send(request, *args, **kwargs)
        if self.lose_when is not None and self.lose_when(sent):
            response.close()
            raise requests.exceptions.ConnectionError(
                ProtocolError(
                    "Connection aborted.",
                    http.client.RemoteDisconnected("Remote end closed connection without response"),
                ),
                request=request,
            )
        if self.crash_when is not None and self.crash_when(sent):
            response.close()
            raise RuntimeError("the worker died after sending")
        return response

    def requests_to(self, method: str, path: str) -> list[Sent]:
        return [s for s in self.sent if s.method == method and s.path == path]


@pytest.fixture
def sandbox() -> Iterator[tuple[SandboxState, SandboxServer]]:
    state = sandbox_from_options(None, deals=130, seed=3, rate_limit=0)
    try:
        with run_sandbox(state, log_requests=False) as server:
            yield state, server
    finally:
        state.dispatcher.stop()


def make_connector(server: SandboxServer, store: Store) -> AmoCRMConnector:
    account = AccountSettings(
        id=ACCOUNT,
        connector="amocrm",
        base_url=server.base_url,
        credentials={"long_lived_token": SecretStr(server.credentials.long_lived_token)},
    )
    # What the factory change asked for amounts to: build_amocrm(...).attach_store(store).
    return build_amocrm(account, store, None, rate=1000).attach_store(store)


def wire_of(connector: AmoCRMConnector) -> Wire:
    client = connector.client
    assert isinstance(client, HttpClient)
    wire = Wire()
    client.session.mount("http://", wire)
    return wire


@pytest.fixture
def state(sandbox: tuple[SandboxState, SandboxServer]) -> SandboxState:
    return sandbox[0]


@pytest.fixture
def connector(sandbox: tuple[SandboxState, SandboxServer], store: Store) -> AmoCRMConnector:
    return make_connector(sandbox[1], store)


@pytest.fixture
def wire(connector: AmoCRMConnector) -> Wire:
    return wire_of(connector)


@pytest.fixture
def another_connector(
    sandbox: tuple[SandboxState, SandboxServer], store: Store
) -> Callable[[], AmoCRMConnector]:
    """Build a second connector on the same sandbox and store (another worker, a restart)."""
    return lambda: make_connector(sandbox[1], store)


@pytest.fixture
def leads(connector: AmoCRMConnector) -> list[int]:
    """Every lead id of the sandbox, ascending (read over HTTP)."""
    body = connector.client.get_json("/api/v4/leads", {"limit": 250, "order[id]": "asc"})
    return [int(lead["id"]) for lead in body["_embedded"]["leads"]]


@pytest.fixture
def users(connector: AmoCRMConnector) -> list[int]:
    """Every user id of the sandbox (read over HTTP)."""
    body = connector.client.get_json("/api/v4/users", {"limit": 250})
    return [int(user["id"]) for user in body["_embedded"]["users"]]
