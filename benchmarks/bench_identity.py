"""The six identity checks (phones, e-mails, INN, OGRN, duplicate contacts and companies) on a
large store, read-only: each check's time and finding count, and the duplicate evidence mix.

    python benchmarks/bench_identity.py --url sqlite:////tmp/ropilot-bench/bench-1000000.db
"""

from __future__ import annotations

import argparse
import collections
import resource
import time
from datetime import datetime

from ropilot.core.quality.checks_identity import IDENTITY_CHECKS, scan_identities
from ropilot.core.quality.registry import QualityContext
from ropilot.core.regulations import default_regulations
from ropilot.core.store import Store


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--url", required=True)
    parser.add_argument("--account", default="demo")
    parser.add_argument("--as-of", default="2026-11-24T12:00:00+03:00")
    args = parser.parse_args()
    store = Store.open(args.url, upgrade=False)
    ctx = QualityContext(
        store, args.account, datetime.fromisoformat(args.as_of), default_regulations()
    )
    started = time.perf_counter()
    for check in IDENTITY_CHECKS:
        t0 = time.perf_counter()
        found = sum(1 for _ in check.run(ctx))
        print(f"{check.name:20s} {found:>9,d} findings {time.perf_counter() - t0:7.2f} s")
    scan = scan_identities(ctx)
    print(f"total {time.perf_counter() - started:.2f} s (shared scan {scan.seconds:.2f} s)")
    for key, report in scan.duplicates.items():
        entity = key.split("|", 1)[0]
        mix = collections.Counter("+".join(p.keys) for p in report.pairs)
        print(
            f"{entity}: {len(report.clusters):,d} clusters, {len(report.pairs):,d} pairs, "
            f"vetoed {report.vetoed:,d}, noise {report.noise}, "
            f"fuzzy comparisons {report.fuzzy_comparisons:,d}"
        )
        print("  " + ", ".join(f"{k} {n:,d}" for k, n in mix.most_common()))
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"peak RSS {rss:.0f} MB")


if __name__ == "__main__":
    main()
