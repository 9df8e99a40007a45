"""Stage conversion (sales_definitions.md, "Stage conversion"), reported both ways and labelled.

**Funnel.** A pipeline's funnel is its open stages by ``sort`` (ties by id), then its won stage;
the lost stage is not a step. Several won stages in one pipeline form that one last step. Steps
are numbered from 1 (``position``).

**Readings** (``reading=``):

- ``"funnel"`` — the default, the "reached" reading: a deal reaches step k the first time it
  enters k or any later step. Creation enters the creation stage, so a deal created directly in
  step 3 reaches steps 1–3 at its creation; a skip reaches the skipped steps at that moment;
  back-moves and re-entries add nothing; moves into lost reach nothing.
- ``"strict"`` — a labelled option: a deal reaches step k only by entering exactly that stage (its
  first entry into k counts); skipped steps are not reached.

**Methods**:

- :func:`snapshot` — per step k: deals first reaching k in the period, deals first reaching k + 1
  in the period, conversion = the second ÷ the first (``None`` on 0). The two sets may differ: a
  deal that reached k last month and k + 1 this month counts only in this month's k + 1.
- :func:`cohort` — deals first reaching k in the window; converted when they first reach k + 1
  within the horizon. The horizon is inclusive and measured from each deal's own reach-k moment:
  ``horizon_days=N`` → reached k + 1 at most N × 86,400 s after reaching k; ``horizon_end=T`` →
  reached k + 1 at or before T; neither → reached k + 1 at any time known to the store (or up to
  ``as_of``, inclusive, when given: history after ``as_of`` is ignored). In the strict reading a
  deal whose first entry into k + 1 came before its first entry into k is not converted.

History: a deal's stage entries are its ``stage_changes`` rows (``to_stage_id`` at
``changed_at``) plus its creation — a row without ``from_stage_id`` is the creation; without one,
the deal was created at ``created_at`` in the stage its first change left, or, with no history at
all, in its current stage (import_format.md). A deal counts in its current pipeline's funnel;
entries into another pipeline's stages are ignored.

SQL shape (one aggregate query per figure, the same on SQLite and PostgreSQL): only deals with a
stage entry in the period (or window) can first reach anything in it, so they are found first by
the time indexes; their entries are reduced to the first entry per (deal, position), then a
suffix minimum over positions gives the reach moment of a run of positions ``(prev_pos, pos]``
(window functions). The aggregate counts runs per (pipeline, dimensions, prev_pos, pos) and the
few aggregated rows are spread over steps in Python. Lineage (:func:`snapshot_deals`,
:func:`cohort_deals`) filters the same per-deal facts by a step and a group.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any, Literal

from sqlalchemy import (
    BigInteger,
    ColumnElement,
    Integer,
    and_,
    case,
    func,
    literal,
    or_,
    select,
    type_coerce,
    union,
    union_all,
)
from sqlalchemy.sql.functions import coalesce

from ropilot.core.errors import ConfigurationError
from ropilot.core.kpi.scope import deal_source, dimension_columns
from ropilot.core.periods import Period
from ropilot.core.store import Store
from ropilot.core.store.schema import deals, stage_changes, stages
from ropilot.core.timeutil import from_epoch_us, to_epoch_us

Reading = Literal["funnel", "strict"]
READINGS: tuple[str, ...] = ("funnel", "strict")
US_PER_DAY = 86_400_000_000


@dataclass(frozen=True)
class FunnelStep:
    """One step of a pipeline's funnel."""

    pipeline_id: str
    position: int
    stage_id: str
    stage_name: str
    kind: str
    """``open`` or ``won`` (the last step)."""


@dataclass(frozen=True)
class ConversionRow:
    """Conversion from one funnel step to the next, for one pipeline and group."""

    method: str
    """``snapshot`` or ``cohort``."""
    reading: str
    """``funnel`` (reached) or ``strict``."""
    pipeline_id: str
    keys: dict[str, str | None]
    position: int
    stage_id: str
    stage_name: str
    next_stage_id: str | None
    next_stage_name: str | None
    reached: int
    """Deals first reaching this step in the period (snapshot) or the window (cohort)."""
    reached_next: int | None
    """Snapshot: deals first reaching the next step in the period. Cohort: deals of ``reached``
    that reached the next step within the horizon. ``None`` on the last (won) step."""
    conversion: Decimal | None
    """``reached_next ÷ reached``; ``None`` when ``reached`` is 0 or on the last step."""


@dataclass(frozen=True)
class FunnelDeal:
    """A deal behind a conversion figure (lineage)."""

    deal_id: str
    keys: dict[str, str | None]
    amount: Decimal | None
    currency: str | None
    reached_at: datetime | None
    """When the deal first reached the step (per the reading), whenever that was."""
    next_reached_at: datetime | None
    """When it first reached the next step, whenever that was (``None``: not yet)."""
    in_reached: bool
    """Counts in ``reached``."""
    in_next: bool
    """Counts in ``reached_next`` (snapshot) or as converted (cohort)."""


# --- building blocks -------------------------------------------------------------------------


def funnel_positions(account_id: str) -> Any:
    """A subquery ``(stage_id, pipeline_id, position, name, sort, kind)`` of every funnel stage.

    Open stages are numbered 1… by ``(sort, id)`` per pipeline; every won stage takes the number
    after the last open one; lost stages are left out.
    """
    is_open = stages.c.kind == "open"
    rank = func.row_number().over(
        partition_by=(stages.c.pipeline_id, stages.c.kind), order_by=(stages.c.sort, stages.c.id)
    )
    n_open = func.count(case((is_open, 1))).over(partition_by=stages.c.pipeline_id)
    return (
        select(
            stages.c.id.label("stage_id"),
            stages.c.pipeline_id,
            case((is_open, rank), else_=n_open + 1).label("position"),
            stages.c.name,
            stages.c.sort,
            stages.c.kind,
        )
        .where(stages.c.account_id == account_id, stages.c.kind.in_(("open", "won")))
        .subquery("fpos")
    )


@dataclass(frozen=True)
class Funnel:
    """The funnels of an account's pipelines (or one): steps and the position of every stage."""

    steps: list[FunnelStep]
    positions: dict[str, tuple[str, int]]
    """Funnel stage id → (pipeline id, position); lost stages are absent."""

    def chain(self, pipeline_id: str) -> list[FunnelStep]:
        """The steps of one pipeline, by position."""
        return [s for s in self.steps if s.pipeline_id == pipeline_id]


def load_funnel(store: Store, account_id: str, pipeline_id: str | None = None) -> Funnel:
    """The funnel of every pipeline (or one), read from the stages (a few rows)."""
    fpos = funnel_positions(account_id)
    stmt = select(fpos.c.pipeline_id, fpos.c.position, fpos.c.stage_id, fpos.c.name, fpos.c.kind)
    if pipeline_id is not None:
        stmt = stmt.where(fpos.c.pipeline_id == pipeline_id)
    stmt = stmt.order_by(fpos.c.pipeline_id, fpos.c.position, fpos.c.sort, fpos.c.stage_id)
    out: dict[tuple[str, int], FunnelStep] = {}
    positions: dict[str, tuple[str, int]] = {}
    with store.engine.connect() as conn:
        for r in conn.execute(stmt):
            key = (r[0], int(r[1]))
            positions[r[2]] = key
            if key not in out:  # several won stages: the first by sort names the step
                out[key] = FunnelStep(r[0], int(r[1]), r[2], r[3], r[4])
    return Funnel(list(out.values()), positions)


def steps(store: Store, account_id: str, pipeline_id: str | None = None) -> list[FunnelStep]:
    """The funnel steps of every pipeline (or one), by pipeline and position."""
    return load_funnel(store, account_id, pipeline_id).steps


def active_deals(account_id: str, start: datetime, end: datetime) -> Any:
    """Ids (a CTE, column ``deal_id``) of deals with a stage entry in ``[start, end)``: a stage
    change or their creation. Only these can first reach a step in that time.
    """
    # UNION (not ALL): one row per deal, which also gives PostgreSQL a sane row estimate.
    return union(
        select(stage_changes.c.deal_id).where(
            stage_changes.c.account_id == account_id,
            stage_changes.c.changed_at >= start,
            stage_changes.c.changed_at < end,
        ),
        select(deals.c.id).where(
            deals.c.account_id == account_id, deals.c.created_at >= start, deals.c.created_at < end
        ),
    ).cte("active")


def stage_entries(account_id: str, deal_ids: Any = None, until: datetime | None = None) -> Any:
    """A subquery ``(deal_id, stage_id, at, seq, change_id)``: every entry of a deal into a stage.

    ``at`` is raw UTC microseconds. Rows are the stage changes (``seq`` 1) and, for deals
    whose first change is not a creation row (``from_stage_id`` empty), their creation at
    ``created_at`` (``seq`` 0) in the stage that first change left, or in the current stage
    when there is no history.
    ``deal_ids`` (a CTE or subquery with a ``deal_id`` column) limits the deals; ``until`` drops
    entries after it (inclusive bound). Order a deal's entries by ``(at, seq, change_id)``.
    """
    sc = stage_changes
    changes = select(
        sc.c.deal_id,
        sc.c.to_stage_id.label("stage_id"),
        type_coerce(sc.c.changed_at, BigInteger).label("at"),
        literal(1, Integer).label("seq"),
        sc.c.id.label("change_id"),
    ).where(sc.c.account_id == account_id)
    # The deal's first change decides: its from_stage_id ('' when it is the creation row, which
    # then stands for the creation itself), or NULL when the deal has no history. One indexed
    # scalar lookup per deal; an EXISTS here became a hash anti-join over every creation row on
    # PostgreSQL (1.5 s on 1M deals).
    first = stage_changes.alias("first_change")
    first_from = (
        select(coalesce(first.c.from_stage_id, ""))
        .where(first.c.account_id == deals.c.account_id, first.c.deal_id == deals.c.id)
        .order_by(first.c.changed_at, first.c.id)
        .limit(1)
        .scalar_subquery()
    )
    created_from = select(
        deals.c.id.label("deal_id"),
        deals.c.stage_id.label("current_stage_id"),
        type_coerce(deals.c.created_at, BigInteger).label("at"),
        first_from.label("first_from"),
    ).where(deals.c.account_id == account_id)
    if deal_ids is not None:
        created_from = created_from.where(deals.c.id.in_(select(deal_ids.c.deal_id)))
    if until is not None:
        created_from = created_from.where(deals.c.created_at <= until)
    cf = created_from.subquery("created_from")
    created = select(
        cf.c.deal_id,
        coalesce(cf.c.first_from, cf.c.current_stage_id).label("stage_id"),
        cf.c.at,
        literal(0, Integer).label("seq"),
        literal("").label("change_id"),
    ).where(or_(cf.c.first_from.is_(None), cf.c.first_from != ""))
    if deal_ids is not None:
        changes = changes.where(sc.c.deal_id.in_(select(deal_ids.c.deal_id)))
    if until is not None:
        changes = changes.where(sc.c.changed_at <= until)
    return union_all(changes, created).subquery("entries")


def _check_reading(reading: str) -> None:
    if reading not in READINGS:
        raise ConfigurationError(f"unknown reading {reading!r}; use 'funnel' or 'strict'")


def positioned_entries(
    account_id: str, funnel: Funnel, deal_ids: Any, until: datetime | None
) -> Any:
    """A subquery ``(deal_id, pipeline_id, position, at)``: stage entries at funnel positions.

    Entries into lost stages (and stages outside ``funnel``) are left out. Positions come as a
    ``CASE`` over the few stage ids rather than a join, which keeps the plan a single pass over
    the entries on SQLite too. A deal moved between pipelines has entries in both; callers keep
    those of the deal's current pipeline by joining on ``(deal, pipeline)``.
    """
    e = stage_entries(account_id, deal_ids, until)
    pos = case({k: v[1] for k, v in funnel.positions.items()}, value=e.c.stage_id)
    pipe = case({k: v[0] for k, v in funnel.positions.items()}, value=e.c.stage_id)
    stmt = select(e.c.deal_id, pipe.label("pipeline_id"), pos.label("position"), e.c.at)
    inner = stmt.subquery("entered")
    return select(inner).where(inner.c.position.is_not(None)).subquery("positioned")


def reach_facts(account_id: str, funnel: Funnel, deal_ids: Any, until: datetime | None) -> Any:
    """Per (deal, pipeline, funnel position entered): the run of positions that position closes.

    Columns: ``deal_id, pipeline_id, position, first_at`` (first entry into exactly that
    position), ``reach_at`` (first entry into it or any later position: the moment the deal
    reaches every step in ``(prev_pos, position]``), ``prev_pos`` (the previous entered position,
    0 for none), ``next_pos, next_first_at, next_reach_at`` (the same of the next entered
    position). Times are raw UTC microseconds.
    """
    e = positioned_entries(account_id, funnel, deal_ids, until)
    t = (
        select(e.c.deal_id, e.c.pipeline_id, e.c.position, func.min(e.c.at).label("first_at"))
        .group_by(e.c.deal_id, e.c.pipeline_id, e.c.position)
        .subquery("firsts")
    )
    deal = (t.c.deal_id, t.c.pipeline_id)
    by_pos: dict[str, Any] = {"partition_by": deal, "order_by": t.c.position}
    u = select(
        *t.c,
        func.min(t.c.first_at)
        .over(partition_by=deal, order_by=t.c.position.desc(), rows=(None, 0))
        .label("reach_at"),
        coalesce(func.lag(t.c.position).over(**by_pos), 0).label("prev_pos"),
        func.lead(t.c.position).over(**by_pos).label("next_pos"),
        func.lead(t.c.first_at).over(**by_pos).label("next_first_at"),
    ).subquery("runs")
    return select(
        *u.c,
        func.lead(u.c.reach_at)
        .over(partition_by=(u.c.deal_id, u.c.pipeline_id), order_by=u.c.position)
        .label("next_reach_at"),
    ).subquery("reach")


def _us(col: Any) -> ColumnElement[Any]:
    return type_coerce(col, BigInteger)


def _between(col: Any, start: datetime, end: datetime) -> ColumnElement[bool]:
    return and_(_us(col) >= to_epoch_us(start), _us(col) < to_epoch_us(end))


def _horizon(
    reached: Any, nxt: Any, horizon_days: int | None, horizon_end: datetime | None
) -> ColumnElement[bool]:
    """``nxt`` (a reach moment of step k + 1) falls within the horizon after ``reached``."""
    cond: list[ColumnElement[bool]] = [_us(nxt).is_not(None), _us(nxt) >= _us(reached)]
    if horizon_days is not None:
        cond.append(_us(nxt) <= _us(reached) + horizon_days * US_PER_DAY)
    if horizon_end is not None:
        cond.append(_us(nxt) <= to_epoch_us(horizon_end))
    return and_(*cond)


def _check_horizon(horizon_days: int | None, horizon_end: datetime | None) -> None:
    if horizon_days is not None and horizon_days < 0:
        raise ConfigurationError(f"horizon_days must be 0 or more, got {horizon_days}")
    if horizon_days is not None and horizon_end is not None:
        raise ConfigurationError("give either horizon_days or horizon_end, not both")


def _group_key(keys: Mapping[str, str | None]) -> tuple[str, ...]:
    return tuple(str(v or "") for v in keys.values())


# --- aggregates --------------------------------------------------------------------------------


def _spread(
    store: Store, funnel: Funnel, stmt: Any, dims: Sequence[str], method: str, reading: str
) -> list[ConversionRow]:
    """Spread aggregated runs ``(pipeline, dims…, lo, hi, n, conv_lo, conv_hi)`` over steps.

    A row adds ``n`` to ``reached`` of steps ``lo+1 … hi`` and to ``reached_next`` of steps
    ``conv_lo+1 … conv_hi`` (for the snapshot, ``reached_next`` of step k is ``reached`` of k + 1,
    derived afterwards when ``conv_lo`` is None).
    """
    with store.engine.connect() as conn:
        rows = list(conn.execute(stmt).mappings())
    chains: dict[str, list[FunnelStep]] = {}
    for s in funnel.steps:
        chains.setdefault(s.pipeline_id, []).append(s)
    groups: dict[tuple[str, tuple[str, ...]], tuple[dict[str, str | None], list[int], list[int]]]
    groups = {}
    for r in rows:
        pipe = r["pipeline_id"]
        keys = {d: r[d] for d in dims}
        size = len(chains.get(pipe, ())) + 2
        _, reached, conv = groups.setdefault(
            (pipe, _group_key(keys)), (keys, [0] * size, [0] * size)
        )
        n = int(r["n"])
        for k in range(int(r["lo"]) + 1, int(r["hi"]) + 1):
            reached[k] += n
        if r["conv_hi"] is not None:
            for k in range(int(r["conv_lo"]) + 1, int(r["conv_hi"]) + 1):
                conv[k] += n
    out: list[ConversionRow] = []
    for (pipe, _), (keys, reached, conv) in sorted(groups.items()):
        chain = chains.get(pipe, [])
        for i, step in enumerate(chain):
            k = step.position
            nxt = chain[i + 1] if i + 1 < len(chain) else None
            if nxt is None:
                reached_next: int | None = None
            elif method == "snapshot":
                reached_next = reached[k + 1]
            else:
                reached_next = conv[k]
            out.append(
                ConversionRow(
                    method=method,
                    reading=reading,
                    pipeline_id=pipe,
                    keys=keys,
                    position=k,
                    stage_id=step.stage_id,
                    stage_name=step.stage_name,
                    next_stage_id=None if nxt is None else nxt.stage_id,
                    next_stage_name=None if nxt is None else nxt.stage_name,
                    reached=reached[k],
                    reached_next=reached_next,
                    conversion=None
                    if reached_next is None or not reached[k]
                    else Decimal(reached_next) / Decimal(reached[k]),
                )
            )
    return out


def _with_deals(facts: Any, account_id: str) -> Any:
    """``facts`` (keyed by deal and pipeline) joined to the deal, its dimensions and stage."""
    return deal_source().join(
        facts,
        and_(
            deals.c.account_id == account_id,
            deals.c.id == facts.c.deal_id,
            deals.c.pipeline_id == facts.c.pipeline_id,
        ),
    )


def snapshot_facts(account_id: str, funnel: Funnel, period: Period, reading: str) -> Any:
    """The facts behind a snapshot: the deals that first reached a step in the period.

    Columns ``deal_id, pipeline_id, lo, hi``: the deal first reached steps ``lo+1 … hi`` in the
    period. Funnel reading: ``lo`` / ``hi`` are the highest positions it had entered before the
    period's start / end (one row per deal; no window function needed). Strict reading: one row
    per step first entered in the period, ``lo = hi - 1``.
    """
    active = active_deals(account_id, period.start, period.end)
    e = positioned_entries(account_id, funnel, active, None)
    if reading == "funnel":
        lo = coalesce(func.max(case((e.c.at < period.start_us, e.c.position))), 0)
        hi = func.max(case((e.c.at < period.end_us, e.c.position)))
        grouped = (
            select(e.c.deal_id, e.c.pipeline_id, lo.label("lo"), hi.label("hi"))
            .group_by(e.c.deal_id, e.c.pipeline_id)
            .subquery("reached")
        )
        return select(grouped).where(grouped.c.hi > grouped.c.lo).subquery("facts")
    first_at = func.min(e.c.at)
    return (
        select(
            e.c.deal_id,
            e.c.pipeline_id,
            (e.c.position - 1).label("lo"),
            e.c.position.label("hi"),
        )
        .group_by(e.c.deal_id, e.c.pipeline_id, e.c.position)
        .having(and_(first_at >= period.start_us, first_at < period.end_us))
        .subquery("facts")
    )


def snapshot(
    store: Store,
    account_id: str,
    period: Period,
    pipeline_id: str | None = None,
    by: Sequence[str] = (),
    reading: Reading = "funnel",
) -> list[ConversionRow]:
    """Snapshot conversion per pipeline, group and step: reaching k + 1 ÷ reaching k in the period.

    Every step of a pipeline is listed for each group that has a deal in the figures.

    Raises:
        ConfigurationError: for an unknown dimension or reading.
    """
    _check_reading(reading)
    dims = dimension_columns(by)
    funnel = load_funnel(store, account_id, pipeline_id)
    if not funnel.steps:
        return []
    f = snapshot_facts(account_id, funnel, period, reading)
    inner = (
        select(f.c.pipeline_id, *[c.label(n) for n, c in dims.items()], f.c.lo, f.c.hi)
        .select_from(_with_deals(f, account_id))
        .subquery()
    )
    keys = [inner.c.pipeline_id, *[inner.c[d] for d in dims], inner.c.lo, inner.c.hi]
    stmt = select(
        *keys,
        func.count().label("n"),
        literal(None, Integer).label("conv_lo"),
        literal(None, Integer).label("conv_hi"),
    ).group_by(*keys)
    return _spread(store, funnel, stmt, list(dims), "snapshot", reading)


def cohort(
    store: Store,
    account_id: str,
    window: Period,
    horizon_days: int | None = None,
    *,
    horizon_end: datetime | None = None,
    as_of: datetime | None = None,
    pipeline_id: str | None = None,
    by: Sequence[str] = (),
    reading: Reading = "funnel",
) -> list[ConversionRow]:
    """Cohort conversion: deals first reaching k in ``window``, converted within the horizon.

    Horizon (inclusive, see the module docstring): ``horizon_days`` from each deal's own reach-k
    moment, or a fixed ``horizon_end``, or neither (any time up to ``as_of``). ``as_of`` ignores
    history after it (inclusive).

    Raises:
        ConfigurationError: for an unknown dimension or reading, a negative horizon, or both
            horizon forms at once.
    """
    _check_reading(reading)
    _check_horizon(horizon_days, horizon_end)
    dims = dimension_columns(by)
    funnel = load_funnel(store, account_id, pipeline_id)
    if not funnel.steps:
        return []
    r = reach_facts(account_id, funnel, active_deals(account_id, window.start, window.end), as_of)
    if reading == "funnel":
        moment, lo = r.c.reach_at, r.c.prev_pos
        # Steps lo+1 … hi-1 reach their next step at the same moment (converted, 0 s); step hi
        # converts when the next run is reached within the horizon.
        last = _horizon(r.c.reach_at, r.c.next_reach_at, horizon_days, horizon_end)
        conv_hi = case((last, r.c.position), else_=r.c.position - 1)
    else:
        moment, lo = r.c.first_at, r.c.position - 1
        last = and_(
            r.c.next_pos == r.c.position + 1,
            _horizon(r.c.first_at, r.c.next_first_at, horizon_days, horizon_end),
        )
        conv_hi = case((last, r.c.position), else_=r.c.position - 1)
    inner = (
        select(
            r.c.pipeline_id,
            *[c.label(n) for n, c in dims.items()],
            lo.label("lo"),
            r.c.position.label("hi"),
            conv_hi.label("conv_hi"),
        )
        .select_from(_with_deals(r, account_id))
        .where(_between(moment, window.start, window.end))
        .subquery()
    )
    keys = [inner.c.pipeline_id, *[inner.c[d] for d in dims], inner.c.lo, inner.c.hi]
    stmt = select(
        *keys,
        inner.c.conv_hi,
        func.count().label("n"),
        inner.c.lo.label("conv_lo"),
    ).group_by(*keys, inner.c.conv_hi)
    return _spread(store, funnel, stmt, list(dims), "cohort", reading)


# --- lineage -----------------------------------------------------------------------------------


def lineage_facts(
    account_id: str,
    funnel: Funnel,
    start: datetime,
    end: datetime,
    until: datetime | None,
    position: int,
    reading: str,
) -> Any:
    """Per deal active in ``[start, end)``: when it first reached ``position`` and the next step.

    Columns ``deal_id, pipeline_id, at_k, at_next`` (raw UTC microseconds, NULL when not
    reached); the reading decides between "that step or a later one" and "exactly that step".
    """
    e = positioned_entries(account_id, funnel, active_deals(account_id, start, end), until)
    if reading == "funnel":
        at_k = func.min(e.c.at).filter(e.c.position >= position)
        at_next = func.min(e.c.at).filter(e.c.position >= position + 1)
    else:
        at_k = func.min(e.c.at).filter(e.c.position == position)
        at_next = func.min(e.c.at).filter(e.c.position == position + 1)
    return (
        select(e.c.deal_id, e.c.pipeline_id, at_k.label("at_k"), at_next.label("at_next"))
        .group_by(e.c.deal_id, e.c.pipeline_id)
        .subquery("lineage")
    )


def _lineage(
    store: Store,
    account_id: str,
    start: datetime,
    end: datetime,
    until: datetime | None,
    pipeline_id: str,
    position: int,
    keys: Mapping[str, str | None] | None,
    reading: str,
    counted: Any,
) -> list[FunnelDeal]:
    _check_reading(reading)
    funnel = load_funnel(store, account_id, pipeline_id)
    positions = [s.position for s in funnel.steps]
    if position not in positions:
        raise ConfigurationError(
            f"pipeline {pipeline_id!r} has no funnel step {position}; its steps are "
            f"{', '.join(map(str, positions)) or 'none'}"
        )
    keys = dict(keys or {})
    dims = dimension_columns(list(keys))
    f = lineage_facts(account_id, funnel, start, end, until, position, reading)
    at_next = f.c.at_next if position < max(positions) else literal(None, BigInteger)
    in_reached, in_next = counted(f.c.at_k, at_next)
    filters = [
        (col.is_(None) if keys[name] is None else col == keys[name]) for name, col in dims.items()
    ]
    stmt = (
        select(
            deals.c.id,
            deals.c.amount,
            deals.c.currency,
            *[c.label(n) for n, c in dims.items()],
            f.c.at_k,
            at_next.label("at_next"),
            case((in_reached, 1), else_=0).label("in_reached"),
            case((in_next, 1), else_=0).label("in_next"),
        )
        .select_from(_with_deals(f, account_id))
        .where(*filters, or_(in_reached, in_next))
        .order_by(deals.c.id)
    )
    with store.engine.connect() as conn:
        rows = list(conn.execute(stmt).mappings())
    return [
        FunnelDeal(
            deal_id=x["id"],
            keys={d: x[d] for d in dims},
            amount=x["amount"],
            currency=x["currency"],
            reached_at=None if x["at_k"] is None else from_epoch_us(int(x["at_k"])),
            next_reached_at=None if x["at_next"] is None else from_epoch_us(int(x["at_next"])),
            in_reached=bool(x["in_reached"]),
            in_next=bool(x["in_next"]),
        )
        for x in rows
    ]


def snapshot_deals(
    store: Store,
    account_id: str,
    period: Period,
    pipeline_id: str,
    position: int,
    keys: Mapping[str, str | None] | None = None,
    reading: Reading = "funnel",
) -> list[FunnelDeal]:
    """The deals behind a snapshot step: those first reaching it or the next step in the period.

    ``keys`` are the group's dimension values (as in ``ConversionRow.keys``).

    Raises:
        ConfigurationError: for an unknown dimension, reading or step.
    """

    def counted(at_k: Any, at_next: Any) -> tuple[Any, Any]:
        return _between(at_k, period.start, period.end), _between(at_next, period.start, period.end)

    return _lineage(
        store,
        account_id,
        period.start,
        period.end,
        None,
        pipeline_id,
        position,
        keys,
        reading,
        counted,
    )


def cohort_deals(
    store: Store,
    account_id: str,
    window: Period,
    pipeline_id: str,
    position: int,
    horizon_days: int | None = None,
    *,
    horizon_end: datetime | None = None,
    as_of: datetime | None = None,
    keys: Mapping[str, str | None] | None = None,
    reading: Reading = "funnel",
) -> list[FunnelDeal]:
    """The cohort of a step (first reaching it in ``window``); ``in_next`` marks the converted.

    Raises:
        ConfigurationError: as :func:`cohort`, or for an unknown step.
    """
    _check_horizon(horizon_days, horizon_end)

    def counted(at_k: Any, at_next: Any) -> tuple[Any, Any]:
        member = _between(at_k, window.start, window.end)
        return member, and_(member, _horizon(at_k, at_next, horizon_days, horizon_end))

    return _lineage(
        store,
        account_id,
        window.start,
        window.end,
        as_of,
        pipeline_id,
        position,
        keys,
        reading,
        counted,
    )
