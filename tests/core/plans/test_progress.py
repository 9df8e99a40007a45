"""Plans against the store: historical and capacity splits, learned seasonality, progress,
re-plan and propose, on the hand-made bundle tests/core/plans/data/plans (SQLite and
PostgreSQL). Europe/Moscow, RUB.

Staff: m1, m2, m4 in north; m3 in south; m5 alone in east; m6 is a north *assistant* (never
planned). m2 is absent 10–12 March 2026 (Tue–Thu). m4 and m5 are new: no deal ever.

History (2025, won unless said): m1 100,000 on 20 Jan, lost 50,000 on 10 Feb, 200,000 at 23:30
on 31 March (still March in Moscow); m2 50,000 on 14 Feb and 80,000 at 00:30 on 1 April (April
in Moscow although 31 March in UTC); m3 30,000 on 15 Jan; m6 1,000,000 on 25 Jan.

March 2026: m1 won 300,000 (5th) and 100,000 at 23:59 on the 17th, 70,000 at 00:00 on the 18th,
lost 40,000 (10th), d9 lost then reopened (open now); m2 won 140,000 RUB at 00:10 on 2 March and
500 USD (11th); m3 won 10,000 on the 16th after being lost and reopened (its final outcome
counts), and 20,000 at 23:50 on 28 February (February). Calls: m1 on the 2nd and at 23:30 on the
17th, and on the 18th; m2 on the 3rd; a meeting of m1 on the 5th.

March 2026 has 21 working days (9 March is a day off): 2–6, 10–13, 16–20, 23–27, 30–31. As of
17 March (the day counts as elapsed) 11 have passed (2–6, 10–13, 16, 17) and 10 remain.

**Historical share** of team north's 1,000,000.00 by 2025 revenue (m1 300,000; m2 50,000 +
80,000 = 130,000; m4 0; m6 is not a child): m1 = 1,000,000 × 300/430 = 697,674.4186…, m2 =
302,325.5813…; floors 697,674.41 + 302,325.58 = 999,999.99; the kopeck to the larger remainder
(m1 .86) → 697,674.42, 302,325.58, 0.00.

**Capacity** of 600,000.00 for March over m1, m2, m4: available days 21, 18 (absent 3), 21 →
210,000, 180,000, 210,000. With capacity m4 = 0.5: weights 21, 18, 10.5 (49.5) → 254,545.4545…,
218,181.8181…, 127,272.7272…; floors sum 599,999.98; 2 kopecks to the largest remainders (m2
.818, m4 .727) → 254,545.45, 218,181.82, 127,272.73.

**Learned seasonality** for 2026-Q1 from 2025's company revenue: Jan 100,000 + 30,000 +
1,000,000 = 1,130,000; Feb 50,000; Mar 200,000 (m2's 1 April deal is April) → 113 : 5 : 20.
1,000,000.00 → 818,840.5797…, 36,231.8840…, 144,927.5362…; floors sum 999,999.98; 2 kopecks to
Jan (.971) and Mar (.623) → 818,840.58, 36,231.88, 144,927.54.

**Progress** of revenue, March 2026 as of 17 March; plan: company 2,100,000 (100,000 a day),
m1 1,050,000 (50,000 a day), m2 630,000 over his 18 days (35,000 a day), m4 only a 2026-Q1 line
of 900,000. m4's March: Q1 by working days 15:19:21 of 55 → 245,454.5454…, 310,909.0909…,
343,636.3636…, one kopeck to Jan (.545) → March 343,636.36; over 21 days 34,363,636 kopecks ÷ 21
= 1,636,363 rem 13 → the first 13 working days 16,363.64, the other 8 16,363.63.
* company: fact 300,000 + 100,000 + 140,000 + 10,000 = 550,000 (the USD deal and 18 March are
  out); expected 11 × 100,000 = 1,100,000; attainment 550/2,100 = 0.2619…; pace 0.5; gap
  −550,000.
* m1: fact 400,000; expected 11 × 50,000 = 550,000; attainment 400/1,050; pace 400/550; gap
  −150,000.
* m2: fact 140,000 (won deals 2, the USD one included); his elapsed days 2–6, 13, 16, 17 = 8 of
  18; expected 8 × 35,000 = 280,000; pace 0.5.
* m3: no plan line → plan, expected, attainment None; fact 10,000.
* m4: plan 343,636.36; fact 0; expected 11 × 16,363.64 = 180,000.04; pace 0.
Calls: m1 plan 210 (10 a day) → expected 110, fact 2; company plan 420 → expected 220, fact 3.

**Re-plan** as of 17 March (10 working days left, none of m2's absent): company (2,100,000 −
550,000) ÷ 10 = 155,000 a day; m1 650,000 ÷ 10 = 65,000; m2 490,000 ÷ 10 = 49,000; m4
343,636.36 ÷ 10 = 34,363.636 a day: 34,363,636 kopecks ÷ 10 = 3,436,363 rem 6 → 18–20, 23–25
March 34,363.64, 26, 27, 30, 31 March 34,363.63.

**Propose** 2026-Q1 from 2025 × 1.1: m1 Jan 110,000, Feb 0 (a lost deal: history, no revenue),
Mar 220,000; m2 Jan 0, Feb 55,000, Mar 0; m3 Jan 33,000. m4 (new, north) = mean of m1 and m2:
55,000, 27,500, 110,000. m5 (new, east has nobody with history) = company mean of m1, m2, m3:
(110,000 + 0 + 33,000)/3 = 47,666.67; 55,000/3 = 18,333.33; 220,000/3 = 73,333.33. Team north
Q1 = 330,000 + 55,000 + 192,500 = 577,500; company Q1 = 330,000 + 55,000 + 33,000 + 192,500 +
139,333.33 = 749,833.33.
"""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from ropilot.connectors.bundle.importer import import_bundle
from ropilot.core.errors import ConfigurationError
from ropilot.core.periods import month, parse_period, year_period
from ropilot.core.plans.cascade import capacity_weights, cascade, children_of, historical_weights
from ropilot.core.plans.models import PlanDocument, make_line
from ropilot.core.plans.progress import explain_progress, progress
from ropilot.core.plans.propose import propose
from ropilot.core.plans.replan import replan, replan_lines
from ropilot.core.plans.seasonal import learned_weights, seasonal_split
from ropilot.core.store import Store

DATA = Path(__file__).parent / "data" / "plans"
MSK = ZoneInfo("Europe/Moscow")
AS_OF = date(2026, 3, 17)
PLAN = PlanDocument(
    "2026",
    (
        make_line("company", "2026-03", "revenue", 2_100_000),
        make_line("manager:m1", "2026-03", "revenue", 1_050_000),
        make_line("manager:m2", "2026-03", "revenue", 630_000),
        make_line("manager:m4", "2026-Q1", "revenue", 900_000),
        make_line("company", "2026-03", "calls", 420),
        make_line("manager:m1", "2026-03", "calls", 210),
    ),
)


@pytest.fixture
def plan_store(store: Store) -> Store:
    import_bundle(store, DATA)
    return store


def test_children(plan_store: Store) -> None:
    assert children_of(plan_store, "k", "company", "team") == [
        "team:east",
        "team:north",
        "team:south",
    ]
    assert children_of(plan_store, "k", "team:north", "manager") == [
        "manager:m1",
        "manager:m2",
        "manager:m4",
    ]  # m6 is an assistant
    with pytest.raises(ConfigurationError, match="cannot cascade"):
        children_of(plan_store, "k", "manager:m1", "team")


def test_historical_share_split(plan_store: Store) -> None:
    kids = children_of(plan_store, "k", "team:north", "manager")
    weights = historical_weights(plan_store, "k", year_period(2025, MSK), kids)
    assert weights == {
        "manager:m1": Decimal(300_000),
        "manager:m2": Decimal(130_000),
        "manager:m4": Decimal(0),
    }
    doc = PlanDocument("p", (make_line("team:north", "2026", "revenue", 1_000_000),))
    out = cascade(doc, "team:north", weights)
    assert [out.get(k, "2026", "revenue") for k in kids] == [
        Decimal("697674.42"),
        Decimal("302325.58"),
        Decimal("0.00"),
    ]
    with pytest.raises(ConfigurationError, match="no history for 'units'"):
        historical_weights(plan_store, "k", year_period(2025, MSK), kids, basis="units")


def test_capacity_split_from_absences(plan_store: Store) -> None:
    kids = ["manager:m1", "manager:m2", "manager:m4"]
    march = month(2026, 3, MSK)
    doc = PlanDocument("p", (make_line("team:north", "2026-03", "revenue", 600_000),))
    out = cascade(doc, "team:north", capacity_weights(plan_store, "k", march, kids))
    assert [out.get(k, "2026-03", "revenue") for k in kids] == [
        Decimal(210_000),
        Decimal(180_000),
        Decimal(210_000),
    ]
    half = capacity_weights(plan_store, "k", march, kids, {"m4": Decimal("0.5")})
    out = cascade(doc, "team:north", half)
    values = [out.get(k, "2026-03", "revenue") for k in kids]
    assert values == [Decimal("254545.45"), Decimal("218181.82"), Decimal("127272.73")]
    assert sum(v for v in values if v is not None) == Decimal(600_000)


def test_learned_seasonality(plan_store: Store) -> None:
    q1 = parse_period("2026-Q1", MSK, today=AS_OF)
    weights = learned_weights(plan_store, "k", q1)
    assert weights == {
        "2026-01": Decimal(1_130_000),
        "2026-02": Decimal(50_000),
        "2026-03": Decimal(200_000),
    }
    rows = seasonal_split(Decimal(1_000_000), q1, "month", weights=weights)
    assert [r.value for r in rows] == [
        Decimal("818840.58"),
        Decimal("36231.88"),
        Decimal("144927.54"),
    ]
    with pytest.raises(ConfigurationError, match="no revenue in the 1 year"):
        learned_weights(plan_store, "k", year_period(2024, MSK))


def test_progress_of_revenue_mid_march(plan_store: Store) -> None:
    rows = progress(plan_store, "k", PLAN, "revenue", "2026-03", AS_OF)
    assert [r.keys for r in rows] == [
        {},
        {"manager": "m1"},
        {"manager": "m2"},
        {"manager": "m3"},
        {"manager": "m4"},
    ]
    company, m1, m2, m3, m4 = rows
    assert (company.plan, company.fact, company.expected) == (2_100_000, 550_000, 1_100_000)
    assert (company.working_days, company.elapsed_working_days) == (21, 11)
    assert company.attainment == Decimal(550_000) / Decimal(2_100_000)
    assert (company.pace, company.gap, company.remaining) == (Decimal("0.5"), -550_000, 1_550_000)
    assert (m1.plan, m1.fact, m1.expected, m1.gap) == (1_050_000, 400_000, 550_000, -150_000)
    assert m1.pace == Decimal(400_000) / Decimal(550_000)
    assert (m2.working_days, m2.elapsed_working_days) == (18, 8)
    assert (m2.plan, m2.fact, m2.expected, m2.pace) == (630_000, 140_000, 280_000, Decimal("0.5"))
    assert m2.days.get(date(2026, 3, 11)) is None  # absent
    assert (m3.plan, m3.expected, m3.attainment, m3.pace, m3.fact) == (
        None,
        None,
        None,
        None,
        10_000,
    )
    assert (m4.plan, m4.fact, m4.expected) == (Decimal("343636.36"), 0, Decimal("180000.04"))
    assert m4.pace == 0


def test_progress_of_won_deals_and_calls(plan_store: Store) -> None:
    plan = PLAN.with_lines([make_line("manager:m2", "2026-03", "won_deals", 4)])
    won = {
        tuple(r.keys.values()): r
        for r in progress(plan_store, "k", plan, "won_deals", "2026-03", AS_OF)
    }
    assert won[("m2",)].fact == 2 and won[("m2",)].attainment == Decimal("0.5")
    assert won[()].plan is None and won[()].fact == 5  # d1, d2 (m1), d5, d6 (m2), d8 (m3)
    calls = progress(plan_store, "k", PLAN, "calls", "2026-03", AS_OF)
    company, m1, m2 = calls
    assert (company.plan, company.expected, company.fact) == (420, 220, 3)
    assert (m1.plan, m1.expected, m1.fact) == (210, 110, 2)
    assert (m2.plan, m2.fact) == (None, 1)
    with pytest.raises(ConfigurationError, match="no fact"):
        progress(plan_store, "k", PLAN, "units", "2026-03", AS_OF)


def test_progress_before_and_after_the_period(plan_store: Store) -> None:
    (company, *_) = progress(plan_store, "k", PLAN, "revenue", "2026-03", date(2026, 2, 20))
    assert (company.fact, company.expected, company.elapsed_working_days) == (0, 0, 0)
    (company, *_) = progress(plan_store, "k", PLAN, "revenue", "2026-03", date(2026, 4, 2))
    assert (company.fact, company.expected) == (620_000, 2_100_000)  # + the 70,000 of 18 March


def test_explain_progress(plan_store: Store) -> None:
    lineage = explain_progress(plan_store, "k", PLAN, "revenue", "2026-03", AS_OF, manager="m1")
    assert [r["id"] for r in lineage.records] == ["d1", "d2"]
    assert [ln.period for ln in lineage.plan_lines] == ["2026-03"]
    assert sum(1 for _, _, elapsed in lineage.days if elapsed) == 11
    m4 = explain_progress(plan_store, "k", PLAN, "revenue", "2026-03", AS_OF, manager="m4")
    assert [ln.period for ln in m4.plan_lines] == ["2026-Q1"]
    calls = explain_progress(plan_store, "k", PLAN, "calls", "2026-03", AS_OF)
    assert sorted(r["id"] for r in calls.records) == ["a1", "a2", "a5"]


def test_replan_mid_month(plan_store: Store) -> None:
    rows = {
        tuple(r.keys.values()): r
        for r in replan(plan_store, "k", PLAN, "revenue", "2026-03", AS_OF)
    }
    assert set(rows) == {(), ("m1",), ("m2",), ("m4",)}  # m3 has no plan
    assert (rows[()].remaining, rows[()].remaining_days, rows[()].per_day) == (
        1_550_000,
        10,
        155_000,
    )
    assert rows[("m1",)].per_day == 65_000
    assert rows[("m2",)].per_day == 49_000
    m4 = rows[("m4",)]
    assert m4.per_day == Decimal("34363.636")
    assert [m4.days[date(2026, 3, d)] for d in (18, 25, 26, 31)] == [
        Decimal("34363.64"),
        Decimal("34363.64"),
        Decimal("34363.63"),
        Decimal("34363.63"),
    ]
    assert sum(m4.days.values()) == Decimal("343636.36")
    # saved as day lines, the re-plan becomes the plan of the remaining days
    replanned = PLAN.with_lines(replan_lines(list(rows.values())))
    (company, *_) = progress(plan_store, "k", replanned, "revenue", "2026-03", date(2026, 3, 18))
    assert company.plan == 2_100_000
    assert company.expected == 550_000 + 155_000  # the elapsed days now carry the fact


def test_propose_from_last_year(plan_store: Store) -> None:
    proposal = propose(plan_store, "k", "2026-Q1", growth=Decimal("1.1"))
    doc = proposal.document
    assert doc.name == "2026-Q1"

    def months(scope: str) -> list[Decimal | None]:
        return [doc.get(scope, m, "revenue") for m in ("2026-01", "2026-02", "2026-03")]

    assert months("manager:m1") == [110_000, 0, 220_000]
    assert months("manager:m2") == [0, 55_000, 0]
    assert months("manager:m3") == [33_000, 0, 0]
    assert months("manager:m4") == [55_000, 27_500, 110_000]
    assert months("manager:m5") == [Decimal("47666.67"), Decimal("18333.33"), Decimal("73333.33")]
    assert doc.get("manager:m6", "2026-01", "revenue") is None  # assistant
    assert proposal.basis[("m1", "revenue")] == "own"
    assert proposal.basis[("m4", "revenue")] == "team average"
    assert proposal.basis[("m5", "revenue")] == "company average"
    assert doc.get("team:north", "2026-Q1", "revenue") == 577_500
    assert doc.get("company", "2026-Q1", "revenue") == Decimal("749833.33")
    with pytest.raises(ConfigurationError, match="no revenue history"):
        propose(plan_store, "k", "2025")
    with pytest.raises(ConfigurationError, match="whole months"):
        propose(plan_store, "k", "2026-W10")
