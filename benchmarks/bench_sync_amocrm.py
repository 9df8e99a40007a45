"""Full sync of a generated account from the amoCRM sandbox enforcing 7 requests/s.

The sandbox runs in its own process (`ropilot sandbox amocrm`, seeded from a generated bundle);
the sync runs here through the real connector, HTTP client and the store-shared rate limiter
(7 requests/s). Reported: entities per second overall and per stream, as a share of the ceiling
of 7 requests/s × the page size (250; the events endpoint serves at most 100 per page), limit
errors (429/403) the sandbox answered, and this process's peak RSS.

    python benchmarks/bench_sync_amocrm.py --deals 100000 --workdir /tmp/ropilot-sync-bench
"""

from __future__ import annotations

import argparse
import os
import re
import resource
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

RATE = 7.0
PAGE = {"default": 250, "stage_changes": 100, "assignments": 100}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--deals", type=int, default=10_000)
    parser.add_argument("--workdir", type=Path, default=Path("/tmp/ropilot-sync-bench"))
    parser.add_argument("--port", type=int, default=8799)
    args = parser.parse_args()

    from pydantic import SecretStr

    from ropilot.connectors.amocrm.factory import build_amocrm
    from ropilot.connectors.sync import run_sync
    from ropilot.core.settings import AccountSettings
    from ropilot.core.store import Store
    from ropilot.generator import generate_bundle

    work = args.workdir
    if work.exists():
        shutil.rmtree(work)
    work.mkdir(parents=True)
    bundle = work / "bundle"
    generate_bundle(bundle, deals=args.deals, seed=1)
    log = (work / "sandbox.log").open("w")
    sandbox = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "ropilot.cli",
            "sandbox",
            "amocrm",
            "--bundle",
            str(bundle),
            "--port",
            str(args.port),
            "--rate-limit",
            str(RATE),
        ],
        stdout=subprocess.PIPE,
        stderr=log,
        text=True,
    )
    try:
        assert sandbox.stdout is not None
        token = None
        deadline = time.time() + 600
        while token is None and time.time() < deadline:
            line = sandbox.stdout.readline()
            match = re.search(r"long-lived token:\s+(\S+)", line)
            if match:
                token = match.group(1)
        assert token, "sandbox did not start"
        store = Store.open(f"sqlite:///{work / 'sync.db'}")
        account = AccountSettings(
            id="demo",
            connector="amocrm",
            base_url=f"http://127.0.0.1:{args.port}",
            credentials={"long_lived_token": SecretStr(token)},
        )
        connector = build_amocrm(account, store, None, rate=RATE)
        times: dict[str, float] = {}
        counts: dict[str, int] = {}

        class Timer:
            current: str | None = None
            started = 0.0

            def stream(self, name: str) -> None:
                now = time.perf_counter()
                if self.current:
                    times[self.current] = now - self.started
                self.current, self.started = name, now

            def advance(self, records: int) -> None:
                counts[self.current or ""] = counts.get(self.current or "", 0) + records

        timer = Timer()
        t0 = time.perf_counter()
        report = run_sync(store, connector, progress=timer)
        total_s = time.perf_counter() - t0
        times[timer.current or ""] = time.perf_counter() - timer.started
    finally:
        sandbox.send_signal(signal.SIGINT)
        sandbox.wait(timeout=30)
        log.close()
    access = (work / "sandbox.log").read_text()
    limited = len(re.findall(r'" (429|403) ', access))
    requests = len(re.findall(r"(GET|POST|PATCH) /", access))
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(
        f"\n{args.deals:,} deals, {report.total:,} records, {requests:,} requests in "
        f"{total_s:.1f} s ({requests / total_s:.2f} requests/s), limit errors: {limited}, "
        f"peak RSS {rss:.0f} MB (sync process)\n"
    )
    print("| stream | records | seconds | records/s | ceiling/s | share |")
    print("|---|---:|---:|---:|---:|---:|")
    for name, n in report.records.items():
        secs = times.get(name, 0.0)
        ceiling = RATE * PAGE.get(name, PAGE["default"])
        rate = n / secs if secs else 0.0
        print(
            f"| {name} | {n:,} | {secs:.1f} | {rate:,.0f} | {ceiling:,.0f} | {rate / ceiling:.0%} |"
        )
    print(
        f"| all | {report.total:,} | {total_s:.1f} | {report.total / total_s:,.0f} | "
        f"{RATE * 250:,.0f} | {report.total / total_s / (RATE * 250):.0%} |"
    )
    os._exit(0)


if __name__ == "__main__":
    main()
