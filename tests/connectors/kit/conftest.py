from __future__ import annotations

import multiprocessing
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

HERE = Path(__file__).parent


@pytest.fixture
def run_processes(monkeypatch: pytest.MonkeyPatch) -> Iterator[Callable[..., list[Any]]]:
    """Run ``target(*args, barrier, queue)`` in N spawned processes; return their results."""
    monkeypatch.syspath_prepend(str(HERE))
    ctx = multiprocessing.get_context("spawn")
    started: list[Any] = []

    def run(target_name: str, n: int, *args: Any, timeout: float = 60) -> list[Any]:
        import kit_workers

        target = getattr(kit_workers, target_name)
        barrier = ctx.Barrier(n)
        queue = ctx.Queue()
        procs = [ctx.Process(target=target, args=(*args, barrier, queue)) for _ in range(n)]
        started.extend(procs)
        for p in procs:
            p.start()
        results = [queue.get(timeout=timeout) for _ in procs]
        for p in procs:
            p.join(timeout=timeout)
            assert p.exitcode == 0
        errors = [r[1] for r in results if r[0] != "ok"]
        assert not errors, "\n".join(errors)
        return [r[1] for r in results]

    yield run
    for p in started:
        if p.is_alive():
            p.kill()
    sys.modules.pop("kit_workers", None)
