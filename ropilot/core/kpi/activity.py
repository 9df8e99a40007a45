"""Activity KPIs: counts by type, averages per working day / week / month, intensity.

Follows sales_definitions.md (periods are half-open in the account's zone; ratios with a zero
denominator are None). Conventions this module fixes:

* An activity belongs to the manager who did it (``activities.manager_id``), not to the
  responsible of its deal; "team" is that manager's current team.
* pipeline, source, product and region come **through the linked deal** (``activities.deal_id``);
  an activity without a deal has None there. The client company is the activity's own
  ``company_id``, else its deal's company, else its contact's company; "segment" is that company's.
* With ``by`` dimensions only groups that have activities appear (like ``outcomes``); without
  dimensions there is always one row — one per bucket when a grain is given, zeros included.
* Buckets (day, ISO week, month, quarter, year) are cut in the account's zone and assigned in SQL
  by a CASE tree of bucket bounds (``kpi.bucketing``).
* Averages: per day = count ÷ working days of the period (Russian production calendar; personal
  absences are not subtracted); per week = count ÷ (calendar days ÷ 7); per month = count ÷
  months, a partial month counting as its share of days.
* Intensity: clients in work = distinct client companies (the company as above) — or, for an
  activity with no company anywhere, its contact (the activity's, else its deal's) — with at
  least one activity in the period; mix = each type's share of the group's activities.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import ColumnElement, and_, case, func, select
from sqlalchemy.sql.functions import coalesce

from ropilot.core.calendar import count_working_days
from ropilot.core.errors import ConfigurationError
from ropilot.core.kpi.bucketing import bucket_index
from ropilot.core.models import ActivityType
from ropilot.core.periods import GRAINS, Period, buckets
from ropilot.core.store import Store
from ropilot.core.store.schema import activities, companies, contacts, deals, managers

ACTIVITY_TYPES: tuple[str, ...] = tuple(t.value for t in ActivityType)
"""call, meeting, email, offer, presale, note."""

ACTIVITY_DIMENSIONS = (
    "manager",
    "team",
    "pipeline",
    "source",
    "product",
    "region",
    "segment",
    "company",
)
"""Dimensions activities can be cut by (see the module docstring for where each comes from)."""

_THROUGH_DEAL = {"pipeline", "source", "product", "region", "segment", "company"}


@dataclass(frozen=True)
class ActivityRow:
    """Activity counts of one group; ``keys`` holds the dimensions and, with a grain, "bucket"."""

    keys: dict[str, str | None]
    counts: dict[str, int]
    """Per activity type asked for (all six by default), 0 when none."""
    total: int


@dataclass(frozen=True)
class ActivityFact:
    """One activity behind a figure (lineage)."""

    id: str
    type: str
    at: datetime
    manager_id: str | None
    deal_id: str | None
    company_id: str | None
    contact_id: str | None


@dataclass(frozen=True)
class ActivityRateRow:
    """Average activity of one group per working day, week and month of the period."""

    keys: dict[str, str | None]
    counts: dict[str, int]
    total: int
    working_days: int
    weeks: Decimal
    """Calendar days of the period ÷ 7."""
    months: Decimal
    """Months of the period, a partial month counting as its share of days."""

    def _rate(self, denominator: Decimal) -> dict[str, Decimal | None]:
        if not denominator:
            return {t: None for t in (*self.counts, "total")}
        out: dict[str, Decimal | None] = {t: n / denominator for t, n in self.counts.items()}
        out["total"] = self.total / denominator
        return out

    @property
    def per_day(self) -> dict[str, Decimal | None]:
        """Count ÷ working days, per type and under "total"; None when there is no working day."""
        return self._rate(Decimal(self.working_days))

    @property
    def per_week(self) -> dict[str, Decimal | None]:
        """Count ÷ weeks, per type and under "total"."""
        return self._rate(self.weeks)

    @property
    def per_month(self) -> dict[str, Decimal | None]:
        """Count ÷ months, per type and under "total"."""
        return self._rate(self.months)


@dataclass(frozen=True)
class IntensityRow:
    """Clients in work and the mix of work types of one group."""

    keys: dict[str, str | None]
    clients: int
    counts: dict[str, int]
    total: int

    @property
    def mix(self) -> dict[str, Decimal | None]:
        """Each type's share of the group's activities (None when it has none)."""
        total = self.total
        return {t: None if not total else Decimal(n) / total for t, n in self.counts.items()}


# -- the facts select ------------------------------------------------------------------------


def _check(by: Sequence[str], grain: str | None, types: Sequence[str] | None) -> tuple[str, ...]:
    unknown = [d for d in by if d not in ACTIVITY_DIMENSIONS]
    if unknown:
        raise ConfigurationError(
            f"unknown dimension(s) {', '.join(unknown)}; use {', '.join(ACTIVITY_DIMENSIONS)}"
        )
    if "bucket" in by:
        raise ConfigurationError("'bucket' is not a dimension: pass grain= instead")
    if grain is not None and grain not in GRAINS:
        raise ConfigurationError(f"grain {grain!r}: use one of {', '.join(GRAINS)}")
    chosen = ACTIVITY_TYPES if types is None else tuple(types)
    bad = [t for t in chosen if t not in ACTIVITY_TYPES]
    if bad or not chosen:
        raise ConfigurationError(
            f"activity type(s) {', '.join(bad) or '(none)'}: "
            f"use some of {', '.join(ACTIVITY_TYPES)}"
        )
    return tuple(dict.fromkeys(chosen))


def _client_company() -> ColumnElement[Any]:
    return coalesce(activities.c.company_id, deals.c.company_id, contacts.c.company_id)


def _client_contact() -> ColumnElement[Any]:
    return coalesce(activities.c.contact_id, deals.c.contact_id)


def _source(by: Sequence[str], links: bool) -> tuple[Any, dict[str, ColumnElement[Any]]]:
    """Activities joined to what the dimensions (and, with ``links``, the client) need."""
    src: Any = activities
    if "team" in by:
        src = src.outerjoin(
            managers,
            and_(
                managers.c.account_id == activities.c.account_id,
                managers.c.id == activities.c.manager_id,
            ),
        )
    if links or any(d in _THROUGH_DEAL for d in by):
        src = src.outerjoin(
            deals,
            and_(deals.c.account_id == activities.c.account_id, deals.c.id == activities.c.deal_id),
        )
    if links or "company" in by or "segment" in by:
        src = src.outerjoin(
            contacts,
            and_(
                contacts.c.account_id == activities.c.account_id,
                contacts.c.id == activities.c.contact_id,
            ),
        )
    if "segment" in by:
        src = src.outerjoin(
            companies,
            and_(
                companies.c.account_id == activities.c.account_id,
                companies.c.id == _client_company(),
            ),
        )
    columns: dict[str, ColumnElement[Any]] = {
        "manager": activities.c.manager_id,
        "team": managers.c.team_id,
        "pipeline": deals.c.pipeline_id,
        "source": deals.c.source,
        "product": deals.c.product,
        "region": deals.c.region,
        "segment": companies.c.segment,
        "company": _client_company(),
    }
    return src, {d: columns[d] for d in by}


def activity_facts(
    account_id: str,
    period: Period,
    by: Sequence[str] = (),
    grain: str | None = None,
    types: Sequence[str] | None = None,
    *,
    detail: bool = True,
) -> Any:
    """One row per activity of the period: type, the ``by`` dimension columns (``dim_<name>``),
    with a grain ``bucket`` (index into ``periods.buckets(period, grain)``) and, with ``detail``,
    id, at, manager_id, deal_id and the client's company_id / contact_id. Every activity figure
    groups over this select; lineage filters it.

    Raises:
        ConfigurationError: for an unknown dimension, grain or activity type.
    """
    chosen = _check(by, grain, types)
    src, dims = _source(by, links=detail)
    cols: list[Any] = [activities.c.type]
    if detail:
        cols += [
            activities.c.id,
            activities.c.at,
            activities.c.manager_id,
            activities.c.deal_id,
            _client_company().label("company_id"),
            _client_contact().label("contact_id"),
        ]
    cols += [col.label(f"dim_{name}") for name, col in dims.items()]
    if grain is not None:
        cols.append(bucket_index(activities.c.at, buckets(period, grain)).label("bucket"))
    return (
        select(*cols)
        .select_from(src)
        .where(
            activities.c.account_id == account_id,
            activities.c.at >= period.start,
            activities.c.at < period.end,
            activities.c.type.in_(chosen),
        )
    )


def _group_key(r: Mapping[str, Any], by: Sequence[str]) -> tuple[Any, ...]:
    return tuple(r[f"dim_{d}"] for d in by)


def _sort_key(keys: Mapping[str, str | None], order: int) -> tuple[Any, ...]:
    return (order, *("" if v is None else str(v) for v in keys.values()))


# -- counts ----------------------------------------------------------------------------------


def activity_counts(
    store: Store,
    account_id: str,
    period: Period,
    by: Sequence[str] = (),
    grain: str | None = None,
    types: Sequence[str] | None = None,
) -> list[ActivityRow]:
    """Activities of ``period`` counted per type, grouped by ``by`` and (optionally) bucket.

    Rows come in bucket order, then by key values. ``counts`` has every type asked for.

    Raises:
        ConfigurationError: for an unknown dimension, grain or activity type.
    """
    chosen = _check(by, grain, types)
    facts = activity_facts(account_id, period, by, grain, chosen, detail=False).subquery()
    keys = [facts.c[f"dim_{d}"] for d in by]
    if grain is not None:
        keys.append(facts.c.bucket)
    stmt = select(
        *keys,
        *[func.count().filter(facts.c.type == t).label(f"n_{t}") for t in chosen],
        func.count().label("total"),
    ).group_by(*keys)
    with store.engine.connect() as conn:
        rows = list(conn.execute(stmt).mappings())
    spans = buckets(period, grain) if grain is not None else []
    out: list[tuple[tuple[Any, ...], ActivityRow]] = []
    seen: set[int] = set()
    for r in rows:
        k: dict[str, str | None] = {d: r[f"dim_{d}"] for d in by}
        order = 0
        if grain is not None:
            order = int(r["bucket"])
            seen.add(order)
            k["bucket"] = spans[order].label
        counts = {t: int(r[f"n_{t}"]) for t in chosen}
        out.append((_sort_key(k, order), ActivityRow(k, counts, int(r["total"]))))
    if not by:
        # Without dimensions the company always has a row (per bucket with a grain).
        zero = dict.fromkeys(chosen, 0)
        if grain is None and not rows:
            out.append(((0,), ActivityRow({}, dict(zero), 0)))
        for i, span in enumerate(spans):
            if i not in seen:
                out.append(((i,), ActivityRow({"bucket": span.label}, dict(zero), 0)))
    return [row for _, row in sorted(out, key=lambda x: x[0])]


def activity_lineage(
    store: Store,
    account_id: str,
    period: Period,
    keys: Mapping[str, str | None],
    grain: str | None = None,
    types: Sequence[str] | None = None,
) -> list[ActivityFact]:
    """The activities behind one row of ``activity_counts`` (or of the rates and intensity):
    ``keys`` is that row's ``keys`` ("bucket" only together with the same ``grain``).

    Raises:
        ConfigurationError: for an unknown dimension, grain, type or bucket label.
    """
    by = [d for d in keys if d != "bucket"]
    facts = activity_facts(account_id, period, by, grain, types).subquery()
    where: list[ColumnElement[bool]] = []
    for d in by:
        value = keys[d]
        col = facts.c[f"dim_{d}"]
        where.append(col.is_(None) if value is None else col == value)
    if "bucket" in keys:
        if grain is None:
            raise ConfigurationError("a 'bucket' key needs the grain it was counted with")
        labels = [b.label for b in buckets(period, grain)]
        if keys["bucket"] not in labels:
            raise ConfigurationError(
                f"bucket {keys['bucket']!r} is not a {grain} of {period.label}"
            )
        where.append(facts.c.bucket == labels.index(str(keys["bucket"])))
    stmt = (
        select(
            facts.c.id,
            facts.c.type,
            facts.c.at,
            facts.c.manager_id,
            facts.c.deal_id,
            facts.c.company_id,
            facts.c.contact_id,
        )
        .where(*where)
        .order_by(facts.c.at, facts.c.id)
    )
    with store.engine.connect() as conn:
        return [ActivityFact(*r) for r in conn.execute(stmt).all()]


# -- averages --------------------------------------------------------------------------------


def period_months(period: Period) -> Decimal:
    """Months in the period; a partial month counts as its days ÷ the month's days."""
    total = Decimal(0)
    for part in buckets(period, "month"):
        first = part.first_day.replace(day=1)
        nxt = first.replace(year=first.year + (first.month == 12), month=first.month % 12 + 1)
        total += Decimal((part.end_day - part.first_day).days) / (nxt - first).days
    return total


def activity_rates(
    store: Store,
    account_id: str,
    period: Period,
    by: Sequence[str] = ("manager",),
    types: Sequence[str] | None = None,
) -> list[ActivityRateRow]:
    """Average activities per working day, week and month of ``period``, per ``by`` group.

    Raises:
        ConfigurationError: for an unknown dimension or activity type.
    """
    working = count_working_days(period.first_day, period.end_day)
    weeks = Decimal((period.end_day - period.first_day).days) / 7
    months = period_months(period)
    return [
        ActivityRateRow(row.keys, row.counts, row.total, working, weeks, months)
        for row in activity_counts(store, account_id, period, by, types=types)
    ]


# -- intensity -------------------------------------------------------------------------------


def activity_intensity(
    store: Store,
    account_id: str,
    period: Period,
    by: Sequence[str] = ("manager",),
    types: Sequence[str] | None = None,
) -> list[IntensityRow]:
    """Clients in work (distinct companies, or contacts without a company) and the type mix.

    Raises:
        ConfigurationError: for an unknown dimension or activity type.
    """
    chosen = _check(by, None, types)
    facts = activity_facts(account_id, period, by, None, chosen).subquery()
    # Two-level grouping (per client, then per group) instead of COUNT(DISTINCT …): hashable on
    # both databases and no string building.
    contact = case((facts.c.company_id.is_(None), facts.c.contact_id)).label("client_contact")
    keys = [facts.c[f"dim_{d}"] for d in by]
    per_client = (
        select(
            *keys,
            facts.c.company_id,
            contact,
            *[func.count().filter(facts.c.type == t).label(f"n_{t}") for t in chosen],
            func.count().label("total"),
        )
        .group_by(*keys, facts.c.company_id, contact)
        .subquery()
    )
    outer_keys = [per_client.c[f"dim_{d}"] for d in by]
    is_client = per_client.c.company_id.is_not(None) | per_client.c.client_contact.is_not(None)
    stmt = select(
        *outer_keys,
        func.count().filter(is_client).label("clients"),
        *[func.sum(per_client.c[f"n_{t}"]).label(f"n_{t}") for t in chosen],
        func.sum(per_client.c.total).label("total"),
    ).group_by(*outer_keys)
    with store.engine.connect() as conn:
        rows = list(conn.execute(stmt).mappings())
    out = [
        IntensityRow(
            keys={d: r[f"dim_{d}"] for d in by},
            clients=int(r["clients"] or 0),
            counts={t: int(r[f"n_{t}"] or 0) for t in chosen},
            total=int(r["total"] or 0),
        )
        for r in rows
    ]
    if not by and not out:
        out = [IntensityRow({}, 0, dict.fromkeys(chosen, 0), 0)]
    return sorted(out, key=lambda x: _sort_key(x.keys, 0))
