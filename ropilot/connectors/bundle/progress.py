"""What bundle import and export report to a progress bar."""

from __future__ import annotations

from typing import Protocol


class Progress(Protocol):
    """A progress sink (the CLI adapts a rich progress bar to it)."""

    def start(self, total: int) -> None:
        """The total work units: bytes of CSV or rows of XLSX on import, rows on export."""

    def advance(self, units: int, table: str) -> None:
        """Units done since the last call, and the table being worked on."""


class NoProgress:
    """A progress sink that shows nothing."""

    def start(self, total: int) -> None:
        pass

    def advance(self, units: int, table: str) -> None:
        pass
