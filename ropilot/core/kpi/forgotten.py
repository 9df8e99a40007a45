"""Forgotten deals and clients (sales_definitions.md): as of T with a threshold of N days, a deal
open at T whose last activity (any type; its creation when it has none) is before T − N days and
that has no uncompleted task due after T; the same rule for client companies
(:func:`forgotten_clients`).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import and_, exists, func, or_, select
from sqlalchemy.sql.functions import coalesce

from ropilot.core.kpi.history import held_if_open_at
from ropilot.core.store import Store
from ropilot.core.store.schema import activities, companies, contacts, deals, stages, tasks
from ropilot.core.store.types import UtcTimestamp


@dataclass(frozen=True)
class ForgottenDeal:
    """A deal nobody has touched for too long."""

    deal_id: str
    responsible_id: str | None
    stage_id: str
    last_touch_at: datetime
    idle_days: float


def forgotten_deals(
    store: Store, account_id: str, as_of: datetime, *, days: int
) -> list[ForgottenDeal]:
    """Deals forgotten as of ``as_of`` (aware) with a threshold of ``days``, oldest first."""
    held = held_if_open_at(account_id, as_of)
    last_activity = (
        select(func.max(activities.c.at))
        .where(
            activities.c.account_id == deals.c.account_id,
            activities.c.deal_id == deals.c.id,
            activities.c.at <= as_of,
        )
        .scalar_subquery()
    )
    touch = coalesce(last_activity, deals.c.created_at).cast(UtcTimestamp)
    future_task = exists().where(
        tasks.c.account_id == deals.c.account_id,
        tasks.c.deal_id == deals.c.id,
        tasks.c.created_at <= as_of,
        tasks.c.due_at > as_of,
        or_(tasks.c.completed_at.is_(None), tasks.c.completed_at > as_of),
    )
    stmt = (
        select(deals.c.id, deals.c.responsible_id, held.c.stage_id, touch.label("touch"))
        .select_from(
            deals.join(held, held.c.deal_id == deals.c.id).join(
                stages,
                and_(stages.c.account_id == deals.c.account_id, stages.c.id == held.c.stage_id),
            )
        )
        .where(
            deals.c.account_id == account_id,
            stages.c.kind == "open",
            touch < as_of - timedelta(days=days),
            ~future_task,
        )
        .order_by(touch, deals.c.id)
    )
    with store.engine.connect() as conn:
        rows = conn.execute(stmt).all()
    return [
        ForgottenDeal(
            deal_id=r[0],
            responsible_id=r[1],
            stage_id=r[2],
            last_touch_at=r[3],
            idle_days=(as_of - r[3]).total_seconds() / 86_400,
        )
        for r in rows
    ]


@dataclass(frozen=True)
class ForgottenClient:
    """A client company nobody has touched for too long."""

    company_id: str
    responsible_id: str | None
    last_touch_at: datetime
    idle_days: float


def _company_of(deal_col: Any, contact_col: Any, company_col: Any) -> Any:
    """The company a record belongs to: its own, else its deal's, else its contact's."""
    deal_company = (
        select(deals.c.company_id)
        .where(deals.c.account_id == activities.c.account_id, deals.c.id == deal_col)
        .scalar_subquery()
    )
    contact_company = (
        select(contacts.c.company_id)
        .where(contacts.c.account_id == activities.c.account_id, contacts.c.id == contact_col)
        .scalar_subquery()
    )
    return coalesce(company_col, deal_company, contact_company)


def forgotten_clients(
    store: Store, account_id: str, as_of: datetime, *, days: int
) -> list[ForgottenClient]:
    """Client companies forgotten as of ``as_of`` with a threshold of ``days``, oldest first.

    The same rule as for deals (sales_definitions.md, "Forgotten client / deal"), applied to a
    company: a client is a company with at least one deal created by T; its last activity is
    the latest activity at or before T linked to the company, to one of its deals or to one of
    its contacts — or, without any, the company's creation (its first deal's when the company
    has no creation date); it is flagged when that is before T − N days and nothing linked to
    it (the company, its deals, its contacts) has an uncompleted task due after T.
    """
    company = _company_of(activities.c.deal_id, activities.c.contact_id, activities.c.company_id)
    touched = (
        select(company.label("company_id"), func.max(activities.c.at).label("last_at"))
        .where(activities.c.account_id == account_id, activities.c.at <= as_of)
        .group_by(company)
        .subquery("touched")
    )
    task_deal = deals.alias("task_deal")
    task_contact = contacts.alias("task_contact")
    task_company = coalesce(
        tasks.c.company_id,
        select(task_deal.c.company_id)
        .where(task_deal.c.account_id == tasks.c.account_id, task_deal.c.id == tasks.c.deal_id)
        .scalar_subquery(),
        select(task_contact.c.company_id)
        .where(
            task_contact.c.account_id == tasks.c.account_id, task_contact.c.id == tasks.c.contact_id
        )
        .scalar_subquery(),
    )
    planned = (
        select(task_company.label("company_id"))
        .where(
            tasks.c.account_id == account_id,
            tasks.c.created_at <= as_of,
            tasks.c.due_at > as_of,
            or_(tasks.c.completed_at.is_(None), tasks.c.completed_at > as_of),
        )
        .subquery("planned")
    )
    first_deal = (
        select(deals.c.company_id, func.min(deals.c.created_at).label("first_at"))
        .where(
            deals.c.account_id == account_id,
            deals.c.company_id.is_not(None),
            deals.c.created_at <= as_of,
        )
        .group_by(deals.c.company_id)
        .subquery("clients")
    )
    touch = coalesce(touched.c.last_at, companies.c.created_at, first_deal.c.first_at).cast(
        UtcTimestamp
    )
    stmt = (
        select(companies.c.id, companies.c.responsible_id, touch.label("touch"))
        .select_from(
            first_deal.join(
                companies,
                and_(
                    companies.c.account_id == account_id,
                    companies.c.id == first_deal.c.company_id,
                ),
            ).outerjoin(touched, touched.c.company_id == companies.c.id)
        )
        .where(
            touch < as_of - timedelta(days=days),
            companies.c.id.not_in(
                select(planned.c.company_id).where(planned.c.company_id.is_not(None))
            ),
        )
        .order_by(touch, companies.c.id)
    )
    with store.engine.connect() as conn:
        rows = conn.execute(stmt).all()
    return [
        ForgottenClient(
            company_id=r[0],
            responsible_id=r[1],
            last_touch_at=r[2],
            idle_days=(as_of - r[2]).total_seconds() / 86_400,
        )
        for r in rows
    ]
