"""Teams and managers, each manager with a hidden skill profile that drives their results."""

from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import date

from ropilot.generator import data
from ropilot.generator.clock import WORKDAY, Clock
from ropilot.generator.writer import BundleWriter

NEVER = 1 << 62
"""Work seconds of the "fired" moment of a manager who is still employed."""


@dataclass
class ManagerProfile:
    """A generated manager: the bundle fields plus the hidden skill profile.

    Attributes:
        index: position in the manager list.
        id: manager id.
        name: display name.
        email: work e-mail.
        team_id: team id.
        role: ``manager``, ``senior``, ``head`` or ``assistant``.
        hired_w: work seconds of the hiring moment.
        fired_w: work seconds from which the manager no longer works (:data:`NEVER` if active).
        win_rate: probability that a deal of theirs ends won.
        speed: multiplier of their sales cycle (below 1 is faster).
        activity: multiplier of the number of calls, e-mails and notes they log.
        discipline: probability that they keep a next-step task on a deal.
        weight: relative share of new deals they receive (0 for assistants).
        left_at: ISO timestamp from which an inactive manager no longer works (None if
            active); not part of the bundle.
    """

    index: int
    id: str
    name: str
    email: str
    team_id: str
    role: str
    hired_w: int
    fired_w: int
    win_rate: float
    speed: float
    activity: float
    discipline: float
    weight: int
    left_at: str | None = None

    @property
    def active(self) -> bool:
        """Whether the manager still works at the end of the account."""
        return self.fired_w == NEVER

    def works_at(self, w: int) -> bool:
        """Whether the manager is employed at work second ``w``."""
        return self.hired_w <= w < self.fired_w


def manager_count(deals: int) -> int:
    """Number of managers for an account of ``deals`` deals (one per 2,000, from 6 to 500)."""
    return max(6, min(500, round(deals / 2000)))


def build_team(
    rng: random.Random, clock: Clock, deals: int, period_start: int
) -> tuple[list[tuple[str, str, str, str]], list[ManagerProfile]]:
    """Generate the teams and the managers.

    Args:
        rng: the generator's random source.
        clock: the account's clock.
        deals: number of deals of the account (scales the head count).
        period_start: calendar day index of the first day of the deal period.

    Returns:
        The team rows ``(id, name, parent_id, head_id)`` and the managers.
    """
    n = manager_count(deals)
    rnd = rng.random
    period_days = clock.end_index - period_start + 1
    n_sub = min(2 + int(rnd() * 3), max(2, (n - 1) // 2))
    head_team = "501"
    sub_teams = [str(502 + k) for k in range(n_sub)]

    roles = ["head"] + ["senior"] * n_sub
    n_assist = max(1, round(n * 0.06)) if n >= 8 else 0
    rest = n - len(roles) - n_assist
    for _ in range(rest):
        roles.append("senior" if rnd() < 0.12 else "manager")
    roles += ["assistant"] * n_assist

    # Who leaves during the period: ordinary managers only, about 8 %, at least one.
    candidates = [i for i, role in enumerate(roles) if role in ("manager", "assistant")]
    n_fired = max(1, round(n * 0.08))
    fired = set(rng.sample(candidates, min(n_fired, len(candidates))))

    used_emails: dict[str, int] = {}
    managers: list[ManagerProfile] = []
    for i, role in enumerate(roles):
        male = rnd() < 0.55
        first = rng.choice(data.MALE_FIRST if male else data.FEMALE_FIRST)
        surname = rng.choice(data.SURNAMES)
        if not male:
            surname = data.female_surname(surname)
        name = f"{first} {surname}"
        local = f"{data.translit(first)[0]}.{data.translit(surname)}"
        seen = used_emails.get(local, 0)
        used_emails[local] = seen + 1
        email = f"{local}{seen + 1 if seen else ''}@ropilot-demo.ru"

        if role == "head":
            team = head_team
        elif i <= n_sub:
            team = sub_teams[i - 1]
        else:
            team = sub_teams[int(rnd() * n_sub)]

        # Hiring: the head and team leads long before the period; others before or during it.
        if role in ("head",) or i <= n_sub or rnd() < 0.6:
            hired_day = period_start - 30 - int(rnd() * 4 * 365)
        else:
            hired_day = period_start + int(rnd() * period_days * 0.75)
        hired_w = clock.first_w_of_day(hired_day) + 3600 + int(rnd() * 4) * 900
        fired_w = NEVER
        if i in fired:
            low = max(hired_day + 60, period_start + period_days // 4)
            high = clock.end_index - 10
            if high > low:
                fired_w = clock.first_w_of_day(low + int(rnd() * (high - low)))
            else:
                fired_w = clock.first_w_of_day(high)

        senior = role in ("senior", "head")
        win_rate = min(0.6, max(0.08, rng.gauss(0.27 + (0.05 if senior else 0.0), 0.08)))
        speed = rng.lognormvariate(-0.1 if senior else 0.0, 0.3)
        activity = rng.lognormvariate(0.0, 0.35)
        discipline = 0.45 + 0.5 * rnd()
        weight = {"head": 1, "senior": 5, "manager": 4, "assistant": 0}[role]
        managers.append(
            ManagerProfile(
                index=i,
                id=str(1001 + i),
                name=name,
                email=email,
                team_id=team,
                role=role,
                hired_w=hired_w,
                fired_w=fired_w,
                win_rate=win_rate,
                speed=speed,
                activity=activity,
                discipline=discipline,
                weight=weight,
                left_at=clock.fmt(fired_w) if fired_w != NEVER else None,
            )
        )
    teams = [(head_team, "Отдел продаж", "", managers[0].id)]
    for k, tid in enumerate(sub_teams):
        teams.append((tid, data.TEAM_NAMES[k], head_team, managers[k + 1].id))
    return teams, managers


def write_team(
    out: BundleWriter,
    clock: Clock,
    teams: list[tuple[str, str, str, str]],
    managers: list[ManagerProfile],
) -> None:
    """Write the ``teams`` and ``managers`` tables.

    Args:
        out: the open bundle.
        clock: the account's clock.
        teams: team rows from :func:`build_team`.
        managers: managers from :func:`build_team`.
    """
    out["teams"].write_many(teams)
    for m in managers:
        timezone = "" if m.index % 7 == 3 else "Europe/Moscow"
        out["managers"].write(
            (
                m.id,
                m.name,
                m.email,
                m.team_id,
                m.role,
                "true" if m.active else "false",
                timezone,
                clock.fmt(m.hired_w),
            )
        )


class Staff:
    """Picks the manager who gets a new deal or client at a given moment.

    Managers are drawn in proportion to their weight among those employed at that moment;
    candidate pools are cached per calendar month.

    Args:
        clock: the account's clock.
        managers: every manager.
    """

    def __init__(self, clock: Clock, managers: list[ManagerProfile]) -> None:
        self.clock = clock
        self.managers = managers
        self._pools: dict[int, list[ManagerProfile]] = {}
        self._head = managers[0]

    def _pool(self, month: int) -> list[ManagerProfile]:
        pool = self._pools.get(month)
        if pool is None:
            clock = self.clock
            first = clock.first_w_of_day(clock.day_index(date(month // 12, month % 12 + 1, 1)))
            last = first + 31 * WORKDAY
            pool = [
                m
                for m in self.managers
                for _ in range(m.weight)
                if m.hired_w < last and m.fired_w > first
            ]
            self._pools[month] = pool
        return pool

    def pick(self, rng: random.Random, w: int) -> ManagerProfile | None:
        """A manager employed at work second ``w`` (None if nobody was employed yet).

        Args:
            rng: random source.
            w: the moment, in work seconds.

        Returns:
            The manager, drawn by weight.
        """
        clock = self.clock
        pool = self._pool(clock.day_month[clock.working_days[w // WORKDAY]])
        n = len(pool)
        rnd = rng.random
        if n:
            for _ in range(8):
                m = pool[int(rnd() * n)]
                if m.hired_w <= w < m.fired_w:
                    return m
        for m in self.managers:
            if m.weight and m.hired_w <= w < m.fired_w:
                return m
        return None

    def other(self, rng: random.Random, w: int, current: ManagerProfile) -> ManagerProfile:
        """A manager other than ``current`` employed at ``w`` (``current`` if there is none).

        Args:
            rng: random source.
            w: the moment, in work seconds.
            current: the manager to move away from.

        Returns:
            The new manager.
        """
        for _ in range(6):
            m = self.pick(rng, w)
            if m is not None and m is not current:
                return m
        for m in self.managers:
            if m is not current and m.weight and m.hired_w <= w < m.fired_w:
                return m
        return current


__all__ = ["NEVER", "WORKDAY", "ManagerProfile", "Staff", "build_team", "write_team"]
