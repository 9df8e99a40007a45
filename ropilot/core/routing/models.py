"""Value types of the routing engine (frozen dataclasses; pydantic stays at the file boundary).

A decision is a pure function of :class:`DecisionInputs` (the pool's rules, the lead, and one
:class:`MemberFacts` per pool member as they stood at decision time), so the inputs are stored
with the decision and :func:`ropilot.core.routing.replay.replay` can recompute it.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field
from typing import TYPE_CHECKING, Any, NamedTuple

if TYPE_CHECKING:
    from ropilot.core.routing.candidates import Candidates

SPECIALISATION_FIELDS: Mapping[str, str] = {
    "product": "products",
    "region": "regions",
    "segment": "segments",
    "channel": "channels",
    "language": "languages",
}
"""Lead field → the ``Manager.specialisations`` list it is matched against."""

CRITERIA_FIELDS = ("product", "region", "segment", "source")
"""Lead fields a per-criteria cap may count on (deal columns; segment from the company)."""

GRAINS = ("day", "week", "month")


@dataclass(frozen=True)
class CriteriaCap:
    """At most ``limit`` leads with ``field == value`` per ``grain`` for each manager."""

    field: str
    value: str
    grain: str
    limit: int

    @property
    def name(self) -> str:
        """The counter's stable name, e.g. ``product=loans``."""
        return f"{self.field}={self.value}"


@dataclass(frozen=True)
class EfficiencyRules:
    """How measured efficiency bends the declared weight (see ``efficiency.py``)."""

    enabled: bool = False
    lookback_days: int = 90
    prior_strength: float = 20.0
    min_factor: float = 0.5
    max_factor: float = 1.5
    win_rate_weight: float = 0.5
    speed_weight: float = 0.5


@dataclass(frozen=True)
class PoolRules:
    """The routing rules of one pool, as the engine needs them (built from the regulations)."""

    name: str
    members: tuple[str, ...] | None = None
    strategy: str = "weighted_fair"
    cost: float = 1.0
    weights: Mapping[str, float] = field(default_factory=dict)
    period_caps: Mapping[str, int] = field(default_factory=dict)
    max_load: float | None = None
    deal_load_weight: float = 1.0
    task_load_weight: float = 0.0
    criteria_caps: tuple[CriteriaCap, ...] = ()
    efficiency: EfficiencyRules = field(default_factory=EfficiencyRules)
    rejoin: str = "min_level"
    catch_up_per_day: float = 0.0
    account_management: bool = True
    owner_must_be_eligible: bool = True
    take_into_work_minutes: int | None = None
    specialisation_match: tuple[str, ...] = ()
    timezone: str = "Europe/Moscow"

    def weight_of(self, manager_id: str) -> float:
        """The declared weight (1 unless the pool says otherwise)."""
        return float(self.weights.get(manager_id, 1.0))

    def to_json(self) -> dict[str, Any]:
        """A JSON-able dict (stored with each decision for replay)."""
        out = asdict(self)
        out["weights"] = dict(self.weights)
        out["period_caps"] = dict(self.period_caps)
        out["members"] = None if self.members is None else list(self.members)
        out["criteria_caps"] = [asdict(c) for c in self.criteria_caps]
        out["specialisation_match"] = list(self.specialisation_match)
        return out

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> PoolRules:
        """Inverse of :meth:`to_json`."""
        d = dict(data)
        d["members"] = None if d.get("members") is None else tuple(d["members"])
        d["criteria_caps"] = tuple(CriteriaCap(**c) for c in d.get("criteria_caps", ()))
        d["efficiency"] = EfficiencyRules(**d.get("efficiency", {}))
        d["specialisation_match"] = tuple(d.get("specialisation_match", ()))
        return cls(**d)


@dataclass(frozen=True)
class Lead:
    """What routing needs to know about the deal being routed."""

    deal_id: str
    pipeline_id: str | None = None
    source: str | None = None
    product: str | None = None
    region: str | None = None
    segment: str | None = None
    channel: str | None = None
    language: str | None = None
    company_id: str | None = None
    company_owner_id: str | None = None
    responsible_id: str | None = None
    created_at_us: int = 0

    def value(self, name: str) -> str | None:
        """A lead field by name (``None`` when unknown)."""
        v = getattr(self, name, None)
        return None if v is None else str(v)


class MemberFacts(NamedTuple):
    """One pool member at decision time: who they are and their routing state.

    A named tuple rather than a dataclass: the engine keeps one per pool member across
    decisions, and a tuple encodes straight to the JSON row stored for replay.
    """

    id: str
    active: bool = True
    role: str = "manager"
    on_shift: bool = True
    absent: bool = False
    specialisations: Mapping[str, tuple[str, ...]] = {}
    level: float | None = None  # None: no state yet (joins at the pool's minimum level)
    last_assigned_us: int | None = None
    away: bool = False
    catch_up: bool = False
    catch_up_day: str | None = None
    catch_up_used: int = 0
    open_deals: int = 0
    open_tasks: int = 0
    period_counts: Mapping[str, int] = {}  # grain → count now
    criteria_counts: Mapping[str, int] = {}  # cap name → count now
    factor: float = 1.0
    in_pool: bool = True  # False: the client's owner, considered only for account management

    @classmethod
    def from_row(cls, row: Sequence[Any]) -> MemberFacts:
        """Inverse of the JSON row (``json.dumps(facts)``): lists back to tuples."""
        m = cls(*row)
        specs = m.specialisations
        if specs:
            return m._replace(specialisations={k: tuple(v) for k, v in specs.items()})
        return m


@dataclass(frozen=True)
class Candidate:
    """An eligible member as a strategy sees it."""

    id: str
    level: float
    load: float
    declared_weight: float
    factor: float
    last_assigned_us: int | None
    tie_hash: int
    catching_up: bool = False

    @property
    def weight(self) -> float:
        """Declared weight × efficiency factor."""
        return self.declared_weight * self.factor


@dataclass(frozen=True)
class TieBreak:
    """How a tie at the lowest key was settled."""

    between: tuple[str, ...]
    by: str  # "last_assigned" or "hash"
    order: tuple[str, ...]


@dataclass(frozen=True)
class Choice:
    """A strategy's answer: the manager and how much their level advances."""

    manager_id: str
    increment: float
    tie: TieBreak | None = None
    note: str = ""


@dataclass(frozen=True)
class DecisionInputs:
    """Everything a decision depends on (stored with it; replay recomputes from this)."""

    pool: PoolRules
    lead: Lead
    now_us: int
    period_keys: Mapping[str, str]
    members: tuple[MemberFacts, ...]
    exclude: tuple[str, ...] = ()
    reason: str = "new"


@dataclass(frozen=True)
class StateChange:
    """A change to one member's fairness state that the decision implies."""

    manager_id: str
    level: float
    away: bool
    catch_up: bool
    catch_up_day: str | None
    catch_up_used: int
    assigned: bool = False


@dataclass(frozen=True)
class Outcome:
    """The result of :func:`ropilot.core.routing.decide.decide`: who, why, and state changes.

    The eligible members are kept as the lazy :class:`Candidates` view: with 500 members,
    building their explanation rows costs more than the decision, and it is only needed when
    someone looks (``explanation``); what is stored is :meth:`compact`.
    """

    manager_id: str | None
    rule: str  # "fairness", "account_management" or "no_eligible"
    strategy: str
    candidates: Candidates
    excluded: tuple[tuple[str, str, str], ...]
    tie: TieBreak | None
    changes: tuple[StateChange, ...]
    rejoined: tuple[tuple[str, float | None, float], ...] = ()
    note: str = ""

    @property
    def eligible(self) -> tuple[tuple[str, float, float, float, float, float], ...]:
        """(id, level, load, weight, declared weight, factor) of every eligible member."""
        return self.candidates.explained()

    def explanation(self) -> dict[str, Any]:
        """The full JSON explanation (what ``route --explain`` shows)."""
        return {
            "chosen": self.manager_id,
            "rule": self.rule,
            "strategy": self.strategy,
            "eligible": [
                {
                    "manager_id": m,
                    "level": lv,
                    "load": ld,
                    "weight": w,
                    "declared_weight": dw,
                    "factor": f,
                }
                for m, lv, ld, w, dw, f in self.eligible
            ],
            "excluded": [{"manager_id": m, "rule": r, "detail": d} for m, r, d in self.excluded],
            "tie": None
            if self.tie is None
            else {
                "between": list(self.tie.between),
                "by": self.tie.by,
                "order": list(self.tie.order),
            },
            "rejoined": [
                {"manager_id": m, "level_before": a, "level_after": b} for m, a, b in self.rejoined
            ],
            "note": self.note,
        }

    def compact(self) -> dict[str, Any]:
        """The stored explanation: who, the rule, the tie, rejoins and exclusions by rule.

        The tie keeps who was tied as a bit mask over the decision's members (in the stored
        inputs' order; 500 members → 125 hex digits rather than 500 ids) and the first two of
        its order (the winner and the one whose comparison settled it, hence ``by``); the rest
        of the order follows from the members' last assignments and hashes.

        Levels, loads and weights of the eligible members and the exclusions' details follow
        from the stored inputs; :func:`ropilot.core.routing.engine.load_decision` expands them.
        """
        by_rule: dict[str, list[str]] = {}
        for m, r, _ in self.excluded:
            by_rule.setdefault(r, []).append(m)
        return {
            "chosen": self.manager_id,
            "rule": self.rule,
            "strategy": self.strategy,
            "eligible": len(self.candidates),
            "excluded": by_rule,
            "tie": None
            if self.tie is None
            else {
                "mask": tie_mask(
                    self.tie.between, self.candidates.members, self.candidates.member_index
                ),
                "tied": len(self.tie.between),
                "by": self.tie.by,
                "order": list(self.tie.order[:2]),
            },
            "rejoined": [list(r) for r in self.rejoined],
            "note": self.note,
        }


def tie_mask(
    ids: Sequence[str], members: Sequence[MemberFacts], index: Mapping[str, int] | None = None
) -> str:
    """Hex bit mask of ``ids`` over ``members`` (bit i: ``members[i]``); ``index`` maps an id
    to its position when the caller has that map.
    """
    if index is not None:
        bits = 0
        for mid in ids:
            bits |= 1 << index[mid]
        return format(bits, "x")
    wanted = set(ids)
    mask = 0
    for i, m in enumerate(members):
        if m.id in wanted:
            mask |= 1 << i
    return format(mask, "x")


def tie_members(mask: str, members: Sequence[MemberFacts]) -> list[str]:
    """Inverse of :func:`tie_mask`: the ids, sorted."""
    bits = int(mask, 16)
    return sorted(m.id for i, m in enumerate(members) if bits >> i & 1)
