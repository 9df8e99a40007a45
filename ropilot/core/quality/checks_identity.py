"""Built-in identity checks: phone, e-mail, INN and OGRN validity; duplicate contacts/companies.

All six read the same two streams — contacts and companies, only the columns needed — and
validate every distinct phone and e-mail text once (memo). The scan is shared by the checks of
one audit: it is kept for the :class:`QualityContext` object it was made for (the audit builds
one context and runs its checks in turn), so the 700k records of a large account are read and
validated once, not six times. Rules: docs/quality-identity.md.
"""

from __future__ import annotations

import gc
import threading
import time
import weakref
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from typing import Any, Final

from sqlalchemy import BigInteger, Table, select, type_coerce

from ropilot.core.quality.duplicates import (
    DuplicatePair,
    DuplicateReport,
    DuplicateSettings,
    PartyRecord,
    find_duplicates,
)
from ropilot.core.quality.identifiers import (
    DEFAULT_REGION,
    EmailChecker,
    PhoneChecker,
    compact_number,
    inn_problem,
    ogrn_problem,
    split_values,
)
from ropilot.core.quality.normalize import normalize_company, normalize_person_name
from ropilot.core.quality.registry import FindingDraft, QualityCheck, QualityContext, Severity
from ropilot.core.store.schema import companies, contacts

__all__ = [
    "IDENTITY_CHECKS",
    "OGRN_FIELDS",
    "DuplicateCompanies",
    "DuplicateContacts",
    "IdentityScan",
    "InvalidEmail",
    "InvalidInn",
    "InvalidOgrn",
    "InvalidPhone",
    "duplicate_report",
    "scan_identities",
]

OGRN_FIELDS: Final = frozenset({"ogrn", "огрн", "ogrnip", "огрнип", "psrn"})
"""Custom-field names (case-folded) read as OGRN / OGRNIP: the store has no OGRN column."""

_FETCH = 10_000


@dataclass
class IdentityScan:
    """What one pass over contacts and companies found: invalid-value findings per check, and
    every record reduced to its matching keys.
    """

    findings: dict[str, list[FindingDraft]] = field(default_factory=dict)
    records: dict[str, list[PartyRecord]] = field(default_factory=dict)  # by entity
    seconds: float = 0.0
    duplicates: dict[str, DuplicateReport] = field(default_factory=dict)  # by entity, lazily


_lock = threading.RLock()  # RLock: a finaliser may run in a thread that holds it
_last: tuple[weakref.ref[QualityContext], str, IdentityScan] | None = None


def scan_identities(ctx: QualityContext, region: str = DEFAULT_REGION) -> IdentityScan:
    """The scan for ``ctx`` (made on first use, then shared by the checks of the same audit).

    Only the latest context's scan is kept, and only while that context lives: it is dropped
    when the audit lets go of its context, so the records do not outlive the audit.
    """
    global _last
    with _lock:
        if _last is not None and _last[0]() is ctx and _last[1] == region:
            return _last[2]
        _last = None
        scan = _scan(ctx, region)
        ref = weakref.ref(ctx)
        _last = (ref, region, scan)
        weakref.finalize(ctx, _forget, ref)
        return scan


def _forget(ref: weakref.ref[QualityContext]) -> None:
    global _last
    with _lock:
        if _last is not None and _last[0] is ref:
            _last = None


@contextmanager
def _gc_paused() -> Iterator[None]:
    """Pause the cyclic garbage collector while building large acyclic structures.

    A scan allocates millions of small objects (rows, records, memo entries) that form no
    cycles; with the collector on, its full passes over the growing heap cost a quarter of the
    scan (12.9 s → 9.5 s on the 1M-deal account). Reference counting still frees everything.
    """
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()


def _scan(ctx: QualityContext, region: str) -> IdentityScan:
    with _gc_paused():
        return _scan_tables(ctx, region)


def _scan_tables(ctx: QualityContext, region: str) -> IdentityScan:
    started = time.perf_counter()
    phones = PhoneChecker(region)
    emails = EmailChecker()
    scan = IdentityScan(
        findings={n: [] for n in ("invalid_phone", "invalid_email", "invalid_inn", "invalid_ogrn")}
    )
    for entity, table in (("contact", contacts), ("company", companies)):
        scan.records[entity] = _scan_table(ctx, scan, entity, table, phones, emails)
    scan.seconds = time.perf_counter() - started
    return scan


def _scan_table(
    ctx: QualityContext,
    scan: IdentityScan,
    entity: str,
    table: Table,
    check_phone: PhoneChecker,
    check_email: EmailChecker,
) -> list[PartyRecord]:
    c = table.c
    group = c.company_id if entity == "contact" else c.region
    stmt = (
        select(
            c.id,
            c.name,
            c.phones,
            c.emails,
            c.inn,
            c.region,
            group.label("grp"),
            c.responsible_id,
            type_coerce(c.created_at, BigInteger).label("created"),
            c.custom_fields,
        )
        .where(c.account_id == ctx.account_id)
        .order_by(c.id)
    )
    person = entity == "contact"
    bad_phones = scan.findings["invalid_phone"]
    bad_emails = scan.findings["invalid_email"]
    bad_inns = scan.findings["invalid_inn"]
    bad_ogrns = scan.findings["invalid_ogrn"]
    records: list[PartyRecord] = []
    append = records.append
    with ctx.store.engine.connect() as conn:
        result = conn.execution_options(stream_results=True, yield_per=_FETCH).execute(stmt)
        for rid, name, phone_cell, email_cell, inn, reg, grp, owner, created, custom in result:
            valid_phones: list[str] = []
            invalid: list[dict[str, str]] = []
            for raw in _values(phone_cell):
                res = check_phone(raw)
                if res.e164 is not None:
                    if res.e164 not in valid_phones:
                        valid_phones.append(res.e164)
                else:
                    invalid.append({"value": raw, "reason": res.reason or "invalid"})
            if invalid:
                bad_phones.append(
                    _invalid_draft(InvalidPhone, entity, rid, owner, "phone", invalid, valid_phones)
                )
            valid_emails: list[str] = []
            invalid = []
            for raw in _values(email_cell):
                mail = check_email(raw)
                if mail.key is not None:
                    if mail.key not in valid_emails:
                        valid_emails.append(mail.key)
                else:
                    invalid.append({"value": raw, "reason": mail.reason or "invalid"})
            if invalid:
                bad_emails.append(
                    _invalid_draft(
                        InvalidEmail, entity, rid, owner, "e-mail", invalid, valid_emails
                    )
                )
            inn_key: str | None = None
            if inn and inn.strip():
                why = inn_problem(inn)
                if why is None:
                    inn_key = compact_number(inn)
                else:
                    bad_inns.append(
                        FindingDraft(
                            check=InvalidInn.name,
                            entity=entity,
                            entity_id=rid,
                            severity=InvalidInn.severity,
                            owner_id=owner,
                            message=f"fix the INN «{inn}»: {why}",
                            details={"value": inn, "reason": why},
                        )
                    )
            if custom:
                bad_ogrns.extend(_ogrn_findings(entity, rid, owner, custom))
            if person:
                norm, sole = normalize_person_name(name), True
            else:
                norm, sole = normalize_company(name)
            append(
                PartyRecord(
                    id=rid,
                    name=norm,
                    phones=tuple(valid_phones),
                    emails=tuple(valid_emails),
                    inn=inn_key,
                    region=reg or None,
                    group=grp if person else None,
                    created_at=created,
                    owner_id=owner,
                    person=sole or (inn_key is not None and len(inn_key) == 12),
                )
            )
    return records


def _values(cell: Any) -> Iterator[str]:
    """The values of a phones/e-mails cell (a JSON list; an item may hold several with ``;``)."""
    if not cell:
        return
    if isinstance(cell, str):
        cell = [cell]
    for part in cell:
        if not isinstance(part, str):
            continue
        if ";" in part:
            yield from split_values(part)
        else:
            value = part.strip()
            if value:
                yield value


def _invalid_draft(
    check: type[InvalidPhone] | type[InvalidEmail],
    entity: str,
    rid: str,
    owner: str | None,
    what: str,
    invalid: list[dict[str, str]],
    valid: list[str],
) -> FindingDraft:
    first = invalid[0]
    more = f" (and {len(invalid) - 1} more)" if len(invalid) > 1 else ""
    return FindingDraft(
        check=check.name,
        entity=entity,
        entity_id=rid,
        severity=check.severity,
        owner_id=owner,
        message=f"fix the {what} «{first['value']}»: {first['reason']}{more}",
        details={"invalid": invalid, "valid": valid},
    )


def _ogrn_findings(
    entity: str, rid: str, owner: str | None, custom: Mapping[str, Any]
) -> Iterator[FindingDraft]:
    for key, raw in custom.items():
        if str(key).strip().casefold() not in OGRN_FIELDS:
            continue
        for value in raw if isinstance(raw, list) else [raw]:
            if value is None or not str(value).strip():
                continue
            why = ogrn_problem(str(value))
            if why is not None:
                yield FindingDraft(
                    check=InvalidOgrn.name,
                    entity=entity,
                    entity_id=rid,
                    severity=InvalidOgrn.severity,
                    owner_id=owner,
                    message=f"fix the {key} «{value}»: {why}",
                    details={"field": str(key), "value": str(value), "reason": why},
                )
                return  # one finding per record


# -- the checks -----------------------------------------------------------------------------------


@dataclass
class ScanCheck:
    """A check whose findings come from the shared identity scan, under its own name."""

    name: str
    description: str
    severity: Severity
    region: str = DEFAULT_REGION

    def run(self, ctx: QualityContext) -> Iterator[FindingDraft]:
        yield from scan_identities(ctx, self.region).findings[self.name]


@dataclass
class InvalidPhone(ScanCheck):
    """A contact or company has a phone that is not a valid number (not merely "possible")."""

    name: str = "invalid_phone"
    description: str = "Phones that are not valid numbers (phonenumbers, region RU)"
    severity: Severity = "warning"


@dataclass
class InvalidEmail(ScanCheck):
    """A contact or company has an e-mail that is not a valid address (syntax; no DNS)."""

    name: str = "invalid_email"
    description: str = "E-mails that are not valid addresses (email-validator, no DNS)"
    severity: Severity = "warning"


@dataclass
class InvalidInn(ScanCheck):
    """An INN that is not 10 or 12 digits with the right check digits."""

    name: str = "invalid_inn"
    description: str = "INNs with a wrong length or check digit"
    severity: Severity = "error"


@dataclass
class InvalidOgrn(ScanCheck):
    """An OGRN (13 digits) or OGRNIP (15) custom field with a wrong length or check digit."""

    name: str = "invalid_ogrn"
    description: str = "OGRN / OGRNIP custom fields with a wrong length or check digit"
    severity: Severity = "error"


def duplicate_settings(ctx: QualityContext) -> DuplicateSettings:
    """The regulations' ``[quality.duplicates]`` as the search's settings."""
    rules = ctx.regulations.quality.duplicates
    return DuplicateSettings(
        fuzzy_threshold=rules.fuzzy_threshold,
        noise_limit=rules.noise_limit,
        block_chars=rules.block_chars,
        max_pairs_per_record=rules.max_pairs_per_record,
        fuzzy_person_names=rules.fuzzy_person_names,
    )


def duplicate_report(
    ctx: QualityContext, entity: str, settings: DuplicateSettings, region: str = DEFAULT_REGION
) -> DuplicateReport:
    """The duplicate clusters of ``entity`` (``contact`` or ``company``), made once per audit.

    Contacts are grouped by their company, with duplicate companies taken as one: a contact of
    a duplicate company is compared with the contacts of its primary.
    """
    scan = scan_identities(ctx, region)
    key = f"{entity}|{settings}"
    report = scan.duplicates.get(key)
    if report is not None:
        return report
    records = scan.records[entity]
    if entity == "contact":
        primary = {
            m: c.primary
            for c in duplicate_report(ctx, "company", settings, region).clusters
            for m in c.members[1:]
        }
        records = [replace(r, group=primary[r.group]) if r.group in primary else r for r in records]
    with _gc_paused():
        report = find_duplicates(records, settings, by_group=entity == "contact")
    scan.duplicates[key] = report
    return report


def _duplicate_findings(
    check: DuplicateContacts | DuplicateCompanies, ctx: QualityContext, entity: str
) -> Iterator[FindingDraft]:
    scan = scan_identities(ctx, check.region)
    settings = check.settings or duplicate_settings(ctx)
    report = duplicate_report(ctx, entity, settings, check.region)
    owners = {r.id: r.owner_id for r in _members(scan.records[entity], report)}
    limit = settings.max_pairs_per_record
    for cluster in report.clusters:
        by_member: dict[str, list[DuplicatePair]] = {}
        for p in cluster.pairs:
            by_member.setdefault(p.a, []).append(p)
            by_member.setdefault(p.b, []).append(p)
        for member in cluster.members[1:]:
            mine = sorted(
                by_member.get(member, []),
                key=lambda p: (_strength(p.keys), -p.name_score, p.a, p.b),
            )
            why = _why(mine[0]) if mine else "same cluster"
            # only names in common: a proposal to look at, not a certain duplicate
            weak = not mine or set(mine[0].keys) <= {"name", "fuzzy_name"}
            yield FindingDraft(
                check=check.name,
                entity=entity,
                entity_id=member,
                severity="info" if weak else check.severity,
                owner_id=owners.get(member),
                message=f"looks like a duplicate of {entity} {cluster.primary} ({why}): merge them",
                details={
                    "duplicate_of": cluster.primary,
                    "cluster_size": len(cluster.members),
                    "cluster": list(cluster.members[:50]),
                    "pairs": [p.as_evidence(member) for p in mine[:limit]],
                },
            )


def _members(records: Sequence[PartyRecord], report: DuplicateReport) -> Iterator[PartyRecord]:
    wanted = {m for c in report.clusters for m in c.members}
    return (r for r in records if r.id in wanted)


_KEY_RANK: Final = {"inn": 0, "phone": 1, "email": 2, "name": 3, "fuzzy_name": 4}


def _strength(keys: Sequence[str]) -> int:
    return min(_KEY_RANK[k] for k in keys)


def _why(pair: DuplicatePair) -> str:
    parts = []
    for k in pair.keys:
        if k == "fuzzy_name":
            parts.append(f"similar name, score {pair.name_score:g}")
        elif k == "name":
            parts.append("same name")
        else:
            parts.append(f"same {'e-mail' if k == 'email' else k.upper() if k == 'inn' else k}")
    return ", ".join(parts)


@dataclass
class DuplicateContacts:
    """Contacts that look like one person: same phone, e-mail or INN, or the same (or a
    similar) name inside one company.
    """

    name: str = "duplicate_contact"
    description: str = "Duplicate contacts (phone, e-mail, INN; names within a company)"
    severity: Severity = "warning"
    region: str = DEFAULT_REGION
    settings: DuplicateSettings | None = None  # None: the regulations' [quality.duplicates]

    def run(self, ctx: QualityContext) -> Iterator[FindingDraft]:
        yield from _duplicate_findings(self, ctx, "contact")


@dataclass
class DuplicateCompanies:
    """Companies that look like one: same INN, phone or e-mail, or the same or a similar name
    (legal form, quotes and ё ignored) without conflicting INN or region.
    """

    name: str = "duplicate_company"
    description: str = "Duplicate companies (INN, phone, e-mail, exact and fuzzy names)"
    severity: Severity = "warning"
    region: str = DEFAULT_REGION
    settings: DuplicateSettings | None = None  # None: the regulations' [quality.duplicates]

    def run(self, ctx: QualityContext) -> Iterator[FindingDraft]:
        yield from _duplicate_findings(self, ctx, "company")


IDENTITY_CHECKS: list[QualityCheck] = [
    InvalidPhone(),
    InvalidEmail(),
    InvalidInn(),
    InvalidOgrn(),
    DuplicateContacts(),
    DuplicateCompanies(),
]
"""The built-in identity checks, in the order an audit runs them (they share one scan)."""
