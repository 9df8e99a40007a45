"""Companies and contacts: Russian names, INNs, phones and e-mails, with deliberate duplicates.

Clients are created in time order, spread over working days in proportion to ``day_weights``
(plus a base of clients that existed before the deal period). Only small arrays are kept for
the deals: for each contact its company, for each company its region and segment, and per
working day how many clients exist by then.
"""

from __future__ import annotations

import random
from array import array
from collections.abc import Callable
from dataclasses import dataclass

from ropilot.generator import data
from ropilot.generator.clock import WORKDAY, Clock
from ropilot.generator.identifiers import (
    PHONE_STYLES,
    broken_email,
    broken_phone,
    company_inn,
    format_phone,
    landline_digits,
    mobile_digits,
    person_inn,
    random_style,
    spoil_inn,
)
from ropilot.generator.people import Staff
from ropilot.generator.writer import BundleWriter

COMPANY_ID_BASE = 40_000_000
CONTACT_ID_BASE = 30_000_000
DUPLICATE_SHARE = 0.03
RECENT_WINDOW = 20  # working days that count as "recent" when a contact or deal picks a client
_RING = 400


def _weighted_table(weights: tuple[int, ...]) -> tuple[int, ...]:
    return tuple(i for i, w in enumerate(weights) for _ in range(w))


_FORMS = _weighted_table(tuple(f[2] for f in data.LEGAL_FORMS))
_REGIONS = _weighted_table(tuple(r[2] for r in data.REGIONS))
_SEGMENTS = _weighted_table(tuple(s[1] for s in data.SEGMENTS))


@dataclass
class ClientIndex:
    """What the deal generator needs to know about the clients.

    Attributes:
        company_region: region index (into :data:`data.REGIONS`) per company.
        company_segment: segment index (into :data:`data.SEGMENTS`) per company.
        company_cum: per working day index, companies created on or before that day.
        contact_company: company index per contact, −1 for none.
        contact_cum: per working day index, contacts created on or before that day.
    """

    company_region: bytearray
    company_segment: bytearray
    company_cum: array[int]
    contact_company: array[int]
    contact_cum: array[int]


def spread(total: int, weights: list[float]) -> list[int]:
    """Split ``total`` over slots in proportion to ``weights`` by cumulative rounding.

    Args:
        total: what to split.
        weights: non-negative weights, one per slot (sum > 0).

    Returns:
        Counts per slot, summing exactly to ``total``.
    """
    scale = total / sum(weights)
    out: list[int] = []
    acc = 0.0
    done = 0
    for w in weights:
        acc += w * scale
        upto = min(total, int(acc + 1e-9))
        out.append(upto - done)
        done = upto
    last = max(i for i, w in enumerate(weights) if w > 0)
    out[last] += total - done
    return out


def pick_recent(rnd: random.Random, cum: array[int], day: int) -> int:
    """An index among items created before working day ``day``, recent ones favoured.

    Args:
        rnd: random source.
        cum: per working day index, items created on or before that day.
        day: working day index.

    Returns:
        The item's index, or −1 if none existed yet.
    """
    upto = cum[day - 1] if day > 0 else 0
    if upto == 0:
        return -1
    r = rnd.random()
    if r < 0.6:
        low = cum[day - 1 - RECENT_WINDOW] if day - 1 - RECENT_WINDOW >= 0 else 0
        if upto > low:
            return low + int(rnd.random() * (upto - low))
    return int(rnd.random() * upto)


def _name_variant(rng: random.Random, form: int, core: str) -> str:
    short, full = data.LEGAL_FORMS[form][0], data.LEGAL_FORMS[form][1]
    ip = data.LEGAL_FORMS[form][3]
    r = int(rng.random() * 6)
    quoted = core if ip else f"«{core}»"
    if r == 0:
        return f'{short} "{core}"' if not ip else f"{short}  {core}"
    if r == 1:
        return f"{full} {quoted}"
    if r == 2:
        return f"{core}, {short}" if not ip else f"{core} ИП"
    if r == 3 and ("ё" in core or "Ё" in core):
        plain = core.replace("ё", "е").replace("Ё", "Е")
        return f"{short} {plain if ip else '«' + plain + '»'}"
    if r == 4:
        return f"{short} {quoted}".upper()
    return f"{short.lower()} {quoted.lower()}"


def _person(rnd: Callable[[], float], male_share: float) -> tuple[str, str, str]:
    """(surname, first name, patronymic) of a man with probability ``male_share``."""
    male = rnd() < male_share
    surname = data.SURNAMES[int(rnd() * len(data.SURNAMES))]
    if male:
        first = data.MALE_FIRST[int(rnd() * len(data.MALE_FIRST))]
        patr = data.MALE_PATRONYMICS[int(rnd() * len(data.MALE_PATRONYMICS))]
    else:
        surname = data.female_surname(surname)
        first = data.FEMALE_FIRST[int(rnd() * len(data.FEMALE_FIRST))]
        patr = data.FEMALE_PATRONYMICS[int(rnd() * len(data.FEMALE_PATRONYMICS))]
    return surname, first, patr


def _company_core(rng: random.Random, form: int) -> str:
    rnd = rng.random
    if data.LEGAL_FORMS[form][3]:
        surname, first, patr = _person(rnd, 0.6)
        return f"{surname} {first} {patr}"
    tail = data.NAME_TAILS[int(rnd() * len(data.NAME_TAILS))]
    if rnd() < 0.45:
        return data.COMPANY_CORES[int(rnd() * len(data.COMPANY_CORES))] + tail
    prefix = data.COMPANY_PREFIXES[int(rnd() * len(data.COMPANY_PREFIXES))]
    suffix = data.COMPANY_SUFFIXES[int(rnd() * len(data.COMPANY_SUFFIXES))]
    return prefix + suffix.lower() + tail


class _Latin:
    """Cached transliterations (company cores and surnames repeat a lot)."""

    def __init__(self) -> None:
        self._cache: dict[str, str] = {}

    def __call__(self, text: str) -> str:
        out = self._cache.get(text)
        if out is None:
            out = data.translit(text).replace(".", "-") or "company"
            self._cache[text] = out
        return out


def _day_times(rng: random.Random, n: int) -> list[int]:
    return sorted(int(rng.random() * WORKDAY) for _ in range(n))


def generate_clients(
    rng: random.Random,
    out: BundleWriter,
    clock: Clock,
    staff: Staff,
    *,
    n_companies: int,
    n_contacts: int,
    period_start: int,
    day_weights: list[float],
) -> ClientIndex:
    """Generate and write the ``companies`` and ``contacts`` tables.

    Args:
        rng: the generator's random source.
        out: the open bundle.
        clock: the account's clock.
        staff: picks responsible managers.
        n_companies: companies to create.
        n_contacts: contacts to create.
        period_start: calendar day index of the first day of the deal period.
        day_weights: per working day index, relative volume of new business (deals).

    Returns:
        The lookup arrays the deal generator needs.
    """
    n_wd = len(day_weights)
    first_period_wd = clock.next_wd[period_start]
    pre_start = clock.next_wd[max(0, period_start - 3 * 365)]
    # 30 % of clients existed before the deal period, spread evenly over three years.
    in_period = sum(day_weights[first_period_wd:]) or 1.0
    pre_days = max(1, first_period_wd - pre_start)
    base = [0.0] * n_wd
    for i in range(pre_start, first_period_wd):
        base[i] = 0.3 / pre_days
    for i in range(first_period_wd, n_wd):
        base[i] = 0.7 * day_weights[i] / in_period
    company_counts = spread(n_companies, base)
    contact_counts = spread(n_contacts, base)

    company_region = bytearray()
    company_segment = bytearray()
    company_cum = array("i", [0] * n_wd)
    latin = _Latin()
    ring: list[tuple[int, str, str, str, str, int, int]] = []
    write = out["companies"].write
    rnd = rng.random
    index = 0
    for day in range(n_wd):
        for second in _day_times(rng, company_counts[day]):
            w = day * WORKDAY + second
            if ring and rnd() < DUPLICATE_SHARE:
                form, core, inn, phone, email, region, segment = ring[int(rnd() * len(ring))]
                name = _name_variant(rng, form, core)
                kind = rnd()
                if kind < 0.4 and inn:
                    phone_text = ""
                    email_text = email if rnd() < 0.5 else ""
                elif kind < 0.75 and phone:
                    inn = ""
                    phone_text = format_phone(phone, int(rnd() * PHONE_STYLES))
                    email_text = ""
                else:
                    inn = inn if rnd() < 0.5 else ""
                    phone_text = ""
                    email_text = email.upper()
            else:
                form = _FORMS[int(rnd() * len(_FORMS))]
                region = _REGIONS[int(rnd() * len(_REGIONS))]
                ip = data.LEGAL_FORMS[form][3]
                segment = 0 if ip and rnd() < 0.9 else _SEGMENTS[int(rnd() * len(_SEGMENTS))]
                core = _company_core(rng, form)
                name = (
                    f"{data.LEGAL_FORMS[form][0]} {core}"
                    if ip
                    else (
                        f'{data.LEGAL_FORMS[form][0]} "{core}"'
                        if rnd() < 0.1
                        else f"{data.LEGAL_FORMS[form][0]} «{core}»"
                    )
                )
                code = data.REGIONS[region][1]
                inn = ""
                if rnd() < 0.88:
                    inn = person_inn(rng, code) if ip else company_inn(rng, code)
                    if rnd() < 0.07:
                        inn = spoil_inn(rng, inn)
                phone = ""
                phone_text = ""
                if rnd() < 0.85:
                    if ip or rnd() < 0.4:
                        phone = mobile_digits(rng)
                    else:
                        phone = landline_digits(rng, data.REGIONS[region][3])
                    if rnd() < 0.04:
                        phone_text = broken_phone(rng, phone)
                        phone = ""
                    else:
                        phone_text = format_phone(phone, random_style(rng))
                        if rnd() < 0.05:
                            phone_text += ";" + format_phone(mobile_digits(rng), random_style(rng))
                email = ""
                email_text = ""
                if rnd() < 0.75:
                    if ip:
                        local = latin(core.split(" ")[0])
                        domain = data.MAIL_DOMAINS[int(rnd() * len(data.MAIL_DOMAINS))]
                    else:
                        local = ("info", "sales", "office", "zakaz")[int(rnd() * 4)]
                        domain = latin(core) + ".ru"
                    if rnd() < 0.03:
                        email_text = broken_email(rng, local, domain)
                    else:
                        email = email_text = f"{local}@{domain}"
                ring.append((form, core, inn, phone, email, region, segment))
                if len(ring) > _RING:
                    ring.pop(0)
            manager = staff.pick(rng, w) if rnd() < 0.9 else None
            write(
                (
                    str(COMPANY_ID_BASE + index),
                    name,
                    inn,
                    phone_text,
                    email_text,
                    manager.id if manager else "",
                    data.SEGMENTS[segment][0],
                    data.REGIONS[region][0],
                    clock.fmt(w),
                )
            )
            company_region.append(region)
            company_segment.append(segment)
            index += 1
        company_cum[day] = index

    contact_company = array("i")
    contact_cum = array("i", [0] * n_wd)
    people: list[tuple[str, str, str, int]] = []
    write = out["contacts"].write
    index = 0
    for day in range(n_wd):
        for second in _day_times(rng, contact_counts[day]):
            w = day * WORKDAY + second
            if people and rnd() < DUPLICATE_SHARE:
                name, phone, email, company = people[int(rnd() * len(people))]
                if rnd() < 0.3:
                    name = name.replace("ё", "е") if "ё" in name else name.upper()
                phone_text = format_phone(phone, int(rnd() * PHONE_STYLES)) if phone else ""
                email_text = email.upper() if email and rnd() < 0.5 else email
            else:
                surname, first, patr = _person(rnd, 0.5)
                r = rnd()
                if r < 0.5:
                    name = f"{surname} {first} {patr}"
                elif r < 0.85:
                    name = f"{first} {surname}"
                else:
                    name = first
                phone = ""
                phone_text = ""
                if rnd() < 0.88:
                    phone = mobile_digits(rng)
                    if rnd() < 0.04:
                        phone_text = broken_phone(rng, phone)
                        phone = ""
                    else:
                        phone_text = format_phone(phone, random_style(rng))
                        if rnd() < 0.08:
                            phone_text += ";" + format_phone(mobile_digits(rng), random_style(rng))
                company = pick_recent(rng, company_cum, day) if rnd() < 0.78 else -1
                email = ""
                email_text = ""
                if rnd() < 0.6:
                    local = f"{latin(first)}.{latin(surname)}".replace("-", ".")
                    domain = data.MAIL_DOMAINS[int(rnd() * len(data.MAIL_DOMAINS))]
                    if rnd() < 0.03:
                        email_text = broken_email(rng, local, domain)
                    else:
                        email = email_text = f"{local}@{domain}"
                        if rnd() < 0.03:
                            other = data.MAIL_DOMAINS[int(rnd() * len(data.MAIL_DOMAINS))]
                            email_text += f"; {latin(surname)}@{other}"
                people.append((name, phone, email, company))
                if len(people) > _RING:
                    people.pop(0)
            manager = staff.pick(rng, w) if rnd() < 0.9 else None
            write(
                (
                    str(CONTACT_ID_BASE + index),
                    name,
                    phone_text,
                    email_text,
                    str(COMPANY_ID_BASE + company) if company >= 0 else "",
                    manager.id if manager else "",
                    clock.fmt(w),
                )
            )
            contact_company.append(company)
            index += 1
        contact_cum[day] = index

    return ClientIndex(
        company_region=company_region,
        company_segment=company_segment,
        company_cum=company_cum,
        contact_company=contact_company,
        contact_cum=contact_cum,
    )
