"""Activity KPIs on a hand-computed dataset (tests/core/kpi/data/activity), SQLite and PostgreSQL.

Account zone Europe/Moscow. 1 March 2026 is a Sunday, so ISO week 2026-W09 runs Mon 23 February
to Sun 1 March and crosses the month boundary. Activities (manager, local time, link):

    a1 call     m1  Sun 01.03 00:00:00  deal d1 (company c1, product A; d1's responsible is m2)
    a2 call     m1  Sat 28.02 23:59:59  deal d1            -> February, one second before March
    a3 meeting  m1  Tue 31.03 23:59:59  company c2
    a4 email    m1  Wed 01.04 00:00:00  deal d1            -> April
    a5 call     m2  Mon 02.03 00:00:00  deal d2 (contact p2 without company, product B)
    a6 offer    m2  Sun 15.03 12:00     contact p1 (company c1)
    a7 note     m2  Fri 20.03 10:00     nothing linked
    a8 presale  m1  Tue 10.03 10:00     deal d2 (m1 did it although d2 belongs to m2)
    a9 call     m1  Tue 10.03 11:00     deal d1

March 2026 by manager: m1 = a1, a3, a8, a9 -> call 2, meeting 1, presale 1, total 4;
m2 = a5, a6, a7 -> call 1, offer 1, note 1, total 3; m3 (team south) did nothing -> no row
(convention: only groups with data, like outcomes). Team north = 4 + 3 = 7.
By product (through the deal): A = a1, a9 = 2; B = a5, a8 = 2; none = a3, a6, a7 = 3.
By company (activity's, else deal's, else contact's): c1 = a1, a9 (d1) + a6 (p1) = 3;
c2 = a3 = 1; none = a5, a7, a8 = 3. Segment: big (c1) 3, small (c2) 1, none 3.

March by week (buckets cut to the period): W09 [1.03, 2.03) = a1 -> 1; W10 [2.03, 9.03) = a5
(at local midnight Monday) -> 1; W11 [9.03, 16.03) = a8, a9, a6 -> 3; W12 = a7 -> 1; W13 = 0
(shown, no dimensions); W14 [30.03, 1.04) = a3 -> 1. Sum 7.
23.02..08.03 by week: W09 = a2 + a1 = 2 (the week crossing February/March), W10 = a5 = 1;
by month: 2026-02 [23.02, 1.03) = a2 = 1; 2026-03 [1.03, 9.03) = a1, a5 = 2.

Averages for March: 21 working days (31 days − 9 weekend days − Monday 9 March, the day off
moved from Sunday 8 March); weeks = 31 ÷ 7; months = 1. m1: per day 4/21, per week
4 ÷ 31/7 = 28/31, per month 4. Period 16.03..15.04: months = 16/31 + 15/30.
Intensity in March: m1 clients = {c1 (a1, a9), c2 (a3), contact p2 (a8)} = 3, mix call 2/4,
meeting 1/4, presale 1/4; m2 clients = {contact p2 (a5), c1 (a6 via p1)} = 2 (a7 has none),
mix 1/3 each of call, offer, note.
"""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import select

from ropilot.connectors.bundle.importer import import_bundle
from ropilot.core.errors import ConfigurationError
from ropilot.core.kpi.activity import (
    ACTIVITY_TYPES,
    activity_counts,
    activity_intensity,
    activity_lineage,
    activity_rates,
    period_months,
)
from ropilot.core.kpi.bucketing import bucket_index
from ropilot.core.periods import Period, day, month
from ropilot.core.store import Store
from ropilot.core.store.schema import activities

DATA = Path(__file__).parent / "data" / "activity"
MSK = ZoneInfo("Europe/Moscow")
MARCH = month(2026, 3, MSK)
ACROSS = Period(date(2026, 2, 23), date(2026, 3, 9), MSK, "2026-02-23..2026-03-08")


def zeros(**counts: int) -> dict[str, int]:
    return {t: counts.get(t, 0) for t in ACTIVITY_TYPES}


@pytest.fixture
def kpi_store(store: Store) -> Store:
    import_bundle(store, DATA)
    return store


def test_counts_by_manager_are_by_who_did_it(kpi_store: Store) -> None:
    rows = activity_counts(kpi_store, "k", MARCH, by=["manager"])
    assert [(r.keys, r.counts, r.total) for r in rows] == [
        ({"manager": "m1"}, zeros(call=2, meeting=1, presale=1), 4),
        ({"manager": "m2"}, zeros(call=1, offer=1, note=1), 3),
    ]  # m3 has no activity: no row


def test_company_row_and_local_midnight_boundaries(kpi_store: Store) -> None:
    (row,) = activity_counts(kpi_store, "k", MARCH)
    assert row.keys == {}
    assert row.total == 7  # a1 at 00:00 on 1 March and a3 at 23:59:59 on 31 March are in
    (feb,) = activity_counts(kpi_store, "k", month(2026, 2, MSK))
    assert (feb.total, feb.counts["call"]) == (1, 1)  # a2 only
    (april,) = activity_counts(kpi_store, "k", month(2026, 4, MSK))
    assert april.counts == zeros(email=1)  # a4 at 00:00 on 1 April


def test_team_product_company_segment(kpi_store: Store) -> None:
    team = activity_counts(kpi_store, "k", MARCH, by=["team"])
    assert [(r.keys, r.total) for r in team] == [({"team": "north"}, 7)]
    product = activity_counts(kpi_store, "k", MARCH, by=["product"])
    assert [(r.keys["product"], r.total) for r in product] == [(None, 3), ("A", 2), ("B", 2)]
    company = activity_counts(kpi_store, "k", MARCH, by=["company"])
    assert [(r.keys["company"], r.total) for r in company] == [(None, 3), ("c1", 3), ("c2", 1)]
    segment = activity_counts(kpi_store, "k", MARCH, by=["segment"])
    assert [(r.keys["segment"], r.total) for r in segment] == [(None, 3), ("big", 3), ("small", 1)]


def test_weeks_of_march_with_an_empty_week(kpi_store: Store) -> None:
    rows = activity_counts(kpi_store, "k", MARCH, grain="week")
    assert [(r.keys["bucket"], r.total) for r in rows] == [
        ("2026-W09", 1),
        ("2026-W10", 1),
        ("2026-W11", 3),
        ("2026-W12", 1),
        ("2026-W13", 0),
        ("2026-W14", 1),
    ]
    assert rows[2].counts == zeros(call=1, offer=1, presale=1)


def test_week_crossing_the_month_boundary(kpi_store: Store) -> None:
    weeks = activity_counts(kpi_store, "k", ACROSS, grain="week")
    assert [(r.keys["bucket"], r.total) for r in weeks] == [("2026-W09", 2), ("2026-W10", 1)]
    months = activity_counts(kpi_store, "k", ACROSS, grain="month")
    assert [(r.keys["bucket"], r.total) for r in months] == [("2026-02", 1), ("2026-03", 2)]
    by_manager = activity_counts(kpi_store, "k", ACROSS, by=["manager"], grain="day")
    assert [(r.keys, r.total) for r in by_manager] == [
        ({"manager": "m1", "bucket": "2026-02-28"}, 1),
        ({"manager": "m1", "bucket": "2026-03-01"}, 1),
        ({"manager": "m2", "bucket": "2026-03-02"}, 1),
    ]


def test_types_filter(kpi_store: Store) -> None:
    rows = activity_counts(kpi_store, "k", MARCH, by=["manager"], types=["call"])
    assert [(r.keys["manager"], r.counts, r.total) for r in rows] == [
        ("m1", {"call": 2}, 2),
        ("m2", {"call": 1}, 1),
    ]


def test_empty_period(kpi_store: Store) -> None:
    (row,) = activity_counts(kpi_store, "k", month(2025, 1, MSK))
    assert (row.counts, row.total) == (zeros(), 0)
    assert activity_counts(kpi_store, "k", month(2025, 1, MSK), by=["manager"]) == []


def test_lineage(kpi_store: Store) -> None:
    facts = activity_lineage(kpi_store, "k", MARCH, {"manager": "m1"})
    assert [f.id for f in facts] == ["a1", "a8", "a9", "a3"]
    assert (facts[0].type, facts[0].deal_id, facts[0].company_id) == ("call", "d1", "c1")
    assert facts[1].contact_id == "p2"
    week = activity_lineage(kpi_store, "k", MARCH, {"bucket": "2026-W11"}, grain="week")
    assert [f.id for f in week] == ["a8", "a9", "a6"]
    none = activity_lineage(kpi_store, "k", MARCH, {"company": None})
    assert sorted(f.id for f in none) == ["a5", "a7", "a8"]
    with pytest.raises(ConfigurationError, match="needs the grain"):
        activity_lineage(kpi_store, "k", MARCH, {"bucket": "2026-W11"})


def test_rates_per_working_day_week_month(kpi_store: Store) -> None:
    m1, m2 = activity_rates(kpi_store, "k", MARCH)
    assert (m1.working_days, m1.weeks, m1.months) == (21, Decimal(31) / 7, Decimal(1))
    assert m1.per_day["total"] == Decimal(4) / 21
    assert m1.per_day["call"] == Decimal(2) / 21
    assert m1.per_week["total"] == Decimal(4) / (Decimal(31) / 7)
    assert round(m1.per_week["total"] or 0, 20) == round(Decimal(28) / 31, 20)
    assert m1.per_month["total"] == 4
    assert m2.per_month["offer"] == 1
    partial = Period(date(2026, 3, 16), date(2026, 4, 16), MSK, "x")
    assert period_months(partial) == Decimal(16) / 31 + Decimal(15) / 30


def test_intensity(kpi_store: Store) -> None:
    m1, m2 = activity_intensity(kpi_store, "k", MARCH)
    assert (m1.keys, m1.clients, m1.total) == ({"manager": "m1"}, 3, 4)
    assert m1.mix["call"] == Decimal("0.5")
    assert m1.mix["meeting"] == m1.mix["presale"] == Decimal("0.25")
    assert m1.mix["email"] == 0
    assert (m2.clients, m2.total) == (2, 3)
    assert m2.mix["note"] == Decimal(1) / 3
    (company,) = activity_intensity(kpi_store, "k", MARCH, by=[])
    assert company.clients == 3  # {c1, c2, contact p2}: m1's and m2's clients overlap
    (empty,) = activity_intensity(kpi_store, "k", month(2025, 1, MSK), by=[])
    assert (empty.clients, empty.total, empty.mix["call"]) == (0, 0, None)


def test_bad_input_is_refused(kpi_store: Store) -> None:
    with pytest.raises(ConfigurationError, match="unknown dimension"):
        activity_counts(kpi_store, "k", MARCH, by=["colour"])
    with pytest.raises(ConfigurationError, match="grain"):
        activity_counts(kpi_store, "k", MARCH, grain="hour")
    with pytest.raises(ConfigurationError, match="activity type"):
        activity_counts(kpi_store, "k", MARCH, types=["fax"])


def test_bucket_index_with_a_gap_and_refused_overlap(kpi_store: Store) -> None:
    # Spans 1 March and 10 March only: a1 (00:00 on 1 March) → 0; a8, a9 (10 March) → 1;
    # every other activity falls in the gap or outside → NULL.
    spans = [day(date(2026, 3, 1), MSK), day(date(2026, 3, 10), MSK)]
    stmt = (
        select(activities.c.id, bucket_index(activities.c.at, spans))
        .where(activities.c.account_id == "k")
        .order_by(activities.c.id)
    )
    with kpi_store.engine.connect() as conn:
        found = {r[0]: r[1] for r in conn.execute(stmt)}
    assert {k: v for k, v in found.items() if v is not None} == {"a1": 0, "a8": 1, "a9": 1}
    assert len(found) == 9
    with pytest.raises(ValueError, match="overlap"):
        bucket_index(activities.c.at, [MARCH, day(date(2026, 3, 10), MSK)])
