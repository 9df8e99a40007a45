"""amoCRM OAuth 2.0: code exchange and refresh at ``POST /oauth2/access_token`` (JSON body).

Refresh tokens are single-use and rotate on every refresh; a reused or revoked one answers 401
``"hint": "Token has been revoked"`` (400 for other bad data), and the account must then be
authorised again.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import requests
from pydantic import SecretStr

from ropilot.connectors.tokens import TokenPair, token_pair_from_oauth
from ropilot.core.errors import AuthenticationError, ConfigurationError, TransientAPIError

TIMEOUT = (5.0, 20.0)


def _secret(value: SecretStr | str | None) -> str | None:
    return value.get_secret_value() if isinstance(value, SecretStr) else value


def token_request(base_url: str, payload: dict[str, Any], *, account_id: str) -> TokenPair:
    """POST the token endpoint and return the new pair.

    Raises:
        AuthenticationError: the code or refresh token was refused (revoked, reused, expired)
            or the client id/secret are wrong; the message says what to do.
        TransientAPIError: the endpoint could not be reached or answered 5xx.
    """
    url = base_url.rstrip("/") + "/oauth2/access_token"
    try:
        response = requests.post(url, json=payload, timeout=TIMEOUT)
    except requests.RequestException as exc:
        raise TransientAPIError(f"amoCRM token endpoint {url} unreachable: {exc}") from exc
    if response.status_code >= 500:
        raise TransientAPIError(f"amoCRM token endpoint answered {response.status_code}")
    try:
        body = response.json()
    except ValueError:
        body = {}
    if response.status_code != 200:
        hint = str(body.get("hint") or "")
        title = str(body.get("title") or response.reason)
        again = f"run `ropilot auth amocrm --account {account_id}` with a new authorization code"
        if "revoked" in hint.lower():
            raise AuthenticationError(
                f"amoCRM refused the refresh token for account {account_id} (Token has been "
                f"revoked: it was used already or expired); the account must be re-authorised: "
                f"{again}"
            )
        if title == "Некорректный клиент":
            raise AuthenticationError(
                f"amoCRM refused the client id or secret for account {account_id}: check "
                "client_id and client_secret in ropilot.toml"
            )
        raise AuthenticationError(
            f"amoCRM token endpoint answered {response.status_code} {title}: "
            f"{body.get('detail') or response.text[:200]}; {again}"
        )
    return token_pair_from_oauth(body)


def _client_fields(credentials: dict[str, SecretStr], account_id: str) -> dict[str, str]:
    fields = {}
    for key in ("client_id", "client_secret", "redirect_uri"):
        value = _secret(credentials.get(key))
        if not value:
            raise ConfigurationError(
                f"account {account_id}: credentials.{key} is needed for amoCRM OAuth "
                "(or set credentials.long_lived_token)"
            )
        fields[key] = value
    return fields


def exchange_code(
    base_url: str, credentials: dict[str, SecretStr], code: str, *, account_id: str
) -> TokenPair:
    """Exchange an authorization code (valid 20 minutes, single use) for a token pair."""
    payload = {
        **_client_fields(credentials, account_id),
        "grant_type": "authorization_code",
        "code": code,
    }
    return token_request(base_url, payload, account_id=account_id)


def refresher(
    base_url: str, credentials: dict[str, SecretStr], *, account_id: str
) -> Callable[[str], TokenPair]:
    """A function exchanging a refresh token for a new pair (for the token manager)."""
    fields = _client_fields(credentials, account_id)

    def refresh(refresh_token: str) -> TokenPair:
        payload = {**fields, "grant_type": "refresh_token", "refresh_token": refresh_token}
        return token_request(base_url, payload, account_id=account_id)

    return refresh
