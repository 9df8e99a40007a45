"""Motivation engine: hand-computed coefficients, bonus, gates, commission and statements.

Tiers everywhere (the reference example's): [0, 150 000) 4 %, [150 000, 250 000) 6 %,
[250 000, ∞) 8 %; tiers are half-open, so 150 000 falls in the 6 % tier.

KPI coefficient, default shape minimum 800 000 → 0, optimal 1 000 000 → 0.5,
maximum 1 200 000 → 1.5 (piecewise linear in the fact):
  800 000 → 0; 1 000 000 → 0.5; 1 200 000 → 1.5; 799 999.99 → 0 (below minimum); 0 → 0;
  900 000 → 0 + 100 000/200 000 × 0.5 = 0.25; 1 100 000 → 0.5 + 100 000/200 000 × 1 = 1;
  5 000 000 → 1.5 (capped).
Custom curve (0, 0), (400, 0.2), (600, 0.8), (1000, 1.2):
  200 → 0 + 200/400 × 0.2 = 0.1; 400 → 0.2; 500 → 0.2 + 100/200 × 0.6 = 0.5;
  800 → 0.8 + 200/400 × 0.4 = 1.0; 1000 → 1.2; 1500 → 1.2 (cap); −5 → 0 (below the first point).
Curve (100, 0.3), (200, 1): 99.99 → 0; 100 → 0.3; 150 → 0.3 + 50/100 × 0.7 = 0.65.
Curve (0, 0), (3, 1): 1 → 1/3 exactly (shown ≈0,333333).

Commission, pure: reference example 145 000 closed, a 20 000 deal: [145 000, 165 000) →
5 000 × 4 % + 15 000 × 6 % = 200 + 900 = 1 100. One 300 000 deal from 0: 150 000 × 4 % +
100 000 × 6 % + 50 000 × 8 % = 6 000 + 6 000 + 4 000 = 16 000 (step: 300 000 × 8 % = 24 000).

Bundle tests/core/data/motivation (account RUB, Europe/Moscow), won deals by manager:
  m1: a0 50 000 on 28 Feb 23:30 MSK; a1 145 000 RUB on 1 Mar 00:30 MSK (28 Feb 21:30 UTC: March
      in the account zone); a2 20 000 on 12 Mar; a3 1 000 USD on 13 Mar (other currency: left out,
      listed); a4 empty amount on 14 Mar (counts as 0); a9 30 000 on 20 Mar (lost on 5 Mar,
      reopened on 6 Mar, won: counts by its final outcome); a7 10 000 on 1 Apr 00:00 MSK.
      Not won: a5 lost 500 000; a6 open; a10 lost then reopened, open now.
  m2: b1 100 000 on 2 Mar; b2 50 000 on 3 Mar (attainment exactly 150 000); b3 120 000 on 20 Mar.
  m3: x9 30 000 and x10 140 000 both on 10 Mar 12:00: the tie breaks by id in byte order,
      "x10" < "x9", so x10 comes first.
  m4: no deals.

m1, March, monthly marginal (a0 is February: not carried): a1 [0, 145 000) → 5 800;
  a2 [145 000, 165 000) → 5 000 × 4 % + 15 000 × 6 % = 1 100; a4 0 → 0;
  a9 [165 000, 195 000) → 30 000 × 6 % = 1 800. Total 8 700.
m1, week 9–15 March, monthly: a1 carries 145 000 (not paid); a2 pays 1 100 (the reference
  example, from the store); a4 0. Total 1 100.
m1, March, quarterly marginal (carried from 1 Jan: a0 50 000): a1 [50 000, 195 000) →
  100 000 × 4 % + 45 000 × 6 % = 4 000 + 2 700 = 6 700; a2 [195 000, 215 000) → 1 200; a4 0;
  a9 [215 000, 245 000) → 1 800. Total 9 700.
m1, March, quarterly step: B_start = 50 000 (4 %), B_end = 245 000 (6 %): deals
  (145 000 + 20 000 + 0 + 30 000) × 6 % = 8 700 + 1 200 + 0 + 1 800 = 11 700, true-up
  50 000 × (6 % − 4 %) = 1 000; total 12 700 (= 245 000 × 6 % − 50 000 × 4 % = 14 700 − 2 000).
m1, February monthly: a0 50 000 × 4 % = 2 000 (a1 at 00:30 MSK on 1 March is not February).
m1, April monthly: a7 10 000 × 4 % = 400.
m2, March: step: 270 000 is in [250 000, ∞) → 270 000 × 8 % = 21 600 (b1 8 000, b2 4 000,
  b3 9 600). Marginal: b1 [0, 100 000) → 4 000; b2 [100 000, 150 000) → 2 000;
  b3 [150 000, 270 000) crosses a tier boundary → 100 000 × 6 % + 20 000 × 8 % = 6 000 + 1 600
  = 7 600. Total 13 600.
m2, 1–19 March: base exactly 150 000: step → 6 % tier → 150 000 × 6 % = 9 000;
  marginal → 100 000 × 4 % + 50 000 × 4 % = 6 000.
m2, 20–31 March (monthly, b1 and b2 carried, 150 000): marginal: b3 → 7 600.
  Step: B_start 150 000 (6 %), B_end 270 000 (8 %): b3 120 000 × 8 % = 9 600 + true-up
  150 000 × (8 % − 6 %) = 3 000 → 12 600 (= 21 600 − 9 000).
m3, March marginal: x10 [0, 140 000) → 5 600; x9 [140 000, 170 000) → 10 000 × 4 % +
  20 000 × 6 % = 400 + 1 200 = 1 600. Total 7 200 (the other order would give 1 200 + 6 000).

Statement (scheme "sales": base bonus 50 000; revenue weight 0.6 on the default shape 800 000 /
1 000 000 / 1 200 000; calls weight 0.4 on the custom curve above; gate data_quality ≥ 0.90;
monthly marginal commission), m1, March, revenue 1 100 000, calls 500:
  revenue 50 000 × 0.6 × 1 = 30 000; calls 50 000 × 0.4 × 0.5 = 10 000; bonus 40 000;
  commission 5 800 + 1 100 + 0 + 1 800 = 8 700; total 48 700.
  data_quality 0.87 < 0.90 (cut 100 % of the bonus): bonus 0, total 8 700.
  Plus gate calls ≥ 550 with cut 30 % failing alone: bonus 40 000 × 0.7 = 28 000
  (21 000 + 7 000), total 36 700; both failing: 130 % capped at 100 % → bonus 0.
  data_quality with applies_to = "all": everything 0.
Rounding at the line level, half-up: 333.33 × 1 × 0.5 = 166.665 → 166.67 (half-even would give
  166.66); 100 × 1 × 1/3 = 33.333… → 33.33; two lines of 0.02 × 0.5 × 0.5 = 0.005 → 0.01 each,
  total 0.02 while the exact total is 0.01; a deal of 1 000.125 × 4 % = 40.005 → 40.01.
"""

from __future__ import annotations

from datetime import UTC, date, datetime
from decimal import Decimal
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from ropilot.connectors.bundle.importer import import_bundle
from ropilot.core.errors import ConfigurationError
from ropilot.core.motivation import (
    CommissionPlan,
    CommissionResult,
    KpiPlan,
    Tier,
    WonDeal,
    build_statement,
    coefficient,
    commission,
    commission_breakdown,
    kpi_coefficient,
    load_schemes,
    marginal_commission,
    marginal_slices,
    parse_schemes,
    payout_statement,
    scheme_for,
    scheme_for_manager,
    step_commission,
    step_tier,
    won_deals,
)
from ropilot.core.periods import Period, month, parse_period
from ropilot.core.store import Store

DATA = Path(__file__).parent / "data" / "motivation"
MSK = ZoneInfo("Europe/Moscow")
D = Decimal
TIERS = (
    Tier(D(0), D(150000), D("0.04")),
    Tier(D(150000), D(250000), D("0.06")),
    Tier(D(250000), None, D("0.08")),
)
MARGINAL = CommissionPlan("marginal", TIERS, "month")
STEP = CommissionPlan("step", TIERS, "month")
DEFAULT = [(D(800000), D(0)), (D(1000000), D("0.5")), (D(1200000), D("1.5"))]
CUSTOM = [(D(0), D(0)), (D(400), D("0.2")), (D(600), D("0.8")), (D(1000), D("1.2"))]

SCHEMES = """
[schemes.sales]
roles = ["manager"]
base_bonus = 50000

[schemes.sales.kpis.revenue]
weight = 0.6
minimum = 800000
optimal = 1000000
maximum = 1200000

[schemes.sales.kpis.calls]
weight = 0.4
points = [[0, 0], [400, 0.2], [600, 0.8], [1000, 1.2]]

[schemes.sales.gates.data_quality]
minimum = 0.90

[schemes.sales.commission]
kind = "marginal"
period = "month"
tiers = [
  { from = 0, to = 150000, rate = "4%" },
  { from = 150000, to = 250000, rate = 0.06 },
  { from = 250000, rate = "8 %" },
]

[schemes.seniors]
roles = ["senior"]
managers = ["m2"]
base_bonus = 10000

[schemes.seniors.kpis.a]
weight = 0.1
points = [[0, 0], [1, 1]]

[schemes.seniors.kpis.b]
weight = 0.2
points = [[0, 0], [1, 1]]

[schemes.seniors.kpis.c]
weight = 0.7
points = [[0, 0], [1, 1]]
"""


def march() -> Period:
    return month(2026, 3, MSK)


def days(text: str) -> Period:
    return parse_period(text, MSK, today=date(2026, 3, 31))


@pytest.fixture
def mstore(store: Store) -> Store:
    import_bundle(store, DATA)
    return store


# --------------------------------------------------------------------------- coefficient


@pytest.mark.parametrize(
    ("fact", "expected"),
    [
        ("800000", "0"),
        ("1000000", "0.5"),
        ("1200000", "1.5"),
        ("799999.99", "0"),
        ("0", "0"),
        ("900000", "0.25"),
        ("1100000", "1"),
        ("5000000", "1.5"),
    ],
)
def test_default_shape(fact: str, expected: str) -> None:
    assert kpi_coefficient(D(fact), DEFAULT) == D(expected)


@pytest.mark.parametrize(
    ("fact", "expected"),
    [("200", "0.1"), ("400", "0.2"), ("500", "0.5"), ("800", "1.0"), ("1000", "1.2"),
     ("1500", "1.2"), ("-5", "0")],
)  # fmt: skip
def test_custom_four_point_curve(fact: str, expected: str) -> None:
    assert kpi_coefficient(D(fact), CUSTOM) == D(expected)


def test_first_point_above_zero_is_a_threshold() -> None:
    curve = [(D(100), D("0.3")), (D(200), D(1))]
    assert kpi_coefficient(D("99.99"), curve) == 0
    assert kpi_coefficient(D(100), curve) == D("0.3")
    assert kpi_coefficient(D(150), curve) == D("0.65")


def test_coefficient_is_exact_and_explains_itself() -> None:
    third = coefficient(D(1), [(D(0), D(0)), (D(3), D(1))])
    assert third.exact.numerator == 1 and third.exact.denominator == 3
    assert third.arithmetic() == "0 + (1 − 0) ÷ (3 − 0) × (1 − 0) = ≈0,333333"
    mid = coefficient(D(1100000), DEFAULT)
    assert mid.arithmetic() == (
        "0,5 + (1 100 000 − 1 000 000) ÷ (1 200 000 − 1 000 000) × (1,5 − 0,5) = 1"
    )
    assert mid.arithmetic("en") == (
        "0.5 + (1,100,000 − 1,000,000) ÷ (1,200,000 − 1,000,000) × (1.5 − 0.5) = 1"
    )
    assert coefficient(D(700000), DEFAULT).arithmetic() == "700 000 < 800 000 (ниже минимума) → 0"
    assert coefficient(D(1300000), DEFAULT).arithmetic("en") == "1,300,000 > 1,200,000 (cap) → 1.5"


def test_a_curve_must_increase() -> None:
    with pytest.raises(ConfigurationError, match="strictly increasing"):
        kpi_coefficient(D(1), [(D(0), D(0)), (D(0), D(1))])


# --------------------------------------------------------------------------- schemes


def test_scheme_file_loads_exactly() -> None:
    schemes = parse_schemes(SCHEMES, "motivation.toml")
    sales = schemes["sales"]
    assert sales.base_bonus == 50000
    assert [(k.name, k.weight) for k in sales.kpis] == [("revenue", D("0.6")), ("calls", D("0.4"))]
    assert sales.kpis[0].levels == KpiPlan(D(800000), D(1000000), D(1200000))
    assert sales.commission is not None
    assert sales.commission.tiers == TIERS  # "4%", 0.06 and "8 %" all read exactly
    assert sales.gates[0].metric == "data_quality" and sales.gates[0].cut == 1
    # 0.1 + 0.2 + 0.7 is exactly 1 in Decimal (as binary floats it is 0.9999999999999999)
    assert sum(k.weight for k in schemes["seniors"].kpis) == 1


def _broken(old: str, new: str) -> str:
    assert old in SCHEMES
    return SCHEMES.replace(old, new, 1)


@pytest.mark.parametrize(
    ("old", "new", "message"),
    [
        (
            "weight = 0.4",
            "weight = 0.3",
            "motivation.toml: key schemes.sales.kpis: weights must sum to exactly 1, "
            "they sum to 0.9 (revenue 0.6 + calls 0.3)",
        ),
        (
            "[[0, 0], [400, 0.2], [600",
            "[[0, 0], [400, 0.2], [400",
            "motivation.toml: key schemes.sales.kpis.calls.points: facts must be strictly "
            "increasing, but 400 follows 400",
        ),
        (
            "{ from = 150000, to = 250000",
            "{ from = 160000, to = 250000",
            "motivation.toml: key schemes.sales.commission.tiers: tier 2 must start where "
            "tier 1 ends (150000), not at 160000",
        ),
        ("rate = 0.06", "rate = 6", "key schemes.sales.commission.tiers.1.rate: rate 6 is above 1"),
        ("optimal = 1000000\n", "", "key schemes.sales.kpis.revenue: `minimum`, `optimal`"),
        (
            "minimum = 0.90",
            "minimun = 0.90",
            "key schemes.sales.gates.data_quality.minimun: unknown",
        ),
        ('managers = ["m2"]', "roles2 = 1", "key schemes.seniors.roles2: unknown key"),
        ("minimum = 0.90", "cut = 1", "key schemes.sales.gates.data_quality: a gate needs"),
    ],
)
def test_scheme_errors_name_file_and_key(old: str, new: str, message: str) -> None:
    with pytest.raises(ConfigurationError) as err:
        parse_schemes(_broken(old, new), "motivation.toml")
    assert message in str(err.value)


def test_role_used_twice_is_refused() -> None:
    text = _broken('roles = ["senior"]', 'roles = ["manager"]')
    with pytest.raises(ConfigurationError, match="role 'manager' is in two schemes"):
        parse_schemes(text, "motivation.toml")


def test_load_schemes_names_the_file(tmp_path: Path) -> None:
    path = tmp_path / "motivation.toml"
    path.write_text(_broken("weight = 0.4", "weight = 0.3"), encoding="utf-8")
    with pytest.raises(ConfigurationError, match=f"{path}: key schemes.sales.kpis"):
        load_schemes(path)
    path.write_text(SCHEMES, encoding="utf-8")
    assert list(load_schemes(path)) == ["sales", "seniors"]
    with pytest.raises(ConfigurationError, match="not found"):
        load_schemes(tmp_path / "missing.toml")


def test_scheme_for_manager_then_role(mstore: Store) -> None:
    schemes = parse_schemes(SCHEMES)
    assert scheme_for(schemes, "m2", "manager").name == "seniors"  # named manager wins
    assert scheme_for(schemes, "m1", "manager").name == "sales"
    assert scheme_for_manager(mstore, "mo", "m3", schemes).name == "seniors"  # role senior
    with pytest.raises(ConfigurationError, match="no motivation scheme"):
        scheme_for(schemes, "zz", "assistant")


# --------------------------------------------------------------------------- commission, pure


def test_reference_marginal_example() -> None:
    slices = marginal_slices(TIERS, D(145000), D(20000))
    assert [(s.base, s.rate, s.commission) for s in slices] == [
        (D(5000), D("0.04"), D(200)),
        (D(15000), D("0.06"), D(900)),
    ]
    assert marginal_commission(TIERS, D(145000), D(20000)) == D(1100)


def test_step_tier_boundaries_are_half_open() -> None:
    assert step_tier(TIERS, D(0)).rate == D("0.04")
    assert step_tier(TIERS, D("149999.99")).rate == D("0.04")
    assert step_tier(TIERS, D(150000)).rate == D("0.06")
    assert step_tier(TIERS, D("249999.99")).rate == D("0.06")
    assert step_tier(TIERS, D(250000)).rate == D("0.08")


def test_one_deal_across_three_tiers() -> None:
    assert marginal_commission(TIERS, D(0), D(300000)) == D(16000)
    assert step_commission(TIERS, D(300000)) == D(24000)


# --------------------------------------------------------------------------- commission, store


def _per_deal(result: CommissionResult) -> list[tuple[str, Decimal, bool]]:
    return [(d.deal.deal_id, d.commission, d.paid) for d in result.deals]


def test_won_deals_selection_and_order(mstore: Store) -> None:
    found = won_deals(mstore, "mo", "m1", march(), "month")
    assert found.start == date(2026, 3, 1)
    assert [d.deal_id for d in found.deals] == ["a1", "a2", "a4", "a9"]
    assert found.deals[0].closed_at == datetime(2026, 2, 28, 21, 30, tzinfo=UTC)
    assert found.deals[2].amount is None and found.deals[2].base == 0
    assert [(d.deal_id, d.amount, d.currency) for d in found.other_currencies] == [
        ("a3", D(1000), "USD")
    ]


def test_marginal_month(mstore: Store) -> None:
    result = commission(mstore, "mo", "m1", march(), MARGINAL)
    assert _per_deal(result) == [
        ("a1", D(5800), True),
        ("a2", D(1100), True),
        ("a4", D(0), True),
        ("a9", D(1800), True),
    ]
    a2 = result.deals[1]
    assert (a2.attainment_before, a2.attainment_after) == (D(145000), D(165000))
    assert [(s.base, s.rate) for s in a2.slices] == [(D(5000), D("0.04")), (D(15000), D("0.06"))]
    assert result.total == D(8700)
    assert [d.deal_id for d in result.other_currencies] == ["a3"]


def test_reference_example_from_the_store(mstore: Store) -> None:
    result = commission(mstore, "mo", "m1", days("2026-03-09..2026-03-15"), MARGINAL)
    assert _per_deal(result) == [("a1", D(5800), False), ("a2", D(1100), True), ("a4", 0, True)]
    assert result.total == D(1100)


def test_quarter_carries_attainment(mstore: Store) -> None:
    marginal = commission(mstore, "mo", "m1", march(), CommissionPlan("marginal", TIERS, "quarter"))
    assert [(d.deal.deal_id, d.commission) for d in marginal.paid] == [
        ("a1", D(6700)),
        ("a2", D(1200)),
        ("a4", D(0)),
        ("a9", D(1800)),
    ]
    assert (marginal.deals[0].deal.deal_id, marginal.deals[0].paid) == ("a0", False)
    assert marginal.total == D(9700)
    step = commission(mstore, "mo", "m1", march(), CommissionPlan("step", TIERS, "quarter"))
    assert [a.amount for a in step.adjustments] == [D(1000)]
    assert sum(d.commission for d in step.paid) == D(11700)
    assert step.total == D(12700)


def test_month_boundaries_in_the_account_zone(mstore: Store) -> None:
    feb = commission(mstore, "mo", "m1", month(2026, 2, MSK), MARGINAL)
    assert _per_deal(feb) == [("a0", D(2000), True)]
    april = commission(mstore, "mo", "m1", month(2026, 4, MSK), MARGINAL)
    assert _per_deal(april) == [("a7", D(400), True)]


def test_step_versus_marginal_on_the_same_deals(mstore: Store) -> None:
    step = commission(mstore, "mo", "m2", march(), STEP)
    assert _per_deal(step) == [("b1", D(8000), True), ("b2", D(4000), True), ("b3", D(9600), True)]
    assert step.total == D(21600)
    marginal = commission(mstore, "mo", "m2", march(), MARGINAL)
    assert _per_deal(marginal) == [
        ("b1", D(4000), True),
        ("b2", D(2000), True),
        ("b3", D(7600), True),
    ]
    b3 = marginal.deals[2].slices
    assert [(s.base, s.rate) for s in b3] == [(D(100000), D("0.06")), (D(20000), D("0.08"))]
    assert marginal.total == D(13600)


def test_base_exactly_on_the_boundary(mstore: Store) -> None:
    first = days("2026-03-01..2026-03-19")
    assert commission(mstore, "mo", "m2", first, STEP).total == D(9000)  # 150 000 × 6 %
    assert commission(mstore, "mo", "m2", first, MARGINAL).total == D(6000)


def test_step_true_up_when_attainment_is_carried(mstore: Store) -> None:
    last = days("2026-03-20..2026-03-31")
    step = commission(mstore, "mo", "m2", last, STEP)
    assert [(d.deal.deal_id, d.commission) for d in step.paid] == [("b3", D(9600))]
    (adj,) = step.adjustments
    assert (adj.carried_base, adj.old_rate, adj.new_rate, adj.amount) == (
        D(150000),
        D("0.06"),
        D("0.08"),
        D(3000),
    )
    assert step.total == D(12600)
    assert commission(mstore, "mo", "m2", last, MARGINAL).total == D(7600)


def test_ties_in_closed_at_break_by_id(mstore: Store) -> None:
    result = commission(mstore, "mo", "m3", march(), MARGINAL)
    assert _per_deal(result) == [("x10", D(5600), True), ("x9", D(1600), True)]
    assert result.total == D(7200)


def test_manager_without_deals(mstore: Store) -> None:
    result = commission(mstore, "mo", "m4", march(), MARGINAL)
    assert (result.deals, result.other_currencies, result.total) == ((), (), D(0))


# --------------------------------------------------------------------------- statements


FACTS = {"revenue": D(1100000), "calls": D(500)}


def test_statement(mstore: Store) -> None:
    scheme = parse_schemes(SCHEMES)["sales"]
    st = payout_statement(
        mstore, "mo", "m1", march(), scheme, FACTS, gate_values={"data_quality": D("0.95")}
    )
    assert [(ln.kind, ln.ref, ln.amount) for ln in st.lines] == [
        ("bonus", "revenue", D("30000.00")),
        ("bonus", "calls", D("10000.00")),
        ("commission", "a1", D("5800.00")),
        ("commission", "a2", D("1100.00")),
        ("commission", "a4", D("0.00")),
        ("commission", "a9", D("1800.00")),
    ]
    assert (st.bonus_total, st.commission_total, st.total) == (D(40000), D(8700), D(48700))
    assert st.lines[0].arithmetic == (
        "50 000,00 × 0,6 × 1 = 30 000,00 (коэффициент: 0,5 + (1 100 000 − 1 000 000) ÷ "
        "(1 200 000 − 1 000 000) × (1,5 − 0,5) = 1)"
    )
    assert st.lines[3].arithmetic == "5 000,00 × 4 % + 15 000,00 × 6 % = 1 100,00"
    assert st.lines[3].label == "Комиссия: сделка a2 (20 000,00, закрыта 2026-03-12)"
    assert st.lines[2].label.endswith("закрыта 2026-03-01)")  # 00:30 MSK, still February in UTC
    assert [k.coefficient for k in st.kpis] == [D(1), D("0.5")]
    assert st.gates[0].passed and st.gates[0].note == "data_quality = 0,95, нужно ≥ 0,9: пройден"
    data = st.to_dict()
    assert data["totals"] == {
        "bonus": "40000.00",
        "commission": "8700.00",
        "total": "48700.00",
        "exact_total": "48700",  # exact, not rounded: no trailing places
    }
    assert data["lines"][3]["amount"] == "1100.00"
    assert data["other_currency_deals"] == [
        {"deal_id": "a3", "closed_at": "2026-03-13T07:00:00+00:00", "amount": "1000.00",
         "currency": "USD"}
    ]  # fmt: skip
    a2 = data["commission"]["deals"][1]
    assert [(s["base"], s["rate"], s["commission"]) for s in a2["slices"]] == [
        ("5000.00", "0.04", "200.0000"),
        ("15000.00", "0.06", "900.0000"),
    ]


def test_english_formatting(mstore: Store) -> None:
    scheme = parse_schemes(SCHEMES)["sales"]
    st = payout_statement(
        mstore,
        "mo",
        "m1",
        days("2026-03-09..2026-03-15"),
        scheme,
        FACTS,
        gate_values={"data_quality": D("0.95")},
        lang="en",
    )
    commission_lines = [ln for ln in st.lines if ln.kind == "commission"]
    assert [ln.ref for ln in commission_lines] == ["a2", "a4"]  # a1 only carries attainment
    assert commission_lines[0].arithmetic == "5,000.00 × 4% + 15,000.00 × 6% = 1,100.00"
    assert commission_lines[0].label == "Commission: deal a2 (20,000.00, closed 2026-03-12)"
    assert st.total == D(41100)


def test_failing_gate_zeroes_the_bonus(mstore: Store) -> None:
    scheme = parse_schemes(SCHEMES)["sales"]
    st = payout_statement(
        mstore, "mo", "m1", march(), scheme, FACTS, gate_values={"data_quality": D("0.87")}
    )
    assert (st.bonus_cut, st.bonus_total, st.commission_total, st.total) == (
        D(1),
        D(0),
        D(8700),
        D(8700),
    )
    assert st.lines[0].arithmetic.startswith("50 000,00 × 0,6 × 1 × (1 − 100 %) = 0,00")
    assert st.gates[0].note == (
        "data_quality = 0,87, нужно ≥ 0,9: не пройден, снимается 100 % премии"
    )


def test_partial_and_combined_gates(mstore: Store) -> None:
    text = SCHEMES.replace(
        "[schemes.sales.commission]",
        '[schemes.sales.gates.calls_floor]\nmetric = "calls"\nminimum = 550\ncut = "30%"\n\n'
        "[schemes.sales.commission]",
    )
    scheme = parse_schemes(text)["sales"]
    ok = {"data_quality": D("0.95")}
    st = payout_statement(mstore, "mo", "m1", march(), scheme, FACTS, gate_values=ok)
    assert [ln.amount for ln in st.lines if ln.kind == "bonus"] == [D(21000), D(7000)]
    assert (st.bonus_cut, st.total) == (D("0.3"), D(36700))
    bad = {"data_quality": D("0.5")}
    st = payout_statement(mstore, "mo", "m1", march(), scheme, FACTS, gate_values=bad)
    assert (st.bonus_cut, st.bonus_total, st.total) == (D(1), D(0), D(8700))


def test_gate_on_everything(mstore: Store) -> None:
    text = SCHEMES.replace("minimum = 0.90", 'minimum = 0.90\napplies_to = "all"')
    scheme = parse_schemes(text)["sales"]
    bad = {"data_quality": D("0.89")}
    st = payout_statement(mstore, "mo", "m1", march(), scheme, FACTS, gate_values=bad)
    assert (st.commission_cut, st.total) == (D(1), D(0))
    assert st.lines[3].arithmetic == "(5 000,00 × 4 % + 15 000,00 × 6 %) × (1 − 100 %) = 0,00"


def test_plan_given_to_the_statement() -> None:
    text = """
[schemes.s]
base_bonus = 1000
[schemes.s.kpis.revenue]
weight = 1
"""
    scheme = parse_schemes(text)["s"]
    plan = {"revenue": KpiPlan(D(800000), D(1000000), D(1200000))}
    st = build_statement(scheme, "m1", march(), {"revenue": D(900000)}, plans=plan)
    assert (st.kpis[0].coefficient, st.kpis[0].points_from, st.total) == (D("0.25"), "plan", D(250))
    with pytest.raises(ConfigurationError, match="KPI 'revenue' has no plan"):
        build_statement(scheme, "m1", march(), {"revenue": D(900000)})
    with pytest.raises(ConfigurationError, match="no fact for KPI 'revenue'"):
        build_statement(scheme, "m1", march(), {}, plans=plan)


def test_rounding_only_at_the_line_level() -> None:
    half = parse_schemes(
        "[schemes.s]\nbase_bonus = 333.33\n[schemes.s.kpis.k]\nweight = 1\npoints = [[0, 0], [1, 1]]"
    )["s"]
    st = build_statement(half, "m", march(), {"k": D("0.5")})
    assert (st.lines[0].exact, st.lines[0].amount) == (D("166.665"), D("166.67"))
    third = parse_schemes(
        "[schemes.s]\nbase_bonus = 100\n[schemes.s.kpis.k]\nweight = 1\npoints = [[0, 0], [3, 1]]"
    )["s"]
    st = build_statement(third, "m", march(), {"k": D(1)})
    assert st.lines[0].amount == D("33.33")
    assert st.lines[0].arithmetic.startswith("100,00 × 1 × ≈0,333333 = 33,33")
    tiny = parse_schemes(
        "[schemes.s]\nbase_bonus = 0.02\n"
        "[schemes.s.kpis.a]\nweight = 0.5\npoints = [[0, 0], [2, 1]]\n"
        "[schemes.s.kpis.b]\nweight = 0.5\npoints = [[0, 0], [2, 1]]\n"
    )["s"]
    st = build_statement(tiny, "m", march(), {"a": D(1), "b": D(1)})
    assert [ln.amount for ln in st.lines] == [D("0.01"), D("0.01")]
    assert (st.total, st.exact_total) == (D("0.02"), D("0.01"))


def test_commission_line_rounds_half_up() -> None:
    deal = WonDeal("z", datetime(2026, 3, 5, 9, tzinfo=UTC), D("1000.125"), None)
    result = commission_breakdown(MARGINAL, march(), [deal])
    scheme = parse_schemes(
        '[schemes.s]\n[schemes.s.commission]\nkind = "marginal"\n'
        'tiers = [{from = 0, to = 150000, rate = "4%"}, {from = 150000, rate = "6%"}]'
    )["s"]
    st = build_statement(scheme, "m", march(), {}, commission_result=result)
    (line,) = st.lines
    assert (line.exact, line.amount) == (D("40.005"), D("40.01"))
    assert line.arithmetic == "1 000,125 × 4 % = 40,01"
