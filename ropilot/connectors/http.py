"""The HTTP client connectors talk to their CRM through.

:class:`HttpClient` wraps a :class:`requests.Session` and adds, in the style of the Meltano
Singer SDK and the Airbyte CDK:

* a **status → resolution table kept as data** (:data:`DEFAULT_RESOLUTIONS`, overridable per
  connector, e.g. :data:`AMOCRM_RESOLUTIONS`): what a status means is looked up, not coded;
* retries with exponential backoff and full jitter (``tenacity``) for 5xx, timeouts and
  connection errors, honouring ``Retry-After`` on 429 and 503;
* one token refresh and one retry on 401 through an :class:`Authenticator`;
* a client-side :class:`~ropilot.connectors.ratelimit.RateLimiter` asked before every send;
* safety for writes: a request that is not idempotent (POST and PATCH unless the caller says
  otherwise) is only resent when the server provably did not process it (the connection was
  never made, or the server refused it with 429/401);
* error bodies that are HTML or empty never break JSON decoding; a snippet of the body goes
  into the error message.

Errors are those of :mod:`ropilot.core.errors`, plus a few subclasses defined here.
Logs name the method and the path (never the query string, the base URL or any header), so
put secrets (Bitrix24 webhook codes) in ``base_url`` and tokens in the authenticator.
"""

from __future__ import annotations

import email.utils
import json as jsonlib
import logging
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC
from enum import Enum
from typing import Any, Protocol
from urllib.parse import urljoin, urlsplit

import requests
from tenacity import RetryCallState, Retrying, retry_if_exception_type, stop_after_attempt
from tenacity import wait_random_exponential as _wait_random_exponential
from urllib3.exceptions import ConnectTimeoutError, MaxRetryError, NewConnectionError

from ropilot.connectors.ratelimit import RateLimiter
from ropilot.core.errors import (
    AuthenticationError,
    ConnectorError,
    FatalAPIError,
    NotFoundError,
    RateLimitedError,
    TransientAPIError,
)

__all__ = [
    "AMOCRM_RESOLUTIONS",
    "BITRIX24_RESOLUTIONS",
    "DEFAULT_RESOLUTIONS",
    "IDEMPOTENT_METHODS",
    "AccessDeniedError",
    "Authenticator",
    "HTTPStatusError",
    "HttpClient",
    "HttpResponse",
    "Resolution",
    "ResolutionSpec",
    "Rule",
    "UncertainWriteError",
    "parse_retry_after",
    "resolve",
]

log = logging.getLogger(__name__)

IDEMPOTENT_METHODS = frozenset({"GET", "HEAD", "OPTIONS", "PUT", "DELETE", "TRACE"})
"""Methods resent after an ambiguous failure; POST and PATCH need ``idempotent=True``."""

SNIPPET_CHARS = 300


class Resolution(Enum):
    """What the client does with a response of a given status."""

    OK = "ok"
    """Success: return the response."""
    EMPTY = "empty"
    """Success without content (204): return it, ``json`` is None."""
    RETRY = "retry"
    """Temporary failure: back off (or honour ``Retry-After``) and try again."""
    RATE_LIMITED = "rate_limited"
    """The server refused the call for its rate: wait ``Retry-After`` (else back off), retry."""
    REFRESH_AND_RETRY = "refresh_and_retry"
    """Credentials expired: refresh them once and retry once; another 401 is fatal."""
    CONFIG_ERROR = "config_error"
    """The account cannot be used as configured (blocked, unpaid, no rights): fail, say why."""
    FAIL = "fail"
    """The request itself is wrong: fail (:class:`NotFoundError` for 404)."""


@dataclass(frozen=True)
class HttpResponse:
    """A response as the client returns it.

    Attributes:
        status: the HTTP status.
        headers: response headers (case-insensitive mapping).
        json: the decoded JSON body, or None when the body is empty or not JSON.
        text: the body as text.
        url: the URL that answered.
    """

    status: int
    headers: Mapping[str, str]
    json: Any | None
    text: str
    url: str = ""

    @property
    def is_html(self) -> bool:
        """Whether the body is an HTML page (a proxy's or a block page), not an API answer."""
        content_type = self.headers.get("Content-Type", "").lower()
        head = self.text.lstrip()[:100].lower()
        return "text/html" in content_type or head.startswith(("<!doctype html", "<html"))

    def snippet(self, limit: int = SNIPPET_CHARS) -> str:
        """The start of the body on one line, for error messages (``<empty body>`` if none)."""
        flat = " ".join(self.text.split())
        if not flat:
            return "<empty body>"
        return flat if len(flat) <= limit else flat[: limit - 1] + "…"


@dataclass(frozen=True)
class Rule:
    """A resolution with conditions on the body and an actionable message.

    A table entry may be a bare :class:`Resolution`, one :class:`Rule`, or a tuple of rules
    tried in order (the first that matches wins; a rule without conditions always matches).

    Attributes:
        resolution: what to do when the rule matches.
        message: what the user should do; it leads the error message.
        body_contains: match only when the body contains this text (case-insensitive).
        html_body: match only when the body is (True) or is not (False) an HTML page.
    """

    resolution: Resolution
    message: str | None = None
    body_contains: str | None = None
    html_body: bool | None = None

    def matches(self, response: HttpResponse) -> bool:
        """Whether the rule's conditions hold for ``response``."""
        if self.html_body is not None and response.is_html != self.html_body:
            return False
        return self.body_contains is None or self.body_contains.lower() in response.text.lower()


ResolutionSpec = Resolution | Rule | tuple[Rule, ...]
"""One entry of a resolution table."""

DEFAULT_RESOLUTIONS: Mapping[int, ResolutionSpec] = {
    200: Resolution.OK,
    201: Resolution.OK,
    202: Resolution.OK,
    204: Resolution.EMPTY,
    400: Resolution.FAIL,
    401: Resolution.REFRESH_AND_RETRY,
    402: Rule(
        Resolution.CONFIG_ERROR,
        "the CRM answered 402 Payment Required: the account's subscription has ended; "
        "renew it, then run again",
    ),
    403: Rule(
        Resolution.CONFIG_ERROR,
        "the CRM refused access (403): check that the authorised user has the rights and "
        "scopes the integration needs and that this server's IP is allowed",
    ),
    404: Resolution.FAIL,
    408: Resolution.RETRY,
    429: Resolution.RATE_LIMITED,
    500: Resolution.RETRY,
    502: Resolution.RETRY,
    503: Resolution.RETRY,
    504: Resolution.RETRY,
}
"""The generic table. Statuses not listed: 2xx OK, 5xx RETRY, anything else FAIL."""

AMOCRM_RESOLUTIONS: Mapping[int, ResolutionSpec] = {
    **DEFAULT_RESOLUTIONS,
    402: Rule(
        Resolution.CONFIG_ERROR,
        "amoCRM answered 402 Payment Required: the account's subscription has ended; renew "
        "it in amoCRM, then run again",
    ),
    403: (
        Rule(
            Resolution.CONFIG_ERROR,
            "amoCRM blocked this account's API (403 with an HTML page), which it does after "
            "repeated violations of its limit of 7 requests per second; only amoCRM support "
            "can unblock it: write to them with the server's IP address and the account's "
            "subdomain, and lower the connector's request rate before resuming",
            html_body=True,
        ),
        Rule(
            Resolution.CONFIG_ERROR,
            "amoCRM refused access (403): the authorised user lacks rights, or the account's "
            "IP allow-list does not include this server",
        ),
    ),
}
"""amoCRM / Kommo API v4 (reference A7): a 403 HTML page means the account is blocked."""

BITRIX24_RESOLUTIONS: Mapping[int, ResolutionSpec] = {
    **DEFAULT_RESOLUTIONS,
    402: Rule(
        Resolution.CONFIG_ERROR,
        "Bitrix24 answered 402 (PAYMENT_REQUIRED): the portal's subscription has ended; renew "
        "it, then run again",
    ),
    403: Rule(
        Resolution.CONFIG_ERROR,
        "Bitrix24 refused access (403): the REST API needs a commercial plan, or the "
        "application or webhook lacks the scope or the user the rights it needs",
    ),
    429: Resolution.RATE_LIMITED,
    500: (
        Rule(
            Resolution.CONFIG_ERROR,
            "Bitrix24 says the portal was deleted (PORTAL_DELETED); remove the account from "
            "the configuration",
            body_contains="PORTAL_DELETED",
        ),
        Rule(Resolution.RETRY),
    ),
    503: (
        Rule(Resolution.RATE_LIMITED, body_contains="QUERY_LIMIT_EXCEEDED"),
        Rule(
            Resolution.CONFIG_ERROR,
            "Bitrix24 blocked the portal's REST API for overload (OVERLOAD_LIMIT); only "
            "Bitrix24 support can lift it",
            body_contains="OVERLOAD_LIMIT",
        ),
        Rule(Resolution.RETRY),
    ),
}
"""Bitrix24 REST (reference B6/B7): 503 QUERY_LIMIT_EXCEEDED is its rate limit."""


def resolve(
    response: HttpResponse, table: Mapping[int, ResolutionSpec]
) -> tuple[Resolution, str | None]:
    """Look up what to do with a response.

    Args:
        response: the response.
        table: the resolution table.

    Returns:
        The resolution and the rule's message, if it has one.
    """
    spec = table.get(response.status)
    rules: tuple[Rule, ...]
    if spec is None:
        rules = ()
    elif isinstance(spec, Resolution):
        rules = (Rule(spec),)
    elif isinstance(spec, Rule):
        rules = (spec,)
    else:
        rules = spec
    for rule in rules:
        if rule.matches(response):
            return rule.resolution, rule.message
    if 200 <= response.status < 300:
        return Resolution.OK, None
    if response.status >= 500:
        return Resolution.RETRY, None
    return Resolution.FAIL, None


class Authenticator(Protocol):
    """Credentials for :class:`HttpClient` (see ``ropilot.connectors.tokens.BearerAuth``)."""

    def headers(self) -> dict[str, str]:
        """Headers to send with the next request (e.g. ``Authorization``)."""
        ...

    def refresh(self) -> None:
        """Get fresh credentials after a 401.

        Raises:
            AuthenticationError: when they cannot be refreshed (revoked, long-lived, …).
        """
        ...


class HTTPStatusError(FatalAPIError):
    """The CRM rejected the request with an HTTP status retrying cannot fix.

    Attributes:
        response: the response, with the decoded JSON error body (e.g. amoCRM's
            ``validation-errors``) in ``response.json``.
    """

    def __init__(self, message: str, response: HttpResponse) -> None:
        super().__init__(message)
        self.response = response

    @property
    def status(self) -> int:
        """The HTTP status."""
        return self.response.status


class AccessDeniedError(HTTPStatusError):
    """The CRM refuses the account: blocked, subscription ended, missing rights or IP."""


class UncertainWriteError(ConnectorError):
    """A write that is not idempotent failed after it may have reached the CRM.

    The client did not resend it, because a second copy could create a second task or note.
    Check the CRM (or resend with an idempotency key, e.g. amoCRM's ``request_id``, and
    ``idempotent=True``) before retrying.
    """

    retriable = False


class _Retry(Exception):
    """Internal: one attempt failed in a way another attempt may fix."""

    def __init__(self, reason: str, *, rate_limited: bool, wait: float | None) -> None:
        super().__init__(reason)
        self.reason = reason
        self.rate_limited = rate_limited
        self.wait = wait


@dataclass
class _Call:
    method: str
    url: str
    target: str
    params: Mapping[str, Any] | None
    json: Any
    data: Any
    headers: Mapping[str, str] | None
    idempotent: bool
    refreshed: bool = False
    attempts: int = 0

    def __str__(self) -> str:
        return f"{self.method} {self.target}"


def _loggable(path_or_url: str) -> str:
    """The path without query or fragment (and the host for absolute URLs): safe to log."""
    parts = urlsplit(path_or_url)
    if parts.scheme and parts.netloc:
        return f"{parts.netloc}{parts.path}"
    return parts.path or "/"


def parse_retry_after(value: str | None, now: float | None = None) -> float | None:
    """Seconds to wait from a ``Retry-After`` header (delta-seconds or an HTTP date).

    Args:
        value: the header value, if present.
        now: the current time in epoch seconds (defaults to ``time.time()``).

    Returns:
        Seconds, never negative, or None when the header is missing or unreadable.
    """
    if value is None or not value.strip():
        return None
    text = value.strip()
    try:
        return max(0.0, float(text))
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(text)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    current = time.time() if now is None else now
    return max(0.0, when.timestamp() - current)


def _connection_never_made(exc: requests.exceptions.RequestException) -> bool:
    """Whether the request provably never reached the server (no connection was made)."""
    if isinstance(exc, requests.exceptions.ConnectTimeout):
        return True
    if not isinstance(exc, requests.exceptions.ConnectionError):
        return False
    seen: set[int] = set()
    pending: list[BaseException | None] = [exc]
    while pending:
        current = pending.pop()
        if current is None or id(current) in seen:
            continue
        seen.add(id(current))
        if isinstance(current, NewConnectionError | ConnectTimeoutError):
            return True
        if isinstance(current, MaxRetryError):
            pending.append(current.reason)
        pending.extend(a for a in current.args if isinstance(a, BaseException))
        pending.append(current.__cause__)
        pending.append(current.__context__)
    return False


def _to_response(raw: requests.Response) -> HttpResponse:
    text = raw.text if raw.content else ""
    decoded: Any | None = None
    if text.strip():
        try:
            decoded = jsonlib.loads(text)
        except ValueError:
            decoded = None
    return HttpResponse(
        status=raw.status_code, headers=raw.headers, json=decoded, text=text, url=raw.url
    )


class HttpClient:
    """A :class:`requests.Session` with retries, rate limiting, token refresh and error mapping.

    Args:
        base_url: the API root; relative paths are joined to it (``urljoin`` rules, so end it
            with ``/`` when it has a path). Absolute URLs (pagination links) are used as given.
        auth: the credentials; None for APIs authenticated by the URL (Bitrix24 webhooks).
        limiter: asked for a slot before every send, retries included.
        resolutions: the status → resolution table.
        timeout: (connect, read) seconds.
        max_attempts: attempts per call, the first included.
        backoff: base of the exponential backoff in seconds (full jitter).
        max_backoff: cap of one backoff wait in seconds.
        max_retry_after: a ``Retry-After`` longer than this is not slept in process; the call
            raises :class:`RateLimitedError` with ``retry_after`` so a worker can reschedule.
        session: the session to use (a new one by default).
        sleep: how to wait between attempts (injectable for tests).
        headers: headers sent with every request.
    """

    def __init__(
        self,
        base_url: str,
        *,
        auth: Authenticator | None = None,
        limiter: RateLimiter | None = None,
        resolutions: Mapping[int, ResolutionSpec] = DEFAULT_RESOLUTIONS,
        timeout: tuple[float, float] = (5.0, 20.0),
        max_attempts: int = 5,
        backoff: float = 0.5,
        max_backoff: float = 30.0,
        max_retry_after: float = 120.0,
        session: requests.Session | None = None,
        sleep: Callable[[float], None] = time.sleep,
        headers: Mapping[str, str] | None = None,
    ) -> None:
        if max_attempts < 1:
            raise ValueError("max_attempts must be at least 1")
        self.base_url = base_url
        self.auth = auth
        self.limiter = limiter
        self.resolutions = resolutions
        self.timeout = timeout
        self.max_attempts = max_attempts
        self.max_retry_after = max_retry_after
        self.session = session or requests.Session()
        self._own_session = session is None
        self._sleep = sleep
        self._backoff = _wait_random_exponential(multiplier=backoff, max=max_backoff)
        self._headers = {"Accept": "application/json", "User-Agent": "ropilot"}
        self._headers.update(headers or {})

    def close(self) -> None:
        """Close the session if the client created it."""
        if self._own_session:
            self.session.close()

    def __enter__(self) -> HttpClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def url_for(self, path_or_url: str) -> str:
        """The absolute URL for a path relative to ``base_url``, or an absolute URL as is."""
        if urlsplit(path_or_url).scheme:
            return path_or_url
        return urljoin(self.base_url, path_or_url)

    # -- public calls ---------------------------------------------------------------------

    def request(
        self,
        method: str,
        path_or_url: str,
        *,
        params: Mapping[str, Any] | None = None,
        json: Any = None,
        data: Any = None,
        headers: Mapping[str, str] | None = None,
        idempotent: bool | None = None,
    ) -> HttpResponse:
        """Send a request, retrying and refreshing credentials as the table says.

        Args:
            method: the HTTP method.
            path_or_url: a path relative to ``base_url`` or an absolute URL.
            params: query parameters.
            json: a JSON body.
            data: a form or raw body.
            headers: extra headers for this request.
            idempotent: whether resending is harmless; by default true for GET, HEAD,
                OPTIONS, PUT and DELETE, false for POST and PATCH. Pass True for a write that
                carries an idempotency key or for a read sent as POST.

        Returns:
            The response (status OK or EMPTY in the table).

        Raises:
            TransientAPIError: the CRM kept failing temporarily for ``max_attempts`` attempts.
            RateLimitedError: still rate limited after ``max_attempts`` attempts, or asked to
                wait longer than ``max_retry_after``.
            AuthenticationError: 401 after one refresh, or the refresh failed.
            AccessDeniedError: the table says CONFIG_ERROR (blocked, unpaid, no rights).
            NotFoundError: 404.
            HTTPStatusError: any other failing status.
            UncertainWriteError: a non-idempotent write failed after it may have arrived.
        """
        verb = method.upper()
        call = _Call(
            method=verb,
            url=self.url_for(path_or_url),
            target=_loggable(path_or_url),
            params=params,
            json=json,
            data=data,
            headers=headers,
            idempotent=verb in IDEMPOTENT_METHODS if idempotent is None else idempotent,
        )
        retrying = Retrying(
            stop=stop_after_attempt(self.max_attempts),
            wait=self._wait,
            retry=retry_if_exception_type(_Retry),
            sleep=self._sleep,
            before_sleep=lambda state: self._log_retry(call, state),
            reraise=True,
        )
        try:
            return retrying(self._attempt, call)
        except _Retry as exc:
            detail = f"{call}: gave up after {call.attempts} attempt(s): {exc.reason}"
            if exc.rate_limited:
                raise RateLimitedError(
                    f"{detail}; the CRM keeps refusing for its rate limit, lower the request "
                    "rate or try again later",
                    retry_after=exc.wait,
                ) from exc
            raise TransientAPIError(f"{detail}; the CRM may be down, try again later") from exc

    def get_json(self, path: str, params: Mapping[str, Any] | None = None) -> Any | None:
        """GET and decode JSON; None for 204 No Content.

        Raises:
            FatalAPIError: a successful status with a body that is not JSON.
            ConnectorError: as :meth:`request`.
        """
        response = self.request("GET", path, params=params)
        if response.status == 204 or not response.text.strip():
            return None
        if response.json is None:
            raise FatalAPIError(
                f"GET {_loggable(path)}: HTTP {response.status} with a body that is not JSON: "
                f"{response.snippet()}"
            )
        return response.json

    # -- internals ------------------------------------------------------------------------

    def _wait(self, state: RetryCallState) -> float:
        exc = state.outcome.exception() if state.outcome is not None else None
        if isinstance(exc, _Retry) and exc.wait is not None:
            return exc.wait
        return float(self._backoff(state))

    def _log_retry(self, call: _Call, state: RetryCallState) -> None:
        exc = state.outcome.exception() if state.outcome is not None else None
        wait = state.next_action.sleep if state.next_action is not None else 0.0
        log.warning(
            "%s: %s; attempt %d of %d, retrying in %.2fs",
            call,
            exc,
            state.attempt_number,
            self.max_attempts,
            wait,
        )

    def _send(self, call: _Call) -> HttpResponse:
        if self.limiter is not None:
            self.limiter.acquire()
        headers = dict(self._headers)
        if self.auth is not None:
            headers.update(self.auth.headers())
        if call.headers:
            headers.update(call.headers)
        call.attempts += 1
        try:
            raw = self.session.request(
                call.method,
                call.url,
                params=call.params,
                json=call.json,
                data=call.data,
                headers=headers,
                timeout=self.timeout,
            )
        except requests.exceptions.RequestException as exc:
            kind = type(exc).__name__
            if _connection_never_made(exc):
                raise _Retry(f"could not connect ({kind})", rate_limited=False, wait=None) from exc
            if isinstance(exc, requests.exceptions.ConnectionError | requests.exceptions.Timeout):
                if call.idempotent:
                    raise _Retry(f"{kind}", rate_limited=False, wait=None) from exc
                raise UncertainWriteError(
                    f"{call}: {kind} after the request was sent; it may have been applied. "
                    f"Not resent because {call.method} is not idempotent: check the CRM, or "
                    "send it with an idempotency key and idempotent=True"
                ) from exc
            raise FatalAPIError(f"{call}: the request could not be sent ({kind})") from exc
        return _to_response(raw)

    def _attempt(self, call: _Call) -> HttpResponse:
        response = self._send(call)
        resolution, message = resolve(response, self.resolutions)
        if resolution is Resolution.REFRESH_AND_RETRY:
            if self.auth is None:
                raise AuthenticationError(
                    f"{call}: HTTP {response.status} and no credentials to refresh: "
                    f"{response.snippet()}; check the account's URL and credentials"
                )
            if call.refreshed:
                raise AuthenticationError(
                    f"{call}: HTTP {response.status} again after refreshing the credentials: "
                    f"{response.snippet()}; the access was revoked, re-authorise the account"
                )
            call.refreshed = True
            log.info("%s: HTTP %d, refreshing the credentials once", call, response.status)
            self.auth.refresh()
            response = self._send(call)
            resolution, message = resolve(response, self.resolutions)
            if resolution is Resolution.REFRESH_AND_RETRY:
                raise AuthenticationError(
                    f"{call}: HTTP {response.status} again after refreshing the credentials: "
                    f"{response.snippet()}; the access was revoked, re-authorise the account"
                )
        return self._finish(call, response, resolution, message)

    def _finish(
        self, call: _Call, response: HttpResponse, resolution: Resolution, message: str | None
    ) -> HttpResponse:
        status = response.status
        what = f"HTTP {status}: {response.snippet()}"
        if resolution is Resolution.OK:
            return response
        if resolution is Resolution.EMPTY:
            return HttpResponse(status, response.headers, None, response.text, response.url)
        retry_after = parse_retry_after(response.headers.get("Retry-After"))
        if resolution is Resolution.RATE_LIMITED:
            # The server refused the call: safe to resend even when not idempotent.
            if retry_after is not None and retry_after > self.max_retry_after:
                raise RateLimitedError(
                    f"{call}: rate limited, the CRM asks to wait {retry_after:.0f}s "
                    f"(more than {self.max_retry_after:.0f}s); try again later",
                    retry_after=retry_after,
                )
            raise _Retry(what, rate_limited=True, wait=retry_after)
        if resolution is Resolution.RETRY:
            if not call.idempotent:
                raise UncertainWriteError(
                    f"{call}: {what}. The write may have been applied; not resent because "
                    f"{call.method} is not idempotent: check the CRM, or send it with an "
                    "idempotency key and idempotent=True"
                )
            if retry_after is not None and retry_after > self.max_retry_after:
                retry_after = None
            raise _Retry(what, rate_limited=False, wait=retry_after)
        if resolution is Resolution.CONFIG_ERROR:
            lead = message or f"the CRM refuses this account (HTTP {status})"
            raise AccessDeniedError(f"{call}: {lead}. {what}", response)
        if status == 404:
            raise NotFoundError(f"{call}: not found. {what}")
        lead = f"{message}. " if message else ""
        raise HTTPStatusError(f"{call}: {lead}{what}", response)
