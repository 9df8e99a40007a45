"""Rate limiting, blocking and the fault plan (crm_apis.md A7, D1 18–20, D3)."""

from __future__ import annotations

import fnmatch
import threading
from collections import deque
from collections.abc import Iterable
from dataclasses import dataclass, field

from ropilot.connectors.amocrm.sandbox.clock import SandboxClock

TOO_MANY_BODY = (
    "<html>\r\n<head><title>429 Too Many Requests</title></head>\r\n<body>\r\n"
    "<center><h1>429 Too Many Requests</h1></center>\r\n<hr><center>nginx</center>\r\n"
    "</body>\r\n</html>\r\n"
)
"""What amoCRM answers above the rate: not JSON (the official library relies on it)."""

FORBIDDEN_BODY = (
    "<html>\r\n<head><title>403 Forbidden</title></head>\r\n<body>\r\n"
    "<center><h1>403 Forbidden</h1></center>\r\n<hr><center>nginx</center>\r\n"
    "</body>\r\n</html>\r\n"
)
"""The nginx page of a blocked account."""

_REASONS = {
    500: "Internal Server Error",
    502: "Bad Gateway",
    503: "Service Temporarily Unavailable",
    504: "Gateway Time-out",
}


def nginx_page(status: int) -> str:
    """An nginx-style HTML error page."""
    reason = _REASONS.get(status, "Error")
    return (
        f"<html>\r\n<head><title>{status} {reason}</title></head>\r\n<body>\r\n"
        f"<center><h1>{status} {reason}</h1></center>\r\n<hr><center>nginx</center>\r\n"
        "</body>\r\n</html>\r\n"
    )


class _Bucket:
    __slots__ = ("capacity", "stamp", "tokens")

    def __init__(self, capacity: float, now: float) -> None:
        self.capacity = capacity
        self.tokens = capacity
        self.stamp = now

    def take(self, rate: float, now: float) -> bool:
        if now > self.stamp:
            self.tokens = min(rate, self.tokens + (now - self.stamp) * rate)
            self.stamp = now
        if self.tokens >= 1.0:
            self.tokens -= 1.0
            return True
        return False


class RateLimiter:
    """Token buckets per integration and per account, and the 403 block after repeated 429s.

    Args:
        clock: the sandbox clock.
        per_integration: requests per second per integration (0 = no limit).
        per_account: requests per second for the whole account (0 = no limit).
        block_after: this many 429s within ``block_window`` seconds block the account
            (0 = never block).
        block_window: the window of the strike counter, in seconds.
    """

    def __init__(
        self,
        clock: SandboxClock,
        *,
        per_integration: float = 7.0,
        per_account: float = 50.0,
        block_after: int = 10,
        block_window: float = 60.0,
    ) -> None:
        self.clock = clock
        self.per_integration = per_integration
        self.per_account = per_account
        self.block_after = block_after
        self.block_window = block_window
        self.blocked = False
        self.allowed = 0
        self.rejected = 0
        self._lock = threading.Lock()
        self._buckets: dict[str, _Bucket] = {}
        self._account: _Bucket | None = None
        self._strikes: deque[float] = deque()

    def check(self, key: str) -> bool:
        """Count one request of integration ``key``; False means answer 429."""
        now = self.clock.now()
        with self._lock:
            ok = True
            if self.per_integration > 0:
                bucket = self._buckets.get(key)
                if bucket is None or bucket.capacity != self.per_integration:
                    bucket = self._buckets[key] = _Bucket(self.per_integration, now)
                ok = bucket.take(self.per_integration, now)
            if ok and self.per_account > 0:
                if self._account is None or self._account.capacity != self.per_account:
                    self._account = _Bucket(self.per_account, now)
                ok = self._account.take(self.per_account, now)
            if ok:
                self.allowed += 1
                return True
            self.rejected += 1
            if self.block_after > 0:
                self._strikes.append(now)
                while self._strikes and self._strikes[0] <= now - self.block_window:
                    self._strikes.popleft()
                if len(self._strikes) >= self.block_after:
                    self.blocked = True
            return False

    def unblock(self) -> None:
        """Lift the block and forget past violations (real amoCRM needs its support for this)."""
        with self._lock:
            self.blocked = False
            self._strikes.clear()
            self._buckets.clear()
            self._account = None

    def reset(self) -> None:
        """Refill every bucket and zero the counters."""
        self.unblock()
        with self._lock:
            self.allowed = 0
            self.rejected = 0


@dataclass(frozen=True)
class Fault:
    """One planned answer instead of the normal one.

    Attributes:
        status: HTTP status (0 = no answer: the connection is dropped).
        body: the body; None gives the body amoCRM uses for that status.
        headers: extra headers (e.g. ``{"Retry-After": "1"}``).
        delay: seconds to wait before answering.
        content_type: the Content-Type for a custom body.
    """

    status: int
    body: str | None = None
    headers: dict[str, str] = field(default_factory=dict)
    delay: float = 0.0
    content_type: str | None = None


FaultSpec = int | Fault


@dataclass
class _Plan:
    pattern: str
    queue: deque[Fault]
    then: Fault | None
    hits: int = 0


class FaultPlan:
    """Planned failures per route, e.g. ``faults.add("GET /api/v4/leads", [429, 503, 500])``.

    A route is ``"METHOD /path"``; shell wildcards work (``"* /api/v4/leads*"``). The listed
    answers are given, one per matching request, before normal answers resume; ``then`` (a
    status or a :class:`Fault`) is instead given forever after the list.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._plans: list[_Plan] = []

    def add(
        self,
        route: str,
        answers: Iterable[FaultSpec],
        then: FaultSpec | None = None,
    ) -> None:
        """Plan ``answers`` for the next requests matching ``route``."""
        method, _, path = route.strip().partition(" ")
        pattern = f"{method.upper()} {path.strip().rstrip('/') or '/'}"
        queue = deque(_fault(a) for a in answers)
        with self._lock:
            self._plans.append(_Plan(pattern, queue, None if then is None else _fault(then)))

    def clear(self) -> None:
        """Drop every plan."""
        with self._lock:
            self._plans.clear()

    def take(self, method: str, path: str) -> Fault | None:
        """The planned answer for this request, if any (consumes it)."""
        key = f"{method.upper()} {path.rstrip('/') or '/'}"
        with self._lock:
            for plan in self._plans:
                if not fnmatch.fnmatchcase(key, plan.pattern):
                    continue
                if plan.queue:
                    plan.hits += 1
                    return plan.queue.popleft()
                if plan.then is not None:
                    plan.hits += 1
                    return plan.then
            return None

    def pending(self) -> int:
        """Planned answers not given yet."""
        with self._lock:
            return sum(len(p.queue) for p in self._plans)


def _fault(spec: FaultSpec) -> Fault:
    return spec if isinstance(spec, Fault) else Fault(int(spec))
