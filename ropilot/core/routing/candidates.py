"""The eligible members as strategies see them: a lazy sequence over the decision's members.

A strategy receives ``Sequence[Candidate]``. Building 500 ``Candidate`` objects per decision
cost more than the rest of the decision, so :class:`Candidates` keeps the members and the
eligible positions and builds a ``Candidate`` only when one is asked for; the built-in
strategies read whole columns (``levels``, ``loads``, ``weights``) instead and build only the
tied candidates.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from functools import cached_property
from typing import overload

from ropilot.core.routing.capacity import load_of
from ropilot.core.routing.fairness import stable_hash
from ropilot.core.routing.models import Candidate, MemberFacts, PoolRules

_HASHES: dict[str, dict[str, int]] = {}
NEVER = -(2**63)  # the last assignment of a member never assigned: first in a tie


def tie_key(last_assigned_us: int | None, hash_: int) -> int:
    """(last assignment or NEVER, tie hash) packed in one int that sorts the same way.

    Sorting 200 ints is three times faster than sorting 200 tuples, and with equal weights
    every round of leads ends in a tie of about half the pool.
    """
    last = NEVER if last_assigned_us is None else last_assigned_us
    return (last - NEVER) << 64 | hash_


def tie_hash(pool: str, manager_id: str) -> int:
    """``stable_hash`` memoised: the same (pool, manager) pairs recur in every decision."""
    return _pool_hashes(pool).get(manager_id) or _hash_into(pool, manager_id)


def tie_hashes(pool: str) -> dict[str, int]:
    """The memo of :func:`tie_hash` for one pool (manager id → hash; filled on demand)."""
    return _pool_hashes(pool)


def _pool_hashes(pool: str) -> dict[str, int]:
    hashes = _HASHES.get(pool)
    if hashes is None:
        hashes = _HASHES[pool] = {}
    return hashes


def _hash_into(pool: str, manager_id: str) -> int:
    value = _pool_hashes(pool)[manager_id] = stable_hash(pool, manager_id)
    return value


class Candidates(Sequence[Candidate]):
    """Eligible members ``members[i] for i in positions``, at the decision's floor level."""

    def __init__(
        self,
        pool: PoolRules,
        members: Sequence[MemberFacts],
        positions: Sequence[int],
        floor: float,
        catching_up: bool = True,
        index: Mapping[str, int] | None = None,
        level_column: Sequence[float] | None = None,
        tie_keys: Sequence[int] | None = None,
        member_ids: Sequence[str] | None = None,
    ) -> None:
        self.pool = pool
        self.members = members
        self.positions = positions
        self.floor = floor
        self.catching_up = catching_up  # False: no member is catching up (skip that pass)
        self._index = index  # manager id → position in members, when the caller has one
        # Aligned with members when the caller keeps them: each member's level (None → 0) and
        # tie_key() and id; saves a pass over the members' fields.
        self._level_column = level_column
        self._tie_keys = tie_keys
        self._member_ids = member_ids

    def __len__(self) -> int:
        return len(self.positions)

    @overload
    def __getitem__(self, index: int) -> Candidate: ...

    @overload
    def __getitem__(self, index: slice) -> Sequence[Candidate]: ...

    def __getitem__(self, index: int | slice) -> Candidate | Sequence[Candidate]:
        if isinstance(index, slice):
            return [self[i] for i in range(*index.indices(len(self)))]
        m = self.members[self.positions[index]]
        pool = self.pool
        return Candidate(
            id=m.id,
            level=self.levels[index],
            load=load_of(m, pool),
            declared_weight=pool.weight_of(m.id),
            factor=m.factor,
            last_assigned_us=m.last_assigned_us,
            tie_hash=tie_hash(pool.name, m.id),
            catching_up=self._catching(m),
        )

    def __iter__(self) -> Iterator[Candidate]:
        return (self[i] for i in range(len(self)))

    def _catching(self, m: MemberFacts) -> bool:
        return m.catch_up and m.catch_up_used < self.pool.catch_up_per_day

    def only(self, keep: Sequence[int]) -> Candidates:
        """The candidates at these indices (of this sequence)."""
        return Candidates(
            self.pool,
            self.members,
            [self.positions[i] for i in keep],
            self.floor,
            self.catching_up,
            self._index,
            self._level_column,
            self._tie_keys,
            self._member_ids,
        )

    def tie_order(self, indices: Sequence[int]) -> list[tuple[int, str, int]]:
        """``(tie_key, id, index)`` of these candidates, sorted: the tie-break order (earliest
        last assignment, then tie hash, then id), computed without building candidates.
        """
        at = list(map(self.positions.__getitem__, indices))
        keys, ids = self._tie_keys, self._member_ids
        if keys is None or ids is None:
            ms, name = self.members, self.pool.name
            hashes = _pool_hashes(name)
            built: dict[int, int] = {}
            names: dict[int, str] = {}
            for p in at:
                m = ms[p]
                mid = m.id
                built[p] = tie_key(m.last_assigned_us, hashes.get(mid) or _hash_into(name, mid))
                names[p] = mid
            return sorted(
                zip(map(built.__getitem__, at), map(names.__getitem__, at), indices, strict=True)
            )
        # zip/map build the triples in C: 200-way ties are common with equal weights.
        return sorted(
            zip(map(keys.__getitem__, at), map(ids.__getitem__, at), indices, strict=True)
        )

    @property
    def member_index(self) -> Mapping[str, int]:
        """Manager id → position in ``members``."""
        if self._index is None:
            self._index = {m.id: i for i, m in enumerate(self.members)}
        return self._index

    @cached_property
    def ids(self) -> list[str]:
        """Manager ids, in member order."""
        ms = self.members
        return [ms[i].id for i in self.positions]

    @cached_property
    def levels(self) -> list[float]:
        """Levels as the strategy compares them.

        A member catching up whose extra allowance for today is spent competes at the floor.
        """
        ms = self.members
        column = self._level_column
        if column is not None:
            out = list(map(column.__getitem__, self.positions))
        else:
            out = [0.0 if (lv := ms[i].level) is None else lv for i in self.positions]
        if self.catching_up:
            for k, i in enumerate(self.positions):
                m = ms[i]
                if m.catch_up and not self._catching(m):
                    out[k] = max(out[k], self.floor)
        return out

    @cached_property
    def loads(self) -> list[float]:
        """Concurrent load (weighted open deals and tasks)."""
        ms, pool = self.members, self.pool
        return [load_of(ms[i], pool) for i in self.positions]

    @cached_property
    def weights(self) -> list[float]:
        """Declared weight × efficiency factor."""
        ms, pool = self.members, self.pool
        return [pool.weight_of(ms[i].id) * ms[i].factor for i in self.positions]

    def explained(self) -> tuple[tuple[str, float, float, float, float, float], ...]:
        """(id, level, load, weight, declared weight, factor) per candidate, for explanations."""
        ms, pool = self.members, self.pool
        return tuple(
            (
                m.id,
                lv,
                load_of(m, pool),
                pool.weight_of(m.id) * m.factor,
                pool.weight_of(m.id),
                m.factor,
            )
            for m, lv in zip((ms[i] for i in self.positions), self.levels, strict=True)
        )
