"""Stored form of decision inputs: a pool snapshot plus the members that differ from it.

A snapshot (``routing_snapshots.data``) holds the pool's rules and one JSON row per member
(``json.dumps(MemberFacts)``: the named tuple encodes as a list). A decision's ``inputs`` hold
the snapshot's id, the rows of the members whose facts differ from the snapshot (the engine
keeps each member's encoded row and re-encodes only members that changed), the lead, the
moment, the period keys, the exclusions and the reason. Rows are joined as pre-encoded text,
so storing a decision costs little beyond the changed members; the engine writes a new
snapshot when more than an eighth of the pool differs.

Decoding puts the delta rows in place of the snapshot rows with the same id (in snapshot
order) and appends the rest (the client's owner from outside the pool), which is the order
the engine passed them to ``decide``.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import asdict
from typing import Any

from ropilot.core.routing.models import DecisionInputs, Lead, MemberFacts, PoolRules

_SEP = (",", ":")


def encode_row(member: MemberFacts) -> str:
    """One member's facts as compact JSON text (a list in field order)."""
    return json.dumps(member, separators=_SEP, ensure_ascii=False)


def snapshot_text(rules: PoolRules, rows: Iterable[str]) -> str:
    """A snapshot's stored text from the pool's rules and the members' encoded rows."""
    pool = json.dumps(rules.to_json(), separators=_SEP, ensure_ascii=False)
    return f'{{"v":2,"pool":{pool},"members":[{",".join(rows)}]}}'


def inputs_text(
    snapshot_id: str,
    delta: Iterable[str],
    lead: Lead,
    now_us: int,
    period_keys: Mapping[str, str],
    exclude: Sequence[str],
    reason: str,
) -> str:
    """A decision's stored inputs: the snapshot reference, the delta rows and the rest."""
    rest = json.dumps(
        {
            "lead": vars(lead),
            "now_us": now_us,
            "period_keys": period_keys,
            "exclude": list(exclude),
            "reason": reason,
        },
        separators=_SEP,
        ensure_ascii=False,
    )
    return f'{{"v":2,"snapshot":{json.dumps(snapshot_id)},"delta":[{",".join(delta)}],{rest[1:]}'


def inputs_from_stored(snapshot: Mapping[str, Any], stored: Mapping[str, Any]) -> DecisionInputs:
    """The decision inputs from a parsed snapshot and a parsed ``inputs`` document."""
    members = [MemberFacts.from_row(r) for r in snapshot["members"]]
    where = {m.id: i for i, m in enumerate(members)}
    for row in stored["delta"]:
        m = MemberFacts.from_row(row)
        i = where.get(m.id)
        if i is None:
            members.append(m)
        else:
            members[i] = m
    return DecisionInputs(
        pool=PoolRules.from_json(snapshot["pool"]),
        lead=Lead(**stored["lead"]),
        now_us=int(stored["now_us"]),
        period_keys=dict(stored["period_keys"]),
        members=tuple(members),
        exclude=tuple(stored["exclude"]),
        reason=str(stored["reason"]),
    )


def inputs_to_json(inputs: DecisionInputs) -> dict[str, Any]:
    """The inputs expanded as one JSON-able dict (every member as a row under ``cols``)."""
    return {
        "pool": inputs.pool.to_json(),
        "lead": asdict(inputs.lead),
        "now_us": inputs.now_us,
        "period_keys": dict(inputs.period_keys),
        "exclude": list(inputs.exclude),
        "reason": inputs.reason,
        "members": {
            "cols": list(MemberFacts._fields),
            "rows": [json.loads(encode_row(m)) for m in inputs.members],
        },
    }


def inputs_from_json(data: Mapping[str, Any]) -> DecisionInputs:
    """Inverse of :func:`inputs_to_json`."""
    return DecisionInputs(
        pool=PoolRules.from_json(data["pool"]),
        lead=Lead(**data["lead"]),
        now_us=int(data["now_us"]),
        period_keys=dict(data["period_keys"]),
        members=tuple(MemberFacts.from_row(r) for r in data["members"]["rows"]),
        exclude=tuple(data["exclude"]),
        reason=str(data["reason"]),
    )
