"""One error tree for all of ropilot.

Every error a user can meet is a subclass of :class:`RopilotError` and its message says what
to do. Connector errors carry ``retriable`` so the HTTP layer and the workers can decide
without parsing messages; webhook errors carry the HTTP status the server answers with.
"""

from __future__ import annotations


class RopilotError(Exception):
    """Base of every error ropilot raises on purpose."""


class ConfigurationError(RopilotError):
    """The configuration (file, environment, command line) is wrong or incomplete."""


class PluginLoadError(RopilotError):
    """A plugin could not be loaded or registered; the message names its distribution."""


class StoreError(RopilotError):
    """The store (database) could not do what was asked."""


class BundleError(RopilotError):
    """An account bundle is invalid; ``errors`` lists each problem with file, line and column."""

    def __init__(self, message: str, errors: list[BundleIssue] | None = None) -> None:
        super().__init__(message)
        self.errors: list[BundleIssue] = errors or []


class BundleIssue:
    """One problem found in a bundle: where it is and what is wrong."""

    __slots__ = ("column", "file", "line", "reason")

    def __init__(self, file: str, line: int | None, column: str | None, reason: str) -> None:
        self.file = file
        self.line = line
        self.column = column
        self.reason = reason

    def __str__(self) -> str:
        where = self.file
        if self.line is not None:
            where += f" line {self.line}"
        if self.column:
            where += f", column {self.column}"
        return f"{where}: {self.reason}"

    def __repr__(self) -> str:
        return f"BundleIssue({self!s})"

    def __eq__(self, other: object) -> bool:
        return isinstance(other, BundleIssue) and str(self) == str(other)

    def __hash__(self) -> int:
        return hash(str(self))


class ConnectorError(RopilotError):
    """A connector could not talk to its CRM.

    Attributes:
        retriable: whether repeating the same call later may succeed.
    """

    retriable: bool = False

    def __init__(self, message: str, *, retriable: bool | None = None) -> None:
        super().__init__(message)
        if retriable is not None:
            self.retriable = retriable


class AuthenticationError(ConnectorError):
    """Credentials are missing, wrong, expired or revoked: re-authorise the account."""


class RateLimitedError(ConnectorError):
    """The CRM refused the call for exceeding its rate limit.

    Attributes:
        retry_after: seconds the CRM asked to wait, when it said.
    """

    retriable = True

    def __init__(self, message: str, *, retry_after: float | None = None) -> None:
        super().__init__(message)
        self.retry_after = retry_after


class TransientAPIError(ConnectorError):
    """A temporary failure (5xx, timeout, connection reset): retrying later may work."""

    retriable = True


class FatalAPIError(ConnectorError):
    """The CRM rejected the call in a way retrying cannot fix."""


class NotFoundError(ConnectorError):
    """The record or endpoint does not exist in the CRM."""


class WebhookError(RopilotError):
    """A webhook request was refused.

    Attributes:
        status: the HTTP status the server answers with.
    """

    status: int = 400


class VerificationError(WebhookError):
    """The webhook could not be verified as coming from the configured CRM account."""

    status = 401


class PayloadError(WebhookError):
    """The webhook body could not be decoded."""

    status = 400
