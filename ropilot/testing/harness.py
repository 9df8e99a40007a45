"""What the conformance suite drives: a :class:`Harness` around a connector and its test double.

A harness builds ready connectors against a CRM the test controls (a sandbox server, HTTP
mocked with ``responses``, an in-memory fake) and lets the suite act on that CRM: plan failing
answers, count requests, change a record, expire the access token, hand out webhook samples.

Everything a harness cannot do raises :class:`NotImplementedError` (the default of
:class:`HarnessBase`). The suite skips a check for that reason only when the connector does
not declare the capability the check exercises; otherwise the check fails, because a declared
capability must be exercised (see :data:`ropilot.testing.checks.HARNESS_NEEDS`).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Protocol, runtime_checkable

from ropilot.connectors.base import Connector

__all__ = ["FieldSample", "Harness", "HarnessBase", "WebhookSample"]


@dataclass(frozen=True)
class WebhookSample:
    """One webhook request as the CRM sends it to this account.

    Attributes:
        body: the raw body.
        content_type: its ``Content-Type``.
        token: the secret the request carries (URL token, signature header), as the
            connector's ``verify_webhook(token=…)`` receives it.
        tampered_bodies: bodies the CRM would never send for this account (another account
            id, a changed signed byte, …); each must be refused with ``VerificationError``.
            When empty, the suite changes one byte of ``body`` itself (right for signed bodies).
    """

    body: bytes
    content_type: str
    token: str | None
    tampered_bodies: tuple[bytes, ...] = ()


@dataclass(frozen=True)
class FieldSample:
    """A custom field value the ``update_field`` check may set (``Capability.UPDATE_FIELD``).

    Attributes:
        entity: the entity as ``update_field`` takes it (``deal``, ``contact``, ``company``).
        entity_id: the record's id.
        field_id: the field as ``update_field`` takes it.
        value: the value to set.
        stream: the stream to read the record back from (None: not read back).
        attribute: the core model attribute, else ``custom_fields`` key, that then holds
            ``value``.
    """

    entity: str
    entity_id: str
    field_id: str
    value: Any
    stream: str | None = None
    attribute: str | None = None


@runtime_checkable
class Harness(Protocol):
    """A connector under test and the test double of its CRM.

    Routes are ``"METHOD /path"`` strings with shell wildcards (``"GET /api/v4/leads"``,
    ``"* /api/v4/leads*"``) matched against the path without the query string.
    """

    def connector(self, *, good_credentials: bool = True) -> Connector:
        """A ready connector: authorised against the double, or with wrong credentials.

        Connectors built one after another share the account's stored state (tokens), as
        two processes of one deployment would: the second must work without a new login.
        """
        ...

    def route(self, stream: str) -> str:
        """The route of the listing ``read(stream)`` pages through (for faults and counts)."""
        ...

    def fault(
        self, route: str, statuses: Sequence[int], *, retry_after: float | None = None
    ) -> None:
        """Make the next requests on ``route`` answer these statuses, one each, then normally.

        ``retry_after`` (seconds) is sent as a ``Retry-After`` header with each of them.
        """
        ...

    def requests(self, route: str) -> int:
        """How many requests the double has received on ``route`` so far (retries included)."""
        ...

    def waits(self) -> list[float]:
        """Every wait (seconds) the connector asked for between attempts, in order.

        Harnesses inject a recording sleep into the connector's HTTP client, so retries are
        checked without sleeping (``HttpClient(sleep=…)``).
        """
        ...

    def touch(self, stream: str) -> str:
        """Change one record of ``stream`` in the CRM now (``updated_at`` = now); its id."""
        ...

    def expire_access_token(self) -> None:
        """Make the CRM refuse the current access token with 401 from now on."""
        ...

    def refreshes(self) -> int:
        """How many token refreshes the CRM has performed so far."""
        ...

    def webhook_samples(self) -> list[WebhookSample]:
        """Webhook requests the CRM sends this account (at least one with events)."""
        ...

    def repeat_pages(self, route: str) -> None:
        """Make every further request on ``route`` answer the same non-last page."""
        ...

    def field_sample(self) -> FieldSample:
        """A custom field the ``update_field`` check may set."""
        ...


class HarnessBase:
    """A :class:`Harness` whose every operation is unsupported; override what you can."""

    def connector(self, *, good_credentials: bool = True) -> Connector:
        raise NotImplementedError("connector")

    def route(self, stream: str) -> str:
        raise NotImplementedError("route")

    def fault(
        self, route: str, statuses: Sequence[int], *, retry_after: float | None = None
    ) -> None:
        raise NotImplementedError("fault")

    def requests(self, route: str) -> int:
        raise NotImplementedError("requests")

    def waits(self) -> list[float]:
        raise NotImplementedError("waits")

    def touch(self, stream: str) -> str:
        raise NotImplementedError("touch")

    def expire_access_token(self) -> None:
        raise NotImplementedError("expire_access_token")

    def refreshes(self) -> int:
        raise NotImplementedError("refreshes")

    def webhook_samples(self) -> list[WebhookSample]:
        raise NotImplementedError("webhook_samples")

    def repeat_pages(self, route: str) -> None:
        raise NotImplementedError("repeat_pages")

    def field_sample(self) -> FieldSample:
        raise NotImplementedError("field_sample")
