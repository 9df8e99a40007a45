"""Open pipeline at a moment T (sales_definitions.md, "Open pipeline at T").

* A deal is open at T when it was created at or before T and the stage it held at T (from stage
  history, ``kpi.history.held_if_open_at``; "as of T" includes T) is of kind ``open``. A deal won or
  lost after T is open at T; a deal lost at T and reopened later is not.
* It is counted in the stage it held at T, with its *current* amount and responsible (and the
  dimensions that follow from them: the responsible's current team, the company's segment …).
* Money is in the account currency: an empty amount is 0; deals in another currency count in the
  deal count but their amounts are listed apart per currency, never converted.

The module is built as a *facts* select (one row per open deal with its dimension columns,
:func:`open_facts`); the figures group over it and the lineage (:func:`open_pipeline_deals`)
filters it by a group's keys. ``forecast.py`` reuses the same facts.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import (
    BigInteger,
    ColumnElement,
    Select,
    and_,
    case,
    func,
    select,
    true,
    type_coerce,
)
from sqlalchemy.sql.functions import coalesce

from ropilot.core.errors import ConfigurationError
from ropilot.core.kpi.history import held_if_open_at
from ropilot.core.kpi.scope import DIMENSIONS, deal_source, dimension_columns
from ropilot.core.store import Store
from ropilot.core.store.schema import accounts, deals, stages
from ropilot.core.store.types import Money

HELD = stages.alias("held_stage")
"""The stage a deal held at the moment asked (joined through ``held_if_open_at``)."""

PIPELINE_DIMENSIONS = (*DIMENSIONS, "stage")
"""Dimensions of pipeline figures: the deal dimensions plus ``stage`` (the stage held at T)."""

PREFIX = "by_"
"""Dimension columns of the facts select are labelled ``by_<dimension>``."""


def pipeline_dimensions(by: Sequence[str]) -> dict[str, ColumnElement[Any]]:
    """Columns of the ``by`` dimensions; ``stage`` is the stage held at T.

    Raises:
        ConfigurationError: for an unknown dimension.
    """
    unknown = [d for d in by if d not in PIPELINE_DIMENSIONS]
    if unknown:
        raise ConfigurationError(
            f"unknown dimension(s) {', '.join(unknown)}; use {', '.join(PIPELINE_DIMENSIONS)}"
        )
    deal_dims = dimension_columns([d for d in by if d != "stage"])
    return {d: HELD.c.id if d == "stage" else deal_dims[d] for d in by}


def account_currency(account_id: str) -> Any:
    """The account currency as a scalar subquery."""
    return select(accounts.c.currency).where(accounts.c.id == account_id).scalar_subquery()


def amount_units() -> ColumnElement[int]:
    """A deal's amount in raw 1e-4 units, an empty amount being 0."""
    return coalesce(type_coerce(deals.c.amount, BigInteger), 0)


def in_account_currency(account_id: str) -> ColumnElement[int]:
    """1 when the deal is in the account currency (or has none), else 0."""
    currency = account_currency(account_id)
    return case((deals.c.currency.is_(None) | (deals.c.currency == currency), 1), else_=0)


def open_facts(account_id: str, as_of: datetime, by: Sequence[str] = ()) -> Select[Any]:
    """One row per deal open at ``as_of`` (aware), in the stage it held then.

    Columns: ``deal_id``, ``stage_id``, ``stage_sort``, ``probability`` (of the held stage),
    ``pipeline_id``, ``responsible_id``, ``amount`` (Money, may be None), ``currency`` (the
    account's when empty), ``in_currency`` (1/0), ``units`` (amount in 1e-4, empty = 0),
    ``expected_close_at``, ``created_at`` and ``by_<dimension>`` for each of ``by``.

    Raises:
        ConfigurationError: for an unknown dimension or a naive ``as_of``.
    """
    if as_of.tzinfo is None:
        raise ConfigurationError(f"as-of moment {as_of} needs a time zone")
    dims = pipeline_dimensions(by)
    held = held_if_open_at(account_id, as_of)
    source = (
        deal_source(by)
        .join(held, held.c.deal_id == deals.c.id)
        .join(HELD, and_(HELD.c.account_id == deals.c.account_id, HELD.c.id == held.c.stage_id))
    )
    return (
        select(
            deals.c.id.label("deal_id"),
            HELD.c.id.label("stage_id"),
            HELD.c.sort.label("stage_sort"),
            HELD.c.probability.label("probability"),
            deals.c.pipeline_id,
            deals.c.responsible_id,
            deals.c.amount,
            coalesce(deals.c.currency, account_currency(account_id)).label("currency"),
            in_account_currency(account_id).label("in_currency"),
            amount_units().label("units"),
            deals.c.expected_close_at,
            deals.c.created_at,
            *[col.label(PREFIX + name) for name, col in dims.items()],
        )
        .select_from(source)
        .where(deals.c.account_id == account_id, HELD.c.kind == "open")
    )


def keys_match(facts: Any, keys: Mapping[str, str | None]) -> ColumnElement[bool]:
    """Rows of ``facts`` (a subquery with ``by_`` columns) in the group named by ``keys``."""
    conds = []
    for name, value in keys.items():
        column = facts.c.get(PREFIX + name)
        if column is None:
            raise ConfigurationError(
                f"unknown dimension {name!r}; use {', '.join(PIPELINE_DIMENSIONS)}"
            )
        conds.append(column.is_(None) if value is None else column == value)
    return and_(true(), *conds)


def sort_key(keys: Mapping[str, str | None]) -> tuple[str, ...]:
    """Order of result rows: by dimension values, None first."""
    return tuple("" if v is None else str(v) for v in keys.values())


@dataclass(frozen=True)
class PipelineRow:
    """Open pipeline of one group at T."""

    keys: dict[str, str | None]
    count: int
    """Open deals, every currency."""
    count_in_currency: int
    amount: Decimal
    """Σ current amount in the account currency (empty = 0)."""
    without_amount: int
    """Deals counted with an empty amount."""
    other_currencies: dict[str, Decimal] = field(default_factory=dict)


@dataclass(frozen=True)
class PipelineDeal:
    """One deal behind a pipeline (or forecast) figure: the lineage record."""

    deal_id: str
    stage_id: str
    probability: int | None
    responsible_id: str | None
    amount: Decimal | None
    currency: str
    expected_close_at: date | None
    created_at: datetime
    keys: dict[str, str | None]

    @property
    def weighted(self) -> Decimal:
        """Amount × probability ÷ 100 (empty amount and NULL probability weigh 0)."""
        return (self.amount or Decimal(0)) * (self.probability or 0) / 100


def open_pipeline(
    store: Store, account_id: str, as_of: datetime, by: Sequence[str] = ()
) -> list[PipelineRow]:
    """Open pipeline at ``as_of`` grouped by ``by`` (deal dimensions and ``stage``).

    Without dimensions there is always one row (zeros when nothing is open); with dimensions,
    one row per group holding an open deal.

    Raises:
        ConfigurationError: for an unknown dimension.
    """
    return aggregate_open(store, open_facts(account_id, as_of, by).subquery(), by)


def aggregate_open(store: Store, facts: Any, by: Sequence[str]) -> list[PipelineRow]:
    """Group a facts subquery (``open_facts`` shape) into :class:`PipelineRow`."""
    keys = [facts.c[PREFIX + d] for d in by]
    # One pass grouped by currency too (the facts are costly to compute twice); folded below.
    stmt = select(
        *keys,
        facts.c.in_currency,
        facts.c.currency,
        func.count().label("n"),
        coalesce(func.sum(facts.c.units), 0).cast(Money).label("amount"),
        func.count().filter(facts.c.amount.is_(None)).label("no_amount"),
    ).group_by(*keys, facts.c.in_currency, facts.c.currency)
    n = len(by)
    groups: dict[tuple[Any, ...], dict[str, Any]] = {}
    with store.engine.connect() as conn:
        for r in conn.execute(stmt):
            g = groups.setdefault(
                tuple(r[:n]),
                {"n": 0, "n_cur": 0, "amount": Decimal("0.0000"), "no_amount": 0, "other": {}},
            )
            g["n"] += int(r.n)
            g["no_amount"] += int(r.no_amount)
            if r.in_currency == 1:
                g["n_cur"] += int(r.n)
                g["amount"] += r.amount
            else:
                g["other"][r.currency] = g["other"].get(r.currency, 0) + r.amount
    out = [
        PipelineRow(
            keys=dict(zip(by, k, strict=True)),
            count=g["n"],
            count_in_currency=g["n_cur"],
            amount=g["amount"],
            without_amount=g["no_amount"],
            other_currencies=g["other"],
        )
        for k, g in groups.items()
    ]
    if not by and not out:
        out.append(PipelineRow({}, 0, 0, Decimal("0.0000"), 0, {}))
    return sorted(out, key=lambda row: sort_key(row.keys))


def deal_records(store: Store, facts: Any, keys: Mapping[str, str | None]) -> list[PipelineDeal]:
    """Lineage records of a facts subquery filtered by ``keys``, by deal id."""
    names = [c.name[len(PREFIX) :] for c in facts.c if c.name.startswith(PREFIX)]
    stmt = select(facts).where(keys_match(facts, keys)).order_by(facts.c.deal_id)
    with store.engine.connect() as conn:
        rows = list(conn.execute(stmt).mappings())
    return [
        PipelineDeal(
            deal_id=r["deal_id"],
            stage_id=r["stage_id"],
            probability=r["probability"],
            responsible_id=r["responsible_id"],
            amount=r["amount"],
            currency=r["currency"],
            expected_close_at=r["expected_close_at"],
            created_at=r["created_at"],
            keys={n: r[PREFIX + n] for n in names},
        )
        for r in rows
    ]


def open_pipeline_deals(
    store: Store,
    account_id: str,
    as_of: datetime,
    keys: Mapping[str, str | None] | None = None,
) -> list[PipelineDeal]:
    """Lineage of :func:`open_pipeline`: the deals open at ``as_of`` in the group ``keys``
    (e.g. ``{"manager": "m1", "stage": "s2"}``; ``{}`` for the company), by deal id.

    Raises:
        ConfigurationError: for an unknown dimension.
    """
    keys = dict(keys or {})
    return deal_records(store, open_facts(account_id, as_of, list(keys)).subquery(), keys)
