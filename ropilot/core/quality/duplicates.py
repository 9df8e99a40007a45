"""Duplicate contacts and companies: exact keys, fuzzy names inside blocks, evidence per pair.

Records are matched on

* **exact keys** — a valid INN, a valid phone's E.164, a valid e-mail's lower-cased address,
  the normalised name with its words sorted (companies: anywhere; contacts: only inside the same
  company, since many different people share a name);
* **fuzzy names** (organisations only) — ``rapidfuzz`` ``token_sort_ratio`` ≥
  ``fuzzy_threshold`` (90) between different normalised names, compared only inside *blocks*:
  names whose sorted-word form shares its first ``block_chars`` (4) characters and, in a second
  pass, its last ``block_chars`` characters. Two names scoring ≥ 90 differ in at most a tenth
  of their letters, so they almost always agree at one end; only a pair with edits at both ends
  is missed (14 of 12,589 pairs on the 1M-deal benchmark against 2-character blocks), and the
  cost is the sum of squared block sizes instead of the square of the list. Inside a block a
  length bound skips pairs that cannot reach the threshold. ``token_sort_ratio(a, b)`` is
  computed as ``ratio`` of the pre-sorted forms (identical). People's names (contacts, sole
  traders) are not fuzzy-matched: ``Гусева Алина Олеговна`` and ``Гусева Анна Олеговна`` score
  92.7 and are two people.

Rules:

* a key value shared by more than ``noise_limit`` records (20) is noise — a reception phone, a
  shared ``info@`` mailbox — and matches nothing (counted in :attr:`DuplicateReport.noise`);
* each exact-key group links every member to the oldest earlier member the rules below do
  not part it from (at most k − 1 links, not k(k − 1)/2); the evidence of a link (every key
  the two records share, the name score) is read off the two records;
* a person's name (a contact, a sole trader) is a key only with at least two words, and two
  people whose names cannot be one person's (:func:`names_compatible`: another patronymic,
  another first name) are different people even when they share a phone or an e-mail (a
  family phone, an accounts mailbox), unless their INN matches;
* a matching INN decides: the pair is a duplicate whatever else differs;
* two *different* valid INNs veto the pair (different legal entities or people), whatever
  else matches; without a matching INN, two different known regions (companies) or two
  different companies (contacts) veto it too — a network's branches share names and e-mail
  domains but are separate clients, and the same person at two clients is two contacts;
* pairs join into clusters (union–find, strongest evidence first: INN, then phone and e-mail,
  then names); a cluster keeps its INN, region and company, and a union the rules above would
  veto is refused. The oldest record (``created_at``, then id) is the primary; the others are
  its duplicates.
"""

from __future__ import annotations

from bisect import bisect_right
from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Final

from rapidfuzz import fuzz, process

from ropilot.core.errors import ConfigurationError

__all__ = [
    "DuplicateCluster",
    "DuplicatePair",
    "DuplicateReport",
    "DuplicateSettings",
    "PartyRecord",
    "find_duplicates",
    "names_compatible",
]

KEY_ORDER: Final = ("inn", "phone", "email", "name", "fuzzy_name")
_STRENGTH: Final = {"inn": 0, "phone": 1, "email": 1, "name": 2, "fuzzy_name": 3}
_NAME_KEYS: Final = frozenset({"name", "fuzzy_name"})


@dataclass(frozen=True)
class DuplicateSettings:
    """Tuning of the duplicate search (docs/quality-identity.md)."""

    fuzzy_threshold: float = 90.0
    noise_limit: int = 20
    block_chars: int = 4
    max_pairs_per_record: int = 10  # evidence rows listed in one finding
    fuzzy_person_names: bool = False  # fuzzy-match people's names too (off: see the docs)

    def __post_init__(self) -> None:
        if not 50 <= self.fuzzy_threshold <= 100:
            raise ConfigurationError(
                f"duplicates fuzzy_threshold must be between 50 and 100, got {self.fuzzy_threshold}"
            )
        if self.noise_limit < 2:
            raise ConfigurationError(
                f"duplicates noise_limit must be at least 2, got {self.noise_limit}"
            )
        if self.block_chars < 1:
            raise ConfigurationError(
                f"duplicates block_chars must be at least 1, got {self.block_chars}"
            )


@dataclass(frozen=True, slots=True)
class PartyRecord:
    """A contact or company reduced to its matching keys (only *valid* phones, e-mails, INN).

    ``name`` is the normalised name (``normalize.normalize_company_name`` or
    ``normalize_person_name``); ``group`` limits name matching (a contact's company id) —
    when the search runs with ``names_within_group``, records without a group never match
    on names.
    """

    id: str
    name: str = ""
    phones: tuple[str, ...] = ()
    emails: tuple[str, ...] = ()
    inn: str | None = None
    region: str | None = None
    group: str | None = None
    created_at: int | None = None  # any sortable moment (µs since epoch)
    owner_id: str | None = None
    person: bool = False  # the name is a person's (a contact, a sole trader): no fuzzy match


@dataclass(frozen=True)
class DuplicatePair:
    """Two records proposed as one, and why: the keys that matched and the name score."""

    a: str
    b: str
    keys: tuple[str, ...]  # in KEY_ORDER
    values: Mapping[str, str]  # the matched value per exact key
    name_score: float  # token_sort_ratio of the normalised names, 0–100

    def as_evidence(self, other_of: str) -> dict[str, object]:
        """JSON-ready evidence as seen from record ``other_of``'s side."""
        return {
            "with": self.b if other_of == self.a else self.a,
            "keys": list(self.keys),
            "values": dict(self.values),
            "name_score": self.name_score,
        }


@dataclass(frozen=True)
class DuplicateCluster:
    """Records that are one party: ``primary`` (the oldest) first, then the duplicates."""

    primary: str
    members: tuple[str, ...]
    pairs: tuple[DuplicatePair, ...]

    def pairs_of(self, record_id: str) -> list[DuplicatePair]:
        """The pairs that involve ``record_id``, strongest first."""
        return [p for p in self.pairs if record_id in (p.a, p.b)]


@dataclass(frozen=True)
class DuplicateReport:
    """The clusters found and how much was ignored on the way."""

    clusters: list[DuplicateCluster]
    noise: dict[str, int] = field(default_factory=dict)  # ignored key values by kind
    vetoed: int = 0  # candidate pairs refused (different INNs / regions, cluster conflicts)
    fuzzy_comparisons: int = 0

    @property
    def pairs(self) -> list[DuplicatePair]:
        return [p for c in self.clusters for p in c.pairs]


class _Groups:
    """Exact key value → record indexes for one kind of key; a list only when a value repeats."""

    def __init__(self) -> None:
        self.first: dict[str, int] = {}
        self.more: dict[str, list[int]] = {}

    def add(self, key: str, index: int) -> None:
        seen = self.first.setdefault(key, index)
        if seen == index:
            return
        group = self.more.get(key)
        if group is None:
            self.more[key] = [seen, index]
        elif group[-1] != index:
            group.append(index)

    def size(self, key: str) -> int:
        group = self.more.get(key)
        return len(group) if group is not None else (1 if key in self.first else 0)


def _sorted_name(name: str) -> str:
    return " ".join(sorted(name.split()))


def _blocks(names: Sequence[str], chars: int) -> Iterable[list[int]]:
    """Indexes of ``names`` sharing a prefix, then sharing a suffix (groups of two or more)."""
    for from_end in (False, True):
        by: dict[str, list[int]] = defaultdict(list)
        for i, n in enumerate(names):
            by[n[-chars:] if from_end else n[:chars]].append(i)
        for members in by.values():
            if len(members) > 1:
                yield members


def _fuzzy_pairs(
    names: Sequence[str], threshold: float, chars: int
) -> tuple[dict[tuple[int, int], float], int]:
    """Pairs (i < j) of distinct sorted names with ratio ≥ threshold, compared within blocks.

    Inside a block names are taken shortest first and each is compared only with the longer
    ones it can still reach: the Indel ratio is at most 200·short/(short + long), so
    ``long ≤ short · (200/threshold − 1)`` (× 1.22 at 90) bounds the candidates exactly.
    """
    found: dict[tuple[int, int], float] = {}
    compared = 0
    stretch = 200.0 / threshold - 1.0 if threshold > 0 else float("inf")
    for block in _blocks(names, chars):
        block.sort(key=lambda x: (len(names[x]), x))
        choices = [names[i] for i in block]
        lengths = [len(n) for n in choices]
        for pos in range(len(block) - 1):
            end = bisect_right(lengths, lengths[pos] * stretch + 1e-9, pos + 1)
            if end <= pos + 1:
                continue
            compared += end - pos - 1
            for _, score, k in process.extract(
                choices[pos],
                choices[pos + 1 : end],
                scorer=fuzz.ratio,
                score_cutoff=threshold,
                limit=None,
            ):
                i, j = block[pos], block[pos + 1 + k]
                found[(i, j) if i < j else (j, i)] = float(score)
    return found, compared


def find_duplicates(
    records: Sequence[PartyRecord],
    settings: DuplicateSettings | None = None,
    *,
    by_group: bool = False,
) -> DuplicateReport:
    """Cluster ``records`` that look like one party (rules in the module docstring).

    Args:
        records: the candidates (ids unique), in a stable order.
        settings: thresholds; the defaults when None.
        by_group: contacts: names match only inside one ``group`` (company), and two records
            of different groups are different parties unless their INN matches.

    Returns:
        The clusters, ordered by primary id, each pair with its evidence.
    """
    cfg = settings or DuplicateSettings()
    names = [_sorted_name(r.name) for r in records]
    ages = [_age(r) for r in records]
    groups = {kind: _Groups() for kind in ("inn", "phone", "email", "name")}
    add_inn, add_phone = groups["inn"].add, groups["phone"].add
    add_email, add_name = groups["email"].add, groups["name"].add
    for i, r in enumerate(records):
        if r.inn:
            add_inn(r.inn, i)
        for phone in r.phones:
            add_phone(phone, i)
        for email in r.emails:
            add_email(email, i)
        if _nameable(r, names[i], by_group):
            add_name(f"{r.group}\x1f{names[i]}" if by_group else names[i], i)

    def differ(i: int, j: int) -> bool:
        """The pair rules: different INNs, or (no matching INN) regions, groups, people."""
        ri, rj = records[i], records[j]
        if _conflict(ri.inn, rj.inn, ri.region, rj.region, ri.group, rj.group, by_group):
            return True
        return (
            ri.person
            and rj.person
            and not (ri.inn and ri.inn == rj.inn)
            and not names_compatible(names[i], names[j])
            and not (
                cfg.fuzzy_person_names
                and fuzz.ratio(names[i], names[j], score_cutoff=cfg.fuzzy_threshold) > 0
            )
        )

    # Each exact-key group links every member to the oldest earlier member it does not differ
    # from (a star, not every pair: at most k − 1 links instead of k(k − 1)/2); the evidence
    # of a link is then read off both records.
    noise: dict[str, int] = defaultdict(int)
    noisy: set[tuple[str, str]] = set()
    links: set[tuple[int, int]] = set()
    refused: set[tuple[int, int]] = set()
    for kind, grouped in groups.items():
        for value, members in grouped.more.items():
            if len(members) > cfg.noise_limit:
                noise[kind] += 1
                noisy.add((kind, value))
                continue
            ordered = sorted(members, key=ages.__getitem__)
            for pos in range(1, len(ordered)):
                m = ordered[pos]
                for e in ordered[:pos]:
                    link = (e, m) if e < m else (m, e)
                    if link in links:
                        break
                    if differ(e, m):
                        refused.add(link)
                        continue
                    links.add(link)
                    break
    fuzzy, compared = _fuzzy_candidates(records, names, cfg, by_group)
    for link in fuzzy:
        if differ(*link):
            refused.add(link)
        else:
            links.add(link)
    vetoed = len(refused - links)

    candidates: list[tuple[int, int, int, DuplicatePair]] = []
    for i, j in sorted(links):
        ri, rj = records[i], records[j]
        matched: dict[str, str] = {}
        if ri.inn and ri.inn == rj.inn and ("inn", ri.inn) not in noisy:
            matched["inn"] = ri.inn
        phone = _shared("phone", ri.phones, rj.phones, noisy)
        if phone:
            matched["phone"] = phone
        email = _shared("email", ri.emails, rj.emails, noisy)
        if email:
            matched["email"] = email
        key = _name_key(ri, names[i], by_group)
        if key and key == _name_key(rj, names[j], by_group) and ("name", key) not in noisy:
            matched["name"] = names[i]
        score = fuzzy.get((i, j))
        if score is None:
            score = float(fuzz.ratio(names[i], names[j])) if names[i] and names[j] else 0.0
        elif "name" not in matched:
            matched["fuzzy_name"] = ""
        if not matched:
            continue
        keys = tuple(k for k in KEY_ORDER if k in matched)
        values = {k: v for k, v in matched.items() if k != "fuzzy_name"}
        pair = DuplicatePair(ri.id, rj.id, keys, values, round(score, 1))
        candidates.append((min(_STRENGTH[k] for k in keys), i, j, pair))

    # Clusters: the strongest evidence first; a cluster carries the INN, region and group of
    # its members, and a union that would mix two of either is refused like a single pair.
    candidates.sort(key=lambda c: (c[0], c[1], c[2]))
    parent = list(range(len(records)))
    traits: dict[int, tuple[str | None, str | None, str | None]] = {}

    def root(x: int) -> int:
        while parent[x] != x:
            parent[x] = parent[parent[x]]
            x = parent[x]
        return x

    def traits_of(x: int) -> tuple[str | None, str | None, str | None]:
        found = traits.get(x)
        return found if found is not None else (records[x].inn, records[x].region, records[x].group)

    accepted: list[tuple[int, int, DuplicatePair]] = []
    for _, i, j, pair in candidates:
        a, b = root(i), root(j)
        if a != b:
            ta, tb = traits_of(a), traits_of(b)
            if _conflict(ta[0], tb[0], ta[1], tb[1], ta[2], tb[2], by_group):
                vetoed += 1
                continue
            parent[b] = a
            traits[a] = (ta[0] or tb[0], ta[1] or tb[1], ta[2] or tb[2])
        accepted.append((i, j, pair))

    members_of: dict[int, list[int]] = defaultdict(list)
    pairs_of: dict[int, list[DuplicatePair]] = defaultdict(list)
    for x in sorted({x for i, j, _ in accepted for x in (i, j)}):
        members_of[root(x)].append(x)
    for i, _, pair in accepted:
        pairs_of[root(i)].append(pair)

    clusters: list[DuplicateCluster] = []
    for top, members in members_of.items():
        ordered = sorted(members, key=ages.__getitem__)
        clusters.append(
            DuplicateCluster(
                primary=records[ordered[0]].id,
                members=tuple(records[x].id for x in ordered),
                pairs=tuple(pairs_of[top]),
            )
        )
    clusters.sort(key=lambda c: c.primary)
    return DuplicateReport(clusters, dict(noise), vetoed, compared)


def _conflict(
    inn_a: str | None,
    inn_b: str | None,
    region_a: str | None,
    region_b: str | None,
    group_a: str | None,
    group_b: str | None,
    by_group: bool,
) -> bool:
    """Whether two records (or clusters) are certainly different parties.

    Different INNs always; otherwise, unless the INN matches, different regions, and different
    groups (contacts of different companies).
    """
    if inn_a and inn_b:
        return inn_a != inn_b
    if region_a and region_b and region_a != region_b:
        return True
    return by_group and bool(group_a) and bool(group_b) and group_a != group_b


def _nameable(record: PartyRecord, name: str, by_group: bool) -> bool:
    """Whether the name can be a key: a person needs at least two words (a lone first name
    identifies nobody), and with ``by_group`` the record needs a group.
    """
    if not name or (by_group and not record.group):
        return False
    return not record.person or " " in name


def _name_key(record: PartyRecord, name: str, by_group: bool) -> str:
    if not _nameable(record, name, by_group):
        return ""
    return f"{record.group}\x1f{name}" if by_group else name


def names_compatible(a: str, b: str) -> bool:
    """Whether two normalised person names can be one person: every word of the shorter name
    is a distinct word of the longer one, or its initial (``п орлов`` ~ ``петр орлов``).

    ``нина`` ~ ``нина кузнецова``; ``карпова анастасия олеговна`` ≁ ``карпова анастасия
    федоровна`` (another patronymic: another person). An empty name is compatible with all.
    """
    short, long_ = sorted((a.split(), b.split()), key=len)
    if not short:
        return True
    rest = list(long_)
    pending = []
    for word in short:
        if word in rest:
            rest.remove(word)
        else:
            pending.append(word)
    for word in pending:
        hit = next((w for w in rest if w[0] == word[0] and (len(w) == 1 or len(word) == 1)), None)
        if hit is None:
            return False
        rest.remove(hit)
    return True


def _shared(
    kind: str, left: Sequence[str], right: Sequence[str], noisy: set[tuple[str, str]]
) -> str:
    for value in left:
        if value in right and (kind, value) not in noisy:
            return value
    return ""


def _age(record: PartyRecord) -> tuple[bool, int, str]:
    created = record.created_at
    return (created is None, created if created is not None else 0, record.id)


def _fuzzy_candidates(
    records: Sequence[PartyRecord],
    names: Sequence[str],
    cfg: DuplicateSettings,
    by_group: bool,
) -> tuple[dict[tuple[int, int], float], int]:
    """Record pairs whose *different* names score ≥ threshold (noise names excluded)."""
    out: dict[tuple[int, int], float] = {}
    compared = 0
    limit = cfg.noise_limit
    if by_group:
        per_group: dict[str, dict[str, list[int]]] = defaultdict(dict)
        for i, r in enumerate(records):
            if r.group and names[i] and (cfg.fuzzy_person_names or not r.person):
                per_group[r.group].setdefault(names[i], []).append(i)
        for by_name in per_group.values():
            if len(by_name) < 2:
                continue
            plain = [n for n, idx in by_name.items() if len(idx) <= limit]
            for x, nx in enumerate(plain):
                for ny in plain[x + 1 :]:
                    compared += 1
                    score = fuzz.ratio(nx, ny, score_cutoff=cfg.fuzzy_threshold)
                    if score:
                        _spread(out, by_name[nx], by_name[ny], float(score))
        return out, compared
    by_name_all: dict[str, list[int]] = defaultdict(list)
    for i, name in enumerate(names):
        if name and (cfg.fuzzy_person_names or not records[i].person):
            by_name_all[name].append(i)
    unique = sorted(n for n, idx in by_name_all.items() if len(idx) <= limit)
    pairs, compared = _fuzzy_pairs(unique, cfg.fuzzy_threshold, cfg.block_chars)
    for (x, y), score in pairs.items():
        _spread(out, by_name_all[unique[x]], by_name_all[unique[y]], score)
    return out, compared


def _spread(
    out: dict[tuple[int, int], float], left: Sequence[int], right: Sequence[int], score: float
) -> None:
    for i in left:
        for j in right:
            out[(i, j) if i < j else (j, i)] = score
