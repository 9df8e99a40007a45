"""A short summary of an account in the store: counts, outcomes, money, period."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal

from sqlalchemy import ColumnElement, case, func, select
from sqlalchemy.sql.functions import coalesce

from ropilot.core.store import Store
from ropilot.core.store.schema import accounts, deals, stages
from ropilot.core.store.types import Money, UtcTimestamp


@dataclass(frozen=True)
class StoreSummary:
    """What an account holds, computed in the database."""

    account_id: str
    counts: dict[str, int]
    open_deals: int
    won_deals: int
    lost_deals: int
    won_amount: Decimal
    open_amount: Decimal
    first_deal_at: datetime | None
    last_deal_at: datetime | None
    currency: str


def summarize(store: Store, account_id: str) -> StoreSummary:
    """Counts per table and deal outcomes by stage kind (amounts in the account currency)."""
    with store.engine.connect() as conn:
        currency = conn.execute(
            select(accounts.c.currency).where(accounts.c.id == account_id)
        ).scalar_one()
        in_currency = (deals.c.currency.is_(None)) | (deals.c.currency == currency)
        kind = stages.c.kind

        def amount_sum(k: str) -> ColumnElement[Decimal]:
            return coalesce(func.sum(case((in_currency & (kind == k), deals.c.amount))), 0).cast(
                Money
            )

        row = conn.execute(
            select(
                func.count().filter(kind == "open"),
                func.count().filter(kind == "won"),
                func.count().filter(kind == "lost"),
                amount_sum("won"),
                amount_sum("open"),
                func.min(deals.c.created_at).cast(UtcTimestamp),
                func.max(deals.c.created_at).cast(UtcTimestamp),
            )
            .select_from(deals)
            .join(
                stages,
                (stages.c.account_id == deals.c.account_id) & (stages.c.id == deals.c.stage_id),
            )
            .where(deals.c.account_id == account_id)
        ).one()
    return StoreSummary(
        account_id=account_id,
        counts=store.counts(account_id),
        open_deals=row[0],
        won_deals=row[1],
        lost_deals=row[2],
        won_amount=row[3],
        open_amount=row[4],
        first_deal_at=row[5],
        last_deal_at=row[6],
        currency=currency,
    )
