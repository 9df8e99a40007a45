"""Built-in notifiers: the ``"log"`` notifier writes notifications to Python logging.

It is the notifier that always works (no service, no credentials), so a fresh installation
and the demo can show notifications; route the ``ropilot.notifications`` logger wherever your
logs go.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any

from ropilot.plugins.markers import hookimpl

__all__ = ["LEVELS", "LogNotifier", "ropilot_register_notifiers"]

LEVELS: Mapping[str, int] = {
    "debug": logging.DEBUG,
    "info": logging.INFO,
    "warning": logging.WARNING,
    "error": logging.ERROR,
    "critical": logging.CRITICAL,
}
"""The notification levels and the logging level each one is written with."""


class LogNotifier:
    """Write each notification as one record of a Python logger.

    The record's message is the notification text (prefixed with the recipient when there is
    one); ``recipient`` and ``data`` are attached to the record as the attributes
    ``ropilot_recipient`` and ``ropilot_data`` for structured log handlers.

    Attributes:
        name: the notifier's key in the configuration, ``"log"``.
        logger: the logger records go to (``ropilot.notifications`` by default).
    """

    name = "log"

    def __init__(self, logger_name: str = "ropilot.notifications") -> None:
        self.logger = logging.getLogger(logger_name)

    def notify(
        self,
        message: str,
        *,
        level: str = "info",
        recipient: str | None = None,
        data: Mapping[str, Any] | None = None,
    ) -> None:
        """Log one notification.

        Args:
            message: the text of the notification.
            level: ``"debug"``, ``"info"``, ``"warning"``, ``"error"`` or ``"critical"``.
            recipient: the manager id or address it is meant for, if any.
            data: structured detail (never secrets).

        Raises:
            ValueError: ``level`` is not one of the levels above.
        """
        try:
            log_level = LEVELS[level]
        except KeyError:
            raise ValueError(
                f"Unknown notification level {level!r}; use one of {', '.join(LEVELS)}."
            ) from None
        text = message if recipient is None else f"[to {recipient}] {message}"
        self.logger.log(
            log_level,
            "%s",
            text,
            extra={"ropilot_recipient": recipient, "ropilot_data": dict(data or {})},
        )

    def __repr__(self) -> str:
        return f"LogNotifier(logger={self.logger.name!r})"


@hookimpl
def ropilot_register_notifiers() -> list[Any]:
    """Register the ``"log"`` notifier.

    Returns:
        A list with one :class:`LogNotifier`.
    """
    return [LogNotifier()]
