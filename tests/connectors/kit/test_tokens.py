from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import responses
from pydantic import SecretStr
from sqlalchemy import select

from ropilot.connectors.http import HttpClient
from ropilot.connectors.tokens import (
    BearerAuth,
    TokenCipher,
    TokenManager,
    TokenPair,
    token_pair_from_oauth,
)
from ropilot.core.errors import AuthenticationError, ConfigurationError
from ropilot.core.settings import Settings
from ropilot.core.store import Store
from ropilot.core.store.schema import oauth_tokens

from .kit_workers import ACCOUNT, SECRET, StrictRotationServer

NOW = datetime(2026, 11, 24, 12, 0, tzinfo=UTC)


class Refresher:
    def __init__(self, *, fail: Exception | None = None) -> None:
        self.calls: list[str] = []
        self.fail = fail

    def __call__(self, refresh_token: str) -> TokenPair:
        self.calls.append(refresh_token)
        if self.fail is not None:
            raise self.fail
        n = len(self.calls)
        return TokenPair(f"access-{n}", f"refresh-{n}", NOW + timedelta(days=1))


def _manager(store: Store, refresher: Callable[[str], TokenPair], **kw: Any) -> TokenManager:
    kw.setdefault("clock", lambda: NOW)
    return TokenManager(store, ACCOUNT, SECRET, refresher, **kw)


def test_cipher_needs_a_key() -> None:
    with pytest.raises(ConfigurationError, match="ROPILOT_SECRET_KEY"):
        TokenCipher(None)
    with pytest.raises(ConfigurationError, match="ROPILOT_SECRET_KEY"):
        TokenCipher.from_settings(Settings())
    cipher = TokenCipher.from_settings(Settings(secret_key=SecretStr("k" * 40)))
    assert cipher.decrypt(cipher.encrypt("абв")) == "абв"


def test_tokens_are_encrypted_at_rest_and_need_the_same_key(store: Store) -> None:
    manager = _manager(store, Refresher())
    manager.save(TokenPair("plain-access", "plain-refresh", NOW + timedelta(hours=1)))
    with store.engine.connect() as conn:
        row = conn.execute(select(oauth_tokens)).mappings().one()
    assert "plain" not in row["access_token_enc"]
    assert "plain" not in (row["refresh_token_enc"] or "")
    assert row["version"] == 1
    other = TokenManager(store, ACCOUNT, "another key", Refresher())
    with pytest.raises(ConfigurationError, match="cannot be decrypted"):
        other.load()


def test_repr_never_shows_tokens() -> None:
    pair = TokenPair("secret-access", "secret-refresh", NOW)
    assert "secret" not in repr(pair)


def test_fresh_token_is_returned_without_refresh(store: Store) -> None:
    refresher = Refresher()
    manager = _manager(store, refresher)
    manager.save(TokenPair("a0", "r0", NOW + timedelta(hours=1)))
    assert manager.access_token() == "a0"
    assert refresher.calls == []


def test_token_within_margin_is_refreshed_and_persisted_first(store: Store) -> None:
    refresher = Refresher()
    manager = _manager(store, refresher, margin=timedelta(minutes=5))
    manager.save(TokenPair("a0", "r0", NOW + timedelta(minutes=4)))
    assert manager.access_token() == "access-1"
    assert refresher.calls == ["r0"]
    stored = manager.load()
    assert stored is not None
    assert (stored.access_token, stored.refresh_token) == ("access-1", "refresh-1")
    # A second object (another worker) sees the new pair and does not refresh.
    assert _manager(store, refresher).access_token() == "access-1"
    assert refresher.calls == ["r0"]


def test_refresh_with_a_stale_token_reuses_another_workers_refresh(store: Store) -> None:
    refresher = Refresher()
    manager = _manager(store, refresher)
    manager.save(TokenPair("a0", "r0", NOW + timedelta(hours=1)))
    first = manager.refresh("a0")
    assert first.access_token == "access-1"
    again = manager.refresh("a0")  # a worker that also got a 401 with a0
    assert again.access_token == "access-1"
    assert refresher.calls == ["r0"]


def test_revoked_refresh_token_asks_for_reauthorisation(store: Store) -> None:
    refresher = Refresher(fail=AuthenticationError("Token has been revoked"))
    manager = _manager(store, refresher)
    manager.save(TokenPair("a0", "r0", NOW - timedelta(minutes=1)))
    with pytest.raises(AuthenticationError, match="ropilot auth amocrm") as info:
        manager.access_token()
    assert "Token has been revoked" in str(info.value)
    stored = manager.load()
    assert stored is not None and stored.refresh_token == "r0"  # nothing overwritten


def test_no_tokens_stored(store: Store) -> None:
    with pytest.raises(AuthenticationError, match="authorise it with `ropilot auth bitrix24`"):
        _manager(store, Refresher(), connector="bitrix24").access_token()


def test_long_lived_token_is_used_as_is_and_its_expiry_is_clear(store: Store) -> None:
    refresher = Refresher()
    manager = _manager(store, refresher)
    manager.save(TokenPair("long", None, NOW + timedelta(minutes=1), long_lived=True))
    assert manager.access_token() == "long"  # inside the margin but not expired: still used
    with pytest.raises(AuthenticationError, match="long-lived token .* refused"):
        manager.refresh("long")  # a 401 with a long-lived token
    expired = _manager(store, refresher, clock=lambda: NOW + timedelta(minutes=2))
    with pytest.raises(AuthenticationError, match="expired at .* «Ключи»"):
        expired.access_token()
    assert refresher.calls == []


def test_token_pair_from_oauth_answer() -> None:
    body = {"token_type": "Bearer", "expires_in": 86400, "access_token": "x", "refresh_token": "y"}
    pair = token_pair_from_oauth(body, now=NOW)
    assert pair == TokenPair("x", "y", NOW + timedelta(days=1))
    with pytest.raises(AuthenticationError):
        token_pair_from_oauth({"error": "invalid_grant"})


@responses.activate
def test_bearer_auth_refreshes_once_on_401(store: Store) -> None:
    refresher = Refresher()
    manager = _manager(store, refresher)
    manager.save(TokenPair("a0", "r0", NOW + timedelta(hours=1)))
    url = "https://acc.amocrm.ru/api/v4/account"
    responses.get(url, status=401, json={"title": "Unauthorized", "status": 401})
    responses.get(url, json={"id": 1})
    client = HttpClient("https://acc.amocrm.ru/", auth=BearerAuth(manager), sleep=lambda s: None)
    assert client.get_json("api/v4/account") == {"id": 1}
    sent = [c.request.headers["Authorization"] for c in responses.calls]
    assert sent == ["Bearer a0", "Bearer access-1"]
    assert refresher.calls == ["r0"]


def test_three_processes_refresh_once_per_expiry(
    store: Store, store_url: str, tmp_path: Path, run_processes: Callable[..., list[Any]]
) -> None:
    server = StrictRotationServer(str(tmp_path / "authserver.db"))
    initial = server.setup(expires_at=datetime.now(UTC) - timedelta(minutes=1))  # expired
    TokenManager(store, ACCOUNT, SECRET, server.refresh).save(initial)

    results = run_processes("token_worker", 3, store_url, server.path)

    firsts = {r[0] for r in results}
    seconds = {r[2] for r in results}
    assert len(firsts) == 1 and len(seconds) == 1, results
    assert firsts != seconds and initial.access_token not in firsts
    assert all(r[1] and r[3] for r in results)  # every worker held a valid token each time
    used = server.refreshes()
    assert len(used) == 2, used  # one refresh per expiry, no reuse of a dead refresh token
    assert not any(u.startswith("REUSED") for u in used)
    stored = TokenManager(store, ACCOUNT, SECRET, server.refresh).load()
    assert stored is not None and server.is_valid(stored.access_token)
    with store.engine.connect() as conn:
        assert conn.execute(select(oauth_tokens.c.version)).scalar_one() == 3
