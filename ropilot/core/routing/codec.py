"""JSON form of decision inputs (stored with every decision, read back by replay).

Members are stored as a header plus one row each rather than one object each: a 500-member
pool stays a few tens of kilobytes per decision.
"""

from __future__ import annotations

from dataclasses import asdict
from typing import Any

from ropilot.core.routing.models import DecisionInputs, Lead, MemberFacts, PoolRules

_COLS = (
    "id",
    "active",
    "role",
    "on_shift",
    "absent",
    "specialisations",
    "level",
    "last_assigned_us",
    "away",
    "catch_up",
    "catch_up_day",
    "catch_up_used",
    "open_deals",
    "open_tasks",
    "period_counts",
    "criteria_counts",
    "factor",
    "in_pool",
)


def inputs_to_json(inputs: DecisionInputs) -> dict[str, Any]:
    """A JSON-able dict of the inputs."""
    rows = []
    for m in inputs.members:
        row = [getattr(m, c) for c in _COLS]
        row[5] = {k: list(v) for k, v in m.specialisations.items()}
        row[14] = dict(m.period_counts)
        row[15] = dict(m.criteria_counts)
        rows.append(row)
    return {
        "v": 1,
        "pool": inputs.pool.to_json(),
        "lead": asdict(inputs.lead),
        "now_us": inputs.now_us,
        "period_keys": dict(inputs.period_keys),
        "exclude": list(inputs.exclude),
        "reason": inputs.reason,
        "members": {"cols": list(_COLS), "rows": rows},
    }


def inputs_from_json(data: dict[str, Any]) -> DecisionInputs:
    """Inverse of :func:`inputs_to_json`."""
    cols = data["members"]["cols"]
    members = []
    for row in data["members"]["rows"]:
        d = dict(zip(cols, row, strict=True))
        d["specialisations"] = {k: tuple(v) for k, v in (d["specialisations"] or {}).items()}
        members.append(MemberFacts(**d))
    return DecisionInputs(
        pool=PoolRules.from_json(data["pool"]),
        lead=Lead(**data["lead"]),
        now_us=int(data["now_us"]),
        period_keys=dict(data["period_keys"]),
        members=tuple(members),
        exclude=tuple(data["exclude"]),
        reason=str(data["reason"]),
    )
