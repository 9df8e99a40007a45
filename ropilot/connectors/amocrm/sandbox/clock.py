"""The sandbox's clock: real time by default, movable and freezable for tests."""

from __future__ import annotations

import threading
import time


class SandboxClock:
    """Unix time that tests can move forward (token expiry, rate buckets, timestamps).

    By default it follows real time. :meth:`advance` moves it forward by an offset (real time
    keeps running), :meth:`freeze` stops it at a moment (then only :meth:`advance` moves it).
    """

    def __init__(self, *, frozen_at: float | None = None) -> None:
        self._lock = threading.Lock()
        self._offset = 0.0
        self._frozen: float | None = frozen_at

    def now(self) -> float:
        """The current time as float Unix seconds."""
        with self._lock:
            if self._frozen is not None:
                return self._frozen
            return time.time() + self._offset

    def time(self) -> int:
        """The current time as whole Unix seconds."""
        return int(self.now())

    def advance(self, seconds: float) -> None:
        """Move the clock forward (or back, with a negative number)."""
        with self._lock:
            if self._frozen is not None:
                self._frozen += seconds
            else:
                self._offset += seconds

    def freeze(self, at: float | None = None) -> None:
        """Stop the clock at ``at`` (default: now); :meth:`advance` still moves it."""
        current = self.now() if at is None else float(at)
        with self._lock:
            self._frozen = current

    def unfreeze(self) -> None:
        """Let the clock run again from where it stands."""
        with self._lock:
            if self._frozen is not None:
                self._offset = self._frozen - time.time()
                self._frozen = None

    @property
    def frozen(self) -> bool:
        """Whether the clock stands still."""
        return self._frozen is not None
