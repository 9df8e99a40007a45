"""Routing decision latency and durable decisions per second.

A fresh store with 500 managers and 100,000 open deals assigned among them (the load the
caps read), plus unassigned leads to route. Two layouts of the same 500 managers: one pool of
all 500 (the worst case: every decision weighs 500 members and stores 500 members' inputs),
and 20 pools of 25 by lead source (a realistic layout). The load counters are rebuilt from the
100k open deals first (``rebuild_counters``); each decision then runs in its own durable
transaction (SQLite WAL, synchronous=NORMAL; PostgreSQL commit) with a day cap and a load cap.
Latency is measured around ``RoutingEngine.route``; decisions per second = decisions ÷ wall
time of the loop. The first lead of every pool is routed before timing (it loads the pool's
member table and writes its first snapshot: a once-per-engine cost, ~5 ms for 500 members).

Baseline, in the same process on the same store: the floor of any durable decision — one
INSERT of a 1 kB row and its COMMIT per transaction on a kept connection (``floor``). The
table shows decisions per second as a share of floor transactions per second: what the
decision itself (the lead read, ``decide`` over the pool, the six writes) costs on top of
durability, independent of how fast the machine is.

SQLite writes every committed page to the WAL; SQLite's own default copies the WAL back into
the database (with an fsync) inside whichever commit crosses 1,000 WAL pages — a few ms that
land on one decision in ~60. The store's default (``background``) does that on a thread of its
own (``ropilot.core.store.checkpoint``); ``--sqlite-checkpoint auto`` measures SQLite's own.

    python benchmarks/bench_routing.py --workdir /tmp/ropilot-bench-routing --leads 3000 \
        [--postgres postgresql+psycopg://postgres@127.0.0.1:5432/test] \
        [--sqlite-checkpoint auto|background] [--workers 2]
"""

from __future__ import annotations

import argparse
import multiprocessing
import statistics
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import create_engine, insert, text

from ropilot.core.models import Account
from ropilot.core.regulations import regulations_from_dict
from ropilot.core.routing import RoutingEngine
from ropilot.core.routing.engine import rebuild_counters
from ropilot.core.store import Store
from ropilot.core.store.schema import deals, managers, pipelines, stages

ACCOUNT = "bench"
NOW = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)  # Monday 12:00 Moscow
MANAGERS = 500
OPEN = 100_000
SOURCES = 20


def seed(store: Store, leads: int) -> list[str]:
    store.upsert_account(Account(id=ACCOUNT, name="Bench"))
    with store.begin() as c:
        c.execute(
            insert(managers),
            [
                {
                    "account_id": ACCOUNT,
                    "id": f"m{i:03d}",
                    "name": f"M{i}",
                    "active": True,
                    "role": "manager",
                    "working_schedule": None,
                    "absences": [],
                    "specialisations": {},
                }
                for i in range(MANAGERS)
            ],
        )
        c.execute(insert(pipelines), [{"account_id": ACCOUNT, "id": "p", "name": "Sales"}])
        c.execute(
            insert(stages),
            [
                {
                    "account_id": ACCOUNT,
                    "id": "new",
                    "pipeline_id": "p",
                    "name": "New",
                    "sort": 1,
                    "kind": "open",
                }
            ],
        )
        created = NOW - timedelta(days=30)
        for start in range(0, OPEN, 20_000):
            c.execute(
                insert(deals),
                [
                    {
                        "account_id": ACCOUNT,
                        "id": f"o{i}",
                        "pipeline_id": "p",
                        "stage_id": "new",
                        "responsible_id": f"m{i % MANAGERS:03d}",
                        "source": f"s{i % SOURCES}",
                        "created_at": created,
                    }
                    for i in range(start, min(OPEN, start + 20_000))
                ],
            )
        ids = [f"n{i}" for i in range(leads)]
        c.execute(
            insert(deals),
            [
                {
                    "account_id": ACCOUNT,
                    "id": d,
                    "pipeline_id": "p",
                    "stage_id": "new",
                    "source": f"s{i % SOURCES}",
                    "created_at": NOW - timedelta(minutes=5),
                }
                for i, d in enumerate(ids)
            ],
        )
    return ids


def layouts() -> dict[str, dict]:  # type: ignore[type-arg]
    caps = {"per_period": {"period": "day", "max": 1000}, "max_open_load": 10_000}
    one = {"routing": {"pools": [{"name": "all", "caps": caps}]}}
    per = MANAGERS // SOURCES
    many = {
        "routing": {
            "pools": [
                {
                    "name": f"src{s}",
                    "sources": [f"s{s}"],
                    "caps": caps,
                    "managers": [f"m{i:03d}" for i in range(s * per, (s + 1) * per)],
                }
                for s in range(SOURCES)
            ]
        }
    }
    return {"1 pool × 500": one, "20 pools × 25": many}


def floor_rate(store: Store, n: int = 2000) -> float:
    """Durable single-row transactions per second on this store (the baseline)."""
    body = "x" * 1024
    with store.engine.connect() as conn:
        with conn.begin():
            conn.exec_driver_sql("CREATE TABLE IF NOT EXISTS bench_floor (id TEXT, body TEXT)")
        sqlite = conn.dialect.name == "sqlite"
        marker = "?" if sqlite else "%s"
        sql = f"INSERT INTO bench_floor VALUES ({marker}, {marker})"
        t0 = time.perf_counter()
        for i in range(n):
            if sqlite:
                conn.exec_driver_sql("BEGIN IMMEDIATE")
            conn.exec_driver_sql(sql, (str(i), body))
            conn.commit()
        rate = n / (time.perf_counter() - t0)
        with conn.begin():
            conn.exec_driver_sql("DROP TABLE bench_floor")
    return rate


def run_one(
    url: str,
    leads: int,
    name: str,
    data: dict,  # type: ignore[type-arg]
    background_checkpoint: bool = True,
) -> tuple[str, float, float, float, int, float]:
    """Seed, rebuild counters, route ``leads`` one by one.

    Returns (layout, p50 ms, p99 ms, decisions per second, decisions timed, floor per second).
    """
    store = Store.open(url, background_checkpoint=background_checkpoint)
    try:
        ids = seed(store, leads)
        floor = floor_rate(store)
        regs = regulations_from_dict(data)
        engine = RoutingEngine(store, ACCOUNT, regs)
        for pool in regs.routing.pools:
            rebuild_counters(store, ACCOUNT, engine.rules_for(pool), NOW)
        for d in ids[:SOURCES]:  # every pool's first lead: loads its table (once per engine)
            engine.route(d, now=NOW)
        lat = []
        t0 = time.perf_counter()
        for d in ids[SOURCES:]:
            s = time.perf_counter()
            engine.route(d, now=NOW)
            lat.append(time.perf_counter() - s)
        wall = time.perf_counter() - t0
        engine.close()
    finally:
        store.close()
    lat.sort()
    p99 = lat[max(0, int(len(lat) * 0.99) - 1)]
    return name, statistics.median(lat) * 1000, p99 * 1000, len(lat) / wall, len(lat), floor


def _worker(url: str, data: dict, part: list[str], start: Any, out: Any) -> None:  # type: ignore[type-arg]
    store = Store.open(url)
    engine = RoutingEngine(store, ACCOUNT, regulations_from_dict(data))
    start.wait()
    for d in part:
        engine.route(d, now=NOW)
    engine.close()
    store.close()
    out.put(len(part))


def run_workers(url: str, leads: int, data: dict, workers: int) -> float:  # type: ignore[type-arg]
    """Decisions per second of ``workers`` processes routing one account's leads at once
    (each process's first decision per pool, a cold load, included)."""
    store = Store.open(url)
    try:
        ids = seed(store, leads)
        regs = regulations_from_dict(data)
        with RoutingEngine(store, ACCOUNT, regs) as engine:
            for pool in regs.routing.pools:
                rebuild_counters(store, ACCOUNT, engine.rules_for(pool), NOW)
            for d in ids[:SOURCES]:
                engine.route(d, now=NOW)
    finally:
        store.close()
    rest = ids[SOURCES:]
    ctx = multiprocessing.get_context("fork")
    start = ctx.Barrier(workers + 1)
    out = ctx.Queue()
    procs = [
        ctx.Process(target=_worker, args=(url, data, rest[i::workers], start, out))
        for i in range(workers)
    ]
    for p in procs:
        p.start()
    start.wait()
    t0 = time.perf_counter()
    done = sum(out.get() for _ in procs)
    wall = time.perf_counter() - t0
    for p in procs:
        p.join()
    return done / wall


def _fresh(url: str, schemas: list[tuple[Any, str]]) -> None:
    """An empty database at ``url``: the SQLite files removed, the PostgreSQL schema anew."""
    if url.startswith("sqlite:///"):
        for suffix in ("", "-wal", "-shm"):
            Path(url.removeprefix("sqlite:///") + suffix).unlink(missing_ok=True)
    for admin, schema in schemas:
        with admin.begin() as c:
            c.execute(text(f"DROP SCHEMA IF EXISTS {schema} CASCADE"))
            c.execute(text(f"CREATE SCHEMA {schema}"))


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--workdir", default="/tmp/ropilot-bench-routing")
    ap.add_argument("--leads", type=int, default=3000)
    ap.add_argument("--postgres")
    ap.add_argument("--sqlite-checkpoint", choices=["auto", "background"], default="background")
    ap.add_argument(
        "--workers",
        type=int,
        default=0,
        help="also: N processes routing one account at once (20 × 25 layout), decisions/s",
    )
    args = ap.parse_args()
    Path(args.workdir).mkdir(parents=True, exist_ok=True)
    label = "SQLite" if args.sqlite_checkpoint == "background" else "SQLite, autocheckpoint"
    targets = [(label, f"sqlite:///{args.workdir}/routing.db")]
    schemas = []
    if args.postgres:
        schema = f"bench_{uuid.uuid4().hex[:8]}"
        admin = create_engine(args.postgres)
        schemas.append((admin, schema))
        targets.append(("PostgreSQL", f"{args.postgres}?options=-csearch_path%3D{schema}"))
    print("| store | layout | p50 ms | p99 ms | decisions/s | leads | floor tx/s | ÷ floor |")
    print("|---|---|---:|---:|---:|---:|---:|---:|")
    for label, url in targets:
        for name, data in layouts().items():
            _fresh(url, schemas)
            background = label != "PostgreSQL" and args.sqlite_checkpoint == "background"
            _, p50, p99, rate, n, floor = run_one(url, args.leads, name, data, background)
            print(
                f"| {label} | {name} | {p50:.2f} | {p99:.2f} | {rate:,.0f} | {n:,} "
                f"| {floor:,.0f} | {rate / floor:.2f} |"
            )
    if args.workers:
        print()
        print("| store | workers | decisions/s (20 pools × 25, one account) |")
        print("|---|---:|---:|")
        many = layouts()["20 pools × 25"]
        for label, url in targets:
            for n in sorted({1, args.workers}):
                _fresh(url, schemas)
                rate = run_workers(url, args.leads, many, n)
                print(f"| {label} | {n} | {rate:,.0f} |")
    for admin, schema in schemas:
        with admin.begin() as c:
            c.execute(text(f"DROP SCHEMA IF EXISTS {schema} CASCADE"))


if __name__ == "__main__":
    main()
