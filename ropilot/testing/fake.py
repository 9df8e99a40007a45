"""An in-memory CRM, a connector for it built on the connector kit, and their harness.

They are the conformance suite's own test subject and a template for third parties: the
connector talks HTTP through :class:`~ropilot.connectors.http.HttpClient` (a fake session
answers in memory), keeps OAuth tokens with a :class:`~ropilot.connectors.tokens.TokenManager`
and pages with :class:`~ropilot.connectors.pagination.PageNumberPaginator`;
:class:`FakeHarness` shows what a harness does. Subclass :class:`FakeConnector` to break it on
purpose (the suite's own tests do).

The fake CRM's API: ``GET /{managers,pipelines,stages,deals,tasks}?page=N&limit=L`` (with
``updated_since=<unix>``) answering ``{"items": [...]}``, ``POST /tasks`` honouring an
``Idempotency-Key`` header, ``POST /oauth/token`` with single-use refresh tokens, webhooks as
JSON bodies signed with HMAC-SHA256 (hex, in the ``token``).
"""

from __future__ import annotations

import fnmatch
import hashlib
import hmac
import itertools
import json
from collections import deque
from collections.abc import Iterator, Mapping, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any, ClassVar
from urllib.parse import parse_qsl, urlsplit

import requests
from pydantic import BaseModel, SecretStr
from requests.structures import CaseInsensitiveDict

from ropilot.connectors.base import (
    Capability,
    CheckResult,
    Connector,
    ConnectorConfig,
    TaskDraft,
)
from ropilot.connectors.http import HttpClient
from ropilot.connectors.pagination import PageNumberPaginator
from ropilot.connectors.tokens import BearerAuth, TokenManager, TokenPair
from ropilot.core.errors import AuthenticationError, ConnectorError, VerificationError
from ropilot.core.models import (
    Account,
    Deal,
    Event,
    EventAction,
    Manager,
    Pipeline,
    Stage,
    StageKind,
    Task,
)
from ropilot.core.store import Store
from ropilot.testing.harness import HarnessBase, WebhookSample

__all__ = ["FakeCRM", "FakeConfig", "FakeConnector", "FakeHarness"]

BASE_URL = "https://fake-crm.test/"
T0 = datetime(2025, 1, 1, tzinfo=UTC)


def _unix(moment: datetime) -> int:
    return int(moment.timestamp())


class FakeCRM:
    """The test double: records, tokens, planned faults and a request log, all in memory."""

    def __init__(self, deals: int = 9) -> None:
        self.records: dict[str, list[dict[str, Any]]] = {
            "managers": [{"id": str(n), "name": f"Manager {n}"} for n in (1, 2)],
            "pipelines": [{"id": "p1", "name": "Sales"}],
            "stages": [
                {"id": sid, "pipeline_id": "p1", "name": sid, "sort": n, "kind": kind}
                for n, (sid, kind) in enumerate((("new", "open"), ("won", "won"), ("lost", "lost")))
            ],
            "deals": [
                {
                    "id": str(100 + n),
                    "pipeline_id": "p1",
                    "stage_id": "new",
                    "responsible_id": "1",
                    "created_at": _unix(T0),
                    "updated_at": _unix(T0) + n,
                }
                for n in range(deals)
            ],
            "tasks": [],
        }
        self.secret = "fake-webhook-secret"
        self.access: set[str] = set()
        self.refresh_tokens: set[str] = set()
        self.refreshes = 0
        self.idempotency: dict[str, str] = {}
        self.log: list[tuple[str, str]] = []
        self.faults: list[tuple[str, deque[tuple[int, float | None]]]] = []
        self.repeat: set[str] = set()
        self._serial = itertools.count(1)

    # -- OAuth ---------------------------------------------------------------------------

    def issue(self) -> TokenPair:
        """A new token pair (as an authorization code exchange gives)."""
        n = next(self._serial)
        access, refresh = f"access-{n}", f"refresh-{n}"
        self.access.add(access)
        self.refresh_tokens.add(refresh)
        return TokenPair(access, refresh, datetime.now(UTC) + timedelta(hours=1))

    def refresh(self, refresh_token: str) -> TokenPair:
        """Exchange a refresh token once (strict rotation)."""
        self.log.append(("POST", "/oauth/token"))
        if refresh_token not in self.refresh_tokens:
            raise AuthenticationError("the fake CRM refused the refresh token (revoked)")
        self.refresh_tokens.discard(refresh_token)
        self.refreshes += 1
        return self.issue()

    # -- HTTP ----------------------------------------------------------------------------

    def handle(
        self,
        method: str,
        url: str,
        params: Mapping[str, Any],
        headers: Mapping[str, str],
        body: Any,
    ) -> tuple[int, dict[str, str], Any]:
        """Answer one request: (status, headers, JSON body or None)."""
        path = urlsplit(url).path.rstrip("/") or "/"
        query = {**dict(parse_qsl(urlsplit(url).query)), **{k: str(v) for k, v in params.items()}}
        self.log.append((method, path))
        key = f"{method} {path}"
        for pattern, queue in self.faults:
            if queue and fnmatch.fnmatchcase(key, pattern):
                status, retry_after = queue.popleft()
                extra = {} if retry_after is None else {"Retry-After": f"{retry_after:g}"}
                return status, extra, {"error": f"planned {status}"}
        token = headers.get("Authorization", "").removeprefix("Bearer ")
        if token not in self.access:
            return 401, {}, {"error": "unauthorized"}
        stream = path.strip("/")
        if method == "GET" and stream == "me":
            return 200, {}, {"name": "Fake account"}
        if method == "POST" and stream == "tasks":
            return self._create_task(headers.get("Idempotency-Key"), body)
        if method != "GET" or stream not in self.records:
            return 404, {}, {"error": "not found"}
        items = list(self.records[stream])
        if "updated_since" in query:
            since = int(query["updated_since"])
            items = [i for i in items if i.get("updated_at", since) >= since]
        items.sort(key=lambda i: (i.get("updated_at", 0), i["id"]))
        page, limit = int(query.get("page", 1)), int(query.get("limit", 50))
        if key in self.repeat:
            page = 1
        chunk = items[(page - 1) * limit : page * limit]
        return 200, {}, {"items": chunk}

    def _create_task(self, key: str | None, body: Any) -> tuple[int, dict[str, str], Any]:
        if key and key in self.idempotency:
            return 200, {}, {"id": self.idempotency[key]}
        task_id = str(5000 + len(self.records["tasks"]))
        self.records["tasks"].append({**body, "id": task_id, "updated_at": _unix(T0)})
        if key:
            self.idempotency[key] = task_id
        return 201, {}, {"id": task_id}

    def sign(self, body: bytes) -> str:
        """The webhook signature of a body."""
        return hmac.new(self.secret.encode(), body, hashlib.sha256).hexdigest()


class FakeSession(requests.Session):
    """A :class:`requests.Session` answered by a :class:`FakeCRM` instead of the network."""

    def __init__(self, crm: FakeCRM) -> None:
        super().__init__()
        self.crm = crm

    def request(  # type: ignore[override]
        self,
        method: str,
        url: str,
        params: Mapping[str, Any] | None = None,
        json: Any = None,
        headers: Mapping[str, str] | None = None,
        **_: Any,
    ) -> requests.Response:
        status, extra, body = self.crm.handle(method, url, params or {}, headers or {}, json)
        response = requests.Response()
        response.status_code = status
        response.url = url
        response.headers = CaseInsensitiveDict({"Content-Type": "application/json", **extra})
        response._content = b"" if body is None else _json_bytes(body)
        return response


def _json_bytes(body: Any) -> bytes:
    return json.dumps(body).encode()


class FakeConfig(ConnectorConfig):
    """The fake CRM's account settings."""

    client_id: str = "fake-client"
    client_secret: SecretStr | None = None
    webhook_secret: SecretStr | None = None


class FakeConnector(Connector):
    """A connector for :class:`FakeCRM` built on the connector kit."""

    name: ClassVar[str] = "fake"
    capabilities: ClassVar[frozenset[Capability]] = frozenset(
        {Capability.READ, Capability.INCREMENTAL, Capability.CREATE_TASK, Capability.WEBHOOKS}
    )
    config_model: ClassVar[type[ConnectorConfig]] = FakeConfig
    cursor_ordered_streams: ClassVar[frozenset[str]] = frozenset({"deals"})
    page_limit: ClassVar[int] = 4

    def __init__(self, config: FakeConfig, client: HttpClient) -> None:
        super().__init__(config)
        self.settings = config
        self.client = client

    def check(self) -> CheckResult:
        try:
            body = self.client.get_json("me")
        except ConnectorError as exc:
            return CheckResult(ok=False, message=f"{type(exc).__name__}: {exc}")
        return CheckResult(ok=True, message=f"connected to {(body or {}).get('name')}")

    def account(self) -> Account:
        return Account(id=self.config.account_id, name="Fake account", timezone="UTC")

    def streams(self) -> tuple[str, ...]:
        return ("managers", "pipelines", "stages", "deals", "tasks")

    def read(self, stream: str, *, since: datetime | None = None) -> Iterator[BaseModel]:
        if stream not in self.streams():
            raise ConnectorError(f"the fake connector has no stream {stream!r}")
        params = {} if since is None else {"updated_since": _unix(since)}
        items = PageNumberPaginator(
            self.client, stream, items_path=("items",), params=params, limit=self.page_limit
        )
        for item in items:
            yield self._model(stream, item)

    def _model(self, stream: str, item: Mapping[str, Any]) -> BaseModel:
        account = self.config.account_id
        if stream == "managers":
            return Manager(account_id=account, id=item["id"], name=item["name"])
        if stream == "pipelines":
            return Pipeline(account_id=account, id=item["id"], name=item["name"])
        if stream == "stages":
            return Stage(
                account_id=account,
                id=item["id"],
                pipeline_id=item["pipeline_id"],
                name=item["name"],
                sort=item["sort"],
                kind=StageKind(item["kind"]),
            )
        if stream == "tasks":
            return Task(
                account_id=account,
                id=item["id"],
                responsible_id=item["responsible_id"],
                created_at=datetime.fromtimestamp(item["updated_at"], UTC),
                due_at=datetime.fromtimestamp(item["due_at"], UTC),
                deal_id=item.get("deal_id"),
                text=item.get("text"),
            )
        return Deal(
            account_id=account,
            id=item["id"],
            pipeline_id=item["pipeline_id"],
            stage_id=item["stage_id"],
            responsible_id=item["responsible_id"],
            created_at=datetime.fromtimestamp(item["created_at"], UTC),
            updated_at=datetime.fromtimestamp(item["updated_at"], UTC),
        )

    def create_task(self, task: TaskDraft, *, idempotency_key: str) -> str:
        body = {
            "text": task.text,
            "due_at": _unix(task.due_at),
            "responsible_id": task.responsible_id,
            "deal_id": task.deal_id,
        }
        response = self.client.request(
            "POST",
            "tasks",
            json=body,
            headers={"Idempotency-Key": idempotency_key},
            idempotent=True,
        )
        return str((response.json or {})["id"])

    def _webhook_secret(self) -> str:
        secret = self.settings.webhook_secret
        if secret is None:
            raise VerificationError("no webhook secret configured")
        return secret.get_secret_value()

    def verify_webhook(self, *, token: str | None, body: bytes, content_type: str) -> None:
        expected = hmac.new(self._webhook_secret().encode(), body, hashlib.sha256).hexdigest()
        if not token or not hmac.compare_digest(token, expected):
            raise VerificationError("the webhook signature does not match its body")

    def parse_webhook(
        self, body: bytes, content_type: str, *, received_at: datetime
    ) -> list[Event]:
        data = json.loads(body)
        return [
            Event(
                account_id=self.config.account_id,
                id=f"fake:{item['event_id']}",
                connector=self.name,
                entity="deal",
                entity_id=item["deal_id"],
                action=EventAction(item["action"]),
                occurred_at=datetime.fromtimestamp(item["at"], UTC),
                received_at=received_at,
            )
            for item in data["events"]
        ]


class WrongToken:
    """Credentials the fake CRM refuses (and cannot refresh)."""

    def headers(self) -> dict[str, str]:
        return {"Authorization": "Bearer wrong"}

    def refresh(self) -> None:
        raise AuthenticationError("the fake CRM refused the token; authorise again")


class FakeHarness(HarnessBase):
    """The harness of :class:`FakeConnector` (or a subclass given as ``connector_class``)."""

    ACCOUNT = "fake-account"
    SECRET_KEY = "fake-secret-key-for-tokens"

    def __init__(self, store: Store, connector_class: type[FakeConnector] = FakeConnector) -> None:
        self.store = store
        self.crm = FakeCRM()
        self.connector_class = connector_class
        self._waits: list[float] = []
        self.tokens = TokenManager(store, self.ACCOUNT, self.SECRET_KEY, self.crm.refresh)
        self.tokens.save(self.crm.issue())  # the authorization code exchange

    def http_client(self, *, good_credentials: bool = True) -> HttpClient:
        """The HTTP client a connector gets (override to break the wiring on purpose)."""
        auth: BearerAuth | WrongToken = BearerAuth(self.tokens)
        if not good_credentials:
            auth = WrongToken()
        return HttpClient(
            BASE_URL,
            auth=auth,
            session=FakeSession(self.crm),
            sleep=self._waits.append,
        )

    def connector(self, *, good_credentials: bool = True) -> Connector:
        config = FakeConfig(
            account_id=self.ACCOUNT,
            base_url=BASE_URL,
            client_secret=SecretStr("fake-client-secret"),
            webhook_secret=SecretStr(self.crm.secret),
        )
        return self.connector_class(config, self.http_client(good_credentials=good_credentials))

    def route(self, stream: str) -> str:
        return f"GET /{stream}"

    def fault(
        self, route: str, statuses: Sequence[int], *, retry_after: float | None = None
    ) -> None:
        self.crm.faults.append((route, deque((s, retry_after) for s in statuses)))

    def requests(self, route: str) -> int:
        return sum(1 for m, p in self.crm.log if fnmatch.fnmatchcase(f"{m} {p}", route))

    def waits(self) -> list[float]:
        return list(self._waits)

    def touch(self, stream: str) -> str:
        items = self.crm.records[stream]
        oldest = min(items, key=lambda i: i["updated_at"])
        oldest["updated_at"] = max(_unix(datetime.now(UTC)), oldest["updated_at"] + 1)
        return str(oldest["id"])

    def expire_access_token(self) -> None:
        self.crm.access.clear()

    def refreshes(self) -> int:
        return self.crm.refreshes

    def repeat_pages(self, route: str) -> None:
        self.crm.repeat.add(route)

    def webhook_samples(self) -> list[WebhookSample]:
        body = json.dumps(
            {
                "events": [
                    {"event_id": "e1", "deal_id": "100", "action": "updated", "at": _unix(T0)},
                    {"event_id": "e2", "deal_id": "101", "action": "stage_changed", "at": 0},
                ]
            }
        ).encode()
        return [WebhookSample(body, "application/json", self.crm.sign(body))]
