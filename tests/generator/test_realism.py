"""The generated account looks like a real one: dirty data, duplicates, seasonality, skill."""

from __future__ import annotations

import itertools
import re
import statistics
from collections import Counter, defaultdict
from datetime import datetime, time
from typing import Any

import phonenumbers
from stdnum.ru import inn as inn_check

from ropilot.generator import hidden_profiles


def digits10(phone: str) -> str:
    return re.sub(r"\D", "", phone)[-10:]


def is_valid_phone(text: str) -> bool:
    try:
        return phonenumbers.is_valid_number(phonenumbers.parse(text, "RU"))
    except phonenumbers.NumberParseException:
        return False


def plain_name(name: str) -> str:
    text = name.lower().replace("ё", "е")
    for form in (
        "общество с ограниченной ответственностью",
        "индивидуальный предприниматель",
        "публичное акционерное общество",
        "закрытое акционерное общество",
        "акционерное общество",
    ):
        text = text.replace(form, " ")
    text = re.sub(r"[«»\",]", " ", text)
    words = [w for w in text.split() if w not in ("ооо", "ао", "пао", "зао", "ип")]
    return " ".join(words)


def test_inns_are_mostly_valid_with_some_broken(bundle: Any) -> None:
    companies = bundle["companies"]
    inns = [row["inn"] for row in companies if row["inn"]]
    assert 0.75 < len(inns) / len(companies) < 0.97  # some companies have no INN
    valid = [inn for inn in inns if inn_check.is_valid(inn)]
    assert 0.85 < len(valid) / len(inns) < 0.98
    assert any(len(inn) == 10 for inn in valid)
    assert any(len(inn) == 12 for inn in valid)
    for row in companies:  # an individual entrepreneur has a 12-digit INN
        if row["name"].startswith("ИП ") and inn_check.is_valid(row["inn"]):
            assert len(row["inn"]) == 12


def test_phones_are_mostly_valid_in_mixed_formats(bundle: Any) -> None:
    for table in ("companies", "contacts"):
        phones = [p for row in bundle[table] for p in row["phone"].split(";") if p]
        valid = [p for p in phones if is_valid_phone(p)]
        assert 0.85 < len(valid) / len(phones) < 0.99, table
        assert any(p.startswith("8 (") for p in valid)
        assert any(p.startswith("+7 ") for p in valid)
        assert any(re.fullmatch(r"\d{11}", p) for p in valid)
    assert any(";" in row["phone"] for row in bundle["contacts"])


def test_some_emails_are_broken(bundle: Any) -> None:
    emails = [e.strip() for row in bundle["contacts"] for e in row["email"].split(";") if e]
    broken = [e for e in emails if not re.fullmatch(r"[^@\s]+@[^@\s]+\.[a-z]+", e)]
    assert 0 < len(broken) < 0.1 * len(emails)


def test_duplicate_companies_exist(bundle: Any) -> None:
    companies = bundle["companies"]
    by_inn = Counter(row["inn"] for row in companies if row["inn"])
    assert any(count >= 2 for count in by_inn.values())
    by_phone: dict[str, set[str]] = defaultdict(set)
    for row in companies:
        for phone in row["phone"].split(";"):
            if phone and is_valid_phone(phone):
                by_phone[digits10(phone)].add(phone)
    assert any(len(spellings) >= 2 for spellings in by_phone.values())
    by_name: dict[str, set[str]] = defaultdict(set)
    for row in companies:
        by_name[plain_name(row["name"])].add(row["name"])
    variants = [names for names in by_name.values() if len(names) >= 2]
    assert any(
        any("ё" in n for n in names) and any("ё" not in n for n in names) for names in variants
    )
    assert any(any(n.isupper() for n in names) for names in variants)
    assert any(any('"' in n for n in names) and any("«" in n for n in names) for names in variants)


def test_duplicate_contacts_exist(bundle: Any) -> None:
    by_phone: dict[str, set[str]] = defaultdict(set)
    for row in bundle["contacts"]:
        for phone in row["phone"].split(";"):
            if phone and is_valid_phone(phone):
                by_phone[digits10(phone)].add(row["id"])
    assert sum(1 for ids in by_phone.values() if len(ids) >= 2) >= 10


def test_stage_paths_skip_go_back_and_reopen(bundle: Any) -> None:
    stages = {row["id"]: (int(row["sort"]), row["kind"]) for row in bundle["stages"]}
    skipped = backward = reopened = 0
    history: dict[str, list[str]] = defaultdict(list)
    for row in bundle["stage_changes"]:
        history[row["deal_id"]].append(row["to_stage_id"])
    for path in history.values():
        steps = [stages[s] for s in path]
        pairs = list(itertools.pairwise(steps))
        skipped += any(b[1] == "open" and b[0] - a[0] > 10 for a, b in pairs)
        backward += any(a[1] == b[1] == "open" and b[0] < a[0] for a, b in pairs)
        reopened += any(a[1] == "lost" and b[1] == "open" for a, b in pairs)
    n = len(history)
    assert skipped > 0.1 * n
    assert backward > 0.03 * n
    assert reopened > 0.005 * n


def test_seasonality_december_peak_january_dip(bundle: Any) -> None:
    months = Counter(row["created_at"][:7] for row in bundle["deals"])
    assert months["2025-12"] > 1.5 * months["2026-01"]
    assert months["2025-12"] > months["2025-11"]
    assert months["2025-07"] < months["2025-10"]
    assert min(months) == "2024-12" and max(months) == "2026-11"


def test_old_deals_closed_recent_deals_open(bundle: Any) -> None:
    old = [d for d in bundle["deals"] if d["created_at"] < "2025-06"]
    recent = [d for d in bundle["deals"] if d["created_at"] >= "2026-11"]
    assert sum(1 for d in old if d["closed_at"]) > 0.9 * len(old)
    assert sum(1 for d in old if not d["closed_at"]) > 0  # a few stalled for good
    assert sum(1 for d in recent if not d["closed_at"]) > 0.4 * len(recent)


def test_tasks_completed_overdue_and_future(bundle: Any) -> None:
    end_ts = datetime.combine(bundle.end, time(23, 59, 59)).isoformat() + "+03:00"
    tasks = bundle["tasks"]
    open_tasks = [t for t in tasks if not t["completed_at"]]
    assert sum(1 for t in tasks if t["completed_at"]) > 0.5 * len(tasks)
    assert any(t["due_at"] > end_ts for t in open_tasks)  # future
    assert any(t["due_at"] < bundle.end.isoformat() for t in open_tasks)  # overdue
    for task in tasks:
        assert task["due_at"] >= task["created_at"]
        if task["completed_at"]:
            assert task["completed_at"] >= task["created_at"]
    open_deals = {d["id"] for d in bundle["deals"] if not d["closed_at"]}
    with_task = {t["deal_id"] for t in open_tasks}
    assert open_deals - with_task  # some open deals have no next step
    assert open_deals & with_task


def test_activities_mix(bundle: Any) -> None:
    acts = bundle["activities"]
    kinds = Counter(a["type"] for a in acts)
    assert set(kinds) == {"call", "meeting", "email", "offer", "presale", "note"}
    assert kinds["call"] > kinds["meeting"]
    calls = [a for a in acts if a["type"] == "call"]
    assert {c["direction"] for c in calls} == {"in", "out"}
    assert {"answered", "no_answer", "busy"} <= {c["result"] for c in calls}
    for call in calls:
        assert (int(call["duration_s"]) > 0) == (call["result"] == "answered")
    assert all(a["deal_id"] for a in acts)


def test_hidden_skill_drives_results(bundle: Any) -> None:
    profiles = {m.id: m for m in hidden_profiles(deals=bundle.deals, seed=11, end=bundle.end)}
    assert [m.id for m in profiles.values()] == [row["id"] for row in bundle["managers"]]
    kinds = {row["id"]: row["kind"] for row in bundle["stages"]}
    won: Counter[str] = Counter()
    closed: Counter[str] = Counter()
    for deal in bundle["deals"]:
        kind = kinds[deal["stage_id"]]
        if kind != "open":
            closed[deal["responsible_id"]] += 1
            won[deal["responsible_id"]] += kind == "won"
    sellers = [m for m in profiles if closed[m] >= 150]
    assert len(sellers) >= 3
    best = max(sellers, key=lambda m: profiles[m].win_rate)
    worst = min(sellers, key=lambda m: profiles[m].win_rate)
    assert won[best] / closed[best] > won[worst] / closed[worst] + 0.03

    # Activity level: activities logged per deal owned.
    acts = Counter(a["manager_id"] for a in bundle["activities"])
    owned = Counter(d["responsible_id"] for d in bundle["deals"])
    busiest = max(sellers, key=lambda m: profiles[m].activity)
    laziest = min(sellers, key=lambda m: profiles[m].activity)
    assert acts[busiest] / owned[busiest] > acts[laziest] / owned[laziest]

    # Speed: median cycle of won deals.
    cycles: dict[str, list[float]] = defaultdict(list)
    for deal in bundle["deals"]:
        if kinds[deal["stage_id"]] == "won":
            days = datetime.fromisoformat(deal["closed_at"]) - datetime.fromisoformat(
                deal["created_at"]
            )
            cycles[deal["responsible_id"]].append(days.total_seconds())
    fastest = min(sellers, key=lambda m: profiles[m].speed)
    slowest = max(sellers, key=lambda m: profiles[m].speed)
    assert statistics.median(cycles[fastest]) < statistics.median(cycles[slowest])


def test_managers_work_only_while_employed(bundle: Any) -> None:
    profiles = {m.id: m for m in hidden_profiles(deals=bundle.deals, seed=11, end=bundle.end)}
    hired = {row["id"]: datetime.fromisoformat(row["hired_at"]) for row in bundle["managers"]}
    left = {
        m.id: datetime.fromisoformat(m.left_at) for m in profiles.values() if m.left_at is not None
    }
    assert left  # at least one manager left during the period
    assert {row["id"] for row in bundle["managers"] if row["active"] == "false"} == set(left)

    def employed(manager: str, at: str) -> bool:
        moment = datetime.fromisoformat(at)
        return hired[manager] <= moment and (manager not in left or moment < left[manager])

    for row in bundle["activities"]:
        assert employed(row["manager_id"], row["at"]), row
    for row in bundle["stage_changes"]:
        assert employed(row["changed_by"], row["changed_at"]), row
    for row in bundle["assignments"]:
        assert employed(row["to_manager_id"], row["changed_at"]), row
    for deal in bundle["deals"]:
        if not deal["closed_at"]:  # open deals belong to people still working
            assert deal["responsible_id"] not in left
    departed = set(left)
    assert any(row["from_manager_id"] in departed for row in bundle["assignments"])
