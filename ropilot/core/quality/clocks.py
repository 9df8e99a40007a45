"""The stage clocks (sales_definitions.md, "Stage clocks") on the responsible manager's
business hours.

Four clocks per open deal: working hours since the last activity, working hours without an
open next step, working hours in the current stage, and whether a future next step exists
(which suppresses the no-activity flag). The hours come from ``ropilot.core.business_hours``:
the manager's own weekly schedule (else the regulations' ``[working_hours]``) in the manager's
zone (else the regulations', else the account's), on working days of the Russian production
calendar, minus the manager's absence days. Deals without a responsible manager (or with one
unknown to the store) run on the regulations' schedule.

Candidates come from SQL (``checks_deals``); only their timestamps reach Python. Managers with
identical rules share one :class:`~ropilot.core.business_hours.Schedule`, so its day and
prefix caches are built once for the whole audit.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select

from ropilot.core.business_hours import (
    Schedule,
    business_seconds,
    schedule_for_manager,
    schedule_for_regulations,
)
from ropilot.core.regulations import Regulations
from ropilot.core.store import Store
from ropilot.core.store.schema import accounts, managers

__all__ = ["ManagerClocks", "manager_clocks"]


@dataclass(frozen=True)
class ManagerClocks:
    """Business-hour schedules of an account's managers and the regulations' fallback."""

    by_manager: dict[str, Schedule]
    default: Schedule

    def schedule(self, manager_id: str | None) -> Schedule:
        """The responsible manager's schedule, the regulations' one without a known manager."""
        return self.by_manager.get(manager_id or "", self.default)

    def hours(self, manager_id: str | None, start: datetime, end: datetime) -> float:
        """Working hours of ``manager_id`` in ``[start, end)`` (0 when end ≤ start)."""
        return business_seconds(self.schedule(manager_id), start, end) / 3600


def manager_clocks(store: Store, account_id: str, regs: Regulations) -> ManagerClocks:
    """One schedule per manager of the account (shared when the rules are the same)."""
    with store.engine.connect() as conn:
        zone = conn.execute(
            select(accounts.c.timezone).where(accounts.c.id == account_id)
        ).scalar_one_or_none()
        rows = (
            conn.execute(
                select(
                    managers.c.id,
                    managers.c.timezone,
                    managers.c.working_schedule,
                    managers.c.absences,
                ).where(managers.c.account_id == account_id)
            )
            .mappings()
            .all()
        )
    account_zone = zone or "Europe/Moscow"
    default = schedule_for_regulations(regs, account_zone)
    shared: dict[Schedule, Schedule] = {default: default}
    by_manager: dict[str, Schedule] = {}
    for row in rows:
        schedule = schedule_for_manager(row, regs, account_zone)
        by_manager[row["id"]] = shared.setdefault(schedule, schedule)
    return ManagerClocks(by_manager, default)
