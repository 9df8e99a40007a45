"""Generate an account and import it into SQLite and PostgreSQL: rows/s and peak RSS.

Each step runs in its own process so its peak RSS is its own. The baseline, run in the same
way, is reading every CSV file of the bundle with the csv module and doing nothing else: the
floor any importer pays. Results are printed as a Markdown table for benchmarks/RESULTS.md.

    python benchmarks/bench_import.py --deals 1000000 --workdir /tmp/ropilot-bench \
        --postgres postgresql+psycopg://postgres@127.0.0.1:5432/test
"""

from __future__ import annotations

import argparse
import json
import platform
import shutil
import subprocess
import sys
import uuid
from pathlib import Path

STEP = r"""
import csv, json, resource, sys, time
from pathlib import Path
kind, arg, bundle = sys.argv[1], sys.argv[2], Path(sys.argv[3])
t0 = time.perf_counter()
if kind == "generate":
    from ropilot.generator import generate_bundle
    rows = generate_bundle(bundle, deals=int(arg), seed=1).total_rows
elif kind == "baseline":
    rows = 0
    for f in sorted(bundle.glob("*.csv")):
        with f.open(encoding="utf-8", newline="") as fh:
            rows += sum(1 for _ in csv.reader(fh)) - 1
else:
    from ropilot.connectors.bundle.importer import import_bundle
    from ropilot.core.store import Store
    report = import_bundle(Store.open(arg), bundle)
    rows = report.total_rows
seconds = time.perf_counter() - t0
rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
print(json.dumps({"rows": rows, "seconds": seconds, "rss_mb": rss}))
"""


def run(kind: str, arg: str, bundle: Path) -> dict[str, float]:
    out = subprocess.run(
        [sys.executable, "-c", STEP, kind, arg, str(bundle)],
        check=True,
        capture_output=True,
        text=True,
    )
    return json.loads(out.stdout.strip().splitlines()[-1])  # type: ignore[no-any-return]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--deals", type=int, default=100_000)
    parser.add_argument("--workdir", type=Path, default=Path("/tmp/ropilot-bench"))
    parser.add_argument("--postgres", default=None, help="PostgreSQL URL (skipped if absent)")
    args = parser.parse_args()

    work = args.workdir
    work.mkdir(parents=True, exist_ok=True)
    bundle = work / f"bundle-{args.deals}"
    results: list[tuple[str, dict[str, float]]] = []
    if bundle.exists():
        shutil.rmtree(bundle)
    results.append(("generate", run("generate", str(args.deals), bundle)))
    results.append(("baseline: csv.reader over the bundle", run("baseline", "", bundle)))
    db = work / "bench.db"
    for suffix in ("", "-wal", "-shm"):
        Path(f"{db}{suffix}").unlink(missing_ok=True)
    results.append(("import → SQLite (empty store)", run("import", f"sqlite:///{db}", bundle)))
    results.append(("re-import → SQLite (same bundle)", run("import", f"sqlite:///{db}", bundle)))
    if args.postgres:
        from sqlalchemy import create_engine, text

        schema = f"bench_{uuid.uuid4().hex[:8]}"
        admin = create_engine(args.postgres)
        with admin.begin() as conn:
            conn.execute(text(f"CREATE SCHEMA {schema}"))
        url = f"{args.postgres}?options=-csearch_path%3D{schema}"
        try:
            results.append(("import → PostgreSQL (empty store)", run("import", url, bundle)))
            results.append(("re-import → PostgreSQL (same bundle)", run("import", url, bundle)))
        finally:
            with admin.begin() as conn:
                conn.execute(text(f"DROP SCHEMA {schema} CASCADE"))
    base = results[1][1]["seconds"]
    print(f"\n{args.deals:,} deals, Python {platform.python_version()}, {platform.machine()}\n")
    print("| step | rows | seconds | rows/s | × baseline time | peak RSS MB |")
    print("|---|---:|---:|---:|---:|---:|")
    for name, r in results:
        print(
            f"| {name} | {r['rows']:,.0f} | {r['seconds']:.1f} | {r['rows'] / r['seconds']:,.0f} "
            f"| {r['seconds'] / base:.1f} | {r['rss_mb']:.0f} |"
        )


if __name__ == "__main__":
    main()
