"""Build a ready amoCRM connector from an account's settings."""

from __future__ import annotations

from pydantic import SecretStr

from ropilot.connectors.amocrm import oauth
from ropilot.connectors.amocrm.connector import AmoCRMConfig, AmoCRMConnector
from ropilot.connectors.http import AMOCRM_RESOLUTIONS, HttpClient
from ropilot.connectors.ratelimit import StoreRateLimiter
from ropilot.connectors.tokens import BearerAuth, TokenManager
from ropilot.core.errors import AuthenticationError, ConfigurationError
from ropilot.core.settings import AccountSettings
from ropilot.core.store import Store

DEFAULT_RATE = 7.0


class StaticBearer:
    """A long-lived token (amoCRM "долгосрочный токен"): sent as is, never refreshed."""

    def __init__(self, token: str, account_id: str) -> None:
        self._token = token
        self.account_id = account_id

    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self._token}"}

    def refresh(self) -> None:
        raise AuthenticationError(
            f"amoCRM refused the long-lived token of account {self.account_id} (expired or "
            "revoked); issue a new one in the integration's «Ключи» tab and put it in "
            "credentials.long_lived_token"
        )


def _secret(value: SecretStr | None) -> str | None:
    return None if value is None else value.get_secret_value()


def config_from_settings(account: AccountSettings) -> AmoCRMConfig:
    """The connector config of a configured account."""
    if not account.base_url:
        raise ConfigurationError(
            f"account {account.id}: base_url is required (https://SUBDOMAIN.amocrm.ru or "
            "https://SUBDOMAIN.kommo.com)"
        )
    creds = account.credentials
    return AmoCRMConfig(
        account_id=account.id,
        base_url=account.base_url,
        client_id=_secret(creds.get("client_id")),
        client_secret=creds.get("client_secret"),
        redirect_uri=_secret(creds.get("redirect_uri")),
        long_lived_token=creds.get("long_lived_token"),
        webhook_token=creds.get("webhook_token"),
        timezone=account.timezone,
        currency=account.currency,
    )


def build_amocrm(
    account: AccountSettings,
    store: Store,
    secret_key: SecretStr | str | None,
    *,
    rate: float = DEFAULT_RATE,
) -> AmoCRMConnector:
    """An amoCRM connector with retries, the shared rate limit and token refresh wired in."""
    config = config_from_settings(account)
    auth: StaticBearer | BearerAuth
    if config.long_lived_token is not None:
        auth = StaticBearer(config.long_lived_token.get_secret_value(), account.id)
    else:
        manager = TokenManager(
            store,
            account.id,
            secret_key,
            oauth.refresher(config.base_url, account.credentials, account_id=account.id),
            connector="amocrm",
        )
        auth = BearerAuth(manager)
    limiter = StoreRateLimiter(store, f"amocrm:{account.id}", rate)
    client = HttpClient(
        config.base_url.rstrip("/") + "/",
        auth=auth,
        limiter=limiter,
        resolutions=AMOCRM_RESOLUTIONS,
    )
    return AmoCRMConnector(config, client).attach_store(store)
