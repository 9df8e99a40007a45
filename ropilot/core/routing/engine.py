"""Routing against the store: gather inputs, decide, record — in one locked transaction.

Concurrency: on PostgreSQL the pool's ``routing_levels`` rows and the members' ``routing_load``
rows are locked ``FOR UPDATE`` in manager-id order (levels first, then loads: one fixed order,
so two workers never deadlock); on SQLite the decision runs in one ``BEGIN IMMEDIATE`` write
transaction. Counters (leads per period, per criteria, open deals and tasks) are updated in the
same transaction as the decision, so a cap read by the next worker already includes it.
:func:`rebuild_counters` recounts them from the source tables.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from functools import cache
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import Connection, and_, bindparam, delete, func, insert, select, update
from sqlalchemy.dialects import postgresql, sqlite

from ropilot.core.business_hours import (
    Schedule,
    is_on_shift,
    next_shift_start,
    schedule_for_manager,
)
from ropilot.core.errors import ConfigurationError, StoreError
from ropilot.core.regulations import Pool, Regulations, pool_for
from ropilot.core.routing.capacity import period_bounds_us, period_key
from ropilot.core.routing.codec import inputs_to_json
from ropilot.core.routing.config import pool_rules
from ropilot.core.routing.decide import decide
from ropilot.core.routing.models import (
    SPECIALISATION_FIELDS,
    DecisionInputs,
    Lead,
    MemberFacts,
    Outcome,
    PoolRules,
)
from ropilot.core.routing.strategies import (
    BUILTIN_STRATEGIES,
    RoutingStrategy,
)
from ropilot.core.store import Store
from ropilot.core.store.schema import (
    companies,
    contacts,
    deals,
    managers,
    routing_counters,
    routing_decisions,
    routing_levels,
    routing_load,
    stages,
    tasks,
)
from ropilot.core.timeutil import from_epoch_us, to_epoch_us


def builtin_strategies() -> dict[str, RoutingStrategy]:
    """The three built-in strategies by name (for library use without the plugin manager)."""
    return {cls.name: cls() for cls in BUILTIN_STRATEGIES}


@dataclass(frozen=True)
class Decision:
    """A recorded (or dry-run) routing decision."""

    id: str
    deal_id: str
    pool: str | None
    manager_id: str | None
    previous_manager_id: str | None
    rule: str
    reason: str
    strategy: str
    regulations_version: str
    decided_at: datetime
    explanation: Mapping[str, Any]
    inputs: Mapping[str, Any]
    dry_run: bool = False


@dataclass
class _Person:
    id: str
    active: bool
    role: str
    team_id: str | None
    specialisations: dict[str, tuple[str, ...]]
    schedule: Schedule
    shift: tuple[int, int, bool] = (0, 0, False)  # [lo, hi) µs during which on_shift holds
    absent_day: tuple[date | None, bool] = (None, False)

    def on_shift(self, now_us: int) -> bool:
        lo, hi, value = self.shift
        if lo <= now_us < hi:
            return value
        now = from_epoch_us(now_us)
        value = is_on_shift(self.schedule, now)
        if value:
            day = self.schedule.local_day(now_us)
            spans = self.schedule.spans_on(day)
            lo, hi = next((s, e) for s, e in spans if s <= now_us < e)
        else:
            lo = now_us
            try:
                hi = to_epoch_us(next_shift_start(self.schedule, now))
            except ConfigurationError:
                hi = now_us + 1
        self.shift = (lo, hi, value)
        return value

    def absent(self, now_us: int) -> bool:
        day = self.schedule.local_day(now_us)
        if self.absent_day[0] != day:
            self.absent_day = (day, self.schedule.is_absent(day))
        return self.absent_day[1]


@dataclass
class _PoolCache:
    rules: PoolRules
    ensured: bool = False
    factors: dict[str, float] = field(default_factory=dict)


@contextmanager
def _write_txn(store: Store) -> Iterator[Connection]:
    with store.engine.connect() as conn:
        if conn.dialect.name == "sqlite":
            conn.exec_driver_sql("BEGIN IMMEDIATE")
        try:
            yield conn
        except BaseException:
            conn.rollback()
            raise
        conn.commit()


def _insert_missing(conn: Connection, table: Any, rows: list[dict[str, Any]]) -> None:
    if not rows:
        return
    key = [c.name for c in table.primary_key.columns]
    dialect = postgresql if conn.dialect.name == "postgresql" else sqlite
    conn.execute(dialect.insert(table).on_conflict_do_nothing(index_elements=key), rows)


class RoutingEngine:
    """Routes leads of one account under one set of regulations.

    Args:
        store: the store.
        account_id: the account.
        regulations: the rules (pools, caps, working hours).
        strategies: strategy objects by name (the CLI builds this through the plugin hooks);
            defaults to the built-ins.
        factors: efficiency factors per pool and manager (``efficiency.factors``); 1 if absent.
    """

    def __init__(
        self,
        store: Store,
        account_id: str,
        regulations: Regulations,
        strategies: Mapping[str, RoutingStrategy] | None = None,
        factors: Mapping[str, Mapping[str, float]] | None = None,
    ) -> None:
        self.store = store
        self.account_id = account_id
        self.regulations = regulations
        self.strategies = dict(strategies or builtin_strategies())
        account = store.get_account(account_id)
        if account is None:
            raise StoreError(f"no account {account_id!r} in the store; import or sync it first")
        self.account_timezone = account.timezone
        self._factors = {k: dict(v) for k, v in (factors or {}).items()}
        self._people: dict[str, _Person] = {}
        self._pools: dict[str, _PoolCache] = {}
        self.refresh_managers()

    # -- caches -----------------------------------------------------------------------------

    def refresh_managers(self) -> None:
        """Re-read managers (activity, roles, schedules, absences) and pool memberships."""
        people: dict[str, _Person] = {}
        with self.store.engine.connect() as conn:
            rows = conn.execute(
                select(managers).where(managers.c.account_id == self.account_id)
            ).mappings()
            for row in rows:
                specs = row["specialisations"] or {}
                people[row["id"]] = _Person(
                    id=row["id"],
                    active=bool(row["active"]),
                    role=str(row["role"]),
                    team_id=row["team_id"],
                    specialisations={k: tuple(v) for k, v in specs.items()},
                    schedule=schedule_for_manager(row, self.regulations, self.account_timezone),
                )
        self._people = people
        self._pools = {}

    def person(self, manager_id: str) -> _Person | None:
        """The cached manager (schedule, activity, role), if known."""
        return self._people.get(manager_id)

    def rules_for(self, pool: Pool) -> PoolRules:
        """The pool's rules with its members resolved (cached)."""
        cached = self._pools.get(pool.name)
        if cached is None:
            if pool.managers or pool.teams:
                ids = [
                    p.id
                    for p in self._people.values()
                    if p.id in pool.managers or (p.team_id is not None and p.team_id in pool.teams)
                ]
            else:
                ids = [p.id for p in self._people.values() if p.active and p.role != "assistant"]
            rules = pool_rules(pool, self.regulations, self.account_timezone, ids)
            cached = self._pools[pool.name] = _PoolCache(rules)
        return cached.rules

    def set_factors(self, pool: str, factors: Mapping[str, float]) -> None:
        """Use these efficiency factors for a pool's members from now on."""
        self._factors[pool] = dict(factors)

    def strategy_for(self, rules: PoolRules) -> RoutingStrategy:
        """The pool's strategy object.

        Raises:
            ConfigurationError: when no registered strategy has the pool's strategy name.
        """
        try:
            return self.strategies[rules.strategy]
        except KeyError:
            known = ", ".join(sorted(self.strategies))
            raise ConfigurationError(
                f"regulations: key routing.pools ({rules.name}).strategy: no routing strategy "
                f"{rules.strategy!r}; registered: {known}"
            ) from None

    # -- routing ----------------------------------------------------------------------------

    def route(
        self,
        deal_id: str,
        *,
        now: datetime | None = None,
        dry_run: bool = False,
        exclude: Sequence[str] = (),
        reason: str = "new",
    ) -> Decision:
        """Decide who gets ``deal_id`` and, unless ``dry_run``, record it.

        Raises:
            StoreError: when the deal is not in the store.
            ConfigurationError: when no pool takes the lead or its strategy is unknown.
        """
        moment = now or datetime.now(UTC)
        now_us = to_epoch_us(moment)
        with self.store.engine.connect() as conn:
            lead, is_open = self._lead(conn, deal_id)
        pool = pool_for(self.regulations, {**lead.__dict__})
        if pool is None:
            raise ConfigurationError(
                f"regulations: no routing pool matches deal {deal_id} (pipeline "
                f"{lead.pipeline_id}, source {lead.source}, segment {lead.segment}); add a pool "
                "without criteria as the last one"
            )
        rules = self.rules_for(pool)
        strategy = self.strategy_for(rules)
        members = list(rules.members or ())
        owner = lead.company_owner_id
        extra = (
            [owner]
            if rules.account_management
            and owner is not None
            and owner not in members
            and owner in self._people
            else []
        )
        zone = ZoneInfo(rules.timezone)
        grains = {"day", *rules.period_caps, *(c.grain for c in rules.criteria_caps)}
        keys = {g: period_key(now_us, g, zone) for g in sorted(grains)}
        cache = self._pools[pool.name]
        if not cache.ensured and not dry_run:
            self._ensure_rows(rules, extra)
            cache.ensured = True
        elif extra and not dry_run:
            self._ensure_rows(rules, extra, levels=False)

        txn = self.store.engine.connect() if dry_run else None
        with txn if txn is not None else _write_txn(self.store) as conn:
            inputs = self._inputs(conn, rules, lead, now_us, keys, members, extra, exclude, reason)
            outcome = decide(inputs, strategy)
            decision = self._decision(inputs, outcome, rules, lead, moment, reason, dry_run=dry_run)
            if not dry_run:
                self._record(conn, decision, outcome, rules, lead, is_open, now_us, keys)
        return decision

    def _lead(self, conn: Connection, deal_id: str) -> tuple[Lead, bool]:
        row = conn.execute(_stmts()["lead"], {"acct": self.account_id, "deal": deal_id}).first()
        if row is None:
            raise StoreError(f"no deal {deal_id!r} in account {self.account_id}; sync it first")
        custom = row.custom_fields or {}
        lead = Lead(
            deal_id=row.id,
            pipeline_id=row.pipeline_id,
            source=row.source,
            product=row.product,
            region=row.region,
            segment=row.segment,
            channel=custom.get("channel") or row.source,
            language=custom.get("language"),
            company_id=row.company_id,
            company_owner_id=row.owner,
            responsible_id=row.responsible_id,
            created_at_us=to_epoch_us(row.created_at),
        )
        return lead, row.kind in (None, "open")

    def _ensure_rows(self, rules: PoolRules, extra: list[str], *, levels: bool = True) -> None:
        ids = list(rules.members or ())
        with self.store.begin() as conn:
            if levels:
                _insert_missing(
                    conn,
                    routing_levels,
                    [
                        {
                            "account_id": self.account_id,
                            "pool": rules.name,
                            "manager_id": m,
                            "level": None,
                            "assigned_total": 0,
                            "away": False,
                            "catch_up": False,
                            "catch_up_used": 0,
                        }
                        for m in ids
                    ],
                )
            _insert_missing(
                conn,
                routing_load,
                [
                    {
                        "account_id": self.account_id,
                        "manager_id": m,
                        "open_deals": 0,
                        "open_tasks": 0,
                    }
                    for m in [*ids, *extra]
                ],
            )

    def _inputs(
        self,
        conn: Connection,
        rules: PoolRules,
        lead: Lead,
        now_us: int,
        keys: Mapping[str, str],
        members: list[str],
        extra: list[str],
        exclude: Sequence[str],
        reason: str,
    ) -> DecisionInputs:
        pg = conn.dialect.name == "postgresql"
        st = _stmts()
        lq = st["levels_pg" if pg else "levels"]
        levels = {
            r.manager_id: r for r in conn.execute(lq, {"acct": self.account_id, "pool": rules.name})
        }
        load_ids = sorted(
            {*members, *extra, *([lead.responsible_id] if lead.responsible_id else [])}
        )
        if len(load_ids) <= 200 or pg:
            dq = st["loads_in_pg" if pg else "loads_in"]
            params: dict[str, Any] = {"acct": self.account_id, "ids": load_ids}
        else:
            dq, params = st["loads_all"], {"acct": self.account_id}
        loads = {r[0]: (r[1], r[2]) for r in conn.execute(dq, params)}
        counts: dict[str, dict[str, int]] = {}
        crit: dict[str, dict[str, int]] = {}
        names: dict[str, tuple[str, str]] = {}
        for grain in rules.period_caps:
            names[keys[grain]] = ("p", grain)
        for cc in rules.criteria_caps:
            if lead.value(cc.field) == cc.value:
                names[f"{cc.name}@{keys[cc.grain]}"] = ("c", cc.name)
        if names:
            rows = conn.execute(
                st["counters"], {"acct": self.account_id, "pool": rules.name, "names": list(names)}
            )
            for counter, manager, n in rows:
                kind, label = names[counter]
                (counts if kind == "p" else crit).setdefault(manager, {})[label] = int(n)
        factors = self._factors.get(rules.name, {})
        match = [SPECIALISATION_FIELDS.get(f, f) for f in rules.specialisation_match]
        facts = []
        for mid in [*members, *extra]:
            person = self._people.get(mid)
            state = levels.get(mid)
            deals_n, tasks_n = loads.get(mid, (0, 0))
            facts.append(
                MemberFacts(
                    id=mid,
                    active=person is not None and person.active,
                    role=person.role if person else "manager",
                    on_shift=person is not None and person.on_shift(now_us),
                    absent=person is not None and person.absent(now_us),
                    specialisations={f: person.specialisations.get(f, ()) for f in match}
                    if person
                    else {},
                    level=None if state is None else state.level,
                    last_assigned_us=None if state is None else state.last_assigned_at,
                    away=bool(state.away) if state is not None else False,
                    catch_up=bool(state.catch_up) if state is not None else False,
                    catch_up_day=None if state is None else state.catch_up_day,
                    catch_up_used=0 if state is None else int(state.catch_up_used),
                    open_deals=int(deals_n),
                    open_tasks=int(tasks_n),
                    period_counts=counts.get(mid, {}),
                    criteria_counts=crit.get(mid, {}),
                    factor=float(factors.get(mid, 1.0)),
                    in_pool=mid not in extra,
                )
            )
        return DecisionInputs(
            pool=rules,
            lead=lead,
            now_us=now_us,
            period_keys=dict(keys),
            members=tuple(facts),
            exclude=tuple(exclude),
            reason=reason,
        )

    def _decision(
        self,
        inputs: DecisionInputs,
        outcome: Outcome,
        rules: PoolRules,
        lead: Lead,
        moment: datetime,
        reason: str,
        *,
        dry_run: bool,
    ) -> Decision:
        return Decision(
            id=uuid.uuid4().hex,
            deal_id=lead.deal_id,
            pool=rules.name,
            manager_id=outcome.manager_id,
            previous_manager_id=lead.responsible_id,
            rule=outcome.rule,
            reason=reason,
            strategy=outcome.strategy,
            regulations_version=self.regulations.version,
            decided_at=moment,
            explanation={**outcome.explanation(), "regulations_version": self.regulations.version},
            inputs=inputs_to_json(inputs),
            dry_run=dry_run,
        )

    def _record(
        self,
        conn: Connection,
        decision: Decision,
        outcome: Outcome,
        rules: PoolRules,
        lead: Lead,
        is_open: bool,
        now_us: int,
        keys: Mapping[str, str],
    ) -> None:
        acct, pool = self.account_id, rules.name
        st = _stmts()
        plain: list[dict[str, Any]] = []
        for ch in outcome.changes:
            if ch.assigned and outcome.rule == "account_management":
                if ch.manager_id in (rules.members or ()):
                    conn.execute(
                        st["touch"],
                        {"acct": acct, "p_pool": pool, "m": ch.manager_id, "v_now": now_us},
                    )
                continue  # the owner's lead is not a pool turn: the level stays
            row = {
                "acct": acct,
                "p_pool": pool,
                "m": ch.manager_id,
                "v_level": ch.level,
                "v_away": ch.away,
                "v_catch_up": ch.catch_up,
                "v_catch_up_day": ch.catch_up_day,
                "v_catch_up_used": ch.catch_up_used,
            }
            if ch.assigned:
                conn.execute(st["assign"], {**row, "v_now": now_us})
            else:
                plain.append(row)
        if plain:
            conn.execute(st["state"], plain)
        chosen = outcome.manager_id
        if chosen is not None:
            names = [keys[g] for g in rules.period_caps]
            names += [
                f"{cc.name}@{keys[cc.grain]}"
                for cc in rules.criteria_caps
                if lead.value(cc.field) == cc.value
            ]
            if names:
                _bump(conn, acct, pool, chosen, names)
            previous = lead.responsible_id
            if is_open and previous != chosen:
                _add_load(conn, acct, chosen, +1)
                if previous is not None:
                    _add_load(conn, acct, previous, -1)
            conn.execute(st["responsible"], {"acct": acct, "deal": lead.deal_id, "v_m": chosen})
        conn.execute(
            st["decision"],
            dict(
                account_id=acct,
                id=decision.id,
                deal_id=decision.deal_id,
                pool=decision.pool,
                manager_id=decision.manager_id,
                previous_manager_id=decision.previous_manager_id,
                rule=decision.rule,
                reason=decision.reason,
                strategy=decision.strategy,
                regulations_version=decision.regulations_version,
                decided_at=decision.decided_at,
                explanation=decision.explanation,
                inputs=decision.inputs,
            ),
        )


@cache
def _stmts() -> dict[str, Any]:
    """The hot path's statements, built once (building them cost more than running them)."""
    acct: Any = bindparam("acct")
    lv, ld, rc = routing_levels, routing_load, routing_counters
    lead = (
        select(
            deals.c.id,
            deals.c.pipeline_id,
            deals.c.source,
            deals.c.product,
            deals.c.region,
            deals.c.company_id,
            deals.c.responsible_id,
            deals.c.created_at,
            deals.c.custom_fields,
            stages.c.kind,
            companies.c.responsible_id.label("owner"),
            func.coalesce(companies.c.segment, contacts.c.segment).label("segment"),
        )
        .select_from(deals)
        .outerjoin(
            stages, and_(stages.c.account_id == deals.c.account_id, stages.c.id == deals.c.stage_id)
        )
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
        .where(deals.c.account_id == acct, deals.c.id == bindparam("deal"))
    )
    levels = (
        select(lv)
        .where(lv.c.account_id == acct, lv.c.pool == bindparam("pool"))
        .order_by(lv.c.manager_id)
    )
    loads = (
        select(ld.c.manager_id, ld.c.open_deals, ld.c.open_tasks)
        .where(ld.c.account_id == acct)
        .order_by(ld.c.manager_id)
    )
    loads_in = loads.where(ld.c.manager_id.in_(bindparam("ids", expanding=True)))
    key = (
        lv.c.account_id == acct,
        lv.c.pool == bindparam("p_pool"),
        lv.c.manager_id == bindparam("m"),
    )
    state: dict[str, Any] = {
        "level": bindparam("v_level"),
        "away": bindparam("v_away"),
        "catch_up": bindparam("v_catch_up"),
        "catch_up_day": bindparam("v_catch_up_day"),
        "catch_up_used": bindparam("v_catch_up_used"),
    }
    return {
        "lead": lead,
        "levels": levels,
        "levels_pg": levels.with_for_update(),
        "loads_all": loads,
        "loads_in": loads_in,
        "loads_in_pg": loads_in.with_for_update(),
        "counters": select(rc.c.counter, rc.c.manager_id, rc.c.count).where(
            rc.c.account_id == acct,
            rc.c.pool == bindparam("pool"),
            rc.c.counter.in_(bindparam("names", expanding=True)),
        ),
        "state": update(lv).where(*key).values(**state),
        "assign": update(lv)
        .where(*key)
        .values(
            **state,
            last_assigned_at=bindparam("v_now"),
            assigned_total=lv.c.assigned_total + 1,
        ),
        "touch": update(lv).where(*key).values(last_assigned_at=bindparam("v_now")),
        "load": update(ld)
        .where(ld.c.account_id == acct, ld.c.manager_id == bindparam("m"))
        .values(open_deals=ld.c.open_deals + bindparam("v_delta")),
        "responsible": update(deals)
        .where(deals.c.account_id == acct, deals.c.id == bindparam("deal"))
        .values(responsible_id=bindparam("v_m")),
        "decision": insert(routing_decisions),
    }


def _bump(conn: Connection, acct: str, pool: str, manager: str, names: list[str]) -> None:
    rows = [
        {"account_id": acct, "pool": pool, "counter": n, "manager_id": manager, "count": 1}
        for n in names
    ]
    dialect = postgresql if conn.dialect.name == "postgresql" else sqlite
    stmt = dialect.insert(routing_counters)
    conn.execute(
        stmt.on_conflict_do_update(
            index_elements=["account_id", "pool", "counter", "manager_id"],
            set_={"count": routing_counters.c.count + 1},
        ),
        rows,
    )


def _add_load(conn: Connection, acct: str, manager: str, delta: int) -> None:
    result = conn.execute(_stmts()["load"], {"acct": acct, "m": manager, "v_delta": delta})
    if result.rowcount == 0 and delta > 0:
        _insert_missing(
            conn,
            routing_load,
            [{"account_id": acct, "manager_id": manager, "open_deals": delta, "open_tasks": 0}],
        )


# -- counters from the source tables ----------------------------------------------------------


def recount(
    conn: Connection, account_id: str, rules: PoolRules, now: datetime
) -> tuple[dict[str, tuple[int, int]], dict[tuple[str, str], int]]:
    """Counters as the source tables say: load per manager and the pool's period counters.

    Returns ``({manager: (open deals, open tasks)}, {(counter, manager): count})``: open deals
    (stage kind ``open``) and uncompleted tasks by responsible; decisions of this pool in the
    current periods by chosen manager (criteria counters joined to the deal, segment from its
    company, else its contact).
    """
    open_deals: dict[str, int] = dict(
        conn.execute(
            select(deals.c.responsible_id, func.count())
            .join(
                stages,
                and_(stages.c.account_id == deals.c.account_id, stages.c.id == deals.c.stage_id),
            )
            .where(
                deals.c.account_id == account_id,
                stages.c.kind == "open",
                deals.c.responsible_id.is_not(None),
            )
            .group_by(deals.c.responsible_id)
        ).all()
    )
    open_tasks: dict[str, int] = dict(
        conn.execute(
            select(tasks.c.responsible_id, func.count())
            .where(
                tasks.c.account_id == account_id,
                tasks.c.completed_at.is_(None),
                tasks.c.responsible_id.is_not(None),
            )
            .group_by(tasks.c.responsible_id)
        ).all()
    )
    load = {
        m: (int(open_deals.get(m, 0)), int(open_tasks.get(m, 0)))
        for m in {*open_deals, *open_tasks}
    }
    zone = ZoneInfo(rules.timezone)
    now_us = to_epoch_us(now)
    counters: dict[tuple[str, str], int] = {}
    d = routing_decisions
    base = [d.c.account_id == account_id, d.c.pool == rules.name, d.c.manager_id.is_not(None)]
    for grain in rules.period_caps:
        key = period_key(now_us, grain, zone)
        lo, hi = period_bounds_us(key, zone)
        q = (
            select(d.c.manager_id, func.count())
            .where(*base, d.c.decided_at >= from_epoch_us(lo), d.c.decided_at < from_epoch_us(hi))
            .group_by(d.c.manager_id)
        )
        for manager, n in conn.execute(q):
            counters[(key, manager)] = int(n)
    for cc in rules.criteria_caps:
        key = period_key(now_us, cc.grain, zone)
        lo, hi = period_bounds_us(key, zone)
        segment = func.coalesce(companies.c.segment, contacts.c.segment)
        column = segment if cc.field == "segment" else deals.c[cc.field]
        q = (
            select(d.c.manager_id, func.count())
            .select_from(d)
            .join(deals, and_(deals.c.account_id == d.c.account_id, deals.c.id == d.c.deal_id))
            .outerjoin(
                companies,
                and_(
                    companies.c.account_id == deals.c.account_id,
                    companies.c.id == deals.c.company_id,
                ),
            )
            .outerjoin(
                contacts,
                and_(
                    contacts.c.account_id == deals.c.account_id, contacts.c.id == deals.c.contact_id
                ),
            )
            .where(
                *base,
                d.c.decided_at >= from_epoch_us(lo),
                d.c.decided_at < from_epoch_us(hi),
                column == cc.value,
            )
            .group_by(d.c.manager_id)
        )
        for manager, n in conn.execute(q):
            counters[(f"{cc.name}@{key}", manager)] = int(n)
    return load, counters


def stored_counters(
    conn: Connection, account_id: str, rules: PoolRules
) -> tuple[dict[str, tuple[int, int]], dict[tuple[str, str], int]]:
    """The incrementally kept counters, in the shape :func:`recount` returns (zeros left out)."""
    load = {
        r.manager_id: (int(r.open_deals), int(r.open_tasks))
        for r in conn.execute(select(routing_load).where(routing_load.c.account_id == account_id))
        if r.open_deals or r.open_tasks
    }
    rows = conn.execute(
        select(
            routing_counters.c.counter, routing_counters.c.manager_id, routing_counters.c.count
        ).where(routing_counters.c.account_id == account_id, routing_counters.c.pool == rules.name)
    )
    counters = {(c, m): int(n) for c, m, n in rows if n}
    return load, counters


def rebuild_counters(store: Store, account_id: str, rules: PoolRules, now: datetime) -> None:
    """Replace the kept counters by a recount (after a sync, or when in doubt).

    Deals closed and tasks completed since the last rebuild stop counting towards the load
    here; the incremental counters only ever add what routing assigned.
    """
    with _write_txn(store) as conn:
        load, counters = recount(conn, account_id, rules, now)
        conn.execute(
            update(routing_load)
            .where(routing_load.c.account_id == account_id)
            .values(open_deals=0, open_tasks=0)
        )
        now_us = to_epoch_us(now)
        for manager, (n_deals, n_tasks) in load.items():
            _insert_missing(
                conn,
                routing_load,
                [
                    {
                        "account_id": account_id,
                        "manager_id": manager,
                        "open_deals": 0,
                        "open_tasks": 0,
                    }
                ],
            )
            conn.execute(
                update(routing_load)
                .where(
                    routing_load.c.account_id == account_id, routing_load.c.manager_id == manager
                )
                .values(open_deals=n_deals, open_tasks=n_tasks, rebuilt_at=from_epoch_us(now_us))
            )
        conn.execute(
            delete(routing_counters).where(
                routing_counters.c.account_id == account_id, routing_counters.c.pool == rules.name
            )
        )
        rows = [
            {
                "account_id": account_id,
                "pool": rules.name,
                "counter": c,
                "manager_id": m,
                "count": n,
            }
            for (c, m), n in counters.items()
        ]
        if rows:
            conn.execute(insert(routing_counters), rows)


def load_decision(store: Store, account_id: str, decision_id: str) -> dict[str, Any]:
    """A stored decision row as a dict.

    Raises:
        StoreError: when there is no such decision.
    """
    with store.engine.connect() as conn:
        row = (
            conn.execute(
                select(routing_decisions).where(
                    routing_decisions.c.account_id == account_id,
                    routing_decisions.c.id == decision_id,
                )
            )
            .mappings()
            .first()
        )
    if row is None:
        raise StoreError(f"no routing decision {decision_id!r} in account {account_id}")
    out = dict(row)
    for k in ("explanation", "inputs"):
        if isinstance(out[k], str):
            out[k] = json.loads(out[k])
    return out
