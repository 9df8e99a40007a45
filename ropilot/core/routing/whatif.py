"""What-if over the store: leads of a window, grouped by pool, through ``simulate_pool``."""

from __future__ import annotations

from datetime import datetime, timedelta

from ropilot.core.regulations import pool_for
from ropilot.core.routing.engine import RoutingEngine
from ropilot.core.routing.models import SPECIALISATION_FIELDS, Lead, MemberFacts
from ropilot.core.routing.simulate import Simulation, group_by_pool, leads_in_window, simulate_pool


def what_if(engine: RoutingEngine, since: datetime, weeks: int) -> list[Simulation]:
    """Simulate the engine's regulations over deals created in ``[since, since + weeks)``."""
    until = since + timedelta(weeks=weeks)
    with engine.store.engine.connect() as conn:
        leads = leads_in_window(conn, engine.account_id, since, until)
    pools = {p.name: p for p in engine.regulations.routing.pools}

    def pool_of(lead: Lead) -> str | None:
        pool = pool_for(engine.regulations, lead.__dict__)
        return None if pool is None else pool.name

    out = []
    for name, batch in group_by_pool(leads, pool_of).items():
        rules = engine.rules_for(pools[name])
        strategy = engine.strategy_for(rules)
        match = [SPECIALISATION_FIELDS.get(f, f) for f in rules.specialisation_match]

        def people_at(
            lead: Lead,
            members: tuple[str, ...] = rules.members or (),
            match: list[str] = match,
        ) -> dict[str, MemberFacts]:
            at = lead.created_at_us
            facts = {}
            for mid in members:
                person = engine.person(mid)
                facts[mid] = MemberFacts(
                    id=mid,
                    active=person is not None and person.active,
                    role=person.role if person else "manager",
                    on_shift=person is not None and person.on_shift(at),
                    absent=person is not None and person.absent(at),
                    specialisations={f: person.specialisations.get(f, ()) for f in match}
                    if person
                    else {},
                )
            return facts

        out.append(simulate_pool(rules, batch, people_at, strategy))
    return out
