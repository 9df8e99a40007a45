"""OAuth2 tokens kept in the store, encrypted, and refreshed safely by concurrent workers.

amoCRM and Bitrix24 rotate refresh tokens: each refresh returns a new pair and the old refresh
token stops working at once, for every client. Two workers refreshing at the same time would
make one of them use a dead refresh token, and a worker that refreshed but did not persist the
new pair would lose the account's access for good. :class:`TokenManager` therefore refreshes
under a lock on the account's row (PostgreSQL ``SELECT … FOR UPDATE``; SQLite
``BEGIN IMMEDIATE``), re-reads the row under that lock, skips the refresh when another worker
already did it, and commits the new pair before anyone uses it.

Tokens are encrypted at rest with Fernet (AES-128-CBC + HMAC-SHA256); the key is derived from
the ``secret_key`` setting (``ROPILOT_SECRET_KEY``).
"""

from __future__ import annotations

import base64
import logging
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from cryptography.fernet import Fernet, InvalidToken
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from pydantic import SecretStr
from sqlalchemy import Connection, Engine, RowMapping, select, update

from ropilot.connectors.ratelimit import insert_if_missing, locked_transaction
from ropilot.core.errors import AuthenticationError, ConfigurationError
from ropilot.core.settings import Settings
from ropilot.core.store import Store
from ropilot.core.store.schema import oauth_tokens

__all__ = [
    "BearerAuth",
    "TokenCipher",
    "TokenManager",
    "TokenPair",
    "token_pair_from_oauth",
]

log = logging.getLogger(__name__)

_HKDF_INFO = b"ropilot/oauth-tokens/v1"


def _utcnow() -> datetime:
    return datetime.now(UTC)


@dataclass(frozen=True)
class TokenPair:
    """An access token and what is needed to renew it. Tokens never appear in ``repr``.

    Attributes:
        access_token: the bearer token.
        refresh_token: the single-use refresh token; None for long-lived tokens.
        expires_at: when the access token expires (aware UTC), None if it does not.
        long_lived: a token issued for a long period without a refresh token (amoCRM
            "долгосрочный токен"); it is used as is and replaced by hand.
    """

    access_token: str = field(repr=False)
    refresh_token: str | None = field(repr=False)
    expires_at: datetime | None
    long_lived: bool = False

    def expires_within(self, margin: timedelta, now: datetime) -> bool:
        """Whether the access token is expired or expires within ``margin`` of ``now``."""
        return self.expires_at is not None and self.expires_at - margin <= now


def token_pair_from_oauth(body: Mapping[str, Any], *, now: datetime | None = None) -> TokenPair:
    """Build a :class:`TokenPair` from an OAuth2 token endpoint answer (amoCRM, Bitrix24).

    Args:
        body: the decoded JSON with ``access_token``, ``refresh_token`` and ``expires_in``.
        now: when the answer was received (defaults to now).

    Raises:
        AuthenticationError: when the body has no access token.
    """
    access = body.get("access_token")
    if not isinstance(access, str) or not access:
        raise AuthenticationError("the token endpoint answered without an access_token")
    refresh = body.get("refresh_token")
    expires_in = body.get("expires_in")
    received = now or _utcnow()
    expires_at = (
        received + timedelta(seconds=float(expires_in)) if expires_in not in (None, "") else None
    )
    return TokenPair(
        access_token=access,
        refresh_token=refresh if isinstance(refresh, str) and refresh else None,
        expires_at=expires_at,
    )


class TokenCipher:
    """Encrypts tokens for the store with a key derived from the ``secret_key`` setting.

    Args:
        secret: the secret key (any string; a random one of 32+ characters is best).

    Raises:
        ConfigurationError: when no secret is given.
    """

    def __init__(self, secret: str | SecretStr | None) -> None:
        raw = secret.get_secret_value() if isinstance(secret, SecretStr) else secret
        if not raw:
            raise ConfigurationError(
                "CRM tokens are stored encrypted and no secret key is configured: set "
                "ROPILOT_SECRET_KEY (or secret_key in ropilot.toml) to a long random string, "
                'e.g. python -c "import secrets; print(secrets.token_urlsafe(32))", and keep '
                "it: tokens stored with one key cannot be read with another"
            )
        derived = HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=_HKDF_INFO).derive(
            raw.encode("utf-8")
        )
        self._fernet = Fernet(base64.urlsafe_b64encode(derived))

    @classmethod
    def from_settings(cls, settings: Settings) -> TokenCipher:
        """The cipher for the configured ``secret_key``."""
        return cls(settings.secret_key)

    def encrypt(self, value: str) -> str:
        """Encrypt a token; the result is ASCII text."""
        return self._fernet.encrypt(value.encode("utf-8")).decode("ascii")

    def decrypt(self, value: str) -> str:
        """Decrypt a token.

        Raises:
            ConfigurationError: when it was encrypted with another key or is corrupted.
        """
        try:
            return self._fernet.decrypt(value.encode("ascii")).decode("utf-8")
        except (InvalidToken, ValueError) as exc:
            raise ConfigurationError(
                "the stored CRM tokens cannot be decrypted with the configured "
                "ROPILOT_SECRET_KEY: restore the key they were saved with, or authorise the "
                "account again"
            ) from exc


_THREAD_LOCKS: dict[tuple[str, str], threading.Lock] = {}
_THREAD_LOCKS_GUARD = threading.Lock()


def _thread_lock(engine: Engine, account_id: str) -> threading.Lock:
    ident = (engine.url.render_as_string(hide_password=True), account_id)
    with _THREAD_LOCKS_GUARD:
        return _THREAD_LOCKS.setdefault(ident, threading.Lock())


class TokenManager:
    """The OAuth2 tokens of one account: stored encrypted, refreshed once per expiry.

    Args:
        store: the store (or its engine) holding the ``oauth_tokens`` table.
        account_id: the account.
        key: the cipher, or the secret key to derive one from.
        refresher: exchanges a refresh token for a new pair (calls the CRM's token endpoint);
            raises :class:`AuthenticationError` when the CRM refuses the refresh token.
        margin: refresh this long before the access token expires.
        clock: the current aware UTC time (injectable for tests).
        connector: the connector's name, for the ``ropilot auth <connector>`` hint.
    """

    def __init__(
        self,
        store: Store | Engine,
        account_id: str,
        key: TokenCipher | str | SecretStr | None,
        refresher: Callable[[str], TokenPair],
        *,
        margin: timedelta = timedelta(minutes=5),
        clock: Callable[[], datetime] = _utcnow,
        connector: str = "amocrm",
    ) -> None:
        self.engine = store.engine if isinstance(store, Store) else store
        self.account_id = account_id
        self.cipher = key if isinstance(key, TokenCipher) else TokenCipher(key)
        self.refresher = refresher
        self.margin = margin
        self._clock = clock
        self.connector = connector
        self._lock = _thread_lock(self.engine, account_id)

    @property
    def reauth_hint(self) -> str:
        """The command that authorises the account again."""
        return f"ropilot auth {self.connector}"

    # -- storage --------------------------------------------------------------------------

    def _row(self, pair: TokenPair, version: int) -> dict[str, Any]:
        return {
            "account_id": self.account_id,
            "access_token_enc": self.cipher.encrypt(pair.access_token),
            "refresh_token_enc": (
                None if pair.refresh_token is None else self.cipher.encrypt(pair.refresh_token)
            ),
            "expires_at": pair.expires_at,
            "long_lived": pair.long_lived,
            "updated_at": self._clock(),
            "version": version,
        }

    def _decode(self, row: RowMapping) -> TokenPair:
        refresh_enc = row["refresh_token_enc"]
        return TokenPair(
            access_token=self.cipher.decrypt(row["access_token_enc"]),
            refresh_token=None if refresh_enc is None else self.cipher.decrypt(refresh_enc),
            expires_at=row["expires_at"],
            long_lived=bool(row["long_lived"]),
        )

    def _read(self, conn: Connection, *, lock: bool) -> tuple[TokenPair, int] | None:
        stmt = select(oauth_tokens).where(oauth_tokens.c.account_id == self.account_id)
        if lock:
            stmt = stmt.with_for_update()
        row = conn.execute(stmt).mappings().first()
        return None if row is None else (self._decode(row), int(row["version"]))

    def _write(self, conn: Connection, pair: TokenPair, version: int) -> None:
        conn.execute(
            update(oauth_tokens)
            .where(oauth_tokens.c.account_id == self.account_id)
            .values({k: v for k, v in self._row(pair, version).items() if k != "account_id"})
        )

    def save(self, pair: TokenPair) -> None:
        """Store a pair (after authorising the account), replacing what was stored."""
        with self._lock, locked_transaction(self.engine) as conn:
            insert_if_missing(conn, oauth_tokens, self._row(pair, 0))
            current = self._read(conn, lock=True)
            version = 0 if current is None else current[1]
            self._write(conn, pair, version + 1)

    def load(self) -> TokenPair | None:
        """The stored pair, or None if the account was never authorised."""
        with self.engine.connect() as conn:
            found = self._read(conn, lock=False)
        return None if found is None else found[0]

    def delete(self) -> None:
        """Forget the account's tokens."""
        with locked_transaction(self.engine) as conn:
            conn.execute(oauth_tokens.delete().where(oauth_tokens.c.account_id == self.account_id))

    # -- use ------------------------------------------------------------------------------

    def _missing(self) -> AuthenticationError:
        return AuthenticationError(
            f"no OAuth tokens are stored for account {self.account_id!r}: authorise it with "
            f"`{self.reauth_hint}`"
        )

    def _cannot_refresh(self, pair: TokenPair) -> AuthenticationError:
        when = (
            f"expired at {pair.expires_at:%Y-%m-%d %H:%M} UTC"
            if pair.expires_at is not None and pair.expires_at <= self._clock()
            else "was refused by the CRM (revoked?)"
        )
        return AuthenticationError(
            f"the long-lived token of account {self.account_id!r} {when} and cannot be "
            "refreshed: create a new one in the integration's settings (amoCRM: the "
            f"integration's «Ключи» tab) and store it with `{self.reauth_hint}`"
        )

    def access_token(self) -> str:
        """A valid access token, refreshed first when it expires within the margin.

        Raises:
            AuthenticationError: no tokens stored, a long-lived token expired, or the refresh
                token was refused.
        """
        pair = self.load()
        if pair is None:
            raise self._missing()
        now = self._clock()
        if not pair.expires_within(self.margin, now):
            return pair.access_token
        if pair.refresh_token is None:
            if pair.expires_within(timedelta(0), now):
                raise self._cannot_refresh(pair)
            return pair.access_token
        return self.refresh(pair.access_token).access_token

    def refresh(self, stale_access_token: str) -> TokenPair:
        """Replace the pair whose access token is ``stale_access_token``; once per expiry.

        Under the account's row lock the stored pair is read again. If its access token is not
        the stale one (another worker refreshed meanwhile) and is not expiring, it is returned
        without calling the CRM. Otherwise the refresher is called and the new pair is
        committed before it is returned.

        Args:
            stale_access_token: the token that expired or was answered with 401.

        Returns:
            The current pair.

        Raises:
            AuthenticationError: no tokens, a long-lived token, or the CRM refused the refresh
                token (it must be re-authorised with ``ropilot auth <connector>``).
        """
        with self._lock, locked_transaction(self.engine) as conn:
            found = self._read(conn, lock=True)
            if found is None:
                raise self._missing()
            current, version = found
            if current.access_token != stale_access_token and not current.expires_within(
                self.margin, self._clock()
            ):
                log.info(
                    "account %s: tokens were already refreshed by another worker", self.account_id
                )
                return current
            if current.refresh_token is None:
                raise self._cannot_refresh(current)
            try:
                fresh = self.refresher(current.refresh_token)
            except AuthenticationError as exc:
                raise AuthenticationError(
                    f"the CRM refused the refresh token of account {self.account_id!r} ({exc}); "
                    "it was revoked, expired or already used, so the account must be "
                    f"re-authorised with `{self.reauth_hint}`"
                ) from exc
            if fresh.refresh_token is None and not fresh.long_lived:
                log.warning(
                    "account %s: the token endpoint returned no refresh token", self.account_id
                )
            self._write(conn, fresh, version + 1)
        # The transaction has committed here: the rotated refresh token is safe.
        log.info("account %s: tokens refreshed (version %d)", self.account_id, version + 1)
        return fresh


class BearerAuth:
    """The :class:`~ropilot.connectors.http.Authenticator` for OAuth2 bearer tokens.

    Args:
        manager: the account's token manager.
    """

    def __init__(self, manager: TokenManager) -> None:
        self.manager = manager
        self._last: str | None = None

    def headers(self) -> dict[str, str]:
        """``Authorization: Bearer <access token>``, refreshed when about to expire."""
        token = self.manager.access_token()
        self._last = token
        return {"Authorization": f"Bearer {token}"}

    def refresh(self) -> None:
        """Refresh after a 401 (once per expiry across all workers)."""
        stale = self._last if self._last is not None else self.manager.access_token()
        self._last = self.manager.refresh(stale).access_token
