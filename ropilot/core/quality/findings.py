"""Stored findings: insert new ones, refresh the ones seen again, resolve the ones gone.

A finding is open while ``resolved_at`` is null. Its identity is (check, entity, entity_id):
one audit keeps at most one open finding per identity. When an audit no longer finds an open
finding of a check it ran, the finding is resolved at the audit's ``as_of``; a problem found
again later is a new finding (a new id, a new ``first_seen``), so CRM actions keyed by the
finding id happen again for a new occurrence and never twice for the same one.

The write is set-based so a 1M-deal audit stays fast: the open findings of the checks run are
read as (identity → id, digest); only new rows are inserted, only rows whose digest changed
(severity, owner, message, details, regulations version) are updated, the vanished ones are
resolved, and ``last_seen`` of everything still open is set by one UPDATE.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from itertools import islice
from typing import Any

from sqlalchemy import Connection, bindparam, select, update

from ropilot.core.quality.registry import FindingDraft
from ropilot.core.store import Store
from ropilot.core.store.direct import Direct
from ropilot.core.store.schema import quality_findings as qf
from ropilot.core.timeutil import to_epoch_us

__all__ = [
    "AMOCRM_PATHS",
    "Finding",
    "SaveResult",
    "crm_link",
    "finding_id",
    "open_findings",
    "save_findings",
]

BATCH = 2000

# A new finding's row: through the driver's executemany, details already JSON (store.direct).
_INSERT = Direct(qf.insert().values({c.name: bindparam(c.name) for c in qf.columns}))

AMOCRM_PATHS = {"deal": "leads", "contact": "contacts", "company": "companies"}
"""amoCRM card paths by entity: ``https://SUBDOMAIN/leads/detail/ID``."""


def crm_link(base_url: str | None, entity: str, entity_id: str) -> str | None:
    """The record's card in amoCRM (``{base_url}/leads/detail/{id}``), or None when the base
    URL is unknown or the entity has no card of its own (tasks).
    """
    path = AMOCRM_PATHS.get(entity)
    if not base_url or path is None:
        return None
    return f"{base_url.rstrip('/')}/{path}/detail/{entity_id}"


def finding_id(draft: FindingDraft, first_seen: datetime | int) -> str:
    """Stable id of one occurrence: identity plus first-seen moment (also the CRM action key).

    ``first_seen`` may be given as epoch microseconds (an audit computes it once).
    """
    seen = first_seen if isinstance(first_seen, int) else to_epoch_us(first_seen)
    raw = f"{draft.check}|{draft.entity}|{draft.entity_id}|{seen}"
    return "qf-" + hashlib.sha1(raw.encode(), usedforsecurity=False).hexdigest()[:24]


def _json(value: Any) -> str:
    return json.dumps(value, sort_keys=True, default=str, ensure_ascii=False)


def _digest(
    draft: FindingDraft, version: str | None, link: str | None, details_json: str | None = None
) -> str:
    """sha1 of ``[severity, owner, message, details, version, link]`` as canonical JSON.

    Built from the parts so the details' JSON (the bulk of it) is encoded once and also stored:
    the same text ``json.dumps`` gives for the whole list (its items joined by ", ").
    """
    if details_json is None:
        whole = _json([draft.severity, draft.owner_id, draft.message, draft.details, version, link])
        return hashlib.sha1(whole.encode(), usedforsecurity=False).hexdigest()
    details = details_json
    head = _json([draft.severity, draft.owner_id, draft.message])  # "[s, o, m]"
    tail = _json([version, link])  # "[v, l]"
    payload = f"{head[:-1]}, {details}, {tail[1:]}"
    return hashlib.sha1(payload.encode(), usedforsecurity=False).hexdigest()


@dataclass(frozen=True)
class SaveResult:
    """What one save did: counts of new, still open (seen again), changed and resolved."""

    new: int
    seen: int
    changed: int
    resolved: int
    new_ids: tuple[str, ...] = ()


@dataclass(frozen=True)
class Finding:
    """A stored finding."""

    id: str
    check: str
    entity: str
    entity_id: str
    severity: str
    owner_id: str | None
    message: str
    crm_link: str | None
    details: Mapping[str, Any]
    regulations_version: str | None
    first_seen: datetime
    last_seen: datetime
    resolved_at: datetime | None


def _chunks(items: Iterable[Any], size: int = BATCH) -> Iterator[list[Any]]:
    it = iter(items)
    while batch := list(islice(it, size)):
        yield batch


def save_findings(
    store: Store,
    account_id: str,
    checks: Sequence[str],
    drafts: Iterable[FindingDraft],
    *,
    as_of: datetime,
    regulations_version: str | None,
    base_url: str | None = None,
) -> SaveResult:
    """Record one audit of ``checks``: drafts of other checks are refused, open findings of
    ``checks`` that are not among ``drafts`` are resolved at ``as_of``.

    Re-running with the same drafts changes nothing but ``last_seen``.
    """
    wanted = set(checks)
    latest: dict[tuple[str, str, str], FindingDraft] = {}
    for d in drafts:
        if d.check not in wanted:
            raise ValueError(f"finding of check {d.check!r} saved with checks {sorted(wanted)}")
        latest[(d.check, d.entity, d.entity_id)] = d
    with store.begin() as conn:
        existing = _open_keys(conn, account_id, checks)
        # Rows go out a batch at a time: holding every new row of a 1M-deal audit (details
        # included) at once doubled the audit's peak memory.
        inserts: list[dict[str, Any]] = []
        changes: list[dict[str, Any]] = []
        new_ids: list[str] = []
        changed = 0
        seen_us = to_epoch_us(as_of)
        shared = {
            "account_id": account_id,
            "regulations_version": regulations_version,
            "first_seen": as_of,
            "last_seen": as_of,
            "resolved_at": None,
        }
        for key, d in latest.items():
            link = crm_link(base_url, d.entity, d.entity_id)
            found = existing.pop(key, None)
            if found is None:  # a new row stores the details' JSON: encode it once for both
                details_json = _json(dict(d.details))
                digest = _digest(d, regulations_version, link, details_json)
            else:
                digest = _digest(d, regulations_version, link)
            if found is None:
                fid = finding_id(d, seen_us)
                inserts.append(
                    {
                        "id": fid,
                        "check": d.check,
                        "entity": d.entity,
                        "entity_id": d.entity_id,
                        "severity": d.severity,
                        "owner_id": d.owner_id,
                        "message": d.message,
                        "crm_link": link,
                        "details": details_json,
                        "digest": digest,
                    }
                )
                new_ids.append(fid)
                if len(inserts) >= BATCH:
                    _INSERT.run_many(conn, inserts, constants=shared, raw=("details",))
                    inserts = []
            elif found[1] != digest:
                changes.append(
                    {
                        "k_id": found[0],
                        "severity": d.severity,
                        "owner_id": d.owner_id,
                        "message": d.message,
                        "crm_link": link,
                        "details": dict(d.details),
                        "regulations_version": regulations_version,
                        "digest": digest,
                    }
                )
                changed += 1
                if len(changes) >= BATCH:
                    conn.execute(_change_stmt(account_id), changes)
                    changes = []
        if inserts:
            _INSERT.run_many(conn, inserts, constants=shared, raw=("details",))
        if changes:
            conn.execute(_change_stmt(account_id), changes)
        gone = [fid for fid, _ in existing.values()]
        for batch in _chunks(gone, 500):
            conn.execute(
                update(qf)
                .where(qf.c.account_id == account_id, qf.c.id.in_(batch))
                .values(resolved_at=as_of)
            )
        if checks:
            conn.execute(
                update(qf)
                .where(
                    qf.c.account_id == account_id,
                    qf.c.check.in_(list(checks)),
                    qf.c.resolved_at.is_(None),
                )
                .values(last_seen=as_of)
            )
    return SaveResult(
        new=len(new_ids),
        seen=len(latest) - len(new_ids),
        changed=changed,
        resolved=len(gone),
        new_ids=tuple(new_ids),
    )


def _change_stmt(account_id: str) -> Any:
    columns = (
        "severity",
        "owner_id",
        "message",
        "crm_link",
        "details",
        "regulations_version",
        "digest",
    )
    return (
        update(qf)
        .where(qf.c.account_id == account_id, qf.c.id == bindparam("k_id"))
        .values({c: bindparam(c) for c in columns})
    )


def _open_keys(
    conn: Connection, account_id: str, checks: Sequence[str]
) -> dict[tuple[str, str, str], tuple[str, str]]:
    if not checks:
        return {}
    rows = conn.execute(
        select(qf.c.check, qf.c.entity, qf.c.entity_id, qf.c.id, qf.c.digest).where(
            qf.c.account_id == account_id,
            qf.c.check.in_(list(checks)),
            qf.c.resolved_at.is_(None),
        )
    )
    return {(r[0], r[1], r[2]): (r[3], r[4]) for r in rows}


def open_findings(
    store: Store,
    account_id: str,
    *,
    checks: Sequence[str] | None = None,
    owner_id: str | None = None,
    include_resolved: bool = False,
) -> list[Finding]:
    """Findings of an account (open ones unless ``include_resolved``), by check, entity, id."""
    stmt = select(qf).where(qf.c.account_id == account_id)
    if not include_resolved:
        stmt = stmt.where(qf.c.resolved_at.is_(None))
    if checks:
        stmt = stmt.where(qf.c.check.in_(list(checks)))
    if owner_id is not None:
        stmt = stmt.where(qf.c.owner_id == owner_id)
    stmt = stmt.order_by(qf.c.check, qf.c.entity, qf.c.entity_id, qf.c.first_seen)
    with store.engine.connect() as conn:
        rows = conn.execute(stmt).mappings().all()
    return [
        Finding(
            id=r["id"],
            check=r["check"],
            entity=r["entity"],
            entity_id=r["entity_id"],
            severity=r["severity"],
            owner_id=r["owner_id"],
            message=r["message"],
            crm_link=r["crm_link"],
            details=r["details"] or {},
            regulations_version=r["regulations_version"],
            first_seen=r["first_seen"],
            last_seen=r["last_seen"],
            resolved_at=r["resolved_at"],
        )
        for r in rows
    ]
