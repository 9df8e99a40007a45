"""What-if: replay past leads through other regulations, in memory, and compare.

Deals created in the window, in creation order (ties by id), go through the pure ``decide``
starting from empty levels and counters; each lead is decided at its creation moment with the
managers' schedules, absences and the pool's caps of the *other* regulations. The report gives
per-manager simulated shares, the target share (declared weight ÷ the pool's total), the
maximum deviation from target, and SLA breaches (leads that found nobody eligible); next to
them what happened: actual responsible shares and actual breaches (the actual responsible was
off shift or absent at the lead's creation, or over the period cap).
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import and_, func, select

from ropilot.core.routing.capacity import period_key
from ropilot.core.routing.decide import decide
from ropilot.core.routing.models import DecisionInputs, Lead, MemberFacts, Outcome, PoolRules
from ropilot.core.routing.strategies import RoutingStrategy
from ropilot.core.store.schema import companies, contacts, deals
from ropilot.core.timeutil import to_epoch_us


@dataclass
class MemoryState:
    """Levels, counters and open deals kept in memory (the simulation's store)."""

    members: dict[str, MemberFacts] = field(default_factory=dict)
    counters: Counter[tuple[str, str]] = field(default_factory=Counter)
    open_deals: Counter[str] = field(default_factory=Counter)

    def inputs(
        self,
        rules: PoolRules,
        lead: Lead,
        now_us: int,
        people: Mapping[str, MemberFacts],
    ) -> DecisionInputs:
        """Decision inputs from this state; ``people`` gives who each member is right now."""
        zone = ZoneInfo(rules.timezone)
        grains = {"day", *rules.period_caps, *(c.grain for c in rules.criteria_caps)}
        keys = {g: period_key(now_us, g, zone) for g in sorted(grains)}
        facts = []
        for mid in rules.members or ():
            who = people[mid]
            kept = self.members.get(mid)
            base = (
                who
                if kept is None
                else kept._replace(
                    active=who.active,
                    role=who.role,
                    on_shift=who.on_shift,
                    absent=who.absent,
                    specialisations=who.specialisations,
                    factor=who.factor,
                )
            )
            facts.append(
                base._replace(
                    open_deals=self.open_deals[mid],
                    period_counts={g: self.counters[(keys[g], mid)] for g in rules.period_caps},
                    criteria_counts={
                        c.name: self.counters[(f"{c.name}@{keys[c.grain]}", mid)]
                        for c in rules.criteria_caps
                    },
                )
            )
        return DecisionInputs(rules, lead, now_us, keys, tuple(facts))

    def apply(self, inputs: DecisionInputs, outcome: Outcome) -> None:
        """Write the outcome's state changes and counters into memory."""
        by_id = {m.id: m for m in inputs.members}
        for ch in outcome.changes:
            m = self.members.get(ch.manager_id, by_id[ch.manager_id])
            m = m._replace(
                level=ch.level,
                away=ch.away,
                catch_up=ch.catch_up,
                catch_up_day=ch.catch_up_day,
                catch_up_used=ch.catch_up_used,
            )
            if ch.assigned:
                m = m._replace(last_assigned_us=inputs.now_us)
            self.members[ch.manager_id] = m
        chosen = outcome.manager_id
        if chosen is None:
            return
        keys = inputs.period_keys
        for g in inputs.pool.period_caps:
            self.counters[(keys[g], chosen)] += 1
        for c in inputs.pool.criteria_caps:
            if inputs.lead.value(c.field) == c.value:
                self.counters[(f"{c.name}@{keys[c.grain]}", chosen)] += 1
        self.open_deals[chosen] += 1


@dataclass(frozen=True)
class ManagerShare:
    """One manager's line of the what-if report."""

    manager_id: str
    target: float
    simulated: int
    simulated_share: float
    actual: int
    actual_share: float


@dataclass(frozen=True)
class Simulation:
    """The what-if report of one pool."""

    pool: str
    leads: int
    lines: tuple[ManagerShare, ...]
    simulated_max_deviation: float
    actual_max_deviation: float
    simulated_breaches: int
    actual_breaches: int

    def as_dict(self) -> dict[str, Any]:
        """JSON-able form."""
        from dataclasses import asdict

        return asdict(self)


def leads_in_window(conn: Any, account_id: str, since: datetime, until: datetime) -> list[Lead]:
    """Deals created in ``[since, until)`` as leads, in creation order (ties by id)."""
    rows = conn.execute(
        select(
            deals.c.id,
            deals.c.pipeline_id,
            deals.c.source,
            deals.c.product,
            deals.c.region,
            deals.c.company_id,
            deals.c.responsible_id,
            deals.c.created_at,
            func.coalesce(companies.c.segment, contacts.c.segment).label("segment"),
            companies.c.responsible_id.label("owner"),
        )
        .select_from(deals)
        .outerjoin(
            companies,
            and_(
                companies.c.account_id == deals.c.account_id, companies.c.id == deals.c.company_id
            ),
        )
        .outerjoin(
            contacts,
            and_(contacts.c.account_id == deals.c.account_id, contacts.c.id == deals.c.contact_id),
        )
        .where(
            deals.c.account_id == account_id,
            deals.c.created_at >= since,
            deals.c.created_at < until,
        )
        .order_by(deals.c.created_at, deals.c.id)
    )
    return [
        Lead(
            deal_id=r.id,
            pipeline_id=r.pipeline_id,
            source=r.source,
            product=r.product,
            region=r.region,
            segment=r.segment,
            channel=r.source,
            company_id=r.company_id,
            company_owner_id=r.owner,
            responsible_id=r.responsible_id,
            created_at_us=to_epoch_us(r.created_at),
        )
        for r in rows
    ]


def simulate_pool(
    rules: PoolRules,
    leads: list[Lead],
    people_at: Any,
    strategy: RoutingStrategy,
) -> Simulation:
    """Run ``leads`` (already filtered to the pool) through ``rules`` from empty state.

    ``people_at(lead) -> dict[manager_id, MemberFacts]`` gives each member's presence then.
    """
    state = MemoryState()
    sim: Counter[str] = Counter()
    actual: Counter[str] = Counter()
    sim_breaches = 0
    actual_breaches = 0
    actual_state = MemoryState()
    members = list(rules.members or ())
    for lead in leads:
        people = people_at(lead)
        inputs = state.inputs(rules, lead, lead.created_at_us, people)
        outcome = decide(inputs, strategy)
        state.apply(inputs, outcome)
        if outcome.manager_id is None:
            sim_breaches += 1
        else:
            sim[outcome.manager_id] += 1
        who = lead.responsible_id
        if who is not None:
            actual[who] += 1
            if who in people:
                facts = actual_state.inputs(rules, lead, lead.created_at_us, people)
                me = next((m for m in facts.members if m.id == who), None)
                cap_hit = me is not None and any(
                    me.period_counts.get(g, 0) + 1 > cap for g, cap in rules.period_caps.items()
                )
                if not people[who].on_shift or people[who].absent or cap_hit:
                    actual_breaches += 1
                for g in rules.period_caps:
                    actual_state.counters[(facts.period_keys[g], who)] += 1
    total_w = sum(rules.weight_of(m) for m in members) or 1.0
    n_sim, n_act = sum(sim.values()) or 1, sum(actual.values()) or 1
    lines = tuple(
        ManagerShare(
            manager_id=m,
            target=rules.weight_of(m) / total_w,
            simulated=sim[m],
            simulated_share=sim[m] / n_sim,
            actual=actual[m],
            actual_share=actual[m] / n_act,
        )
        for m in members
    )
    return Simulation(
        pool=rules.name,
        leads=len(leads),
        lines=lines,
        simulated_max_deviation=max(
            (abs(x.simulated_share - x.target) for x in lines), default=0.0
        ),
        actual_max_deviation=max((abs(x.actual_share - x.target) for x in lines), default=0.0),
        simulated_breaches=sim_breaches,
        actual_breaches=actual_breaches,
    )


def window(since: datetime, weeks: int) -> tuple[datetime, datetime]:
    """``[since, since + weeks)``."""
    return since, since + timedelta(weeks=weeks)


def group_by_pool(leads: list[Lead], pool_of: Any) -> dict[str, list[Lead]]:
    """Leads by the name of the pool that takes them (``pool_of(lead) -> name | None``)."""
    out: dict[str, list[Lead]] = defaultdict(list)
    for lead in leads:
        name = pool_of(lead)
        if name is not None:
            out[name].append(lead)
    return dict(out)
