"""Full data-quality audit of a large generated account: every registered check (deal and task
checks, stage clocks, identity and duplicate checks), findings recorded, then the same audit
again (the idempotent re-run: nothing new, ``last_seen`` moved).

Runs on a copy of the store (the audit writes findings), in one process; prints each check's
time and finding count, the save time and peak RSS.

    cp /tmp/ropilot-bench/bench-1000000.db /tmp/ropilot-bench/quality.db
    python benchmarks/bench_quality.py --url sqlite:////tmp/ropilot-bench/quality.db \
        --account demo --as-of 2026-11-24T12:00:00+03:00
"""

from __future__ import annotations

import argparse
import resource
import time
from datetime import datetime

from ropilot.core.quality.audit import AuditSummary, run_audit
from ropilot.core.regulations import default_regulations
from ropilot.core.store import Store
from ropilot.plugins.builtin_quality import check_catalogue
from ropilot.plugins.manager import get_plugin_manager


def show(label: str, summary: AuditSummary) -> None:
    checks = sum(c.seconds for c in summary.checks)
    print(
        f"\n{label}: total {summary.seconds:.2f} s (checks {checks:.2f} s, save "
        f"{summary.seconds - checks:.2f} s); found {summary.found}; new {summary.saved.new}, "
        f"seen {summary.saved.seen}, changed {summary.saved.changed}, "
        f"resolved {summary.saved.resolved}"
    )
    for c in summary.checks:
        print(f"  {c.name:32s} {c.found:>9,d} findings {c.seconds:8.2f} s")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--url", required=True)
    parser.add_argument("--account", default="demo")
    parser.add_argument("--as-of", default="2026-11-24T12:00:00+03:00")
    parser.add_argument("--check", action="append", default=[], help="only these checks")
    args = parser.parse_args()
    as_of = datetime.fromisoformat(args.as_of)
    store = Store.open(args.url)
    checks = check_catalogue(get_plugin_manager()).select(args.check)
    print("checks:", ", ".join(c.name for c in checks))
    regs = default_regulations()
    started = time.perf_counter()
    first = run_audit(store, args.account, checks, as_of=as_of, regulations=regs)
    show("first audit", first)
    second = run_audit(store, args.account, checks, as_of=as_of, regulations=regs)
    show("second audit (re-run)", second)
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"\nwall {time.perf_counter() - started:.2f} s for both; peak RSS {rss:.0f} MB")


if __name__ == "__main__":
    main()
