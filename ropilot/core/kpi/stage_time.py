"""Time in stage (sales_definitions.md, "Time in stage"): one sample per visit.

A visit runs from a deal's entry into a stage to its next stage change; it is selected by its
end (the next change) falling in the period. Skipped stages have no visit, so no sample; a deal
that re-enters a stage gives one sample per visit. The visit a deal is still in has not ended and
is not a sample; :func:`open_visits` reports the age of those visits at a moment separately.
Every stage is reported, lost and won included (a visit there ends when the deal is reopened).

Stage entries come from :func:`ropilot.core.kpi.funnel.stage_entries` (the changes, plus the
creation when no history row records it). Median and mean in days (days = seconds ÷ 86,400); the
median of an even count is the mean of the two middle values — window functions, as in
:mod:`ropilot.core.kpi.cycle`, the same SQL on SQLite and PostgreSQL.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import BigInteger, and_, func, or_, select, type_coerce

from ropilot.core.kpi import median
from ropilot.core.kpi.funnel import stage_entries
from ropilot.core.kpi.median import US_PER_DAY
from ropilot.core.kpi.scope import deal_source, dimension_columns
from ropilot.core.periods import Period
from ropilot.core.store import Store
from ropilot.core.store.schema import deals, stage_changes, stages
from ropilot.core.timeutil import from_epoch_us, to_epoch_us


@dataclass(frozen=True)
class StageTimeRow:
    """Durations (days) of the visits to one stage, for one group."""

    pipeline_id: str
    stage_id: str
    stage_name: str
    kind: str
    keys: dict[str, str | None]
    samples: int
    """Visits (ended in the period for :func:`time_in_stage`; open at the moment for
    :func:`open_visits`)."""
    mean_days: Decimal | None
    median_days: Decimal | None


@dataclass(frozen=True)
class StageVisit:
    """One visit behind a figure (lineage)."""

    deal_id: str
    stage_id: str
    keys: dict[str, str | None]
    entered_at: datetime
    left_at: datetime | None
    """``None`` while the deal is still in the stage."""
    days: Decimal
    """Duration (ended visits) or age at the moment (open visits)."""


def visits(account_id: str, deal_ids: Any, until: datetime | None = None) -> Any:
    """A subquery ``(deal_id, stage_id, entered_at, left_at)`` of the visits of ``deal_ids``.

    Times are raw UTC microseconds; ``left_at`` is NULL for the visit not ended yet.
    """
    e = stage_entries(account_id, deal_ids, until)
    return select(
        e.c.deal_id,
        e.c.stage_id,
        e.c.at.label("entered_at"),
        func.lead(e.c.at)
        .over(partition_by=e.c.deal_id, order_by=(e.c.at, e.c.seq, e.c.change_id))
        .label("left_at"),
    ).subquery("visits")


def _ended_in(account_id: str, period: Period) -> Any:
    """Deals with a stage change in the period: only their visits can end in it."""
    return (
        select(stage_changes.c.deal_id)
        .where(
            stage_changes.c.account_id == account_id,
            stage_changes.c.changed_at >= period.start,
            stage_changes.c.changed_at < period.end,
        )
        .cte("ended")
    )


def _open_at(account_id: str, moment: datetime) -> Any:
    """Deals that may be open at ``moment``: created by then and not closed by then."""
    return (
        select(deals.c.id.label("deal_id"))
        .where(
            deals.c.account_id == account_id,
            deals.c.created_at <= moment,
            or_(deals.c.closed_at.is_(None), deals.c.closed_at > moment),
        )
        .cte("maybe_open")
    )


def _facts(
    account_id: str,
    deal_ids: Any,
    pipeline_id: str | None,
    dims: Mapping[str, Any],
    condition: Any,
    length: Any,
) -> Any:
    """One row per selected visit with its stage, dimensions and ``us`` (its length)."""
    v = visits(account_id, deal_ids)
    visited = stages.alias("visited")
    src = (
        deal_source()
        .join(v, and_(deals.c.account_id == account_id, deals.c.id == v.c.deal_id))
        .join(visited, and_(visited.c.account_id == account_id, visited.c.id == v.c.stage_id))
    )
    stmt = (
        select(
            v.c.deal_id,
            visited.c.pipeline_id,
            visited.c.id.label("stage_id"),
            visited.c.name.label("stage_name"),
            visited.c.kind.label("stage_kind"),
            visited.c.sort.label("stage_sort"),
            *[col.label(name) for name, col in dims.items()],
            v.c.entered_at,
            v.c.left_at,
            length(v).label("us"),
        )
        .select_from(src)
        .where(condition(v, visited))
    )
    if pipeline_id is not None:
        stmt = stmt.where(visited.c.pipeline_id == pipeline_id)
    return stmt.subquery("facts")


def _ended_facts(
    account_id: str, period: Period, pipeline_id: str | None, dims: Mapping[str, Any]
) -> Any:
    def condition(v: Any, _: Any) -> Any:
        return and_(v.c.left_at >= period.start_us, v.c.left_at < period.end_us)

    return _facts(
        account_id,
        _ended_in(account_id, period),
        pipeline_id,
        dims,
        condition,
        lambda v: v.c.left_at - v.c.entered_at,
    )


def _open_facts(
    account_id: str, as_of: datetime, pipeline_id: str | None, dims: Mapping[str, Any]
) -> Any:
    at = to_epoch_us(as_of)

    def condition(v: Any, visited: Any) -> Any:
        return and_(
            visited.c.kind == "open",
            v.c.entered_at <= at,
            or_(v.c.left_at.is_(None), v.c.left_at > at),
        )

    return _facts(
        account_id,
        _open_at(account_id, as_of),
        pipeline_id,
        dims,
        condition,
        lambda v: at - type_coerce(v.c.entered_at, BigInteger),
    )


def _summarise(store: Store, facts: Any, dims: Sequence[str]) -> list[StageTimeRow]:
    """Count, mean and median of ``us`` per (stage, dimensions)."""
    partition = [facts.c.stage_id, *[facts.c[d] for d in dims]]
    ranked = (
        median.ranked([c for c in facts.c if c.name != "us"], facts.c.us, partition)
        .select_from(facts)
        .subquery("ranked")
    )
    keys = [
        ranked.c.pipeline_id,
        ranked.c.stage_id,
        ranked.c.stage_name,
        ranked.c.stage_kind,
        ranked.c.stage_sort,
        *[ranked.c[d] for d in dims],
    ]
    stmt = select(*keys, *median.aggregates(ranked)).group_by(*keys)
    with store.engine.connect() as conn:
        rows: list[Any] = list(conn.execute(stmt).mappings())
    out = []
    for r in rows:
        n = int(r["samples"])
        out.append(
            (
                (r["pipeline_id"], int(r["stage_sort"]), r["stage_id"]),
                StageTimeRow(
                    pipeline_id=r["pipeline_id"],
                    stage_id=r["stage_id"],
                    stage_name=r["stage_name"],
                    kind=r["stage_kind"],
                    keys={d: r[d] for d in dims},
                    samples=n,
                    mean_days=median.mean_days(r),
                    median_days=median.median_days(r),
                ),
            )
        )
    out.sort(key=lambda x: (x[0], tuple(str(v or "") for v in x[1].keys.values())))
    return [row for _, row in out]


def time_in_stage(
    store: Store,
    account_id: str,
    period: Period,
    pipeline_id: str | None = None,
    by: Sequence[str] = (),
) -> list[StageTimeRow]:
    """Median and mean time in stage (days) over the visits that ended in ``period``.

    Rows per visited stage (by pipeline and ``sort``) and ``by`` dimensions; stages without an
    ended visit are absent.

    Raises:
        ConfigurationError: for an unknown dimension.
    """
    dims = dimension_columns(by)
    return _summarise(store, _ended_facts(account_id, period, pipeline_id, dims), list(dims))


def open_visits(
    store: Store,
    account_id: str,
    as_of: datetime,
    pipeline_id: str | None = None,
    by: Sequence[str] = (),
) -> list[StageTimeRow]:
    """Age (days) at ``as_of`` of the visits not ended then, in open stages only.

    Not time-in-stage samples (they have not ended); a separate view of what is stuck now.

    Raises:
        ConfigurationError: for an unknown dimension.
    """
    dims = dimension_columns(by)
    return _summarise(store, _open_facts(account_id, as_of, pipeline_id, dims), list(dims))


def _lineage(store: Store, facts: Any, stage_id: str, dims: Sequence[str]) -> list[StageVisit]:
    stmt = select(facts).where(facts.c.stage_id == stage_id)
    stmt = stmt.order_by(facts.c.deal_id, facts.c.entered_at)
    with store.engine.connect() as conn:
        rows = list(conn.execute(stmt).mappings())
    return [
        StageVisit(
            deal_id=r["deal_id"],
            stage_id=r["stage_id"],
            keys={d: r[d] for d in dims},
            entered_at=from_epoch_us(int(r["entered_at"])),
            left_at=None if r["left_at"] is None else from_epoch_us(int(r["left_at"])),
            days=Decimal(int(r["us"])) / US_PER_DAY,
        )
        for r in rows
    ]


def _group_filter(facts: Any, keys: Mapping[str, str | None]) -> Any:
    return [facts.c[k].is_(None) if v is None else facts.c[k] == v for k, v in keys.items()]


def time_in_stage_visits(
    store: Store,
    account_id: str,
    period: Period,
    stage_id: str,
    keys: Mapping[str, str | None] | None = None,
) -> list[StageVisit]:
    """The visits behind a :func:`time_in_stage` row: the stage's visits ended in ``period``.

    Raises:
        ConfigurationError: for an unknown dimension in ``keys``.
    """
    keys = dict(keys or {})
    dims = dimension_columns(list(keys))
    facts = _ended_facts(account_id, period, None, dims)
    inner = select(facts).where(*_group_filter(facts, keys)).subquery("group_facts")
    return _lineage(store, inner, stage_id, list(dims))


def open_visits_list(
    store: Store,
    account_id: str,
    as_of: datetime,
    stage_id: str,
    keys: Mapping[str, str | None] | None = None,
) -> list[StageVisit]:
    """The visits behind an :func:`open_visits` row (``days`` is the age at ``as_of``).

    Raises:
        ConfigurationError: for an unknown dimension in ``keys``.
    """
    keys = dict(keys or {})
    dims = dimension_columns(list(keys))
    facts = _open_facts(account_id, as_of, None, dims)
    inner = select(facts).where(*_group_filter(facts, keys)).subquery("group_facts")
    return _lineage(store, inner, stage_id, list(dims))
