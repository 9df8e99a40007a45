"""Conformance harnesses of the amoCRM connector (see :mod:`ropilot.testing`).

* :class:`AmoCRMSandboxHarness` runs the amoCRM sandbox on a free local port, authorises the
  connector through the OAuth code flow (:func:`~ropilot.connectors.amocrm.oauth.exchange_code`,
  the pair saved by a :class:`~ropilot.connectors.tokens.TokenManager`), and drives the
  sandbox's fault plan, clock and outbound webhooks.
* :class:`AmoCRMResponsesHarness` mocks amoCRM with the ``responses`` library over a small
  account in amoCRM's JSON (shaped like the reference fixtures): HAL pages, 204 for empty
  pages, OAuth with strict refresh-token rotation, planned faults, a few writes.

Both build connectors with :func:`~ropilot.connectors.amocrm.factory.build_amocrm`, so the
production wiring (resolution table, retries, token refresh) is what the suite checks; the
HTTP client's sleep is replaced by a recorder, so retries are checked without waiting.
"""

from __future__ import annotations

import fnmatch
import itertools
import json
import re
import threading
import time
from collections import deque
from collections.abc import Callable, Iterable, Mapping, Sequence
from types import TracebackType
from typing import Any
from urllib.parse import parse_qsl, urlsplit

import requests
import responses
from pydantic import SecretStr

from ropilot.connectors.amocrm import oauth
from ropilot.connectors.amocrm.connector import AmoCRMConnector
from ropilot.connectors.amocrm.factory import build_amocrm
from ropilot.connectors.amocrm.sandbox import Fault, run_sandbox, sandbox_from_options
from ropilot.connectors.http import HttpClient
from ropilot.connectors.phpform import http_build_query
from ropilot.connectors.tokens import TokenManager
from ropilot.core.settings import AccountSettings
from ropilot.core.store import Store
from ropilot.testing.harness import FieldSample, HarnessBase, WebhookSample

__all__ = ["ROUTES", "AmoCRMResponsesHarness", "AmoCRMSandboxHarness"]

ACCOUNT_ID = "conformance"
SECRET_KEY = "ropilot-conformance-secret-key-not-for-production"
WEBHOOK_TOKEN = "conformance-webhook-token-0123456789abcdef"
FORM = "application/x-www-form-urlencoded"

ROUTES: dict[str, str] = {
    "teams": "GET /api/v4/account",
    "managers": "GET /api/v4/users",
    "pipelines": "GET /api/v4/leads/pipelines",
    "stages": "GET /api/v4/leads/pipelines",
    "companies": "GET /api/v4/companies",
    "contacts": "GET /api/v4/contacts",
    "deals": "GET /api/v4/leads",
    "stage_changes": "GET /api/v4/events",
    "assignments": "GET /api/v4/events",
    "activities": "GET /api/v4/*/notes",
    "tasks": "GET /api/v4/tasks",
}
"""Stream → the listing the amoCRM connector pages through."""

_API_URL = re.compile(r"https://conformance\.amocrm\.ru/api/v4/.*")

_KINDS = {"deals": "leads", "contacts": "contacts", "companies": "companies", "tasks": "tasks"}


def _pattern(route: str) -> str:
    method, _, path = route.strip().partition(" ")
    return f"{method.upper()} {path.strip().rstrip('/') or '/'}"


class _RequestLog:
    """(method, path, status) of every request the double answered; thread-safe."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.entries: list[tuple[str, str, int]] = []

    def add(self, method: str, path: str, status: int) -> None:
        with self._lock:
            self.entries.append((method.upper(), path.rstrip("/") or "/", status))

    def count(self, route: str, status: int | None = None) -> int:
        pattern = _pattern(route)
        with self._lock:
            return sum(
                1
                for method, path, code in self.entries
                if fnmatch.fnmatchcase(f"{method} {path}", pattern)
                and (status is None or code == status)
            )


class _AmoHarness(HarnessBase):
    """What both harnesses share: connectors from the factory, waits, routes."""

    base_url: str
    store: Store
    page_limit: int
    amo_account_id: str
    subdomain: str
    log: _RequestLog
    exchanges: int

    def _init_common(self, store: Store, page_limit: int) -> None:
        self.store = store
        self.page_limit = page_limit
        self.log = _RequestLog()
        self.exchanges = 0
        self._waits: list[float] = []

    def _oauth_credentials(self) -> dict[str, SecretStr]:
        raise NotImplementedError

    def _authorise(self, code: str) -> None:
        """Exchange the authorization code and save the pair, as ``ropilot auth`` does."""
        credentials = self._oauth_credentials()
        pair = oauth.exchange_code(self.base_url, credentials, code, account_id=ACCOUNT_ID)
        self.exchanges += 1
        manager = TokenManager(
            self.store,
            ACCOUNT_ID,
            SECRET_KEY,
            oauth.refresher(self.base_url, credentials, account_id=ACCOUNT_ID),
        )
        manager.save(pair)

    def connector(self, *, good_credentials: bool = True) -> AmoCRMConnector:
        credentials = dict(self._oauth_credentials())
        if not good_credentials:
            credentials = {"long_lived_token": SecretStr("wrong-token")}
        credentials["webhook_token"] = SecretStr(WEBHOOK_TOKEN)
        account = AccountSettings(
            id=ACCOUNT_ID, connector="amocrm", base_url=self.base_url, credentials=credentials
        )
        connector = build_amocrm(account, self.store, SECRET_KEY, rate=1000)
        connector.settings.page_limit = self.page_limit
        connector.settings.amo_account_id = self.amo_account_id
        connector.settings.subdomain = self.subdomain
        if isinstance(connector.client, HttpClient):
            connector.client._sleep = self._waits.append
        attach = getattr(connector, "attach_store", None)
        if callable(attach):  # idempotency records of writes live in the store
            attach(self.store)
        return connector

    def field_sample(self) -> FieldSample:
        """The deal's ``REGION`` text field (read back as ``Deal.region``)."""
        return FieldSample(
            entity="deal",
            entity_id=self._first_deal(),
            field_id="REGION",
            value="Conformance region",
            stream="deals",
            attribute="region",
        )

    def _first_deal(self) -> str:
        raise NotImplementedError

    def route(self, stream: str) -> str:
        return ROUTES[stream]

    def requests(self, route: str) -> int:
        return self.log.count(route)

    def waits(self) -> list[float]:
        return list(self._waits)

    def refreshes(self) -> int:
        return self.log.count("POST /oauth2/access_token", 200) - self.exchanges

    def _tampered(self, body: bytes) -> tuple[bytes, ...]:
        text = body.decode("ascii")
        out = []
        for key, value, other in (
            ("account%5Bid%5D", self.amo_account_id, "1"),
            ("account%5Bsubdomain%5D", self.subdomain, "someone-else"),
        ):
            needle = f"{key}={value}"
            if needle in text:
                out.append(text.replace(needle, f"{key}={other}").encode("ascii"))
        return tuple(out)


def _set_field(record: dict[str, Any], entry: Mapping[str, Any]) -> None:
    """Apply one ``custom_fields_values`` entry of a PATCH (by field id or code)."""
    values = list(record.get("custom_fields_values") or [])
    key = (
        ("field_id", entry["field_id"])
        if "field_id" in entry
        else ("field_code", entry.get("field_code"))
    )
    kept = [v for v in values if v.get(key[0]) != key[1]]
    if entry.get("values"):
        kept.append(
            {
                "field_id": entry.get("field_id", 700_099),
                "field_name": entry.get("field_code") or str(entry.get("field_id")),
                "field_code": entry.get("field_code"),
                "field_type": "text",
                "values": list(entry["values"]),
            }
        )
    record["custom_fields_values"] = kept or None


# -- the sandbox ---------------------------------------------------------------------------


class AmoCRMSandboxHarness(_AmoHarness):
    """The amoCRM connector against a running amoCRM sandbox (a context manager).

    Args:
        store: the store holding the connector's OAuth tokens (the suite's ``store``).
        deals: deals the generated sandbox account has.
        seed: the generator's seed.
        page_limit: the connector's page size (small, so reads span several pages).
    """

    def __init__(self, store: Store, *, deals: int = 20, seed: int = 7, page_limit: int = 7):
        self._init_common(store, page_limit)
        self.state = sandbox_from_options(None, deals=deals, seed=seed, rate_limit=0)
        self.server = run_sandbox(self.state, log_requests=False)
        app = self.server.app
        app.wsgi_app = self._logged(app.wsgi_app)  # type: ignore[method-assign]
        creds = self.server.credentials
        self.credentials = creds
        self.base_url = self.server.base_url
        self.amo_account_id = str(creds.account_id)
        self.subdomain = creds.subdomain
        self._touched: set[tuple[str, int]] = set()
        try:
            self._authorise(creds.authorization_code)
        except BaseException:
            self.close()
            raise

    def _logged(self, inner: Callable[..., Any]) -> Callable[..., Any]:
        log = self.log

        def app(environ: dict[str, Any], start_response: Callable[..., Any]) -> Any:
            method = str(environ.get("REQUEST_METHOD", "GET"))
            path = str(environ.get("PATH_INFO", "/"))

            def recording(status: str, headers: Any, exc_info: Any = None) -> Any:
                log.add(method, path, int(status.split(" ", 1)[0]))
                return start_response(status, headers, exc_info)

            return inner(environ, recording)

        return app

    def _oauth_credentials(self) -> dict[str, SecretStr]:
        c = self.credentials
        return {
            "client_id": SecretStr(c.client_id),
            "client_secret": SecretStr(c.client_secret),
            "redirect_uri": SecretStr(c.redirect_uri),
        }

    def _first_deal(self) -> str:
        with self.state.lock:
            return str(min(self.state.records["leads"]))

    def close(self) -> None:
        """Stop the sandbox."""
        self.server.stop()

    def __enter__(self) -> AmoCRMSandboxHarness:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    # -- Harness --------------------------------------------------------------------------

    def fault(
        self, route: str, statuses: Sequence[int], *, retry_after: float | None = None
    ) -> None:
        headers = {} if retry_after is None else {"Retry-After": f"{retry_after:g}"}
        self.state.faults.add(route, [Fault(s, headers=dict(headers)) for s in statuses])

    def _api(self, method: str, path: str, **kw: Any) -> requests.Response:
        token = self.credentials.long_lived_token
        response = requests.request(
            method,
            self.base_url + path,
            headers={"Authorization": f"Bearer {token}"},
            timeout=10,
            **kw,
        )
        response.raise_for_status()
        return response

    def touch(self, stream: str) -> str:
        kind = _KINDS.get(stream)
        if kind is None:
            raise NotImplementedError(f"touch({stream!r})")
        st = self.state
        with st.lock:
            records = st.records[kind]
            fresh = [r for r in records.values() if (kind, r["id"]) not in self._touched]
            rec = min(fresh or records.values(), key=lambda r: (r["updated_at"], r["id"]))
            now = int(st.clock.time())
            rec["updated_at"] = now if now > rec["updated_at"] else rec["updated_at"] + 1
            st.version += 1
        self._touched.add((kind, rec["id"]))
        return str(rec["id"])

    def expire_access_token(self) -> None:
        """Move the sandbox clock past the access token's ``exp`` (the refresh token lives)."""
        self.state.clock.advance(self.state.config.access_ttl + 1)

    def repeat_pages(self, route: str) -> None:
        method, _, path = _pattern(route).partition(" ")
        if any(c in path for c in "*?["):
            raise NotImplementedError(f"repeat_pages({route!r}) needs a concrete path")
        page = self._api(method, path, params={"limit": self.page_limit, "page": 1}).json()
        links = page.setdefault("_links", {})
        links["next"] = {"href": f"{self.base_url}{path}?limit={self.page_limit}&page=2"}
        page.pop("_total_items", None)
        body = Fault(200, body=json.dumps(page), content_type="application/hal+json")
        self.state.faults.add(route, [], then=body)

    def webhook_samples(self) -> list[WebhookSample]:
        """Deliveries of the sandbox's outbound webhooks after a status and owner change."""
        st = self.state
        destination = f"{self.base_url}/conformance-webhook-sink"
        self._api(
            "POST",
            "/api/v4/webhooks",
            json={
                "destination": destination,
                "settings": ["status_lead", "responsible_lead", "update_lead", "note_lead"],
            },
        )
        with st.lock:
            lead = min(st.records["leads"].values(), key=lambda r: r["id"])
            pipeline = st.pipelines[lead["pipeline_id"]]
            status = next(s["id"] for s in pipeline["statuses"] if s["id"] != lead["status_id"])
            user = next(u for u in st.users if u != lead["responsible_user_id"])
        self._api(
            "PATCH",
            f"/api/v4/leads/{lead['id']}",
            json={"status_id": status, "responsible_user_id": user},
        )
        self._api(
            "POST",
            f"/api/v4/leads/{lead['id']}/notes",
            json=[{"note_type": "common", "params": {"text": "conformance"}}],
        )
        st.dispatcher.flush(timeout=5)
        bodies = [d.body for d in st.dispatcher.deliveries if d.destination == destination]
        return [
            WebhookSample(
                body=body.encode("ascii"),
                content_type=FORM,
                token=WEBHOOK_TOKEN,
                tampered_bodies=self._tampered(body.encode("ascii")),
            )
            for body in dict.fromkeys(bodies)
        ]


# -- responses -----------------------------------------------------------------------------

_T0 = 1_717_000_000

NGINX = (
    "<html>\r\n<head><title>{status} {reason}</title></head>\r\n<body>\r\n"
    "<center><h1>{status} {reason}</h1></center>\r\n<hr><center>nginx</center>\r\n"
    "</body>\r\n</html>\r\n"
)
_REASONS = {
    400: "Bad Request",
    403: "Forbidden",
    422: "Unprocessable Entity",
    429: "Too Many Requests",
    500: "Internal Server Error",
    502: "Bad Gateway",
    503: "Service Temporarily Unavailable",
    504: "Gateway Time-out",
}
UNAUTHORIZED = {
    "title": "Unauthorized",
    "type": "https://httpstatus.es/401",
    "status": 401,
    "detail": "Неверный логин или пароль",
}
REVOKED = {
    "hint": "Token has been revoked",
    "title": "Некорректный запрос",
    "type": "https://developers.amocrm.ru/v3/errors/OAuthProblemJson",
    "status": 401,
    "detail": "В запросе отсутствует ряд параметров или параметры невалидны",
}


def _link(base: str, path: str) -> dict[str, Any]:
    return {"self": {"href": f"{base}{path}"}}


def _fixture_account(base: str) -> dict[str, Any]:
    """A small account in amoCRM API v4 JSON (shaped like the reference fixtures)."""
    account_id = 30_000_001
    users = [
        {
            "id": uid,
            "name": name,
            "email": f"{uid}@example.com",
            "lang": "ru",
            "rights": {"is_admin": admin, "is_active": True, "group_id": group},
            "_links": _link(base, f"/api/v4/users/{uid}"),
        }
        for uid, name, admin, group in (
            (9_000_001, "Администратор", True, None),
            (9_000_002, "Анна Петрова", False, 501),
            (9_000_003, "Иван Сидоров", False, 501),
        )
    ]
    statuses = [
        (60_000_001, "Неразобранное", 10, 1),
        (60_000_002, "Первичный контакт", 20, 0),
        (60_000_003, "Переговоры", 30, 0),
        (142, "Успешно реализовано", 10000, 0),
        (143, "Закрыто и не реализовано", 11000, 0),
    ]
    pipeline = {
        "id": 7_000_001,
        "name": "Основная воронка",
        "sort": 1,
        "is_main": True,
        "is_unsorted_on": True,
        "is_archive": False,
        "account_id": account_id,
        "_links": _link(base, "/api/v4/leads/pipelines/7000001"),
        "_embedded": {
            "statuses": [
                {
                    "id": sid,
                    "name": name,
                    "sort": sort,
                    "is_editable": sid not in (142, 143),
                    "pipeline_id": 7_000_001,
                    "color": "#99ccff",
                    "type": kind,
                    "account_id": account_id,
                }
                for sid, name, sort, kind in statuses
            ]
        },
    }
    companies: list[dict[str, Any]] = [
        {
            "id": 5_000_000 + n,
            "name": f"ООО Компания {n}",
            "responsible_user_id": 9_000_002,
            "group_id": 0,
            "created_by": 9_000_001,
            "updated_by": 9_000_001,
            "created_at": _T0 - 86_400,
            "updated_at": _T0 + n,
            "closest_task_at": None,
            "custom_fields_values": [
                {
                    "field_id": 700_010,
                    "field_name": "ИНН",
                    "field_code": "INN",
                    "field_type": "text",
                    "values": [{"value": f"77000000{n:02d}"}],
                }
            ],
            "account_id": account_id,
            "_embedded": {"tags": []},
        }
        for n in (1, 2)
    ]
    contacts = [
        {
            "id": 7_100_000 + n,
            "name": f"Контакт {n}",
            "first_name": "",
            "last_name": "",
            "responsible_user_id": 9_000_003,
            "group_id": 0,
            "created_by": 9_000_001,
            "updated_by": 9_000_001,
            "created_at": _T0 - 3_600,
            "updated_at": _T0 + 10 * n,
            "closest_task_at": None,
            "custom_fields_values": [
                {
                    "field_id": 700_020,
                    "field_name": "Телефон",
                    "field_code": "PHONE",
                    "field_type": "multitext",
                    "values": [{"value": f"+7999000000{n}", "enum_code": "WORK"}],
                }
            ],
            "account_id": account_id,
            "_embedded": {"tags": [], "companies": [{"id": 5_000_000 + 1 + n % 2}]},
        }
        for n in (1, 2, 3)
    ]
    leads: list[dict[str, Any]] = []
    for n in range(1, 8):
        status = (60_000_002, 60_000_003, 142, 143)[n % 4]
        leads.append(
            {
                "id": 1_000_000 + n,
                "name": f"Сделка {n}",
                "price": 10_000 * n,
                "responsible_user_id": 9_000_002 + n % 2,
                "group_id": 0,
                "status_id": status,
                "pipeline_id": 7_000_001,
                "loss_reason_id": None,
                "created_by": 9_000_001,
                "updated_by": 9_000_001,
                "created_at": _T0,
                "updated_at": _T0 + 100 * n,
                "closed_at": _T0 + 100 * n if status in (142, 143) else None,
                "closest_task_at": None,
                "is_deleted": False,
                "custom_fields_values": [
                    {
                        "field_id": 700_001,
                        "field_name": "Источник",
                        "field_code": "SOURCE",
                        "field_type": "select",
                        "values": [{"value": "Сайт", "enum_id": 800_001, "enum_code": None}],
                    }
                ]
                if n % 2
                else None,
                "score": None,
                "account_id": account_id,
                "labor_cost": None,
                "_embedded": {
                    "tags": [],
                    "contacts": [{"id": 7_100_001 + n % 3, "is_main": True}],
                    "companies": [{"id": 5_000_001 + n % 2}],
                },
            }
        )
    tasks = [
        {
            "id": 3_000_000 + n,
            "created_by": 9_000_001,
            "updated_by": 9_000_001,
            "created_at": _T0 + n,
            "updated_at": _T0 + 50 * n,
            "responsible_user_id": 9_000_002,
            "group_id": 0,
            "entity_id": 1_000_000 + n,
            "entity_type": "leads",
            "is_completed": n == 1,
            "task_type_id": 1,
            "text": f"Позвонить клиенту {n}",
            "duration": 0,
            "complete_till": _T0 + 86_400 * n,
            "result": {"text": "Готово"} if n == 1 else [],
            "account_id": account_id,
        }
        for n in (1, 2, 3)
    ]
    notes = [
        {
            "id": 4_000_001,
            "entity_id": 1_000_001,
            "created_by": 9_000_002,
            "updated_by": 9_000_002,
            "created_at": _T0 + 5,
            "updated_at": _T0 + 5,
            "responsible_user_id": 9_000_002,
            "group_id": 0,
            "note_type": "call_out",
            "params": {"uniq": "a1", "duration": 65, "source": "tel", "phone": "+79990000001"},
            "account_id": account_id,
        },
        {
            "id": 4_000_002,
            "entity_id": 1_000_002,
            "created_by": 9_000_003,
            "updated_by": 9_000_003,
            "created_at": _T0 + 6,
            "updated_at": _T0 + 6,
            "responsible_user_id": 9_000_003,
            "group_id": 0,
            "note_type": "common",
            "params": {"text": "Клиент просит перезвонить"},
            "account_id": account_id,
        },
    ]

    def status_value(sid: int) -> list[dict[str, Any]]:
        return [{"lead_status": {"id": sid, "pipeline_id": 7_000_001}}]

    events = []
    for n, lead in enumerate(leads, start=1):
        events.append(
            {
                "id": f"01ev{n:04d}added",
                "type": "lead_added",
                "entity_id": lead["id"],
                "entity_type": "lead",
                "created_by": 9_000_001,
                "created_at": _T0 + n,
                "value_after": status_value(60_000_002),
                "value_before": [],
                "account_id": account_id,
            }
        )
        if lead["status_id"] != 60_000_002:
            events.append(
                {
                    "id": f"01ev{n:04d}status",
                    "type": "lead_status_changed",
                    "entity_id": lead["id"],
                    "entity_type": "lead",
                    "created_by": 9_000_002,
                    "created_at": _T0 + 100 * n,
                    "value_after": status_value(lead["status_id"]),
                    "value_before": status_value(60_000_002),
                    "account_id": account_id,
                }
            )
    events.append(
        {
            "id": "01ev9999resp",
            "type": "entity_responsible_changed",
            "entity_id": 1_000_001,
            "entity_type": "lead",
            "created_by": 9_000_001,
            "created_at": _T0 + 900,
            "value_after": [{"responsible_user": {"id": 9_000_003}}],
            "value_before": [{"responsible_user": {"id": 9_000_002}}],
            "account_id": account_id,
        }
    )
    return {
        "account": {
            "id": account_id,
            "name": "Conformance",
            "subdomain": "conformance",
            "currency": "RUB",
            "timezone": "Europe/Moscow",
            "_embedded": {
                "users_groups": [{"id": 0, "name": "Отдел продаж"}, {"id": 501, "name": "Москва"}]
            },
        },
        "users": users,
        "pipelines": [pipeline],
        "leads": leads,
        "contacts": contacts,
        "companies": companies,
        "tasks": tasks,
        "notes": {"leads": notes, "contacts": [], "companies": []},
        "events": events,
    }


class AmoCRMResponsesHarness(_AmoHarness):
    """The amoCRM connector against amoCRM mocked with ``responses`` (a context manager).

    Args:
        store: the store holding the connector's OAuth tokens (the suite's ``store``).
        page_limit: the connector's page size (small, so reads span several pages).
    """

    BASE_URL = "https://conformance.amocrm.ru"

    def __init__(self, store: Store, *, page_limit: int = 2) -> None:
        self._init_common(store, page_limit)
        self.base_url = self.BASE_URL
        self.subdomain = "conformance"
        self.data = _fixture_account(self.base_url)
        self.amo_account_id = str(self.data["account"]["id"])
        self.client_id = "c0nf0rmance-client-id"
        self.client_secret = "c0nf0rmance-client-secret"
        self.redirect_uri = "https://ropilot.local/oauth/amocrm/callback"
        self._codes = {"def50200conformance-code"}
        self._access: set[str] = set()
        self._refresh: set[str] = set()
        self._serial = itertools.count(1)
        self._ids = itertools.count(9_100_000)
        self._faults: list[tuple[str, deque[tuple[int, float | None]]]] = []
        self._repeat: dict[str, str] = {}
        self.mock = responses.RequestsMock(assert_all_requests_are_fired=False)
        self.mock.add_callback(
            responses.POST, f"{self.base_url}/oauth2/access_token", callback=self._token
        )
        for method in (responses.GET, responses.POST, responses.PATCH):
            self.mock.add_callback(method, _API_URL, callback=self._api)
        self.mock.start()
        try:
            self._authorise("def50200conformance-code")
        except BaseException:
            self.close()
            raise

    def _first_deal(self) -> str:
        return str(self.data["leads"][0]["id"])

    def close(self) -> None:
        """Stop mocking HTTP."""
        self.mock.stop()
        self.mock.reset()

    def __enter__(self) -> AmoCRMResponsesHarness:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def _oauth_credentials(self) -> dict[str, SecretStr]:
        return {
            "client_id": SecretStr(self.client_id),
            "client_secret": SecretStr(self.client_secret),
            "redirect_uri": SecretStr(self.redirect_uri),
        }

    # -- the double -----------------------------------------------------------------------

    def _answer(
        self, method: str, path: str, status: int, body: Any, headers: dict[str, str] | None = None
    ) -> tuple[int, dict[str, str], str]:
        self.log.add(method, path, status)
        out = dict(headers or {})
        if body is None:
            return status, out, ""
        if isinstance(body, str):
            out.setdefault("Content-Type", "text/html")
            return status, out, body
        out.setdefault("Content-Type", "application/hal+json")
        return status, out, json.dumps(body, ensure_ascii=False)

    def _pair(self) -> dict[str, Any]:
        n = next(self._serial)
        access, refresh = f"access-{n}", f"def50200refresh-{n}"
        self._access.add(access)
        self._refresh.add(refresh)
        return {
            "token_type": "Bearer",
            "expires_in": 86400,
            "server_time": int(time.time()),
            "access_token": access,
            "refresh_token": refresh,
        }

    def _token(self, request: Any) -> tuple[int, dict[str, str], str]:
        path = "/oauth2/access_token"
        body = json.loads(request.body or b"{}")
        if body.get("client_id") != self.client_id or body.get("client_secret") != (
            self.client_secret
        ):
            invalid = {**REVOKED, "hint": "Client authentication failed"}
            invalid["title"] = "Некорректный клиент"
            return self._answer("POST", path, 401, invalid, {"Content-Type": "application/json"})
        grant = body.get("grant_type")
        if grant == "authorization_code" and body.get("code") in self._codes:
            self._codes.discard(body["code"])
            return self._answer(
                "POST", path, 200, self._pair(), {"Content-Type": "application/json"}
            )
        if grant == "refresh_token" and body.get("refresh_token") in self._refresh:
            self._refresh.discard(body["refresh_token"])  # strict rotation: single use
            return self._answer(
                "POST", path, 200, self._pair(), {"Content-Type": "application/json"}
            )
        return self._answer("POST", path, 401, REVOKED, {"Content-Type": "application/json"})

    def _planned(self, method: str, path: str) -> tuple[int, float | None] | None:
        key = f"{method} {path}"
        for pattern, queue in self._faults:
            if queue and fnmatch.fnmatchcase(key, pattern):
                return queue.popleft()
        return None

    def _fault_answer(
        self, method: str, path: str, status: int, retry_after: float | None
    ) -> tuple[int, dict[str, str], str]:
        headers = {} if retry_after is None else {"Retry-After": f"{retry_after:g}"}
        if status == 401:
            return self._answer(method, path, 401, UNAUTHORIZED, headers)
        if status in (400, 422):
            problem = {"title": _REASONS[status], "status": status, "detail": "Planned fault"}
            headers["Content-Type"] = "application/problem+json"
            return self._answer(method, path, status, problem, headers)
        page = NGINX.format(status=status, reason=_REASONS.get(status, "Error"))
        return self._answer(method, path, status, page, headers)

    def _api(self, request: Any) -> tuple[int, dict[str, str], str]:
        parts = urlsplit(request.url)
        path = parts.path.rstrip("/")
        method = request.method.upper()
        params = dict(parse_qsl(parts.query))
        planned = self._planned(method, path)
        if planned is not None:
            return self._fault_answer(method, path, *planned)
        repeated = self._repeat.get(f"{method} {path}")
        if repeated is not None:
            return self._answer(method, path, 200, json.loads(repeated))
        auth = request.headers.get("Authorization", "")
        if auth.removeprefix("Bearer ") not in self._access:
            return self._answer(method, path, 401, UNAUTHORIZED)
        body = json.loads(request.body) if request.body else None
        status, answer = self._route(method, path, params, body)
        return self._answer(method, path, status, answer)

    def _page(
        self,
        path: str,
        key: str,
        items: list[dict[str, Any]],
        params: Mapping[str, str],
        *,
        totals: bool = False,
    ) -> tuple[int, Any]:
        page = max(int(params.get("page") or 1), 1)
        limit = min(max(int(params.get("limit") or 50), 1), 250)
        chunk = items[(page - 1) * limit : page * limit]
        if not chunk:
            return 204, None
        links: dict[str, Any] = {"self": {"href": f"{self.base_url}{path}?page={page}"}}
        if page * limit < len(items):
            links["next"] = {"href": f"{self.base_url}{path}?page={page + 1}"}
        out: dict[str, Any] = {"_page": page, "_links": links, "_embedded": {key: chunk}}
        if totals:
            out["_total_items"] = len(items)
        return 200, out

    @staticmethod
    def _filtered(
        items: Iterable[dict[str, Any]], params: Mapping[str, str], cursor: str
    ) -> list[dict[str, Any]]:
        out = list(items)
        since = params.get(f"filter[{cursor}][from]")
        if since is not None:
            out = [i for i in out if i.get(cursor, 0) >= int(since)]
        for name, field in (("filter[type]", "type"), ("filter[note_type]", "note_type")):
            if name in params:
                wanted = set(params[name].split(","))
                out = [i for i in out if i.get(field) in wanted]
        for name, value in params.items():
            plain = name.removeprefix("filter[").removesuffix("]")
            if (
                name.startswith("filter[")
                and "[" not in plain
                and plain not in ("type", "note_type", "entity")
            ):
                out = [i for i in out if str(i.get(plain)) in value.split(",")]
        if "order[updated_at]" in params:
            out.sort(key=lambda i: (i.get("updated_at", 0), i["id"]))
        return out

    def _route(
        self, method: str, path: str, params: Mapping[str, str], body: Any
    ) -> tuple[int, Any]:
        d = self.data
        if method == "GET":
            if path == "/api/v4/account":
                return 200, d["account"]
            if path == "/api/v4/users":
                return self._page(path, "users", d["users"], params, totals=True)
            if path == "/api/v4/leads/pipelines":
                return 200, {"_total_items": 1, "_embedded": {"pipelines": d["pipelines"]}}
            for kind in ("leads", "contacts", "companies", "tasks"):
                if path == f"/api/v4/{kind}":
                    items = self._filtered(d[kind], params, "updated_at")
                    return self._page(path, kind, items, params)
            for kind in ("leads", "contacts", "companies"):
                if path == f"/api/v4/{kind}/notes":
                    items = self._filtered(d["notes"][kind], params, "updated_at")
                    return self._page(path, "notes", items, params)
            if path == "/api/v4/events":
                items = self._filtered(d["events"], params, "created_at")
                return self._page(path, "events", items, params)
            if path in {f"/api/v4/{k}/custom_fields" for k in ("leads", "contacts", "companies")}:
                return 204, None  # no custom fields: an empty list is 204 in amoCRM
            return 404, {"title": "Not Found", "status": 404}
        return self._write(method, path, body)

    def _write(self, method: str, path: str, body: Any) -> tuple[int, Any]:
        """PATCH leads, POST tasks and notes, as amoCRM answers them (no deduplication)."""
        d = self.data
        items = body if isinstance(body, list) else [body or {}]
        now = int(time.time())
        segments = path.strip("/").split("/")[2:]
        if method == "PATCH" and segments[0] == "leads":
            results = []
            for item in items:
                lead_id = int(segments[1]) if len(segments) > 1 else int(item.get("id", 0))
                lead = next((x for x in d["leads"] if x["id"] == lead_id), None)
                if lead is None:
                    return 400, {"title": "Bad Request", "status": 400}
                for field in ("responsible_user_id", "status_id", "pipeline_id", "name", "price"):
                    if field in item:
                        lead[field] = item[field]
                for entry in item.get("custom_fields_values") or []:
                    _set_field(lead, entry)
                lead["updated_at"] = max(now, lead["updated_at"] + 1)
                results.append({"id": lead_id, "updated_at": lead["updated_at"]})
            if len(segments) > 1:
                return 200, results[0]
            return 200, {"_embedded": {"leads": results}}
        if method == "POST" and segments == ["tasks"]:
            results = []
            for n, item in enumerate(items):
                task = {
                    "id": next(self._ids),
                    "created_by": 9_000_001,
                    "updated_by": 9_000_001,
                    "created_at": now,
                    "updated_at": now,
                    "responsible_user_id": item.get("responsible_user_id", 9_000_001),
                    "group_id": 0,
                    "entity_id": item.get("entity_id"),
                    "entity_type": item.get("entity_type"),
                    "is_completed": False,
                    "task_type_id": item.get("task_type_id", 1),
                    "text": item.get("text", ""),
                    "duration": 0,
                    "complete_till": item.get("complete_till", now),
                    "result": [],
                    "account_id": d["account"]["id"],
                }
                d["tasks"].append(task)
                results.append({"id": task["id"], "request_id": str(item.get("request_id", n))})
            return 200, {"_embedded": {"tasks": results}}
        if method == "POST" and segments[0] in d["notes"] and segments[-1] == "notes":
            entity = segments[0]
            results = []
            for n, item in enumerate(items):
                entity_id = int(segments[1]) if len(segments) == 3 else item.get("entity_id")
                note = {
                    "id": next(self._ids),
                    "entity_id": entity_id,
                    "created_by": 9_000_001,
                    "updated_by": 9_000_001,
                    "created_at": now,
                    "updated_at": now,
                    "responsible_user_id": 9_000_001,
                    "group_id": 0,
                    "note_type": item.get("note_type", "common"),
                    "params": item.get("params") or {},
                    "account_id": d["account"]["id"],
                }
                d["notes"][entity].append(note)
                results.append(
                    {
                        "id": note["id"],
                        "entity_id": entity_id,
                        "request_id": str(item.get("request_id", n)),
                    }
                )
            return 200, {"_embedded": {"notes": results}}
        return 405, {"title": "Method Not Allowed", "status": 405}

    # -- Harness --------------------------------------------------------------------------

    def fault(
        self, route: str, statuses: Sequence[int], *, retry_after: float | None = None
    ) -> None:
        self._faults.append((_pattern(route), deque((s, retry_after) for s in statuses)))

    def touch(self, stream: str) -> str:
        kind = _KINDS.get(stream)
        if kind is None:
            raise NotImplementedError(f"touch({stream!r})")
        record = min(self.data[kind], key=lambda r: (r["updated_at"], r["id"]))
        record["updated_at"] = max(int(time.time()), record["updated_at"] + 1)
        return str(record["id"])

    def expire_access_token(self) -> None:
        """Every access token issued so far is refused from now on."""
        self._access.clear()

    def repeat_pages(self, route: str) -> None:
        method, _, path = _pattern(route).partition(" ")
        kind = path.rsplit("/", 1)[-1]
        if kind not in ("leads", "contacts", "companies", "tasks"):
            raise NotImplementedError(f"repeat_pages({route!r})")
        _, page = self._page(path, kind, self.data[kind], {"limit": str(self.page_limit)})
        page["_links"]["next"] = {"href": f"{self.base_url}{path}?page=2"}
        self._repeat[f"{method} {path}"] = json.dumps(page)

    def webhook_samples(self) -> list[WebhookSample]:
        """A status change and an owner change of one lead, in amoCRM's PHP form encoding."""
        account = {"subdomain": self.subdomain, "id": self.amo_account_id}
        payloads: list[dict[str, Any]] = [
            {
                "leads": {
                    "status": {
                        "0": {
                            "id": "1000001",
                            "status_id": "142",
                            "old_status_id": "60000002",
                            "pipeline_id": "7000001",
                            "last_modified": str(_T0 + 1000),
                            "account_id": self.amo_account_id,
                        }
                    }
                },
                "account": account,
            },
            {
                "leads": {
                    "responsible": {
                        "0": {
                            "id": "1000002",
                            "responsible_user_id": "9000003",
                            "old_responsible_user_id": "9000002",
                            "last_modified": str(_T0 + 1001),
                            "account_id": self.amo_account_id,
                        }
                    }
                },
                "account": account,
            },
        ]
        samples = []
        for payload in payloads:
            body = http_build_query(payload).encode("ascii")
            samples.append(
                WebhookSample(
                    body=body,
                    content_type=FORM,
                    token=WEBHOOK_TOKEN,
                    tampered_bodies=self._tampered(body),
                )
            )
        return samples
