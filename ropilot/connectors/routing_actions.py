"""Apply routing decisions in the CRM: change the deal's responsible, exactly once.

Core only decides and records (``routing_decisions``); this module takes a Connector and the
store and makes the CRM follow. A decision is claimed by setting ``applied_at`` in the same
statement that checks it is still null, so two workers (or a retried event) never apply one
decision twice; when the CRM call fails the claim is released and the error kept.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime

from sqlalchemy import select, update

from ropilot.connectors.base import Connector
from ropilot.core.errors import ConnectorError, StoreError
from ropilot.core.store import Store
from ropilot.core.store.schema import routing_decisions

__all__ = ["ApplyResult", "apply_all", "apply_decision", "apply_pending"]


@dataclass
class ApplyResult:
    """What one pass over the pending decisions did."""

    applied: int = 0
    failed: list[tuple[str, str]] = field(default_factory=list)  # (decision id, CRM error)


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
    """Apply every recorded, not yet applied decision (oldest first); returns how many.

    Raises:
        ConnectorError: at the first decision the CRM refuses (the rest wait).
    """
    return sum(
        1
        for i in _pending(store, account_id, limit)
        if apply_decision(store, connector, account_id, i)
    )


def apply_all(store: Store, connector: Connector, account_id: str, limit: int = 500) -> ApplyResult:
    """Like :func:`apply_pending`, but a decision the CRM refuses is reported and the rest are
    still applied (each failure stays unapplied with its error, for the next pass).
    """
    result = ApplyResult()
    for i in _pending(store, account_id, limit):
        try:
            if apply_decision(store, connector, account_id, i):
                result.applied += 1
        except ConnectorError as exc:
            result.failed.append((i, str(exc)))
    return result


def _pending(store: Store, account_id: str, limit: int) -> list[str]:
    d = routing_decisions
    with store.engine.connect() as conn:
        return [
            r[0]
            for r in conn.execute(
                select(d.c.id)
                .where(
                    d.c.account_id == account_id,
                    d.c.applied_at.is_(None),
                    d.c.manager_id.is_not(None),
                )
                .order_by(d.c.decided_at, d.c.id)
                .limit(limit)
            )
        ]
