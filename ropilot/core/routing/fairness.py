"""Persistent fairness levels: pick the lowest level, then level += cost ÷ weight.

Levels are floats; two levels count as equal within :data:`EPS` (relative) so that weights
like 3 (increments of 1/3) still tie where exact arithmetic would. Ties break on the earliest
last assignment (never assigned first), then on a stable hash of (pool, manager id): blake2b,
not Python's per-process randomised ``hash``, so every worker and every replay agrees.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Sequence
from itertools import compress

from ropilot.core.routing.models import Candidate, TieBreak

EPS = 1e-9


def stable_hash(pool: str, manager_id: str) -> int:
    """A 64-bit hash of (pool, manager id), identical in every process and release."""
    digest = hashlib.blake2b(f"{pool}\x00{manager_id}".encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big")


def same(a: float, b: float) -> bool:
    """Whether two levels are equal up to float rounding."""
    return abs(a - b) <= EPS * max(1.0, abs(a), abs(b))


def increment(cost: float, weight: float) -> float:
    """How far a lead moves a manager's level: cost ÷ weight."""
    if weight <= 0:
        raise ValueError("a routing weight must be positive")
    return cost / weight


def pick_lowest(
    candidates: Sequence[Candidate], key: Callable[[Candidate], float]
) -> tuple[Candidate, TieBreak | None]:
    """The candidate with the lowest ``key``; ties by earliest last assignment, then hash.

    Returns the winner and, when more than one candidate shared the lowest key, how the tie
    was broken (to be logged in the decision).
    """
    return lowest(candidates, [key(c) for c in candidates])


def tied_at_lowest(values: Sequence[float]) -> list[int]:
    """Indices of the values equal (:func:`same`) to the minimum.

    Cheap comparisons first: up to ``low + EPS max(1, |low|)`` a value is ``same`` as ``low``
    for certain, above ``low + 2 EPS max(1, |low|)`` it cannot be; the exact test decides the
    few in between.
    """
    low = min(values)
    surely = low + EPS * max(1.0, abs(low))  # at most this: same as low for certain
    cut = low + 2 * EPS * max(1.0, abs(low))
    near = list(compress(range(len(values)), map(cut.__ge__, values)))  # one C-level pass
    if max(map(values.__getitem__, near)) <= surely:
        return near
    return [i for i in near if values[i] <= surely or same(values[i], low)]


def lowest(
    candidates: Sequence[Candidate], values: Sequence[float]
) -> tuple[Candidate, TieBreak | None]:
    """:func:`pick_lowest` with the keys given as a column aligned with ``candidates``.

    Only the tied candidates are materialised (``candidates`` may be a lazy view).
    """
    if not candidates:
        raise ValueError("no candidates")
    idx = tied_at_lowest(values)
    if len(idx) == 1:
        return candidates[idx[0]], None
    ranked = getattr(candidates, "tie_order", None)
    never = -(2**63)
    if ranked is not None:  # a lazy view: order by its columns, build only the winner
        keyed = ranked(idx)
        ids = [k[1] for k in keyed]
        by = "last_assigned" if keyed[0][0] >> 64 != keyed[1][0] >> 64 else "hash"
        return candidates[keyed[0][2]], TieBreak(
            between=tuple(sorted(ids)), by=by, order=tuple(ids)
        )
    tied = [candidates[i] for i in idx]
    order = sorted(
        tied,
        key=lambda c: (never if c.last_assigned_us is None else c.last_assigned_us, c.tie_hash),
    )
    head, runner = order[0], order[1]
    by = "last_assigned" if head.last_assigned_us != runner.last_assigned_us else "hash"
    return head, TieBreak(
        between=tuple(sorted(c.id for c in tied)), by=by, order=tuple(c.id for c in order)
    )


def joining_level(present_levels: Sequence[float]) -> float:
    """The level a new or returning member takes: the minimum among present members (0 if none)."""
    return min(present_levels) if present_levels else 0.0
