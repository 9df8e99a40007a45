"""Synthetic sales accounts written as account bundles.

The sandboxes, the demo, the tests and the benchmarks draw their data from here::

    from pathlib import Path
    from ropilot.generator import generate_bundle

    summary = generate_bundle(Path("demo-bundle"), deals=20_000, seed=7)
    print(summary.rows["deals"], summary.total_rows)

The same arguments always give byte-identical files.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, timedelta
from pathlib import Path

from ropilot.generator.clients import generate_clients, spread
from ropilot.generator.clock import Clock
from ropilot.generator.deals import day_weights, generate_deals
from ropilot.generator.people import ManagerProfile, Staff, build_team, write_team
from ropilot.generator.pipelines import build_pipelines, write_pipelines
from ropilot.generator.writer import TABLES, BundleWriter

DEFAULT_END = date(2026, 11, 24)
ACCOUNT_ID = "demo"

__all__ = [
    "DEFAULT_END",
    "TABLES",
    "GeneratedSummary",
    "ManagerProfile",
    "generate_bundle",
    "hidden_profiles",
]


@dataclass(frozen=True)
class GeneratedSummary:
    """What :func:`generate_bundle` wrote.

    Attributes:
        path: the bundle folder.
        rows: rows written per table (header excluded), keyed by table name.
    """

    path: Path
    rows: dict[str, int] = field(default_factory=dict)

    @property
    def total_rows(self) -> int:
        """Rows written over all tables."""
        return sum(self.rows.values())


def _period_start(end: date, months: int) -> date:
    index = end.year * 12 + end.month - 1 - (months - 1)
    return date(index // 12, index % 12 + 1, 1)


def _setup(
    deals: int, seed: int, end: date, months: int
) -> tuple[random.Random, Clock, int, list[tuple[str, str, str, str]], list[ManagerProfile]]:
    if deals < 0:
        raise ValueError("deals must not be negative")
    if months < 1:
        raise ValueError("months must be at least 1")
    rng = random.Random(seed)
    start_day = _period_start(end, months)
    clock = Clock(start_day - timedelta(days=5 * 366), end)
    period_start = clock.day_index(start_day)
    teams, managers = build_team(rng, clock, deals, period_start)
    return rng, clock, period_start, teams, managers


def hidden_profiles(
    *, deals: int, seed: int = 1, end: date = DEFAULT_END, months: int = 24
) -> list[ManagerProfile]:
    """The managers' hidden skill profiles of the account :func:`generate_bundle` makes.

    This is the ground truth behind the data (win rate, speed, activity level, discipline),
    for tests and benchmarks of analytics that should rediscover it. The arguments must be
    those given to :func:`generate_bundle`.

    Args:
        deals: number of deals of the account.
        seed: its seed.
        end: its end day.
        months: its period length in months.

    Returns:
        One profile per manager, in the order of ``managers.csv``.
    """
    return _setup(deals, seed, end, months)[4]


def generate_bundle(
    out_dir: Path,
    *,
    deals: int,
    seed: int = 1,
    end: date = DEFAULT_END,
    months: int = 24,
    progress: Callable[[int], None] | None = None,
) -> GeneratedSummary:
    """Generate a realistic synthetic sales account as a bundle of CSV files.

    The account (time zone Europe/Moscow, currency RUB) has teams, managers with hidden skill
    profiles, three pipelines, companies and contacts with deliberate duplicates and dirty
    INNs, phones and e-mails, and ``deals`` deals created over ``months`` months up to
    ``end`` with their stage history, reassignments, activities and tasks. Tables are
    streamed to disk, so memory stays small whatever the size.

    Args:
        out_dir: the bundle folder; created if missing, table files in it are replaced.
        deals: number of deals to create.
        seed: seed of the only random source; the same arguments give byte-identical files.
        end: the account's "today", the last day that carries data. Tasks may be due later.
        months: length of the deal period in calendar months, the month of ``end`` included.
        progress: called with the number of deals just finished, in chunks of 1,000.

    Returns:
        The folder and the row count of every table.

    Raises:
        ValueError: if ``deals`` is negative or ``months`` is below 1.
    """
    rng, clock, period_start, teams, managers = _setup(deals, seed, end, months)
    pipelines = build_pipelines()
    with BundleWriter(Path(out_dir)) as out:
        out["account"].write(
            (ACCOUNT_ID, f"Демо-аккаунт ropilot (seed {seed})", "Europe/Moscow", "RUB")
        )
        write_team(out, clock, teams, managers)
        write_pipelines(out, pipelines)
        staff = Staff(clock, managers)

        weights = day_weights(rng, clock, period_start)
        day_counts = spread(deals, weights) if deals else [0] * len(weights)
        # The same inflow per working day drives the creation of clients.
        wd_weights = [0.0] * len(clock.working_days)
        for k, count in enumerate(day_counts):
            wd_weights[clock.next_wd[period_start + k]] += count + 0.1
        clients = generate_clients(
            rng,
            out,
            clock,
            staff,
            n_companies=deals // 5,
            n_contacts=deals // 2,
            period_start=period_start,
            day_weights=wd_weights,
        )
        generate_deals(
            rng,
            out,
            clock,
            staff,
            pipelines,
            clients,
            period_start=period_start,
            day_counts=day_counts,
            progress=progress,
        )
        counts = out.counts()
    return GeneratedSummary(path=Path(out_dir), rows=counts)
