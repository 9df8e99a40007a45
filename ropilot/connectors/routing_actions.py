"""Apply routing decisions in the CRM: change the deal's responsible, exactly once.

Core only decides and records (``routing_decisions``); this module takes a Connector and the
store and makes the CRM follow. A decision is claimed by setting ``applied_at`` in the same
statement that checks it is still null, so two workers (or a retried event) never apply one
decision twice; when the CRM call fails the claim is released and the error kept.
"""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import select, update

from ropilot.connectors.base import Connector
from ropilot.core.errors import ConnectorError, StoreError
from ropilot.core.store import Store
from ropilot.core.store.schema import routing_decisions

__all__ = ["apply_decision", "apply_pending"]


def apply_decision(store: Store, connector: Connector, account_id: str, decision_id: str) -> bool:
    """Set the CRM responsible of the decision's deal; True when this call applied it.

    Returns False when the decision was already applied (or chose nobody).

    Raises:
        StoreError: when there is no such decision.
        ConnectorError: when the CRM refused; the decision stays unapplied with the error.
    """
    d = routing_decisions
    key = (d.c.account_id == account_id, d.c.id == decision_id)
    with store.begin() as conn:
        row = conn.execute(select(d.c.deal_id, d.c.manager_id).where(*key)).first()
        if row is None:
            raise StoreError(f"no routing decision {decision_id!r} in account {account_id}")
        if row.manager_id is None:
            return False
        claimed = conn.execute(
            update(d)
            .where(*key, d.c.applied_at.is_(None))
            .values(applied_at=datetime.now(UTC), apply_error=None)
        ).rowcount
    if not claimed:
        return False
    try:
        connector.set_responsible(str(row.deal_id), str(row.manager_id))
    except ConnectorError as exc:
        with store.begin() as conn:
            conn.execute(update(d).where(*key).values(applied_at=None, apply_error=str(exc)))
        raise
    return True


def apply_pending(store: Store, connector: Connector, account_id: str, limit: int = 500) -> int:
    """Apply every recorded, not yet applied decision (oldest first); returns how many."""
    d = routing_decisions
    with store.engine.connect() as conn:
        ids = [
            r[0]
            for r in conn.execute(
                select(d.c.id)
                .where(
                    d.c.account_id == account_id,
                    d.c.applied_at.is_(None),
                    d.c.manager_id.is_not(None),
                )
                .order_by(d.c.decided_at)
                .limit(limit)
            )
        ]
    return sum(1 for i in ids if apply_decision(store, connector, account_id, i))
