"""OAuth 2.0 of the sandbox: authorization codes, HS256 JWT access tokens, strict refresh
rotation and long-lived tokens, as amoCRM's token endpoint behaves (crm_apis.md A2, D1 3–8).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import secrets
import uuid
from dataclasses import dataclass, field
from typing import Any

from ropilot.connectors.amocrm.sandbox.clock import SandboxClock

OAUTH_PROBLEM = "https://developers.amocrm.ru/v3/errors/OAuthProblemJson"
_BAD_REQUEST_DETAIL = "В запросе отсутствует ряд параметров или параметры невалидны"


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def jwt_encode(claims: dict[str, Any], key: bytes) -> str:
    """An HS256 JSON Web Token."""
    header = _b64(json.dumps({"typ": "JWT", "alg": "HS256"}, separators=(",", ":")).encode())
    payload = _b64(json.dumps(claims, separators=(",", ":")).encode())
    signing = f"{header}.{payload}".encode("ascii")
    signature = _b64(hmac.new(key, signing, hashlib.sha256).digest())
    return f"{header}.{payload}.{signature}"


def jwt_decode(token: str, key: bytes) -> dict[str, Any] | None:
    """The claims of an HS256 token signed with ``key``; None if malformed or forged.

    Expiry is not checked here.
    """
    parts = token.split(".")
    if len(parts) != 3:
        return None
    try:
        header = json.loads(_unb64(parts[0]))
        if not isinstance(header, dict) or header.get("alg") != "HS256":
            return None
        expected = hmac.new(key, f"{parts[0]}.{parts[1]}".encode("ascii"), hashlib.sha256)
        if not hmac.compare_digest(_b64(expected.digest()), parts[2]):
            return None
        claims = json.loads(_unb64(parts[1]))
    except (ValueError, UnicodeDecodeError):
        return None
    return claims if isinstance(claims, dict) else None


def oauth_error(status: int, title: str, detail: str, hint: str | None = None) -> dict[str, Any]:
    """The OAuthProblemJson body amoCRM's token endpoint answers with."""
    body: dict[str, Any] = {}
    if hint is not None:
        body["hint"] = hint
    body.update({"title": title, "type": OAUTH_PROBLEM, "status": status, "detail": detail})
    return body


def revoked_refresh_body() -> dict[str, Any]:
    """HTTP 401 body for a refresh token used twice (verbatim from amoCRM)."""
    return oauth_error(401, "Некорректный запрос", _BAD_REQUEST_DETAIL, "Token has been revoked")


def invalid_client_body() -> dict[str, Any]:
    """HTTP 401 body for a wrong client_id or client_secret (verbatim from amoCRM)."""
    return oauth_error(401, "Некорректный клиент", "Авторизация клиента не прошла")


def bad_request_body(hint: str) -> dict[str, Any]:
    """HTTP 400 body for missing or invalid token request fields."""
    return oauth_error(400, "Некорректный запрос", _BAD_REQUEST_DETAIL, hint)


class OAuthError(Exception):
    """A token endpoint failure: HTTP status and OAuthProblemJson body."""

    def __init__(self, status: int, body: dict[str, Any]) -> None:
        super().__init__(body.get("hint") or body.get("title"))
        self.status = status
        self.body = body


@dataclass
class _Code:
    expires_at: float
    used: bool = False


@dataclass
class _Refresh:
    issued_at: float
    access_jti: str
    used: bool = False


@dataclass
class TokenPair:
    """What a successful token request returns."""

    access_token: str
    refresh_token: str
    expires_in: int
    server_time: int

    def as_json(self) -> dict[str, Any]:
        return {
            "token_type": "Bearer",
            "expires_in": self.expires_in,
            "server_time": self.server_time,
            "access_token": self.access_token,
            "refresh_token": self.refresh_token,
        }


@dataclass
class OAuthSettings:
    """The integration the sandbox knows and its token rules."""

    client_id: str
    client_secret: str
    redirect_uri: str
    account_id: int
    user_id: int
    access_ttl: int = 86_400
    refresh_ttl: int = 90 * 86_400
    code_ttl: int = 20 * 60
    long_lived_ttl: int = 5 * 365 * 86_400
    old_access_valid_until_exp: bool = True
    api_domain: str | None = None


@dataclass
class OAuthServer:
    """Issues and checks tokens; not thread-safe by itself (the state's lock guards it)."""

    settings: OAuthSettings
    clock: SandboxClock
    key: bytes = field(default_factory=lambda: secrets.token_bytes(32))
    deactivated: bool = False
    _codes: dict[str, _Code] = field(default_factory=dict)
    _refresh: dict[str, _Refresh] = field(default_factory=dict)
    _revoked_jti: set[str] = field(default_factory=set)
    _long_lived: set[str] = field(default_factory=set)

    # -- issuing ---------------------------------------------------------------------------
    def issue_code(self) -> str:
        """A fresh authorization code, valid 20 minutes and once."""
        code = "def50200" + secrets.token_hex(48)
        self._codes[code] = _Code(expires_at=self.clock.now() + self.settings.code_ttl)
        return code

    def _access(self, ttl: int, api_domain: str | None, grant: str) -> tuple[str, str]:
        now = self.clock.time()
        jti = uuid.uuid4().hex
        claims = {
            "aud": self.settings.client_id,
            "jti": jti,
            "iat": now,
            "nbf": now,
            "exp": now + ttl,
            "sub": str(self.settings.user_id),
            "grant_type": grant,
            "account_id": self.settings.account_id,
            "base_domain": "amocrm.ru",
            "version": 2,
            "scopes": ["crm", "notifications"],
            "api_domain": self.settings.api_domain or api_domain or "api-b.amocrm.ru",
            "hash_uuid": str(uuid.uuid4()),
        }
        return jwt_encode(claims, self.key), jti

    def _pair(self, api_domain: str | None) -> TokenPair:
        access, jti = self._access(self.settings.access_ttl, api_domain, "")
        refresh = "def50200" + secrets.token_hex(160)
        self._refresh[refresh] = _Refresh(issued_at=self.clock.now(), access_jti=jti)
        return TokenPair(access, refresh, self.settings.access_ttl, self.clock.time())

    def long_lived_token(self, api_domain: str | None = None) -> str:
        """A long-lived access token (a JWT with a far ``exp``, no refresh token)."""
        token, jti = self._access(self.settings.long_lived_ttl, api_domain, "long_lived")
        self._long_lived.add(jti)
        return token

    def issue_pair(self, api_domain: str | None = None) -> TokenPair:
        """A token pair as if a code had just been exchanged (for tests and the CLI)."""
        return self._pair(api_domain)

    # -- the token endpoint ----------------------------------------------------------------
    def token_request(self, body: Any, api_domain: str | None) -> TokenPair:
        """Handle ``POST /oauth2/access_token``; raises :class:`OAuthError`."""
        if not isinstance(body, dict):
            raise OAuthError(400, bad_request_body("The request body must be a JSON object"))
        grant = body.get("grant_type")
        if grant not in ("authorization_code", "refresh_token"):
            hint = "Check the `grant_type` parameter" if grant else "Missing grant_type"
            raise OAuthError(400, bad_request_body(hint))
        for name in ("client_id", "client_secret", "redirect_uri"):
            if not isinstance(body.get(name), str) or not body.get(name):
                raise OAuthError(400, bad_request_body(f"Check the `{name}` parameter"))
        if body["client_id"] != self.settings.client_id or not hmac.compare_digest(
            str(body["client_secret"]), self.settings.client_secret
        ):
            raise OAuthError(401, invalid_client_body())
        if body["redirect_uri"] != self.settings.redirect_uri:
            raise OAuthError(400, bad_request_body("Redirect URI mismatch"))
        if grant == "authorization_code":
            return self._exchange_code(body.get("code"), api_domain)
        return self._refresh_pair(body.get("refresh_token"), api_domain)

    def _exchange_code(self, code: Any, api_domain: str | None) -> TokenPair:
        if not isinstance(code, str) or not code:
            raise OAuthError(400, bad_request_body("Check the `code` parameter"))
        entry = self._codes.get(code)
        if entry is None:
            raise OAuthError(400, bad_request_body("Cannot decrypt the authorization code"))
        if entry.used or self.deactivated:
            raise OAuthError(400, bad_request_body("Authorization code has been revoked"))
        if self.clock.now() >= entry.expires_at:
            raise OAuthError(400, bad_request_body("Authorization code has expired"))
        entry.used = True
        return self._pair(api_domain)

    def _refresh_pair(self, token: Any, api_domain: str | None) -> TokenPair:
        if not isinstance(token, str) or not token:
            raise OAuthError(400, bad_request_body("Check the `refresh_token` parameter"))
        entry = self._refresh.get(token)
        if entry is None:
            raise OAuthError(
                401,
                oauth_error(
                    401,
                    "Некорректный запрос",
                    _BAD_REQUEST_DETAIL,
                    "Cannot decrypt the refresh token",
                ),
            )
        if (
            entry.used
            or self.deactivated
            or self.clock.now() >= entry.issued_at + self.settings.refresh_ttl
        ):
            raise OAuthError(401, revoked_refresh_body())
        entry.used = True
        if not self.settings.old_access_valid_until_exp:
            self._revoked_jti.add(entry.access_jti)
        return self._pair(api_domain)

    def refresh_token_valid(self, token: str) -> bool:
        """Whether a refresh token could still be exchanged."""
        entry = self._refresh.get(token)
        return (
            entry is not None
            and not entry.used
            and not self.deactivated
            and self.clock.now() < entry.issued_at + self.settings.refresh_ttl
        )

    # -- API access ------------------------------------------------------------------------
    def check_bearer(self, header: str | None) -> dict[str, Any] | None:
        """The claims of a valid ``Authorization: Bearer`` access token, else None."""
        if self.deactivated or not header:
            return None
        scheme, _, token = header.strip().partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            return None
        claims = jwt_decode(token.strip(), self.key)
        if claims is None or claims.get("aud") != self.settings.client_id:
            return None
        exp = claims.get("exp")
        if not isinstance(exp, int | float) or self.clock.now() >= exp:
            return None
        if claims.get("jti") in self._revoked_jti:
            return None
        return claims

    def revoke_all(self) -> None:
        """Revoke every token issued so far (an admin revoked the access)."""
        for entry in self._refresh.values():
            entry.used = True
            self._revoked_jti.add(entry.access_jti)
        self._revoked_jti.update(self._long_lived)
