"""Stored form of decision inputs: a chain of small deltas back to a pool snapshot.

A snapshot (``routing_snapshots.data``) holds the pool's rules and one JSON row per member
(``json.dumps(MemberFacts)``: the named tuple encodes as a list). A decision's ``inputs`` hold
its base — the same engine's previous decision in the pool, or a snapshot — and the rows of the
members whose facts changed since that base (the engine keeps each member's encoded row and
re-encodes only members that changed: typically the previous winner and the lead's previous
responsible), then the lead, the moment, the period keys, the exclusions and the reason. So a
decision stores a few hundred bytes whatever the pool's size; the engine writes a new snapshot
every ``engine.CHAIN`` decisions, or when more than an eighth of the pool changed at once.

Decoding starts from the snapshot and applies each delta of the chain in order: a row replaces
the row with the same id (in snapshot order), a new id is appended (the client's owner from
outside the pool, ``in_pool`` false, which is dropped again before the next delta), which is
the order the engine passed the members to ``decide``.
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
    base: str,
    base_kind: str,
    delta: Iterable[str],
    lead: Lead,
    now_us: int,
    period_keys: Mapping[str, str],
    exclude: Sequence[str],
    reason: str,
) -> str:
    """A decision's stored inputs: the base reference, the delta rows and the rest."""
    rest = json.dumps(
        {
            "base": base,
            "base_kind": base_kind,
            "lead": vars(lead),
            "now_us": now_us,
            "period_keys": period_keys,
            "exclude": list(exclude),
            "reason": reason,
        },
        separators=_SEP,
        ensure_ascii=False,
    )
    return f'{{"v":2,"delta":[{",".join(delta)}],{rest[1:]}'


def inputs_from_stored(
    snapshot: Mapping[str, Any], chain: Sequence[Mapping[str, Any]]
) -> DecisionInputs:
    """The inputs of ``chain[-1]`` from its snapshot and the parsed ``inputs`` of every
    decision from the snapshot to it, oldest first.
    """
    members = [MemberFacts.from_row(r) for r in snapshot["members"]]
    for stored in chain:
        members = [m for m in members if m.in_pool]
        where = {m.id: i for i, m in enumerate(members)}
        for row in stored["delta"]:
            m = MemberFacts.from_row(row)
            i = where.get(m.id)
            if i is None:
                members.append(m)
            else:
                members[i] = m
    last = chain[-1]
    return DecisionInputs(
        pool=PoolRules.from_json(snapshot["pool"]),
        lead=Lead(**last["lead"]),
        now_us=int(last["now_us"]),
        period_keys=dict(last["period_keys"]),
        members=tuple(members),
        exclude=tuple(last["exclude"]),
        reason=str(last["reason"]),
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
