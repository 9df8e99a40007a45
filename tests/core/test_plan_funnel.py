"""Reverse funnel of plans on hand-computed data (tests/core/data/plan_funnel), SQLite + PostgreSQL.

Reference example (sales_definitions.md): 5,000,000 ÷ 200,000 = 25 won; 25 ÷ 0.3 = 250/3 = 83.3
offers; 250/3 ÷ 0.6 = 1250/9 = 138.9 meetings; 1250/9 ÷ 0.1 = 12500/9 = 1,388.9 calls → 1,389.
May 2026 has 19 working days (31 days − 10 weekend days − 1 May (Fri) − 11 May (Mon, for
Saturday 9 May)): 12500/9 ÷ 19 = 12500/171 = 73.1 calls a day → 74.

History W = April 2026 (Moscow). Won in W: w1 m1 100,000 (24 Mar 10:00 → 1 Apr 10:00, 8 d),
w2 m2 200,000 RUB (10 d), w3 m2 1,000 USD (11 d), w4 m3 empty amount (20 d). Outside: w5 (31 Mar
23:30), w6 (1 May 00:00), l1 lost, o1 open (lost and reopened). Median cycle = (10 + 11) ÷ 2 =
10.5 days → 11 (half up), so activities count in [21 Mar, 20 Apr): a101 call at 21 Mar 00:00 is
in, a111 at 20 Mar 23:59:59 out, a124 meeting at 19 Apr 23:59:59 in, a133 offer at 20 Apr 00:00
out; e-mails and presales never count.

Counts (calls, meetings, offers; won, won in RUB, revenue in RUB):
    m1 north 10, 4, 2; 1, 1, 100,000      m2 north 6, 2, 2; 2, 1, 200,000
    m3 south  4, 2, 1; 1, 1, 0            m4 north, m5 (no team): nothing
    north 16, 6, 4; 3, 2, 300,000          company 20, 8, 5; 4, 3, 300,000

Company (raw): offer→won 4/5, meeting→offer 5/8, call→meeting 8/20 = 2/5; check 300,000/3 =
100,000. Teams, k = 20 towards the company:
    north: (3 + 20·4/5)/(4 + 20) = 19/24; (4 + 20·5/8)/(6 + 20) = 16.5/26 = 33/52;
           (6 + 20·2/5)/(16 + 20) = 14/36 = 7/18
    south: (1 + 16)/(1 + 20) = 17/21;     (1 + 12.5)/(2 + 20) = 27/44;  (2 + 8)/(4 + 20) = 5/12
Managers, k = 20 towards their team:
    m1: (1 + 20·19/24)/(2 + 20) = (101/6)/22 = 101/132; (2 + 20·33/52)/(4 + 20) = (191/13)/24
        = 191/312; (4 + 20·7/18)/(10 + 20) = (106/9)/30 = 53/135
    m3: (1 + 20·17/21)/(1 + 20) = (361/21)/21 = 361/441; (1 + 20·27/44)/(2 + 20) = (146/11)/22
        = 73/121; (2 + 20·5/12)/(4 + 20) = (31/3)/24 = 31/72
    m4 (no history): the team's 19/24, 33/52, 7/18;  m5 (no team): the company's.
Average check, k = 5: north (300,000 + 5·100,000)/(2 + 5) = 800,000/7; south (0 + 500,000)/(1 +
5) = 250,000/3; m1 (100,000 + 5·800,000/7)/6 = (4,700,000/7)/6 = 2,350,000/21; m3 (0 + 5·
250,000/3)/6 = 625,000/9; m4 800,000/7.

Company plan 5,000,000 for May: 50 won → 50 ÷ 4/5 = 62.5 offers → 62.5 ÷ 5/8 = 100 meetings →
100 ÷ 2/5 = 250 calls → 250/19 = 13.16 a day → 14. Headcount at 5 calls a day: 250/19 ÷ 5 =
50/19 = 2.63 → 3; at 13 calls: 250/247 = 1.01 → 2.

m4 (absent 12–14 May, Tue–Thu: 19 − 3 = 16 working days), 800,000: 800,000 ÷ 800,000/7 = 7 won →
7 ÷ 19/24 = 168/19 offers → ÷ 33/52 = 2912/209 meetings → ÷ 7/18 = 7488/209 = 35.8 calls → 36 →
7488/209 ÷ 16 = 468/209 = 2.24 a day → 3.

Shift 10 days instead: [22 Mar, 21 Apr): m1 loses a101 (9 calls), gains a133 (3 offers).
June 2025 without shift: m1 3 calls, 1 meeting, 0 offers, w0 won 50,000: offer→won has no offers
anywhere → None; meeting→offer 0 of 1 → 0 → None. January 2026 without shift: m2 won w7, w8 on
one offer (a231): company 2/1, north (2 + 20·2)/21 = 2, m2 (2 + 20·2)/21 = 2 → clamped to 1.
"""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from fractions import Fraction as F
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from ropilot.connectors.bundle.importer import import_bundle
from ropilot.core.calendar import count_working_days
from ropilot.core.errors import ConfigurationError
from ropilot.core.periods import month
from ropilot.core.plan_funnel import (
    FunnelHistory,
    explain_activities,
    explain_won,
    feasibility,
    funnel_history,
    headcount,
    load,
    manager_plan_funnels,
    needed_headcount,
    plan_funnel,
    reverse_funnel,
)
from ropilot.core.store import Store

DATA = Path(__file__).parent / "data" / "plan_funnel"
MSK = ZoneInfo("Europe/Moscow")
APRIL = month(2026, 4, MSK)
MAY = month(2026, 5, MSK)


@pytest.fixture
def fstore(store: Store) -> Store:
    import_bundle(store, DATA)
    return store


@pytest.fixture
def april(fstore: Store) -> FunnelHistory:
    return funnel_history(fstore, "f", APRIL)


def rates(plan_or_convs: object) -> tuple[F | None, ...]:
    convs = getattr(plan_or_convs, "conversions", plan_or_convs)
    assert isinstance(convs, dict)
    return tuple(convs[s].rate for s in ("offer_won", "meeting_offer", "call_meeting"))


# -- pure -------------------------------------------------------------------------------------


def test_reference_example_exactly() -> None:
    f = reverse_funnel(5_000_000, 200_000, Decimal("0.3"), Decimal("0.6"), Decimal("0.1"), 19)
    assert [s.exact for s in f.steps[:4]] == [F(25), F(250, 3), F(1250, 9), F(12500, 9)]
    assert [s.approx for s in f.steps[:4]] == [
        Decimal("25.0"),
        Decimal("83.3"),
        Decimal("138.9"),
        Decimal("1388.9"),
    ]
    assert [s.display for s in f.steps[:4]] == [25, 84, 139, 1389]
    assert f.calls_per_day.exact == F(12500, 171)
    assert f.calls_per_day.display == 74
    assert f.complete


def test_missing_inputs_and_bad_inputs() -> None:
    f = reverse_funnel(1000, 100, None, Decimal("0.5"), Decimal("0.5"), 0)
    assert f.won.exact == 10
    assert f.offers.exact is None and f.offers.reason == "conversion offer→won not given"
    assert f.calls.reason == "conversion offer→won not given"
    g = reverse_funnel(1000, 100, 1, 1, 1, 0)
    assert g.calls.exact == 10
    assert g.calls_per_day.exact is None and "no working days" in (g.calls_per_day.reason or "")
    with pytest.raises(ConfigurationError, match=r"0.3 for 30 %"):
        reverse_funnel(1000, 100, 30, 1, 1, 5)
    with pytest.raises(ConfigurationError, match="outside"):
        reverse_funnel(1000, 100, 0, 1, 1, 5)
    with pytest.raises(ConfigurationError, match="average check"):
        reverse_funnel(1000, 0, 1, 1, 1, 5)


def test_headcount_and_load_round_up() -> None:
    """600 calls over 20 days = 30 a day: norm 30 → exactly 1 (not 2); norm 29 → 30/29 → 2;
    load 30/29 = 103.4 % → 104 %; against 40: 30/40 = 75 %, within the norm."""
    f = reverse_funnel(600, 1, 1, 1, 1, 20)
    assert f.calls_per_day.exact == 30
    (exact,) = headcount(f, {"calls": 30})
    assert (exact.exact, exact.display) == (F(1), 1)
    (over,) = headcount(f, {"calls": 29})
    assert (over.exact, over.display) == (F(30, 29), 2)
    (ld,) = load(f, {"calls": 29})
    assert (ld.ratio, ld.percent, ld.over_norm) == (F(30, 29), 104, True)
    (under,) = load(f, {"calls": 40})
    assert (under.percent, under.over_norm) == (75, False)
    with pytest.raises(ConfigurationError, match="positive"):
        headcount(f, {"calls": 0})
    with pytest.raises(ConfigurationError, match="calls, meetings or offers"):
        headcount(f, {"emails": 3})


def test_feasibility() -> None:
    """22 % → required 1/0.22 = 50/11 = 4.5454… → 4.55×. Pipeline 4,000,000 for 1,000,000 left:
    actual 4 → short by 50/11 − 4 = 6/11 (0.55×), i.e. 1,000,000·50/11 − 4,000,000 = 6,000,000/11
    = 545,454.5454… → 545,454.55 of pipeline. 5,000,000 of pipeline → 5 ≥ 4.55 → ok."""
    short = feasibility(Decimal("0.22"), Decimal(4_000_000), Decimal(1_000_000))
    assert (short.required, short.actual) == (F(50, 11), F(4))
    assert (short.required_display, short.actual_display) == (Decimal("4.55"), Decimal("4.00"))
    assert short.verdict == "short"
    assert (short.short_by, short.short_by_amount) == (F(6, 11), F(6_000_000, 11))
    assert str(short) == "short by 0.55× (545454.55 of pipeline)"
    ok = feasibility(Decimal("0.22"), Decimal(5_000_000), Decimal(1_000_000))
    assert (ok.verdict, ok.actual, str(ok)) == ("ok", F(5), "ok")
    met = feasibility(Decimal("0.22"), Decimal(0), Decimal(0))
    assert (met.verdict, met.actual, met.reason) == ("ok", None, "the plan is already met")
    unknown = feasibility(None, Decimal(10), Decimal(10))
    assert unknown.verdict == "unknown" and unknown.required is None
    assert feasibility(0, Decimal(10), Decimal(10)).verdict == "unknown"


# -- store-backed ---------------------------------------------------------------------------


def test_may_2026_has_19_working_days() -> None:
    assert count_working_days(date(2026, 5, 1), date(2026, 6, 1)) == 19


def test_cycle_shift_from_the_median(april: FunnelHistory, fstore: Store) -> None:
    assert april.cycle_days == 11
    assert "10.5 days → 11" in april.cycle_source
    assert (april.activity_window.first_day, april.activity_window.end_day) == (
        date(2026, 3, 21),
        date(2026, 4, 20),
    )
    calls = explain_activities(fstore, april, {"manager": "m1", "type": "call"})
    ids = [a.activity_id for a in calls]
    assert ids[0] == "a101" and "a111" not in ids and len(ids) == 10
    offers = [a.activity_id for a in explain_activities(fstore, april, {"manager": "m1"})]
    assert "a124" in offers and "a133" not in offers and "a141" not in offers
    convs = april.conversions(manager="m1")
    assert (convs["call_meeting"].own_n, convs["offer_won"].own_n) == (10, 2)
    company = explain_activities(fstore, april)
    assert len(company) == 20 + 8 + 5


def test_shift_by_ten_days_moves_the_window(fstore: Store) -> None:
    h = funnel_history(fstore, "f", APRIL, cycle_days=10)
    assert (h.activity_window.first_day, h.cycle_source) == (date(2026, 3, 22), "given")
    c = h.conversions(manager="m1")
    assert c["call_meeting"].own is not None and c["call_meeting"].own.trials == 9  # a101 out
    assert c["offer_won"].own is not None and c["offer_won"].own.trials == 3  # a133 in
    ids = [a.activity_id for a in explain_activities(fstore, h, {"manager": "m1", "type": "offer"})]
    assert ids == ["a131", "a132", "a133"]


def test_company_plan_and_headcount(april: FunnelHistory) -> None:
    plan = plan_funnel(april, MAY, 5_000_000)
    assert plan.keys == {}
    assert rates(plan) == (F(4, 5), F(5, 8), F(2, 5))
    assert plan.average_check.value == 100_000
    assert plan.working_days == 19
    f = plan.funnel
    assert [s.exact for s in f.steps] == [F(50), F(125, 2), F(100), F(250), F(250, 19)]
    assert f.calls_per_day.display == 14
    lines = headcount(f, {"calls": 5, "meetings": 2})
    assert [(h.exact, h.display) for h in lines] == [(F(50, 19), 3), (F(50, 19), 3)]
    assert needed_headcount(lines) == 3
    (tight,) = headcount(f, {"calls": 13})
    assert (tight.exact, tight.display) == (F(250, 247), 2)


def test_team_rates_shrunk_to_the_company(april: FunnelHistory) -> None:
    north = plan_funnel(april, MAY, 800_000, team="north")
    assert rates(north) == (F(19, 24), F(33, 52), F(7, 18))
    assert north.average_check.value == F(800_000, 7)
    south = april.conversions(team="south")
    assert rates(south) == (F(17, 21), F(27, 44), F(5, 12))
    assert april.average_check(team="south").value == F(250_000, 3)
    with pytest.raises(ConfigurationError, match="team 'west'"):
        april.conversions(team="west")


def test_manager_without_history_gets_the_team_rate_and_absences(april: FunnelHistory) -> None:
    plan = plan_funnel(april, MAY, 800_000, manager="m4")
    assert rates(plan) == (F(19, 24), F(33, 52), F(7, 18))
    ow = plan.conversions["offer_won"]
    assert (ow.level, ow.own_n, ow.own_rate, ow.team_rate, ow.shrunk) == (
        "manager",
        0,
        None,
        F(19, 24),
        F(19, 24),
    )
    assert plan.average_check.value == F(800_000, 7)
    assert (plan.working_days, plan.absent_days) == (16, 3)
    f = plan.funnel
    assert [s.exact for s in f.steps] == [
        F(7),
        F(168, 19),
        F(2912, 209),
        F(7488, 209),
        F(468, 209),
    ]
    assert (f.calls.display, f.calls_per_day.display) == (36, 3)
    # no team: the company's rates and check
    m5 = plan_funnel(april, MAY, 100_000, manager="m5")
    assert rates(m5) == (F(4, 5), F(5, 8), F(2, 5))
    assert m5.conversions["offer_won"].team_rate is None
    assert m5.average_check.value == 100_000


def test_small_sample_manager_is_shrunk(april: FunnelHistory) -> None:
    m3 = april.conversions(manager="m3")
    assert rates(m3) == (F(361, 441), F(73, 121), F(31, 72))
    ow = m3["offer_won"]
    assert (ow.own_n, ow.own_rate, ow.team_rate, ow.company_rate) == (1, F(1), F(17, 21), F(4, 5))
    assert ow.prior_strength == 20 and ow.percent == Decimal("81.9")  # 0.81859…
    assert april.average_check(manager="m3").value == F(625_000, 9)
    m1 = april.conversions(manager="m1")
    assert rates(m1) == (F(101, 132), F(191, 312), F(53, 135))
    assert april.average_check(manager="m1").value == F(2_350_000, 21)
    raw = april.conversions(manager="m1", k=0)  # no shrinkage: the own rates
    assert rates(raw) == (F(1, 2), F(1, 2), F(2, 5))


def test_many_managers_and_load(april: FunnelHistory) -> None:
    """m1 with a given check of 100,000 and 1,000,000: 10 won → 10·132/101 = 1320/101 offers →
    ·312/191 = 411,840/19,291 meetings → ·135/53 = 55,598,400/1,022,423 = 54.38 calls → 55;
    ÷ 19 working days = 55,598,400/19,426,037 = 2.862 a day; load vs a norm of 2 a day:
    55,598,400/38,852,074 = 1.431 → 143.1 % → 144 % (rounded up)."""
    plans = manager_plan_funnels(
        april, MAY, {"m4": 800_000, "m1": 1_000_000}, average_check=100_000
    )
    assert [p.keys["manager"] for p in plans] == ["m1", "m4"]
    m1 = plans[0]
    assert m1.average_check.level == "given"
    assert m1.funnel.calls.exact == F(55_598_400, 1_022_423)
    assert m1.funnel.calls.display == 55
    (ld,) = load(m1.funnel, {"calls": 2})
    assert ld.ratio == F(55_598_400, 38_852_074)
    assert (ld.percent, ld.over_norm) == (144, True)


def test_zero_offers_gives_none_with_a_reason(fstore: Store) -> None:
    june = funnel_history(fstore, "f", month(2025, 6, MSK), cycle_days=0)
    plan = plan_funnel(june, MAY, 100_000, manager="m1")
    ow, mo, cm = (plan.conversions[s] for s in ("offer_won", "meeting_offer", "call_meeting"))
    assert ow.rate is None and ow.company is not None and ow.company.trials == 0
    assert ow.reason is not None and "offer→won cannot be computed: no offers" in ow.reason
    assert mo.rate is None and mo.reason is not None and "meeting→offer is 0" in mo.reason
    assert cm.rate == F(1, 3)  # 1 of 3 everywhere: shrinking towards 1/3 keeps 1/3
    f = plan.funnel
    assert f.won.exact == 2  # check 50,000 from w0
    assert f.offers.exact is None and f.offers.reason == ow.reason
    assert f.calls.exact is None and f.calls_per_day.exact is None and not f.complete


def test_rate_above_one_is_clamped(fstore: Store) -> None:
    jan = funnel_history(fstore, "f", month(2026, 1, MSK), cycle_days=0)
    ow = jan.conversions(manager="m2")["offer_won"]
    assert (ow.shrunk, ow.rate, ow.clamped) == (F(2), F(1), True)
    assert jan.conversions()["call_meeting"].rate is None  # 0 meetings of 1 call


def test_no_won_deals_no_shift(fstore: Store) -> None:
    h = funnel_history(fstore, "f", month(2025, 1, MSK))
    assert h.cycle_days == 0 and "not shifted" in h.cycle_source
    plan = plan_funnel(h, MAY, 1000)
    assert plan.average_check.value is None
    assert plan.funnel.won.reason is not None and "no deal won" in plan.funnel.won.reason


def test_won_lineage(april: FunnelHistory, fstore: Store) -> None:
    m2 = explain_won(fstore, april, {"manager": "m2"})
    assert [(d.deal_id, d.in_account_currency) for d in m2] == [("w2", True), ("w3", False)]
    assert [d.deal_id for d in explain_won(fstore, april)] == ["w1", "w2", "w3", "w4"]
    assert [d.deal_id for d in explain_won(fstore, april, {"team": "north"})] == [
        "w1",
        "w2",
        "w3",
    ]


def test_errors(april: FunnelHistory) -> None:
    with pytest.raises(ConfigurationError, match="not in account"):
        plan_funnel(april, MAY, 1, manager="nobody")
    with pytest.raises(ConfigurationError, match="not both"):
        plan_funnel(april, MAY, 1, manager="m1", team="north")
    with pytest.raises(ConfigurationError, match="must not be negative"):
        april.conversions(k=-1)
