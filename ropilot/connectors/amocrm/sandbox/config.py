"""The sandbox's switches. Every field may be changed while the sandbox runs."""

from __future__ import annotations

from dataclasses import dataclass, fields
from typing import Any

DEFAULT_REDIRECT_URI = "https://ropilot.local/oauth/amocrm/callback"


@dataclass
class SandboxConfig:
    """Switches of an amoCRM sandbox (crm_apis.md D1).

    Attributes:
        subdomain: the account subdomain (default: the bundle's account id when it is a valid
            host label, else ``ropilot-sandbox``).
        client_id: the integration id (default: a random UUID).
        client_secret: the integration secret (default: random).
        redirect_uri: the integration's redirect URI; token requests must repeat it exactly.
        access_ttl: access token lifetime in seconds (``expires_in``).
        refresh_ttl: a refresh token unused this long is dead (90 days).
        code_ttl: authorization code lifetime (20 minutes).
        long_lived_ttl: lifetime of the long-lived token (5 years).
        old_access_valid_until_exp: after a refresh, the previous access token keeps working
            until its ``exp`` (True) or dies at once (False).
        integration_deactivated: every API call and refresh answers 401.
        rate_limit: requests per second per integration (0 = no rate limiting at all).
        account_rate_limit: requests per second per account (0 = no account cap).
        retry_after: a ``Retry-After`` value on 429 answers (None = no header, as amoCRM).
        block_after: this many 429s within ``block_window`` seconds block the account: every
            request then gets 403 with an nginx page until ``state.unblock()`` (0 = never).
        block_window: the strike window in seconds.
        payment_required: every API call answers 402 (subscription ended).
        latency: seconds every request waits before it is handled.
        write_batch_limit: most entities per write request; more → 400.
        enforce_required_statuses: reject moving a lead into a status for which a field with
            ``required_statuses`` is empty (400 validation error).
        alpha_filters_disabled: ignore ``filter[...]`` on leads, contacts and companies (the
            paid "API filtering" add-on is off).
        api_domain: the ``api_domain`` claim of access tokens (default: the request's host).
        webhook_timeout: seconds an outbound webhook may take before it counts as failed.
        webhook_batch_window: seconds outbound webhook events are gathered into one POST.
    """

    subdomain: str | None = None
    client_id: str | None = None
    client_secret: str | None = None
    redirect_uri: str = DEFAULT_REDIRECT_URI
    access_ttl: int = 86_400
    refresh_ttl: int = 90 * 86_400
    code_ttl: int = 20 * 60
    long_lived_ttl: int = 5 * 365 * 86_400
    old_access_valid_until_exp: bool = True
    integration_deactivated: bool = False
    rate_limit: float = 7.0
    account_rate_limit: float = 50.0
    retry_after: int | None = None
    block_after: int = 10
    block_window: float = 60.0
    payment_required: bool = False
    latency: float = 0.0
    write_batch_limit: int = 250
    enforce_required_statuses: bool = False
    alpha_filters_disabled: bool = False
    api_domain: str | None = None
    webhook_timeout: float = 2.0
    webhook_batch_window: float = 0.0

    @classmethod
    def from_switches(cls, **switches: Any) -> SandboxConfig:
        """A config from keyword switches; unknown names raise ``TypeError``."""
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(switches) - known)
        if unknown:
            raise TypeError(f"unknown sandbox switch(es): {', '.join(unknown)}")
        return cls(**switches)
