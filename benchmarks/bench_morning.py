"""The morning report over a large generated account: time and peak RSS on SQLite and
PostgreSQL, and the same aggregates computed by DuckDB over the same data as a baseline.

The timed part is what `ropilot report morning` computes for a month as of a moment: plan vs
fact per manager (with run-rate and weighted forecasts), forecast and coverage, the funnel
with conversions, the leaderboard and ABC × XYZ (the forgotten and losses blocks are timed
apart as "full"). Each engine runs in its own process so its peak RSS is its own; every run is
repeated and the median reported (the first, cold run is shown too). DuckDB (a benchmark-only
dependency: pip install duckdb) loads the bundle's CSV files first, untimed, then runs the
equivalent SQL; key figures of both are printed side by side so the comparison is like for like.

    python benchmarks/bench_morning.py --deals 1000000 --workdir /tmp/ropilot-bench \
        --postgres postgresql+psycopg://postgres@127.0.0.1:5432/test
"""

# ruff: noqa: E501  (the embedded child scripts hold long SQL lines)
from __future__ import annotations

import argparse
import json
import platform
import statistics
import subprocess
import sys
from pathlib import Path

END = "2026-11-24"
PERIOD = "2026-11"
AS_OF = "2026-11-24T12:00:00+03:00"
XYZ_WINDOW = ("2025-11-01", "2026-11-01")  # the 12 complete months before the as-of day

OURS = r"""
import json, resource, sys, time
from ropilot.core.store import Store
from ropilot.core.plans.store import load_plan
from ropilot.core.reports.context import make_context
from ropilot.core.reports.morning import morning_report
url, period, as_of, plan_name, repeat, full = sys.argv[1:7]
store = Store.open(url)
plan = load_plan(store, "demo", plan_name).document
sections = ("plan", "forecast", "funnel", "leaderboard", "abcxyz")
if full == "1":
    sections += ("forgotten", "losses")
times = []
for _ in range(int(repeat)):
    t0 = time.perf_counter()
    ctx = make_context(store, "demo", period, as_of=as_of)
    report = morning_report(ctx, plan, sections=sections)
    times.append(time.perf_counter() - t0)
def figure(section, name, **keys):
    s = report.section(section)
    for r in s.rows:
        if all(r.get(k) == v for k, v in keys.items()):
            return r.get(name)
funnel = [r["reached"] for r in report.section("funnel_snapshot").rows if r["pipeline"] == "7001"]
matrix = {r["abc"]: [r["X"], r["Y"], r["Z"], r["unclassified"]]
          for r in report.section("abcxyz_matrix").rows}
key = {
    "revenue": str(figure("forecast", "actual")),
    "weighted": str(figure("forecast", "weighted_pipeline")),
    "pipeline_due": str(figure("forecast", "pipeline_due")),
    "funnel_7001": funnel,
    "abc": {k: sum(v) for k, v in matrix.items()},
    "xyz": {x: sum(v[i] for v in matrix.values()) for i, x in enumerate("XYZ")},
}
rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
print(json.dumps({"times": times, "rss_mb": rss, "key": key}))
"""

DUCK = r"""
import json, resource, statistics, sys, time
from pathlib import Path
import duckdb
bundle, repeat = Path(sys.argv[1]), int(sys.argv[2])
S, E, T = "2026-11-01 00:00:00+03", "2026-12-01 00:00:00+03", "2026-11-24 12:00:00+03"
XS, XE = "2025-11-01 00:00:00+03", "2026-11-01 00:00:00+03"
db = duckdb.connect()
db.execute("SET TimeZone = 'Europe/Moscow'")
for name in ("deals", "stages", "stage_changes", "managers"):
    db.execute(f"CREATE TABLE {name} AS SELECT * FROM read_csv('{bundle / (name + '.csv')}', header=true, all_varchar=true)")
db.execute("CREATE TABLE d AS SELECT id, pipeline_id, stage_id, responsible_id, company_id, "
           "CAST(amount AS DECIMAL(18,4)) amount, currency, CAST(created_at AS TIMESTAMPTZ) created_at, "
           "CAST(closed_at AS TIMESTAMPTZ) closed_at, CAST(expected_close_at AS DATE) expected FROM deals")
db.execute("CREATE TABLE s AS SELECT id, pipeline_id, CAST(sort AS INT) sort, kind, CAST(probability AS INT) probability FROM stages")
db.execute("CREATE TABLE sc AS SELECT deal_id, from_stage_id, to_stage_id, CAST(changed_at AS TIMESTAMPTZ) changed_at FROM stage_changes")
db.execute("CREATE TABLE pos AS SELECT id stage_id, pipeline_id, CAST(row_number() OVER (PARTITION BY pipeline_id ORDER BY CASE WHEN kind='won' THEN 1 ELSE 0 END, sort, id) AS INT) pos FROM s WHERE kind IN ('open','won')")
Q = {
 "plan_vs_fact_leaderboard": f'''
   SELECT d.responsible_id, count(*) FILTER (WHERE s.kind='won') won, count(*) FILTER (WHERE s.kind='lost') lost,
          sum(CASE WHEN s.kind='won' AND coalesce(d.currency,'RUB')='RUB' THEN coalesce(d.amount,0) ELSE 0 END) revenue,
          sum(CASE WHEN s.kind='won' AND coalesce(d.currency,'RUB')='RUB' AND d.closed_at <= '{T}' THEN coalesce(d.amount,0) ELSE 0 END) so_far
   FROM d JOIN s ON s.id=d.stage_id WHERE d.closed_at >= '{S}' AND d.closed_at < '{E}' AND s.kind IN ('won','lost') GROUP BY ROLLUP (1)''',
 "forecast": f'''
   WITH after AS (SELECT deal_id, arg_min(from_stage_id, changed_at) st FROM sc WHERE changed_at > '{T}' GROUP BY deal_id),
   held AS (SELECT d.id, d.responsible_id, d.amount, d.currency, d.expected, coalesce(a.st, d.stage_id) st FROM d LEFT JOIN after a ON a.deal_id=d.id WHERE d.created_at <= '{T}')
   SELECT h.responsible_id, count(*) n, sum(coalesce(amount,0)) due, sum(coalesce(amount,0)*coalesce(probability,0)/100) weighted
   FROM held h JOIN s ON s.id=h.st WHERE s.kind='open' AND h.expected < DATE '2026-12-01' AND coalesce(h.currency,'RUB')='RUB' GROUP BY ROLLUP (1)''',
 "funnel": f'''
   WITH e AS (SELECT sc.deal_id, sc.changed_at, p.pos, p.pipeline_id FROM sc JOIN pos p ON p.stage_id=sc.to_stage_id),
   act AS (SELECT DISTINCT deal_id FROM sc WHERE changed_at >= '{S}' AND changed_at < '{E}'),
   r AS (SELECT e.pipeline_id, e.deal_id, coalesce(max(pos) FILTER (WHERE changed_at < '{S}'),0) pre, max(pos) FILTER (WHERE changed_at < '{E}') post
         FROM e JOIN act USING (deal_id) GROUP BY 1, 2)
   SELECT pipeline_id, k, count(*) FROM r, range(1, 8) t(k) WHERE pre < k AND k <= post GROUP BY 1, 2 ORDER BY 1, 2''',
 "abc": f'''
   WITH r AS (SELECT company_id, sum(coalesce(amount,0)) rev FROM d JOIN s ON s.id=d.stage_id
              WHERE s.kind='won' AND coalesce(d.currency,'RUB')='RUB' AND company_id IS NOT NULL
                AND d.closed_at >= '{XS}' AND d.closed_at < '{XE}' GROUP BY 1 HAVING sum(coalesce(amount,0)) > 0),
   c AS (SELECT company_id, coalesce(sum(rev) OVER (ORDER BY rev DESC, company_id ROWS BETWEEN UNBOUNDED PRECEDING AND 1 PRECEDING), 0) before, sum(rev) OVER () total FROM r)
   SELECT CASE WHEN before < 0.8*total THEN 'A' WHEN before < 0.95*total THEN 'B' ELSE 'C' END cls, count(*) FROM c GROUP BY 1 ORDER BY 1''',
 "xyz": f'''
   WITH m AS (SELECT company_id, date_trunc('month', closed_at) mon, sum(coalesce(amount,0)) rev FROM d JOIN s ON s.id=d.stage_id
              WHERE s.kind='won' AND coalesce(d.currency,'RUB')='RUB' AND company_id IS NOT NULL
                AND d.closed_at >= '{XS}' AND d.closed_at < '{XE}' GROUP BY 1, 2),
   a AS (SELECT company_id, sum(rev) s1, sum(rev*rev) s2, count(*) FILTER (WHERE rev > 0) n FROM m GROUP BY 1)
   SELECT CASE WHEN n < 3 OR s1 <= 0 THEN '-' WHEN 12*s2 - s1*s1 <= 0.01*s1*s1 THEN 'X' WHEN 12*s2 - s1*s1 <= 0.0625*s1*s1 THEN 'Y' ELSE 'Z' END cls, count(*)
   FROM a GROUP BY 1 ORDER BY 1''',
}
times, per_query = [], {k: [] for k in Q}
results = {}
for _ in range(repeat):
    t0 = time.perf_counter()
    for k, q in Q.items():
        q0 = time.perf_counter()
        results[k] = db.execute(q).fetchall()
        per_query[k].append(time.perf_counter() - q0)
    times.append(time.perf_counter() - t0)
company = [r for r in results["plan_vs_fact_leaderboard"] if r[0] is None][0]
fc = [r for r in results["forecast"] if r[0] is None][0]
key = {
    "revenue": str(company[4]),
    "weighted": str(fc[3]),
    "pipeline_due": str(fc[2]),
    "funnel_7001": [r[2] for r in results["funnel"] if r[0] == "7001"],
    "abc": {r[0]: r[1] for r in results["abc"]},
    "xyz": {r[0]: r[1] for r in results["xyz"] if r[0] != "-"},
}
rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
print(json.dumps({"times": times, "per_query": {k: statistics.median(v) for k, v in per_query.items()}, "rss_mb": rss, "key": key}, default=str))
"""

PREPARE = r"""
import sys
from pathlib import Path
from ropilot.core.store import Store
from ropilot.core.plans.propose import propose
from ropilot.core.plans.store import list_plans, save_plan
url, bundle, period, name = sys.argv[1:5]
store = Store.open(url)
if not store.list_accounts():
    from ropilot.connectors.bundle.importer import import_bundle
    report = import_bundle(store, Path(bundle))
    print(f"imported {report.total_rows} rows in {report.seconds:.0f} s", file=sys.stderr)
if name not in list_plans(store, "demo"):
    doc = propose(store, "demo", period, name=name, growth="1.1").document
    save_plan(store, "demo", doc, comment="benchmark")
"""


def child(code: str, *args: str) -> dict[str, object]:
    out = subprocess.run(
        [sys.executable, "-c", code, *args], check=True, capture_output=True, text=True
    )
    return json.loads(out.stdout.strip().splitlines()[-1])  # type: ignore[no-any-return]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--deals", type=int, default=100_000)
    parser.add_argument("--workdir", type=Path, default=Path("/tmp/ropilot-bench"))
    parser.add_argument("--postgres", help="PostgreSQL URL (skipped if absent)")
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()

    bundle = args.workdir / f"bundle-{args.deals}"
    if not bundle.exists():
        subprocess.run(
            [
                sys.executable,
                "-m",
                "ropilot.cli",
                "generate",
                "--deals",
                str(args.deals),
                "--seed",
                "1",
                "--end",
                END,
                "--out",
                str(bundle),
            ],
            check=True,
        )
    plan = f"bench-{PERIOD}"
    engines = {"SQLite": f"sqlite:///{args.workdir / f'bench-{args.deals}.db'}"}
    if args.postgres:
        engines["PostgreSQL"] = args.postgres
    for url in engines.values():
        subprocess.run([sys.executable, "-c", PREPARE, url, str(bundle), PERIOD, plan], check=True)

    rows = []
    keys = {}
    for name, url in engines.items():
        for full in ("0", "1"):
            r = child(OURS, url, PERIOD, AS_OF, plan, str(args.repeat), full)
            label = f"ropilot on {name}" + (" (full: + forgotten, losses)" if full == "1" else "")
            rows.append((label, r["times"], r["rss_mb"]))
            if full == "0":
                keys[name] = r["key"]
    try:
        duck = child(DUCK, str(bundle), str(args.repeat))
    except subprocess.CalledProcessError as exc:
        sys.exit(f"DuckDB run failed:\n{exc.stderr}")
    rows.append(("DuckDB, same aggregates (data loaded beforehand)", duck["times"], duck["rss_mb"]))
    keys["DuckDB"] = duck["key"]

    duck_median = statistics.median(duck["times"])  # type: ignore[arg-type]
    print(
        f"\n{platform.python_implementation()} {platform.python_version()}, "
        f"{args.deals:,} deals, period {PERIOD} as of {AS_OF}, {args.repeat} runs\n"
    )
    print("| run | median s | first (cold) s | × DuckDB | peak RSS MB |")
    print("|---|---:|---:|---:|---:|")
    for label, times, rss in rows:
        med = statistics.median(times)  # type: ignore[arg-type]
        print(f"| {label} | {med:.3f} | {times[0]:.3f} | {med / duck_median:.1f} | {rss:.0f} |")
    print(
        "\nDuckDB per query (median s):",
        ", ".join(f"{k} {v:.3f}" for k, v in duck["per_query"].items()),
    )  # type: ignore[union-attr]
    print("\nKey figures (must agree):")
    for name, key in keys.items():
        print(f"- {name}: {json.dumps(key, ensure_ascii=False, default=str)}")


if __name__ == "__main__":
    main()
