"""Routing against the store: gather inputs, decide, record — in one locked transaction.

The engine keeps each pool's member table in memory (one ``MemberFacts`` per member and its
encoded JSON row) and brings it up to date cheaply: every write to the routing state bumps the
account's row in ``routing_seq`` and stamps the rows it changes with the new value, so the
engine reads only rows changed since the sequence it holds (none when it made the previous
decision itself). Shifts and absences are re-evaluated only when the moment leaves the window
in which every member's shift and absence stay the same.

Concurrency: the decision's transaction starts with ``UPDATE routing_seq SET seq = seq + 1``
— a row lock on PostgreSQL, inside ``BEGIN IMMEDIATE`` on SQLite — so routing writes of one
account are serialised and a cap read by the next worker already includes this decision.
Counters (leads per period, per criteria, open deals and tasks) are updated in the same
transaction; :func:`rebuild_counters` recounts them from the source tables.

Stored per decision: the compact explanation (``Outcome.compact``) and the inputs as a pool
snapshot reference plus the members that differ from it (``codec``); :func:`load_decision`
expands both.
"""

from __future__ import annotations

import json
import uuid
import weakref
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from datetime import time as dtime
from functools import cache, cached_property
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import (
    Connection,
    and_,
    bindparam,
    func,
    insert,
    literal,
    select,
    true,
    update,
)
from sqlalchemy.dialects import postgresql, sqlite

from ropilot.core.business_hours import (
    Schedule,
    business_seconds,
    is_on_shift,
    next_shift_start,
    schedule_for_manager,
)
from ropilot.core.errors import ConfigurationError, StoreError
from ropilot.core.regulations import Pool, Regulations, pool_for
from ropilot.core.routing.candidates import tie_hash
from ropilot.core.routing.capacity import period_bounds_us, period_key
from ropilot.core.routing.codec import (
    encode_row,
    inputs_from_stored,
    inputs_text,
    inputs_to_json,
    snapshot_text,
)
from ropilot.core.routing.config import pool_rules
from ropilot.core.routing.decide import DecideMemo, decide
from ropilot.core.routing.efficiency import factors, measure
from ropilot.core.routing.kept import KeptConnections, write_transaction
from ropilot.core.routing.models import (
    SPECIALISATION_FIELDS,
    Choice,
    DecisionInputs,
    Lead,
    MemberFacts,
    Outcome,
    PoolRules,
    tie_members,
)
from ropilot.core.routing.strategies import (
    BUILTIN_STRATEGIES,
    RoutingStrategy,
)
from ropilot.core.store import Store
from ropilot.core.store.direct import Direct
from ropilot.core.store.schema import (
    companies,
    contacts,
    deals,
    managers,
    routing_counters,
    routing_decisions,
    routing_levels,
    routing_load,
    routing_seq,
    routing_snapshots,
    stages,
    tasks,
)
from ropilot.core.timeutil import from_epoch_us, to_epoch_us


def builtin_strategies() -> dict[str, RoutingStrategy]:
    """The three built-in strategies by name (for library use without the plugin manager)."""
    return {cls.name: cls() for cls in BUILTIN_STRATEGIES}


@dataclass(frozen=True)
class Decision:
    """A recorded (or dry-run) routing decision.

    ``explanation`` (the full one: every eligible member with level, load and weight, every
    excluded member with rule and detail) and ``inputs`` are built when first read.
    """

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
    outcome: Outcome = field(repr=False, compare=False)
    decision_inputs: DecisionInputs = field(repr=False, compare=False)
    dry_run: bool = False

    @cached_property
    def explanation(self) -> Mapping[str, Any]:
        """The full explanation with the regulations version."""
        return {**self.outcome.explanation(), "regulations_version": self.regulations_version}

    @cached_property
    def inputs(self) -> Mapping[str, Any]:
        """The decision's inputs, expanded (``codec.inputs_to_json``)."""
        return inputs_to_json(self.decision_inputs)


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


CHAIN = 256
"""At most this many decisions between a decision and its snapshot: replay and ``load_decision``
read back at most this many small rows, and a snapshot (a few tens of kB for 500 members) is
written once per this many decisions."""

_NO_LEVEL: tuple[float | None, int | None, bool, bool, str | None, int] = (
    None,
    None,
    False,
    False,
    None,
    0,
)


@dataclass
class _PoolState:
    """One pool's member table as of routing sequence ``seq`` (``None``: load it all).

    ``facts[i]``/``rows[i]`` are member ``ids[i]``'s facts and their encoded JSON row;
    ``base_id`` the record the next decision's inputs build on (this engine's previous decision
    in the pool, or a snapshot), ``base_rows`` the rows as that record holds them, ``changed``
    the positions whose row differs from it and ``chain`` how many decisions lie between it and
    its snapshot.
    differs from it.
    """

    rules: PoolRules
    ids: list[str]
    pos: dict[str, int]
    ensured: bool = False
    seq: int | None = None
    keys: dict[str, str] = field(default_factory=dict)
    counter_names: dict[str, tuple[str, str]] = field(default_factory=dict)
    levels: dict[str, tuple[float | None, int | None, bool, bool, str | None, int]] = field(
        default_factory=dict
    )
    loads: dict[str, tuple[int, int]] = field(default_factory=dict)
    counts: dict[str, dict[str, int]] = field(default_factory=dict)
    crit: dict[str, dict[str, int]] = field(default_factory=dict)
    presence: dict[str, tuple[bool, bool]] = field(default_factory=dict)
    window: tuple[int, int] = (0, 0)
    facts: list[MemberFacts] = field(default_factory=list)
    rows: list[str] = field(default_factory=list)
    base_id: str | None = None
    base_kind: str = "snapshot"
    base_rows: list[str] = field(default_factory=list)
    changed: set[int] = field(default_factory=set)
    chain: int = 0
    memo: DecideMemo = field(default_factory=DecideMemo)


def _insert_missing(conn: Connection, table: Any, rows: list[dict[str, Any]]) -> None:
    if not rows:
        return
    key = [c.name for c in table.primary_key.columns]
    dialect = postgresql if conn.dialect.name == "postgresql" else sqlite
    conn.execute(dialect.insert(table).on_conflict_do_nothing(index_elements=key), rows)


def _next_seq(conn: Connection, account_id: str) -> int:
    """Take the account's routing sequence row (the lock) and return the new value."""
    row = _direct("seq_bump").first(conn, {"acct": account_id})
    seq = None if row is None else row[0]
    if seq is None:
        _insert_missing(conn, routing_seq, [{"account_id": account_id, "seq": 0}])
        seq = conn.execute(_stmts()["seq_bump"], {"acct": account_id}).scalar_one()
    return int(seq)


class _Unchosen:
    """A strategy that chooses nobody: expands an explanation without re-deciding."""

    def __init__(self, name: str) -> None:
        self.name = name

    def choose(self, lead: Lead, candidates: Sequence[Any], pool: PoolRules) -> Choice | None:
        return None


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
        self._pools: dict[str, _PoolState] = {}
        self._kept = KeptConnections(store.engine)
        # An engine dropped without close() still returns its connections (and never warns).
        self._release = weakref.finalize(self, self._kept.close)
        self.refresh_managers()

    # -- caches -----------------------------------------------------------------------------

    def close(self) -> None:
        """Return the connections kept between decisions to the store's pool."""
        self._release()

    def __enter__(self) -> RoutingEngine:
        return self

    def __exit__(self, *_exc: object) -> None:
        self.close()

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
        return self._state(pool).rules

    def _state(self, pool: Pool) -> _PoolState:
        state = self._pools.get(pool.name)
        if state is None:
            if pool.managers or pool.teams:
                ids = [
                    p.id
                    for p in self._people.values()
                    if p.id in pool.managers or (p.team_id is not None and p.team_id in pool.teams)
                ]
            else:
                ids = [p.id for p in self._people.values() if p.active and p.role != "assistant"]
            rules = pool_rules(pool, self.regulations, self.account_timezone, ids)
            members = list(rules.members or ())
            state = _PoolState(rules, members, {m: i for i, m in enumerate(members)})
            self._pools[pool.name] = state
        return state

    def set_factors(self, pool: str, factors: Mapping[str, float]) -> None:
        """Use these efficiency factors for a pool's members from now on."""
        self._factors[pool] = dict(factors)
        state = self._pools.get(pool)
        if state is not None:
            state.seq = None  # rebuild every member's facts at the next decision

    def refresh_efficiency(self, now: datetime) -> dict[str, dict[str, float]]:
        """Measure every efficiency-enabled pool's members over its lookback (win rate by SQL,
        speed to first contact in business seconds on each manager's schedule) and use the
        bounded, shrunk factors from now on (``efficiency.factors``); run it when the engine
        starts and then daily. Returns the factors set, by pool.
        """
        out: dict[str, dict[str, float]] = {}

        def seconds(manager_id: str, start: datetime, end: datetime) -> float:
            person = self._people.get(manager_id)
            if person is None:
                return (end - start).total_seconds()
            return float(business_seconds(person.schedule, start, end))

        for pool in self.regulations.routing.pools:
            rules = self._state(pool).rules
            if not rules.efficiency.enabled or not rules.members:
                continue
            since = now - timedelta(days=rules.efficiency.lookback_days)
            with self.store.engine.connect() as conn:
                measured = measure(conn, self.account_id, list(rules.members), since, now, seconds)
            out[pool.name] = factors(measured, rules.efficiency)
            self.set_factors(pool.name, out[pool.name])
        return out

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
        """Decide who gets ``deal_id`` and, unless ``dry_run``, record it (committed on return).

        Raises:
            StoreError: when the deal is not in the store.
            ConfigurationError: when no pool takes the lead or its strategy is unknown.
        """
        moment = now or datetime.now(UTC)
        now_us = to_epoch_us(moment)
        if dry_run:
            with self.store.engine.connect() as conn:
                lead, _ = self._lead(conn, deal_id)
                view, strategy, extra, keys = self._prepare(lead, now_us)
                seq = conn.execute(_stmts()["seq_get"], {"acct": self.account_id}).scalar()
                self._sync(conn, view, int(seq or 0), keys)
                self._present(view, now_us)
                inputs = self._inputs(conn, view, lead, now_us, keys, extra, exclude, reason)
            outcome = decide(inputs, strategy, view.memo)
            return self._decision(inputs, outcome, view.rules, lead, moment, reason, dry_run=True)

        if self.store.engine.dialect.name == "postgresql":
            try:
                done = self._route_optimistic(deal_id, moment, now_us, exclude, reason)
            except BaseException:
                self._kept.drop(autocommit=True)  # a lost connection is not handed out again
                raise
            if done is not None:
                return done

        state: _PoolState | None = None
        try:
            with self._kept.write() as conn:
                seq, lead, is_open = self._begin(conn, deal_id)
                state, strategy, extra, keys = self._prepare(lead, now_us)
                rules = state.rules
                if not state.ensured:
                    self._ensure_rows(conn, state, seq)
                self._sync(conn, state, seq - 1, keys)
                self._present(state, now_us)
                inputs = self._inputs(conn, state, lead, now_us, keys, extra, exclude, reason)
                outcome = decide(inputs, strategy, state.memo)
                decision = self._decision(
                    inputs, outcome, rules, lead, moment, reason, dry_run=False
                )
                snap = self._snapshot(conn, state, now_us)
                if snap is not None:
                    base, kind, delta = snap, "snapshot", []
                else:
                    assert state.base_id is not None  # _snapshot writes one when there is none
                    base, kind = state.base_id, state.base_kind
                    delta = [state.rows[i] for i in sorted(state.changed)]
                if extra is not None:
                    delta.append(encode_row(inputs.members[-1]))
                stored = inputs_text(base, kind, delta, lead, now_us, keys, exclude, reason)
                self._record(
                    conn, decision, outcome, rules, lead, is_open, now_us, keys, seq, stored
                )
        except BaseException:
            if state is not None:
                state.seq = None  # the transaction's outcome is unknown here: reload next time
            raise
        state.ensured = True
        self._after(state, decision, outcome, lead, is_open, now_us, seq, snap is not None)
        return decision

    def _after(
        self,
        state: _PoolState,
        decision: Decision,
        outcome: Outcome,
        lead: Lead,
        is_open: bool,
        now_us: int,
        seq: int,
        snapshot: bool,
    ) -> None:
        """After the commit: the decision is the next one's base; apply what it wrote."""
        state.base_id, state.base_kind = decision.id, "decision"
        state.base_rows, state.changed = list(state.rows), set()
        state.chain = 0 if snapshot else state.chain + 1
        self._apply(state, outcome, lead, is_open, now_us, seq)

    def _route_optimistic(
        self,
        deal_id: str,
        moment: datetime,
        now_us: int,
        exclude: Sequence[str],
        reason: str,
    ) -> Decision | None:
        """PostgreSQL, two round trips: read the lead, decide on the kept table as of its
        sequence, and write everything in one autocommit statement that first moves the
        routing sequence from that value (``_pg_writes(guarded=True)``). Returns ``None`` —
        nothing written — when another worker wrote since, or when the decision needs more
        than the usual writes (a snapshot, presence changes, account management, the first
        decision of the pool); the locked path then decides again.
        """
        conn = self._kept.get(autocommit=True)
        lead, is_open = self._lead(conn, deal_id)
        state, strategy, extra, keys = self._prepare(lead, now_us)
        n = len(state.ids)
        if (
            extra is not None
            or not state.ensured
            or state.seq is None
            or state.keys != keys
            or state.base_id is None
        ):
            return None
        self._present(state, now_us)
        if state.chain >= CHAIN or len(state.changed) > max(16, n // 8):
            return None
        inputs = self._inputs(conn, state, lead, now_us, keys, None, exclude, reason)
        outcome = decide(inputs, strategy, state.memo)
        if outcome.rule == "account_management" or not all(ch.assigned for ch in outcome.changes):
            return None
        rules = state.rules
        decision = self._decision(inputs, outcome, rules, lead, moment, reason, dry_run=False)
        delta = [state.rows[i] for i in sorted(state.changed)]
        stored = inputs_text(
            state.base_id, state.base_kind, delta, lead, now_us, keys, exclude, reason
        )
        seq = state.seq + 1
        args = (conn, decision, outcome, rules, lead, is_open, now_us, keys, seq, stored)
        if not self._record(*args, guard=state.seq):
            return None
        self._after(state, decision, outcome, lead, is_open, now_us, seq, False)
        return decision

    def _prepare(
        self, lead: Lead, now_us: int
    ) -> tuple[_PoolState, RoutingStrategy, str | None, dict[str, str]]:
        """The lead's pool (state), strategy, owner from outside the pool, and period keys."""
        pool = pool_for(self.regulations, {**lead.__dict__})
        if pool is None:
            raise ConfigurationError(
                f"regulations: no routing pool matches deal {lead.deal_id} (pipeline "
                f"{lead.pipeline_id}, source {lead.source}, segment {lead.segment}); add a pool "
                "without criteria as the last one"
            )
        state = self._state(pool)
        rules = state.rules
        strategy = self.strategy_for(rules)
        owner = lead.company_owner_id
        extra = (
            owner
            if rules.account_management
            and owner is not None
            and owner not in state.pos
            and owner in self._people
            else None
        )
        zone = ZoneInfo(rules.timezone)
        grains = {"day", *rules.period_caps, *(c.grain for c in rules.criteria_caps)}
        keys = {g: period_key(now_us, g, zone) for g in sorted(grains)}
        return state, strategy, extra, keys

    def _begin(self, conn: Connection, deal_id: str) -> tuple[int, Lead, bool]:
        """Take the routing sequence (the lock) and read the lead: on PostgreSQL in one
        statement (the sequence update as a CTE), saving a round trip per decision.
        """
        if conn.dialect.name != "postgresql":
            seq = _next_seq(conn, self.account_id)
            return (seq, *self._lead(conn, deal_id))
        params = {"acct": self.account_id, "deal": deal_id}
        row = _direct("seq_lead_pg").first(conn, params)
        if row is None:  # no sequence row yet
            seq = _next_seq(conn, self.account_id)
            return (seq, *self._lead(conn, deal_id))
        if row.id is None:
            raise StoreError(f"no deal {deal_id!r} in account {self.account_id}; sync it first")
        return (int(row.seq), *self._lead_of(row))

    def _lead(self, conn: Connection, deal_id: str) -> tuple[Lead, bool]:
        row = _direct("lead").first(conn, {"acct": self.account_id, "deal": deal_id})
        if row is None:
            raise StoreError(f"no deal {deal_id!r} in account {self.account_id}; sync it first")
        return self._lead_of(row)

    def _lead_of(self, row: Any) -> tuple[Lead, bool]:
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

    def _ensure_rows(self, conn: Connection, state: _PoolState, seq: int) -> None:
        """Level and load rows for every member (inserted once, stamped with ``seq``)."""
        _insert_missing(
            conn,
            routing_levels,
            [
                {
                    "account_id": self.account_id,
                    "pool": state.rules.name,
                    "manager_id": m,
                    "level": None,
                    "assigned_total": 0,
                    "away": False,
                    "catch_up": False,
                    "catch_up_used": 0,
                    "seq": seq,
                }
                for m in state.ids
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
                    "seq": seq,
                }
                for m in state.ids
            ],
        )

    # -- the member table -------------------------------------------------------------------

    def _sync(self, conn: Connection, state: _PoolState, seq: int, keys: dict[str, str]) -> None:
        """Bring ``state`` to routing sequence ``seq`` (all rows, or those changed since)."""
        if state.seq == seq and state.keys == keys:
            return
        st, acct, rules = _stmts(), self.account_id, state.rules
        since = None if state.seq is None or state.keys != keys else state.seq
        if since is None:
            names: dict[str, tuple[str, str]] = {}
            for grain in rules.period_caps:
                names[keys[grain]] = ("p", grain)
            for cc in rules.criteria_caps:
                names[f"{cc.name}@{keys[cc.grain]}"] = ("c", cc.name)
            state.keys, state.counter_names = dict(keys), names
            state.levels, state.loads = {}, {}
            state.counts = {m: dict.fromkeys(rules.period_caps, 0) for m in state.ids}
            state.crit = {m: {cc.name: 0 for cc in rules.criteria_caps} for m in state.ids}
            state.presence, state.window = {}, (0, 0)
        params = {"acct": acct, "pool": rules.name, "since": -1 if since is None else since}
        touched: set[str] = set()
        for r in conn.execute(st["levels_since"], params):
            if r[0] in state.pos:
                state.levels[r[0]] = (r[1], r[2], bool(r[3]), bool(r[4]), r[5], int(r[6]))
                touched.add(r[0])
        for r in conn.execute(st["loads_since"], params):
            if r[0] in state.pos:
                state.loads[r[0]] = (int(r[1]), int(r[2]))
                touched.add(r[0])
        names = state.counter_names
        if names:
            for counter, manager, n in conn.execute(
                st["counters_since"], {**params, "names": list(names)}
            ):
                if manager in state.pos:
                    kind, label = names[counter]
                    (state.counts if kind == "p" else state.crit)[manager][label] = int(n)
                    touched.add(manager)
        if since is None:
            state.facts = [MemberFacts(m) for m in state.ids]
            state.rows = [""] * len(state.ids)
            state.base_id, state.base_rows, state.changed = None, [], set()
            touched = set(state.ids)
        for m in touched:
            self._rebuild(state, state.pos[m])
        state.seq = seq

    def _present(self, state: _PoolState, now_us: int) -> None:
        """Shift and absence of every member at ``now_us`` (re-evaluated outside the window)."""
        lo, hi = state.window
        if lo <= now_us < hi:
            return
        lo, hi = -(2**62), 2**62
        midnights: dict[ZoneInfo, tuple[int, int]] = {}
        for i, mid in enumerate(state.ids):
            person = self._people.get(mid)
            if person is None:
                value = (False, False)
            else:
                value = (person.on_shift(now_us), person.absent(now_us))
                s_lo, s_hi, _ = person.shift
                zone = person.schedule.zone
                day = midnights.get(zone)
                if day is None:
                    local = from_epoch_us(now_us).astimezone(zone).date()
                    day = midnights[zone] = (
                        to_epoch_us(datetime.combine(local, dtime(), tzinfo=zone)),
                        to_epoch_us(
                            datetime.combine(local + timedelta(days=1), dtime(), tzinfo=zone)
                        ),
                    )
                lo, hi = max(lo, s_lo, day[0]), min(hi, s_hi, day[1])
            if state.presence.get(mid) != value:
                state.presence[mid] = value
                self._rebuild(state, i)
        state.window = (lo, hi)

    def _rebuild(self, state: _PoolState, i: int) -> None:
        """Member ``i``'s facts and encoded row from the kept parts."""
        mid = state.ids[i]
        facts = self._facts(state, mid, in_pool=True)
        state.facts[i] = facts
        row = state.rows[i] = encode_row(facts)
        if i < len(state.base_rows) and state.base_rows[i] == row:
            state.changed.discard(i)
        else:
            state.changed.add(i)

    def _facts(self, state: _PoolState, mid: str, *, in_pool: bool) -> MemberFacts:
        rules = state.rules
        person = self._people.get(mid)
        level = state.levels.get(mid, _NO_LEVEL)
        deals_n, tasks_n = state.loads.get(mid, (0, 0))
        on_shift, absent = state.presence.get(mid, (False, False))
        match = [SPECIALISATION_FIELDS.get(f, f) for f in rules.specialisation_match]
        return MemberFacts(
            id=mid,
            active=person is not None and person.active,
            role=person.role if person else "manager",
            on_shift=on_shift,
            absent=absent,
            specialisations={f: person.specialisations.get(f, ()) for f in match} if person else {},
            level=level[0],
            last_assigned_us=level[1],
            away=level[2],
            catch_up=level[3],
            catch_up_day=level[4],
            catch_up_used=level[5],
            open_deals=deals_n,
            open_tasks=tasks_n,
            period_counts=dict(state.counts.get(mid, {})),
            criteria_counts=dict(state.crit.get(mid, {})),
            factor=float(self._factors.get(rules.name, {}).get(mid, 1.0)),
            in_pool=in_pool,
        )

    def _inputs(
        self,
        conn: Connection,
        state: _PoolState,
        lead: Lead,
        now_us: int,
        keys: Mapping[str, str],
        extra: str | None,
        exclude: Sequence[str],
        reason: str,
    ) -> DecisionInputs:
        members = list(state.facts)
        if extra is not None:
            members.append(self._outsider(conn, state, extra, now_us))
        return DecisionInputs(
            pool=state.rules,
            lead=lead,
            now_us=now_us,
            period_keys=dict(keys),
            members=tuple(members),
            exclude=tuple(exclude),
            reason=reason,
        )

    def _outsider(self, conn: Connection, state: _PoolState, mid: str, now_us: int) -> MemberFacts:
        """The client's owner from outside the pool, read afresh (not kept in the table)."""
        st, acct = _stmts(), self.account_id
        load = conn.execute(st["load_one"], {"acct": acct, "m": mid}).first()
        counts: dict[str, int] = {}
        crit: dict[str, int] = {}
        names = state.counter_names
        if names:
            rows = conn.execute(
                st["counters_of"],
                {"acct": acct, "pool": state.rules.name, "m": mid, "names": list(names)},
            )
            for counter, n in rows:
                kind, label = names[counter]
                (counts if kind == "p" else crit)[label] = int(n)
        person = self._people[mid]
        facts = self._facts(state, mid, in_pool=False)
        return facts._replace(
            on_shift=person.on_shift(now_us),
            absent=person.absent(now_us),
            open_deals=0 if load is None else int(load[0]),
            open_tasks=0 if load is None else int(load[1]),
            period_counts=counts,
            criteria_counts=crit,
        )

    def _snapshot(self, conn: Connection, state: _PoolState, now_us: int) -> str | None:
        """Store a new snapshot when there is no base, the chain of decisions since the last
        snapshot is :data:`CHAIN` long, or more than an eighth of the pool changed at once.
        """
        n = len(state.ids)
        if (
            state.base_id is not None
            and state.chain < CHAIN
            and len(state.changed) <= max(16, n // 8)
        ):
            return None
        snap = uuid.uuid4().hex
        conn.execute(
            _stmts()["snapshot"],
            {
                "account_id": self.account_id,
                "id": snap,
                "pool": state.rules.name,
                "created_at": from_epoch_us(now_us),
                "data": snapshot_text(state.rules, state.rows),
            },
        )
        return snap

    def _apply(
        self,
        state: _PoolState,
        outcome: Outcome,
        lead: Lead,
        is_open: bool,
        now_us: int,
        seq: int,
    ) -> None:
        """What :meth:`_record` wrote, applied to the member table (after the commit)."""
        touched: set[str] = set()
        for ch in outcome.changes:
            if ch.manager_id not in state.pos:
                continue
            old = state.levels.get(ch.manager_id, _NO_LEVEL)
            if ch.assigned and outcome.rule == "account_management":
                state.levels[ch.manager_id] = (old[0], now_us, *old[2:])
            else:
                last = now_us if ch.assigned else old[1]
                state.levels[ch.manager_id] = (
                    ch.level,
                    last,
                    ch.away,
                    ch.catch_up,
                    ch.catch_up_day,
                    ch.catch_up_used,
                )
            touched.add(ch.manager_id)
        chosen = outcome.manager_id
        if chosen is not None:
            if chosen in state.pos:
                counts = state.counts[chosen]
                for grain in state.rules.period_caps:
                    counts[grain] = counts.get(grain, 0) + 1
                crit = state.crit[chosen]
                for cc in state.rules.criteria_caps:
                    if lead.value(cc.field) == cc.value:
                        crit[cc.name] = crit.get(cc.name, 0) + 1
            touched.add(chosen)
        moves: list[tuple[str, int]] = []
        if chosen is not None and is_open and lead.responsible_id != chosen:
            moves = [(chosen, 1)]
            if lead.responsible_id is not None:
                moves.append((lead.responsible_id, -1))
        # Loads are the one state pools share: other pools' tables that were current before
        # this decision take its load moves and stay current (no re-read on their next lead).
        for other in self._pools.values():
            if other is not state and other.seq != seq - 1:
                continue
            mine = touched if other is state else set()
            for m, delta in moves:
                if m in other.pos:
                    d, t = other.loads.get(m, (0, 0))
                    other.loads[m] = (d + delta, t)
                    mine.add(m)
            for m in mine:
                if m in other.pos:
                    self._rebuild(other, other.pos[m])
            other.seq = seq

    # -- recording --------------------------------------------------------------------------

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
            outcome=outcome,
            decision_inputs=inputs,
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
        seq: int,
        stored_inputs: str,
        guard: int | None = None,
    ) -> bool:
        """Write the decision and what it implies; on PostgreSQL the usual writes (the winner's
        level, counters, load, the deal's responsible, the decision) go as one statement.

        With ``guard`` (PostgreSQL, autocommit): the statement also moves the routing sequence
        from ``guard`` to ``seq`` and writes nothing unless the sequence still was ``guard``;
        returns whether it wrote. Only for decisions whose changes are the winner's alone.
        """
        acct, pool = self.account_id, rules.name
        st = _stmts()
        plain: list[dict[str, Any]] = []
        assign: dict[str, Any] | None = None
        for ch in outcome.changes:
            if ch.assigned and outcome.rule == "account_management":
                if ch.manager_id in (rules.members or ()):
                    conn.execute(
                        st["touch"],
                        {
                            "acct": acct,
                            "p_pool": pool,
                            "m": ch.manager_id,
                            "v_now": now_us,
                            "v_seq": seq,
                        },
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
                "v_seq": seq,
            }
            if ch.assigned:
                assign = {**row, "v_now": now_us}
            else:
                plain.append(row)
        if plain:
            for values in plain:
                _direct("state").run(conn, values)
        counters: list[str] = []
        up = down = None
        chosen = outcome.manager_id
        if chosen is not None:
            counters = [keys[g] for g in rules.period_caps]
            counters += [
                f"{cc.name}@{keys[cc.grain]}"
                for cc in rules.criteria_caps
                if lead.value(cc.field) == cc.value
            ]
            previous = lead.responsible_id
            if is_open and previous != chosen:
                up, down = chosen, previous
        row = dict(
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
            explanation={**outcome.compact(), "regulations_version": decision.regulations_version},
            inputs=stored_inputs,
            applied_at=None,
            apply_error=None,
        )
        if conn.dialect.name == "postgresql":
            shape = (assign is not None, len(counters), up is not None, down is not None)
            params: dict[str, Any] = {f"d_{k}": v for k, v in row.items()}
            params.update(acct=acct, p_pool=pool, v_seq=seq, deal=lead.deal_id, v_m=chosen)
            if assign is not None:
                params.update({f"a_{k}": v for k, v in assign.items()})
            for n, name in enumerate(counters):
                params[f"c{n}"] = name
            params.update(up=up, down=down, expected=guard)
            writes = _pg_direct(*shape, chosen is not None, guard is not None)
            return writes.first(conn, params) is not None or guard is None
        if assign is not None:
            _direct("assign").run(conn, assign)
        if chosen is not None:
            if counters:
                _bump(conn, acct, pool, chosen, counters, seq)
            if up is not None:
                _add_load(conn, acct, up, +1, seq)
            if down is not None:
                _add_load(conn, acct, down, -1, seq)
            _direct("responsible").run(conn, {"acct": acct, "deal": lead.deal_id, "v_m": chosen})
        _direct("decision").run(conn, row)
        return True


@cache
def _pg_writes(
    assign: bool, n_counters: int, up: bool, down: bool, chosen: bool, guarded: bool = False
) -> Any:
    """One PostgreSQL statement for a decision's usual writes: data-modifying CTEs (the
    winner's level, counters, load up and down, the deal's responsible) around the decision's
    insert. Built once per shape; the rows they touch are distinct, as PostgreSQL requires.

    ``guarded``: a first CTE moves ``routing_seq`` from ``:expected`` and every write is
    conditional on it (the inserts select from it, the updates require it), so when another
    worker wrote since, nothing is written and no row is returned.
    """
    lv, ld, rc, sq = routing_levels, routing_load, routing_counters, routing_seq
    acct: Any = bindparam("acct")
    seq: Any = bindparam("v_seq")
    ctes = []
    guard: list[Any] = []
    taken = None
    if guarded:
        taken = (
            update(sq)
            .where(sq.c.account_id == acct, sq.c.seq == bindparam("expected"))
            .values(seq=sq.c.seq + 1)
            .returning(sq.c.seq)
            .cte("taken")
        )
        ctes.append(taken)
        guard.append(select(taken.c.seq).exists())

    def rows_of(table: Any, values: dict[str, Any]) -> Any:
        """``INSERT ... VALUES`` or, guarded, ``INSERT ... SELECT ... FROM taken``."""
        ins = postgresql.insert(table)
        if taken is None:
            return ins.values(**values)
        typed = [
            literal(v, table.c[k].type)
            if isinstance(v, int)
            else bindparam(v.key, type_=table.c[k].type)
            for k, v in values.items()
        ]
        return ins.from_select(list(values), select(*typed).select_from(taken))

    if assign:
        ctes.append(
            update(lv)
            .where(
                lv.c.account_id == bindparam("a_acct"),
                lv.c.pool == bindparam("a_p_pool"),
                lv.c.manager_id == bindparam("a_m"),
                *guard,
            )
            .values(
                level=bindparam("a_v_level"),
                away=bindparam("a_v_away"),
                catch_up=bindparam("a_v_catch_up"),
                catch_up_day=bindparam("a_v_catch_up_day"),
                catch_up_used=bindparam("a_v_catch_up_used"),
                seq=bindparam("a_v_seq"),
                last_assigned_at=bindparam("a_v_now"),
                assigned_total=lv.c.assigned_total + 1,
            )
            .returning(lv.c.manager_id)
            .cte("w_level")
        )
    for n in range(n_counters):  # one CTE per counter: a multi-row upsert is not cacheable
        ins = rows_of(
            rc,
            {
                "account_id": acct,
                "pool": bindparam("p_pool"),
                "counter": bindparam(f"c{n}"),
                "manager_id": bindparam("v_m"),
                "count": 1,
                "seq": seq,
            },
        )
        ctes.append(
            ins.on_conflict_do_update(
                index_elements=["account_id", "pool", "counter", "manager_id"],
                set_={"count": rc.c.count + 1, "seq": ins.excluded.seq},
            )
            .returning(rc.c.counter)
            .cte(f"w_counter{n}")
        )
    if up:
        ins = rows_of(
            ld,
            {
                "account_id": acct,
                "manager_id": bindparam("up"),
                "open_deals": 1,
                "open_tasks": 0,
                "seq": seq,
            },
        )
        ctes.append(
            ins.on_conflict_do_update(
                index_elements=["account_id", "manager_id"],
                set_={"open_deals": ld.c.open_deals + 1, "seq": ins.excluded.seq},
            )
            .returning(ld.c.manager_id)
            .cte("w_up")
        )
    if down:
        ctes.append(
            update(ld)
            .where(ld.c.account_id == acct, ld.c.manager_id == bindparam("down"), *guard)
            .values(open_deals=ld.c.open_deals - 1, seq=seq)
            .returning(ld.c.manager_id)
            .cte("w_down")
        )
    if chosen:
        ctes.append(
            update(deals)
            .where(deals.c.account_id == acct, deals.c.id == bindparam("deal"), *guard)
            .values(responsible_id=bindparam("v_m"))
            .returning(deals.c.id)
            .cte("w_deal")
        )
    names = [
        c.name for c in routing_decisions.columns if c.name not in ("applied_at", "apply_error")
    ]
    values: dict[str, Any] = {n: bindparam(f"d_{n}") for n in names}
    if taken is None:
        return insert(routing_decisions).values(**values).add_cte(*ctes)
    typed = [bindparam(f"d_{n}", type_=routing_decisions.c[n].type) for n in names]
    return (
        insert(routing_decisions)
        .from_select(names, select(*typed).select_from(taken))
        .returning(routing_decisions.c.id)
        .add_cte(*ctes)
    )


@cache
def _stmts() -> dict[str, Any]:
    """The hot path's statements, built once (building them cost more than running them)."""
    acct: Any = bindparam("acct")
    lv, ld, rc, sq = routing_levels, routing_load, routing_counters, routing_seq
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
    since: Any = bindparam("since")
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
        "seq": bindparam("v_seq"),
    }
    names: Any = bindparam("names", expanding=True)
    bump = update(sq).where(sq.c.account_id == acct).values(seq=sq.c.seq + 1).returning(sq.c.seq)
    taken = bump.cte("taken")
    found = lead.subquery("found")
    return {
        "lead": lead,
        "seq_bump": bump,
        "seq_lead_pg": select(taken.c.seq, found).select_from(taken.outerjoin(found, true())),
        "seq_get": select(sq.c.seq).where(sq.c.account_id == acct),
        "levels_since": select(
            lv.c.manager_id,
            lv.c.level,
            lv.c.last_assigned_at,
            lv.c.away,
            lv.c.catch_up,
            lv.c.catch_up_day,
            lv.c.catch_up_used,
        ).where(lv.c.account_id == acct, lv.c.pool == bindparam("pool"), lv.c.seq > since),
        "loads_since": select(ld.c.manager_id, ld.c.open_deals, ld.c.open_tasks).where(
            ld.c.account_id == acct, ld.c.seq > since
        ),
        "counters_since": select(rc.c.counter, rc.c.manager_id, rc.c.count).where(
            rc.c.account_id == acct,
            rc.c.pool == bindparam("pool"),
            rc.c.seq > since,
            rc.c.counter.in_(names),
        ),
        "load_one": select(ld.c.open_deals, ld.c.open_tasks).where(
            ld.c.account_id == acct, ld.c.manager_id == bindparam("m")
        ),
        "counters_of": select(rc.c.counter, rc.c.count).where(
            rc.c.account_id == acct,
            rc.c.pool == bindparam("pool"),
            rc.c.manager_id == bindparam("m"),
            rc.c.counter.in_(names),
        ),
        "state": update(lv).where(*key).values(**state),
        "assign": update(lv)
        .where(*key)
        .values(
            **state,
            last_assigned_at=bindparam("v_now"),
            assigned_total=lv.c.assigned_total + 1,
        ),
        "touch": update(lv)
        .where(*key)
        .values(last_assigned_at=bindparam("v_now"), seq=bindparam("v_seq")),
        "load": update(ld)
        .where(ld.c.account_id == acct, ld.c.manager_id == bindparam("m"))
        .values(open_deals=ld.c.open_deals + bindparam("v_delta"), seq=bindparam("v_seq")),
        "responsible": update(deals)
        .where(deals.c.account_id == acct, deals.c.id == bindparam("deal"))
        .values(responsible_id=bindparam("v_m")),
        "decision": insert(routing_decisions).values(
            {c.name: bindparam(c.name) for c in routing_decisions.columns}
        ),
        "snapshot": insert(routing_snapshots),
    }


def _bump(conn: Connection, acct: str, pool: str, manager: str, names: list[str], seq: int) -> None:
    rows = [
        {
            "account_id": acct,
            "pool": pool,
            "counter": n,
            "manager_id": manager,
            "count": 1,
            "seq": seq,
        }
        for n in names
    ]
    upsert = _direct_upsert("counter", conn.dialect.name == "postgresql")
    for values in rows:
        upsert.run(conn, values)


@cache
def _direct(name: str) -> Direct:
    """A hot-path statement of :func:`_stmts` run on the driver connection (``store.direct``)."""
    return Direct(_stmts()[name])


_UPSERT_KEYS = {
    "counter": ("account_id", "pool", "counter", "manager_id", "count", "seq"),
    "load": ("account_id", "manager_id", "open_deals", "open_tasks", "seq"),
}


@cache
def _direct_upsert(kind: str, pg: bool) -> Direct:
    return Direct(_upserts()[kind, pg], keys=_UPSERT_KEYS[kind])


@cache
def _pg_direct(*shape: bool) -> Direct:
    return Direct(_pg_writes(*shape))


@cache
def _upserts() -> dict[tuple[str, bool], Any]:
    """The counter and load upserts per dialect (PostgreSQL: True), built once."""
    out: dict[tuple[str, bool], Any] = {}
    for pg, dialect in ((False, sqlite), (True, postgresql)):
        stmt = dialect.insert(routing_counters)
        out["counter", pg] = stmt.on_conflict_do_update(
            index_elements=["account_id", "pool", "counter", "manager_id"],
            set_={"count": routing_counters.c.count + 1, "seq": stmt.excluded.seq},
        )
        load = dialect.insert(routing_load)
        out["load", pg] = load.on_conflict_do_update(
            index_elements=["account_id", "manager_id"],
            set_={
                "open_deals": routing_load.c.open_deals + load.excluded.open_deals,
                "seq": load.excluded.seq,
            },
        )
    return out


def _add_load(conn: Connection, acct: str, manager: str, delta: int, seq: int) -> None:
    """One more (an upsert: the owner from outside the pool may have no row) or one less."""
    if delta > 0:
        _direct_upsert("load", conn.dialect.name == "postgresql").run(
            conn,
            {
                "account_id": acct,
                "manager_id": manager,
                "open_deals": delta,
                "open_tasks": 0,
                "seq": seq,
            },
        )
    else:
        _direct("load").run(conn, {"acct": acct, "m": manager, "v_delta": delta, "v_seq": seq})


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
    here; the incremental counters only ever add what routing assigned. Every row written is
    stamped with a new routing sequence, so running engines pick the new figures up.
    """
    with store.engine.connect() as fresh, write_transaction(fresh) as conn:
        seq = _next_seq(conn, account_id)
        load, counters = recount(conn, account_id, rules, now)
        conn.execute(
            update(routing_load)
            .where(routing_load.c.account_id == account_id)
            .values(open_deals=0, open_tasks=0, seq=seq)
        )
        _insert_missing(
            conn,
            routing_load,
            [
                {
                    "account_id": account_id,
                    "manager_id": manager,
                    "open_deals": 0,
                    "open_tasks": 0,
                    "seq": seq,
                }
                for manager in load
            ],
        )
        if load:
            conn.execute(
                update(routing_load)
                .where(
                    routing_load.c.account_id == account_id,
                    routing_load.c.manager_id == bindparam("m"),
                )
                .values(
                    open_deals=bindparam("n_deals"),
                    open_tasks=bindparam("n_tasks"),
                    rebuilt_at=now,
                ),
                [{"m": m, "n_deals": d, "n_tasks": t} for m, (d, t) in load.items()],
            )
        # Zero rather than delete: a deleted row carries no sequence for engines to notice.
        conn.execute(
            update(routing_counters)
            .where(
                routing_counters.c.account_id == account_id, routing_counters.c.pool == rules.name
            )
            .values(count=0, seq=seq)
        )
        rows = [
            {
                "account_id": account_id,
                "pool": rules.name,
                "counter": c,
                "manager_id": m,
                "count": n,
                "seq": seq,
            }
            for (c, m), n in counters.items()
        ]
        if rows:
            dialect = postgresql if conn.dialect.name == "postgresql" else sqlite
            stmt = dialect.insert(routing_counters)
            conn.execute(
                stmt.on_conflict_do_update(
                    index_elements=["account_id", "pool", "counter", "manager_id"],
                    set_={"count": stmt.excluded["count"]},
                ),
                rows,
            )


def _stored(
    store: Store, account_id: str, decision_id: str
) -> tuple[dict[str, Any], dict[str, Any], DecisionInputs]:
    """The decision row, its stored (compact) explanation and its inputs rebuilt.

    Follows the chain of bases (earlier decisions of the same engine) back to the snapshot.
    """
    d = routing_decisions
    with store.engine.connect() as conn:
        row = (
            conn.execute(select(d).where(d.c.account_id == account_id, d.c.id == decision_id))
            .mappings()
            .first()
        )
        if row is None:
            raise StoreError(f"no routing decision {decision_id!r} in account {account_id}")
        chain = [json.loads(row["inputs"])]
        while chain[-1]["base_kind"] == "decision":
            text = conn.execute(
                select(d.c.inputs).where(d.c.account_id == account_id, d.c.id == chain[-1]["base"])
            ).scalar()
            if text is None:
                raise StoreError(
                    f"routing decision {decision_id}: its base decision {chain[-1]['base']} "
                    "is missing"
                )
            chain.append(json.loads(text))
        data = conn.execute(
            select(routing_snapshots.c.data).where(
                routing_snapshots.c.account_id == account_id,
                routing_snapshots.c.id == chain[-1]["base"],
            )
        ).scalar()
    if data is None:
        raise StoreError(
            f"routing decision {decision_id}: its snapshot {chain[-1]['base']} is missing"
        )
    out = dict(row)
    compact = out["explanation"]
    if isinstance(compact, str):
        compact = json.loads(compact)
    return out, dict(compact), inputs_from_stored(json.loads(data), chain[::-1])


def load_decision(store: Store, account_id: str, decision_id: str) -> dict[str, Any]:
    """A stored decision row as a dict, with ``explanation`` and ``inputs`` expanded.

    The explanation is stored compactly (who, rule, tie, rejoins, exclusions by rule); the
    eligible members with level, load and weight and the exclusions' details are recomputed
    from the stored inputs by the same pure ``decide`` (without re-choosing), so they are
    what the decision saw.

    Raises:
        StoreError: when there is no such decision.
    """
    out, compact, inputs = _stored(store, account_id, decision_id)
    seen = decide(inputs, _Unchosen(str(compact.get("strategy", out["strategy"]))))
    full = seen.explanation()
    for k in ("chosen", "rule", "strategy", "tie", "note"):
        full[k] = compact.get(k)
    full["regulations_version"] = compact.get("regulations_version", out["regulations_version"])
    tie = compact.get("tie")
    if tie:  # stored as a mask and the first two of the order; the rest follows from inputs
        between = tie_members(tie["mask"], seen.candidates.members)
        facts = {m.id: m for m in seen.candidates.members}

        def rank(mid: str) -> tuple[int, int]:
            last = facts[mid].last_assigned_us
            return (-(2**63) if last is None else last, tie_hash(inputs.pool.name, mid))

        full["tie"] = {"between": between, "by": tie["by"], "order": sorted(between, key=rank)}
    out["explanation"] = full
    out["inputs"] = inputs_to_json(inputs)
    return out
