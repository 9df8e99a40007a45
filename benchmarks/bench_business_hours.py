"""Business-hours clocks for many deals: how long a stage-clock style evaluation takes.

Reads the open deals of the generated account (their responsible manager, the moment they
entered the current stage — here ``updated_at``, else ``created_at``) and each manager's row,
builds one :class:`~ropilot.core.business_hours.Schedule` per manager and computes the business
seconds from that moment to "now", plus one ``add_business_time`` deadline per deal.

    /work/venv/bin/python benchmarks/bench_business_hours.py \
        --url sqlite:////tmp/ropilot-bench/bench-1000000.db --account demo --limit 100000
"""

from __future__ import annotations

import argparse
import statistics
import time
from datetime import UTC, datetime

from sqlalchemy import select

from ropilot.core.business_hours import add_business_time, business_us, schedule_for_manager
from ropilot.core.regulations import default_regulations
from ropilot.core.store import Store
from ropilot.core.store.schema import deals, managers, stages
from ropilot.core.timeutil import from_epoch_us, to_epoch_us


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--url", required=True)
    parser.add_argument("--account", default="demo")
    parser.add_argument("--limit", type=int, default=100_000)
    parser.add_argument("--now", default="2026-11-24T12:00:00+03:00")
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument(
        "--all-deals", action="store_true", help="Take closed deals too (more than 100k)."
    )
    args = parser.parse_args()
    store = Store.open(args.url, upgrade=False)
    account = store.get_account(args.account)
    assert account is not None
    now = datetime.fromisoformat(args.now).astimezone(UTC)
    regs = default_regulations()
    with store.engine.connect() as c:
        mrows = c.execute(select(managers).where(managers.c.account_id == args.account)).mappings()
        people = {r["id"]: dict(r) for r in mrows}
        open_ids = select(stages.c.id).where(
            stages.c.account_id == args.account, stages.c.kind == "open"
        )
        stmt = select(deals.c.responsible_id, deals.c.created_at, deals.c.updated_at).where(
            deals.c.account_id == args.account
        )
        if not args.all_deals:
            stmt = stmt.where(deals.c.stage_id.in_(open_ids))
        rows = c.execute(stmt.limit(args.limit)).all()
    samples = [(r[0], to_epoch_us(r[2] or r[1])) for r in rows]
    now_us = to_epoch_us(now)
    timings = []
    for _ in range(args.repeat):
        t0 = time.perf_counter()
        schedules = {
            m: schedule_for_manager(row, regs, account.timezone) for m, row in people.items()
        }
        fallback = schedule_for_manager({}, regs, account.timezone)
        total = 0
        for manager_id, since in samples:
            schedule = schedules.get(manager_id or "", fallback)
            total += business_us(schedule, since, now_us)
            add_business_time(schedule, from_epoch_us(since), 16 * 3600)
        timings.append(time.perf_counter() - t0)
    runs = ", ".join(f"{t:.3f}" for t in timings)
    print(
        f"{len(samples)} deals, {len(people)} managers: business_seconds + add_business_time: "
        f"first run (cold day caches) {timings[0]:.3f} s, median {statistics.median(timings):.3f}"
        f" s (runs: {runs}); total {total // 3_600_000_000} business hours"
    )


if __name__ == "__main__":
    main()
