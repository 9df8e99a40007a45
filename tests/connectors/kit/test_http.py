from __future__ import annotations

import logging
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime

import pytest
import requests
import responses
from urllib3.exceptions import MaxRetryError, NewConnectionError

from ropilot.connectors.http import (
    AMOCRM_RESOLUTIONS,
    BITRIX24_RESOLUTIONS,
    AccessDeniedError,
    HttpClient,
    HTTPStatusError,
    Resolution,
    Rule,
    UncertainWriteError,
    parse_retry_after,
)
from ropilot.connectors.ratelimit import MemoryRateLimiter
from ropilot.core.errors import (
    AuthenticationError,
    FatalAPIError,
    NotFoundError,
    RateLimitedError,
    TransientAPIError,
)

BASE = "https://acc.amocrm.ru/"
URL = BASE + "api/v4/leads"
HTML_500 = "<html><head><title>500 Internal Server Error</title></head><body><center><h1>500 Internal Server Error</h1></center><hr><center>nginx</center></body></html>"
HTML_403 = "<html>\r\n<head><title>403 Forbidden</title></head>\r\n<body>\r\n<center><h1>403 Forbidden</h1></center>\r\n<hr><center>nginx</center>\r\n</body>\r\n</html>"


class FakeAuth:
    def __init__(self, *, fail: bool = False) -> None:
        self.token = "t0"
        self.refreshes = 0
        self.fail = fail

    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token}"}

    def refresh(self) -> None:
        self.refreshes += 1
        if self.fail:
            raise AuthenticationError("refresh token revoked")
        self.token = f"t{self.refreshes}"


@pytest.fixture
def sleeps() -> list[float]:
    return []


@pytest.fixture
def client(sleeps: list[float]) -> HttpClient:
    return HttpClient(BASE, sleep=sleeps.append, resolutions=AMOCRM_RESOLUTIONS)


def _connect_error() -> requests.exceptions.ConnectionError:
    reason = NewConnectionError(None, "Failed to establish a new connection: [Errno 111] refused")  # type: ignore[arg-type]
    return requests.exceptions.ConnectionError(MaxRetryError(None, URL, reason))  # type: ignore[arg-type]


@responses.activate
def test_429_then_200_sleeps_retry_after(client: HttpClient, sleeps: list[float]) -> None:
    responses.get(URL, status=429, body="Too Many Requests", headers={"Retry-After": "7"})
    responses.get(URL, json={"_embedded": {"leads": []}})
    assert client.get_json("api/v4/leads") == {"_embedded": {"leads": []}}
    assert len(responses.calls) == 2
    assert sleeps == [7.0]


@responses.activate
def test_429_without_retry_after_backs_off_with_jitter(sleeps: list[float]) -> None:
    client = HttpClient(BASE, sleep=sleeps.append, backoff=0.5, max_backoff=4)
    for _ in range(3):
        responses.get(URL, status=429, body="")
    responses.get(URL, json={})
    client.get_json("api/v4/leads")
    assert len(responses.calls) == 4
    # full jitter: attempt n waits uniformly in [0, 0.5 * 2**(n-1)]
    assert len(sleeps) == 3
    assert all(0 <= s <= cap for s, cap in zip(sleeps, [0.5, 1.0, 2.0], strict=True))


@responses.activate
def test_503_three_times_then_200(client: HttpClient, sleeps: list[float]) -> None:
    for _ in range(3):
        responses.get(URL, status=503, body="Service Unavailable")
    responses.get(URL, json={"ok": True})
    assert client.get_json("api/v4/leads") == {"ok": True}
    assert len(responses.calls) == 4
    assert len(sleeps) == 3


@responses.activate
def test_500_html_gives_transient_error_with_snippet(
    client: HttpClient, sleeps: list[float]
) -> None:
    responses.get(URL, status=500, body=HTML_500, content_type="text/html")
    with pytest.raises(TransientAPIError, match="gave up after 5 attempt") as info:
        client.get_json("api/v4/leads")
    assert "500 Internal Server Error" in str(info.value)
    assert "HTTP 500" in str(info.value)
    assert len(responses.calls) == 5
    assert len(sleeps) == 4


@responses.activate
def test_persistent_429_raises_rate_limited(sleeps: list[float]) -> None:
    client = HttpClient(BASE, sleep=sleeps.append, max_attempts=3)
    responses.get(URL, status=429, body="", headers={"Retry-After": "2"})
    with pytest.raises(RateLimitedError) as info:
        client.get_json("api/v4/leads")
    assert info.value.retry_after == 2.0
    assert len(responses.calls) == 3
    assert sleeps == [2.0, 2.0]


@responses.activate
def test_long_retry_after_is_not_slept_in_process(client: HttpClient, sleeps: list[float]) -> None:
    responses.get(URL, status=429, body="", headers={"Retry-After": "300"})
    with pytest.raises(RateLimitedError) as info:
        client.get_json("api/v4/leads")
    assert info.value.retry_after == 300.0
    assert len(responses.calls) == 1
    assert sleeps == []


@responses.activate
def test_401_refreshes_once_and_retries_once(sleeps: list[float]) -> None:
    auth = FakeAuth()
    client = HttpClient(BASE, auth=auth, sleep=sleeps.append)
    responses.get(URL, status=401, json={"title": "Unauthorized", "status": 401})
    responses.get(URL, json={"id": 1})
    assert client.get_json("api/v4/leads") == {"id": 1}
    assert auth.refreshes == 1
    assert [c.request.headers["Authorization"] for c in responses.calls] == [
        "Bearer t0",
        "Bearer t1",
    ]
    assert sleeps == []


@responses.activate
def test_second_401_is_an_authentication_error() -> None:
    auth = FakeAuth()
    client = HttpClient(BASE, auth=auth, sleep=lambda s: None)
    responses.get(URL, status=401, json={"detail": "Неверный логин или пароль"})
    with pytest.raises(AuthenticationError, match="again after refreshing"):
        client.get_json("api/v4/leads")
    assert auth.refreshes == 1
    assert len(responses.calls) == 2


@responses.activate
def test_failed_refresh_propagates() -> None:
    auth = FakeAuth(fail=True)
    client = HttpClient(BASE, auth=auth, sleep=lambda s: None)
    responses.get(URL, status=401, json={})
    with pytest.raises(AuthenticationError, match="revoked"):
        client.get_json("api/v4/leads")
    assert len(responses.calls) == 1


@responses.activate
def test_401_without_authenticator() -> None:
    client = HttpClient(BASE, sleep=lambda s: None)
    responses.get(URL, status=401, json={"error": "NO_AUTH_FOUND"})
    with pytest.raises(AuthenticationError, match="no credentials to refresh"):
        client.get_json("api/v4/leads")


@responses.activate
def test_post_is_not_resent_after_a_read_timeout(client: HttpClient) -> None:
    responses.post(URL, body=requests.exceptions.ReadTimeout("read timed out"))
    responses.post(URL, json={"_embedded": {"leads": [{"id": 1}]}})
    with pytest.raises(UncertainWriteError, match="not idempotent"):
        client.request("POST", "api/v4/leads", json=[{"name": "x"}])
    assert len(responses.calls) == 1


@responses.activate
def test_post_is_not_resent_after_a_500(client: HttpClient) -> None:
    responses.post(URL, status=500, body=HTML_500)
    with pytest.raises(UncertainWriteError, match="may have been applied"):
        client.request("POST", "api/v4/leads", json=[{"name": "x"}])
    assert len(responses.calls) == 1


@responses.activate
def test_idempotent_post_is_resent(client: HttpClient) -> None:
    responses.post(URL, body=requests.exceptions.ReadTimeout("read timed out"))
    responses.post(URL, status=502, body="")
    responses.post(URL, json={"ok": 1})
    response = client.request("POST", "api/v4/leads", json=[{"request_id": "k1"}], idempotent=True)
    assert response.json == {"ok": 1}
    assert len(responses.calls) == 3


@responses.activate
def test_post_is_resent_when_the_connection_was_never_made(client: HttpClient) -> None:
    responses.post(URL, body=_connect_error())
    responses.post(URL, status=201, json={"id": 5})
    assert client.request("POST", "api/v4/leads", json=[{}]).json == {"id": 5}
    assert len(responses.calls) == 2


@responses.activate
def test_post_is_resent_after_429(client: HttpClient, sleeps: list[float]) -> None:
    responses.post(URL, status=429, body="Too Many Requests", headers={"Retry-After": "1"})
    responses.post(URL, json={"id": 5})
    assert client.request("POST", "api/v4/leads", json=[{}]).json == {"id": 5}
    assert len(responses.calls) == 2
    assert sleeps == [1.0]


@responses.activate
def test_get_is_resent_after_timeouts(client: HttpClient) -> None:
    responses.get(URL, body=requests.exceptions.ConnectTimeout("connect timed out"))
    responses.get(URL, body=requests.exceptions.ReadTimeout("read timed out"))
    responses.get(URL, json=[1])
    assert client.get_json("api/v4/leads") == [1]
    assert len(responses.calls) == 3


@responses.activate
def test_404_is_not_found(client: HttpClient) -> None:
    responses.get(URL + "/99", status=404, json={"title": "Not Found"})
    with pytest.raises(NotFoundError, match="HTTP 404"):
        client.get_json("api/v4/leads/99")
    assert len(responses.calls) == 1


@responses.activate
def test_204_is_none(client: HttpClient) -> None:
    responses.get(URL, status=204, body="")
    assert client.get_json("api/v4/leads", {"page": 9}) is None
    response = client.request("GET", "api/v4/leads")
    assert (response.status, response.json) == (204, None)


@responses.activate
def test_400_keeps_the_decoded_body(client: HttpClient) -> None:
    body = {
        "validation-errors": [{"request_id": "0", "errors": [{"code": "NotSupportedChoice"}]}],
        "title": "Bad Request",
        "status": 400,
    }
    responses.post(URL, status=400, json=body)
    with pytest.raises(HTTPStatusError) as info:
        client.request("POST", "api/v4/leads", json=[{}])
    assert info.value.status == 400
    assert info.value.response.json == body
    assert "NotSupportedChoice" in str(info.value)


@responses.activate
def test_amocrm_403_html_means_blocked_account(client: HttpClient) -> None:
    responses.get(URL, status=403, body=HTML_403, content_type="text/html")
    with pytest.raises(AccessDeniedError, match="only amoCRM support can unblock it") as info:
        client.get_json("api/v4/leads")
    assert "403 Forbidden" in str(info.value)
    assert len(responses.calls) == 1


@responses.activate
def test_amocrm_403_json_and_402(client: HttpClient) -> None:
    responses.get(URL, status=403, json={"title": "Forbidden", "status": 403})
    with pytest.raises(AccessDeniedError, match="lacks rights"):
        client.get_json("api/v4/leads")
    responses.get(BASE + "api/v4/account", status=402, json={"title": "Payment Required"})
    with pytest.raises(AccessDeniedError, match="subscription has ended"):
        client.get_json("api/v4/account")


@responses.activate
def test_bitrix_503_query_limit_is_rate_limited_and_resent_even_for_post(
    sleeps: list[float],
) -> None:
    client = HttpClient(
        "https://portal.bitrix24.ru/rest/1/secretcode/",
        resolutions=BITRIX24_RESOLUTIONS,
        sleep=sleeps.append,
    )
    url = "https://portal.bitrix24.ru/rest/1/secretcode/crm.deal.add"
    responses.post(
        url,
        status=503,
        json={"error": "QUERY_LIMIT_EXCEEDED", "error_description": "Too many requests"},
    )
    responses.post(url, json={"result": 11})
    assert client.request("POST", "crm.deal.add", json={"fields": {}}).json == {"result": 11}
    assert len(responses.calls) == 2
    assert len(sleeps) == 1


@responses.activate
def test_empty_error_body_is_reported() -> None:
    client = HttpClient(BASE, sleep=lambda s: None, max_attempts=2)
    responses.get(URL, status=502, body="")
    with pytest.raises(TransientAPIError, match="<empty body>"):
        client.get_json("api/v4/leads")


@responses.activate
def test_html_on_200_is_not_silently_none(client: HttpClient) -> None:
    responses.get(URL, status=200, body="<html>maintenance</html>", content_type="text/html")
    with pytest.raises(FatalAPIError, match="not JSON"):
        client.get_json("api/v4/leads")


@responses.activate
def test_table_is_data_and_overridable() -> None:
    table = {**AMOCRM_RESOLUTIONS, 418: Rule(Resolution.RETRY), 409: Resolution.EMPTY}
    client = HttpClient(BASE, resolutions=table, sleep=lambda s: None)
    responses.get(URL, status=418, body="teapot")
    responses.get(URL, status=409, body="")
    assert client.get_json("api/v4/leads") is None
    assert len(responses.calls) == 2


@responses.activate
def test_every_attempt_takes_a_rate_limit_slot() -> None:
    now = [1000.0]
    limiter = MemoryRateLimiter(
        7, clock=lambda: now[0], sleep=lambda s: now.__setitem__(0, now[0] + s)
    )
    auth = FakeAuth()
    client = HttpClient(BASE, auth=auth, limiter=limiter, sleep=lambda s: None)
    responses.get(URL, status=503, body="")
    responses.get(URL, status=401, body="")
    responses.get(URL, json={})
    client.get_json("api/v4/leads")
    assert len(responses.calls) == 3
    assert limiter.reserve() == pytest.approx(1000.0 + 3 / 7)  # three slots were taken


@responses.activate
def test_logs_name_the_path_but_no_secrets(caplog: pytest.LogCaptureFixture) -> None:
    client = HttpClient(
        "https://portal.bitrix24.ru/rest/1/webhooksecret/", auth=FakeAuth(), sleep=lambda s: None
    )
    url = "https://portal.bitrix24.ru/rest/1/webhooksecret/crm.deal.list"
    responses.get(url, status=500, body="")
    responses.get(url, status=401, body="")
    responses.get(url, json={})
    with caplog.at_level(logging.DEBUG, logger="ropilot.connectors.http"):
        client.get_json("crm.deal.list", {"auth": "querysecret"})
    text = caplog.text
    assert "crm.deal.list" in text and "retrying" in text
    assert "webhooksecret" not in text and "querysecret" not in text and "Bearer" not in text


def test_parse_retry_after() -> None:
    assert parse_retry_after("12") == 12.0
    assert parse_retry_after(None) is None
    assert parse_retry_after("soon") is None
    now = datetime(2026, 1, 1, tzinfo=UTC)
    when = format_datetime(now + timedelta(seconds=30), usegmt=True)
    assert parse_retry_after(when, now=now.timestamp()) == pytest.approx(30.0)
    assert (
        parse_retry_after(
            format_datetime(now - timedelta(hours=1), usegmt=True), now=now.timestamp()
        )
        == 0.0
    )
