from __future__ import annotations

import threading
from collections.abc import Callable
from itertools import pairwise
from typing import Any

import pytest

from ropilot.connectors.ratelimit import MemoryRateLimiter, StoreRateLimiter
from ropilot.core.errors import ConfigurationError, RateLimitedError
from ropilot.core.store import Store


class FakeClock:
    def __init__(self, start: float = 1_800_000_000.0) -> None:
        self.now = start
        self.sleeps: list[float] = []

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds


def test_memory_limiter_spaces_slots_by_one_over_rate() -> None:
    clock = FakeClock()
    limiter = MemoryRateLimiter(5, clock=clock, sleep=clock.sleep)
    slots = [limiter.acquire() for _ in range(6)]
    assert slots[0] == pytest.approx(clock.now - 1.0)
    assert [round(b - a, 6) for a, b in pairwise(slots)] == [0.2] * 5
    assert clock.sleeps == pytest.approx([0.2] * 5)


def test_memory_limiter_does_not_bank_idle_time() -> None:
    clock = FakeClock()
    limiter = MemoryRateLimiter(10, clock=clock, sleep=clock.sleep)
    limiter.acquire()
    clock.now += 60  # idle for a minute: no burst of 600 allowed afterwards
    a = limiter.acquire()
    b = limiter.acquire()
    assert b - a == pytest.approx(0.1)


def test_max_wait_refuses_without_reserving() -> None:
    clock = FakeClock()
    limiter = MemoryRateLimiter(1, clock=clock, sleep=clock.sleep, max_wait=1.5)
    limiter.reserve()
    limiter.reserve()  # 1 s away: fine
    with pytest.raises(RateLimitedError) as info:
        limiter.reserve()  # 2 s away
    assert info.value.retry_after == pytest.approx(2.0)
    clock.now += 1.0
    assert limiter.reserve() == pytest.approx(clock.now + 1.0)


def test_threads_share_one_memory_limiter() -> None:
    limiter = MemoryRateLimiter(1000, sleep=lambda s: None)
    slots: list[float] = []
    lock = threading.Lock()

    def work() -> None:
        for _ in range(50):
            s = limiter.reserve()
            with lock:
                slots.append(s)

    threads = [threading.Thread(target=work) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    slots.sort()
    assert len(set(slots)) == 200
    assert min(b - a for a, b in pairwise(slots)) >= 0.001 - 1e-6


@pytest.mark.parametrize("rate", [0, -1, float("nan"), float("inf")])
def test_bad_rate_is_a_configuration_error(rate: float) -> None:
    with pytest.raises(ConfigurationError, match="positive number"):
        MemoryRateLimiter(rate)


def test_store_limiter_reserves_consecutive_slots(store: Store) -> None:
    clock = FakeClock()
    limiter = StoreRateLimiter(store, "amocrm:acc", 7, clock=clock, sleep=clock.sleep)
    slots = [limiter.acquire() for _ in range(8)]
    gaps = [b - a for a, b in pairwise(slots)]
    assert all(g == pytest.approx(1 / 7, abs=1e-6) for g in gaps)
    # Any 1 s window holds at most 7 slots.
    assert slots[7] - slots[0] >= 1.0
    # A second limiter object (another worker) continues after the first one's slots.
    other = StoreRateLimiter(store, "amocrm:acc", 7, clock=clock, sleep=clock.sleep)
    assert other.reserve() == pytest.approx(slots[-1] + 1 / 7, abs=1e-6)
    # Keys are independent budgets.
    assert StoreRateLimiter(store, "amocrm:other", 7, clock=clock).reserve() == clock.now


def test_store_limiter_max_wait(store: Store) -> None:
    clock = FakeClock()
    limiter = StoreRateLimiter(store, "k", 2, clock=clock, sleep=clock.sleep, max_wait=0.6)
    limiter.reserve()
    limiter.reserve()
    with pytest.raises(RateLimitedError, match="next free slot"):
        limiter.reserve()


def test_two_processes_never_exceed_the_rate(
    store: Store, store_url: str, run_processes: Callable[..., list[Any]]
) -> None:
    rate, n = 20, 15
    results = run_processes("rate_worker", 2, store_url, "shared", rate, n)
    assert all(len(r) == n for r in results)
    slots = sorted(s for r in results for s, _ in r)
    times = sorted(t for r in results for _, t in r)
    # Reservations are exact: distinct and at least 1/rate apart across both processes.
    gaps = [b - a for a, b in pairwise(slots)]
    assert min(gaps) >= 1 / rate - 1e-6
    # Nobody ran before its slot.
    for r in results:
        assert all(t >= s for s, t in r)
    # Achieved rate, measured on real timestamps: any `rate` + 1 consecutive calls span at
    # least one second (minus scheduler wake-up jitter).
    spans = [times[i + rate] - times[i] for i in range(len(times) - rate)]
    assert min(spans) >= 1.0 - 0.05, spans
    # Both processes really competed for the same budget (interleaved slots).
    owner = {s: i for i, r in enumerate(results) for s, _ in r}
    switches = sum(owner[a] != owner[b] for a, b in pairwise(slots))
    assert switches >= 3
