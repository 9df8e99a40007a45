"""OAuth: code exchange, strict refresh rotation, JWT claims, 401 bodies, switches."""

from __future__ import annotations

import base64
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import requests
from flask.testing import FlaskClient

from ropilot.connectors.amocrm.sandbox import SandboxServer, SandboxState, create_app

FIXTURES = Path("/work/shared/reference/fixtures/amocrm")
REVOKED = {
    "hint": "Token has been revoked",
    "title": "Некорректный запрос",
    "type": "https://developers.amocrm.ru/v3/errors/OAuthProblemJson",
    "status": 401,
    "detail": "В запросе отсутствует ряд параметров или параметры невалидны",
}
INVALID_CLIENT = {
    "title": "Некорректный клиент",
    "type": "https://developers.amocrm.ru/v3/errors/OAuthProblemJson",
    "status": 401,
    "detail": "Авторизация клиента не прошла",
}
UNAUTHORIZED = {
    "title": "Unauthorized",
    "type": "https://httpstatus.es/401",
    "status": 401,
    "detail": "Неверный логин или пароль",
}


def _claims(token: str) -> dict[str, Any]:
    part = token.split(".")[1]
    return dict(json.loads(base64.urlsafe_b64decode(part + "=" * (-len(part) % 4))))


def _grant(state: SandboxState, **extra: Any) -> dict[str, Any]:
    s = state.auth.settings
    return {
        "client_id": s.client_id,
        "client_secret": s.client_secret,
        "redirect_uri": s.redirect_uri,
        **extra,
    }


def test_code_exchange_and_strict_rotation_over_http(
    server: SandboxServer, state: SandboxState
) -> None:
    url = f"{server.base_url}/oauth2/access_token"
    r = requests.post(
        url,
        json=_grant(
            state, grant_type="authorization_code", code=server.credentials.authorization_code
        ),
        timeout=5,
    )
    assert r.status_code == 200 and r.headers["Content-Type"] == "application/json"
    pair = r.json()
    assert set(pair) == {"token_type", "expires_in", "server_time", "access_token", "refresh_token"}
    assert pair["token_type"] == "Bearer" and pair["expires_in"] == 86400
    claims = _claims(pair["access_token"])
    assert claims["exp"] == claims["iat"] + 86400
    assert claims["api_domain"] == f"127.0.0.1:{server.port}"
    api = requests.get(
        f"{server.base_url}/api/v4/account",
        headers={"Authorization": f"Bearer {pair['access_token']}"},
        timeout=5,
    )
    assert api.status_code == 200
    # the code is single-use
    again = requests.post(
        url,
        json=_grant(
            state, grant_type="authorization_code", code=server.credentials.authorization_code
        ),
        timeout=5,
    )
    assert again.status_code == 400
    # refresh: new pair, the old refresh token dies at once
    r2 = requests.post(
        url,
        json=_grant(state, grant_type="refresh_token", refresh_token=pair["refresh_token"]),
        timeout=5,
    )
    assert r2.status_code == 200
    assert r2.json()["refresh_token"] != pair["refresh_token"]
    reuse = requests.post(
        url,
        json=_grant(state, grant_type="refresh_token", refresh_token=pair["refresh_token"]),
        timeout=5,
    )
    assert reuse.status_code == 401
    assert reuse.json() == REVOKED
    assert list(reuse.json()) == list(REVOKED)
    assert reuse.json() == json.loads(
        (FIXTURES / "error_401_oauth_refresh_token_revoked.json").read_text()
    )
    # the account-subdomain helper takes a live refresh token only
    sub = requests.get(
        f"{server.base_url}/oauth2/account/current/subdomain",
        headers={"X-Refresh-Token": r2.json()["refresh_token"]},
        timeout=5,
    )
    assert sub.status_code == 200
    assert sub.json() == {
        "id": state.account["id"],
        "subdomain": state.subdomain,
        "domain": f"{state.subdomain}.amocrm.ru",
        "top_level_domain": "ru",
    }
    dead = requests.get(
        f"{server.base_url}/oauth2/account/current/subdomain",
        headers={"X-Refresh-Token": pair["refresh_token"]},
        timeout=5,
    )
    assert dead.status_code == 401


def test_wrong_client_and_bad_fields(client: FlaskClient, state: SandboxState) -> None:
    code = state.authorization_code
    r = client.post(
        "/oauth2/access_token",
        json=_grant(state, grant_type="authorization_code", code=code, client_secret="x"),
    )
    assert r.status_code == 401 and r.get_json() == INVALID_CLIENT
    r = client.post(
        "/oauth2/access_token",
        json=_grant(state, grant_type="authorization_code", code=code, client_id="nope"),
    )
    assert r.status_code == 401 and r.get_json() == INVALID_CLIENT
    r = client.post(
        "/oauth2/access_token",
        json=_grant(
            state, grant_type="authorization_code", code=code, redirect_uri="https://other"
        ),
    )
    assert r.status_code == 400
    r = client.post("/oauth2/access_token", json=_grant(state, grant_type="password"))
    assert r.status_code == 400
    r = client.post("/oauth2/access_token", json=_grant(state, grant_type="authorization_code"))
    assert r.status_code == 400
    r = client.post("/oauth2/access_token", data="not json", content_type="application/json")
    assert r.status_code == 400
    # the code survived the failed attempts
    r = client.post(
        "/oauth2/access_token", json=_grant(state, grant_type="authorization_code", code=code)
    )
    assert r.status_code == 200


def test_code_expires_after_20_minutes(client: FlaskClient, state: SandboxState) -> None:
    code = state.auth.issue_code()
    state.clock.advance(20 * 60 + 1)
    r = client.post(
        "/oauth2/access_token", json=_grant(state, grant_type="authorization_code", code=code)
    )
    assert r.status_code == 400


def test_access_token_expiry_and_401_body(fresh: Callable[..., SandboxState]) -> None:
    state = fresh(access_ttl=60)
    client = create_app(state).test_client()
    pair = client.post(
        "/oauth2/access_token",
        json=_grant(state, grant_type="authorization_code", code=state.authorization_code),
    ).get_json()
    assert pair["expires_in"] == 60
    h = {"Authorization": f"Bearer {pair['access_token']}"}
    assert client.get("/api/v4/leads?limit=1", headers=h).status_code == 200
    state.clock.advance(60)
    r = client.get("/api/v4/leads?limit=1", headers=h)
    assert r.status_code == 401
    assert r.headers["Content-Type"] == "application/problem+json"
    assert r.get_json(force=True) == UNAUTHORIZED
    for bad in (
        {},
        {"Authorization": "Bearer garbage"},
        {"Authorization": f"Basic {pair['access_token']}"},
    ):
        r = client.get("/api/v4/leads", headers=bad)
        assert r.status_code == 401 and r.get_json(force=True) == UNAUTHORIZED
    forged = pair["access_token"][:-2] + ("AA" if not pair["access_token"].endswith("AA") else "BB")
    assert (
        client.get("/api/v4/leads", headers={"Authorization": f"Bearer {forged}"}).status_code
        == 401
    )
    # a refresh still works within 90 days; the new token works
    r = client.post(
        "/oauth2/access_token",
        json=_grant(state, grant_type="refresh_token", refresh_token=pair["refresh_token"]),
    )
    h2 = {"Authorization": f"Bearer {r.get_json()['access_token']}"}
    assert client.get("/api/v4/leads?limit=1", headers=h2).status_code == 200


def test_old_access_token_switch(fresh: Callable[..., SandboxState]) -> None:
    for keep in (True, False):
        state = fresh(old_access_valid_until_exp=keep)
        client = create_app(state).test_client()
        pair = client.post(
            "/oauth2/access_token",
            json=_grant(state, grant_type="authorization_code", code=state.authorization_code),
        ).get_json()
        client.post(
            "/oauth2/access_token",
            json=_grant(state, grant_type="refresh_token", refresh_token=pair["refresh_token"]),
        )
        r = client.get(
            "/api/v4/account", headers={"Authorization": f"Bearer {pair['access_token']}"}
        )
        assert r.status_code == (200 if keep else 401)


def test_refresh_token_idle_90_days(client: FlaskClient, state: SandboxState) -> None:
    pair = state.auth.issue_pair()
    state.clock.advance(90 * 86400)
    r = client.post(
        "/oauth2/access_token",
        json=_grant(state, grant_type="refresh_token", refresh_token=pair.refresh_token),
    )
    assert r.status_code == 401 and r.get_json() == REVOKED


def test_long_lived_token_and_deactivation(
    client: FlaskClient, state: SandboxState, token: str
) -> None:
    claims = _claims(token)
    assert claims["exp"] - claims["iat"] == 5 * 365 * 86400
    assert (
        client.get("/api/v4/account", headers={"Authorization": f"Bearer {token}"}).status_code
        == 200
    )
    r = client.post(
        "/oauth2/access_token", json=_grant(state, grant_type="refresh_token", refresh_token=token)
    )
    assert r.status_code == 401
    pair = state.auth.issue_pair()
    state.deactivate_integration()
    assert (
        client.get("/api/v4/account", headers={"Authorization": f"Bearer {token}"}).status_code
        == 401
    )
    r = client.post(
        "/oauth2/access_token",
        json=_grant(state, grant_type="refresh_token", refresh_token=pair.refresh_token),
    )
    assert r.status_code == 401 and r.get_json() == REVOKED


def test_unknown_cloud_subdomain_is_401(
    client: FlaskClient, auth: dict[str, str], state: SandboxState
) -> None:
    r = client.get("/api/v4/account", headers={**auth, "Host": "other.amocrm.ru"})
    assert r.status_code == 401
    r = client.get("/api/v4/account", headers={**auth, "Host": f"{state.subdomain}.kommo.com"})
    assert r.status_code == 200
    assert (
        r.get_json(force=True)["_links"]["self"]["href"]
        == f"http://{state.subdomain}.kommo.com/api/v4/account"
    )
