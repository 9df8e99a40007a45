"""Plan lines, TOML and CSV files: round trips and errors that name the file, line/key and fault.

The document used: company 2026 revenue 120,000,000.00 and won deals 600; team:north 2026-Q1
revenue 30,000,000.50; manager:m1 2026-03 calls 1,388.8889 (a count carried to 1e-4, shown
rounded up as 1,389, the reverse-funnel rule); a cost (salaries 500,000 in 2026-01) and a
one-time cost (CRM licence 120,000 in 2026-01).
"""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

import pytest

from ropilot.core.errors import ConfigurationError
from ropilot.core.plans.files import (
    PlanFileError,
    parse_csv,
    parse_toml,
    read_csv,
    read_toml,
    to_csv,
    to_toml,
    write_csv,
    write_toml,
)
from ropilot.core.plans.models import PlanDocument, display_value, make_line

DOC = PlanDocument(
    "2026",
    (
        make_line("company", "2026", "revenue", "120000000.00"),
        make_line("company", "2026", "won_deals", 600),
        make_line("team:north", "2026-q1", "revenue", "30000000.50"),
        make_line("manager:m1", "2026-03", "calls", "1388.8889"),
        make_line("company", "2026-01", "cost:salaries", 500000),
        make_line("company", "2026-01", "one_time_cost:crm licence", 120000),
    ),
)


def test_lines_are_normalised_and_display_rounds_counts_up() -> None:
    assert DOC.get("team:north", "2026-Q1", "revenue") == Decimal("30000000.50")
    assert [x.metric for x in DOC.costs] == ["cost:salaries", "one_time_cost:crm licence"]
    assert display_value("calls", Decimal("1388.8889")) == 1389
    assert display_value("revenue", Decimal("10.5")) == Decimal("10.50")


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("boss", "2026", "revenue", 1), "scope 'boss'"),
        (("company", "2026-13", "revenue", 1), "period '2026-13'"),
        (("company", "this-month", "revenue", 1), "period 'this-month'"),
        (("company", "2026", "profit", 1), "unknown metric 'profit'"),
        (("company", "2026", "revenue", -1), "negative"),
        (("company", "2026", "revenue", "1.005"), "kopeck"),
        (("company", "2026", "calls", "1.00001"), "4 places"),
        (("company", "2026", "calls", "many"), "not a number"),
    ],
)
def test_bad_lines_are_refused(args: tuple[str, str, str, object], message: str) -> None:
    with pytest.raises(ConfigurationError, match=message):
        make_line(*args)  # type: ignore[arg-type]


def test_duplicate_lines_in_a_document_are_refused() -> None:
    line = make_line("company", "2026", "revenue", 1)
    with pytest.raises(ConfigurationError, match="two values"):
        PlanDocument("x", (line, line))


def test_toml_round_trip(tmp_path: Path) -> None:
    text = to_toml(DOC)
    assert '[team.north."2026-Q1"]' in text
    assert '[company."2026-01".one_time_costs]' in text
    assert parse_toml(text) == DOC
    write_toml(DOC, tmp_path / "plan.toml")
    assert read_toml(tmp_path / "plan.toml") == DOC


def test_toml_reads_hand_written_nested_form() -> None:
    doc = parse_toml(
        """
        name = "2026"
        [company."2026"]
        revenue = 1000.10          # a TOML float read as an exact decimal
        [manager.m1."2026-03"]
        calls = 400
        costs = { phone = "1500.50" }
        """
    )
    assert doc.get("company", "2026", "revenue") == Decimal("1000.10")
    assert doc.get("manager:m1", "2026-03", "calls") == 400
    assert doc.get("manager:m1", "2026-03", "cost:phone") == Decimal("1500.50")


def test_toml_errors_name_the_key_and_are_all_reported() -> None:
    with pytest.raises(PlanFileError) as err:
        parse_toml(
            """
            name = "2026"
            [company."2026-13"]
            revenue = 1
            [manager.m1."2026-03"]
            profit = 5
            calls = -3
            won_deals = true
            [colour]
            x = 1
            """,
            file="p.toml",
        )
    issues = [str(i) for i in err.value.issues]
    assert issues[0].startswith("p.toml, key company.\"2026-13\".revenue: period '2026-13'")
    assert issues[1].startswith('p.toml, key manager.m1."2026-03".profit: unknown metric')
    assert issues[2] == 'p.toml, key manager.m1."2026-03".calls: value -3 is negative'
    assert issues[3] == 'p.toml, key manager.m1."2026-03".won_deals: True is not a number'
    assert issues[4].startswith("p.toml, key colour: unknown key")
    assert len(issues) == 5


def test_toml_syntax_error_names_the_line() -> None:
    with pytest.raises(PlanFileError, match=r"p\.toml: not valid TOML: .*line 2"):
        parse_toml('name = "x"\n[company\n', file="p.toml")


def test_toml_without_name() -> None:
    with pytest.raises(PlanFileError, match="no name"):
        parse_toml('[company."2026"]\nrevenue = 1\n')


def test_csv_round_trip(tmp_path: Path) -> None:
    text = to_csv(DOC)
    assert text.splitlines()[0] == "scope,period,metric,value"
    assert "manager:m1,2026-03,calls,1388.8889" in text
    assert parse_csv(text, name="2026") == DOC
    write_csv(DOC, tmp_path / "2026.csv")
    assert read_csv(tmp_path / "2026.csv") == DOC  # named after the file


def test_csv_russian_excel_form() -> None:
    doc = parse_csv("\ufeffscope;period;metric;value\ncompany;2026;revenue;1000,50\n")
    assert doc.get("company", "2026", "revenue") == Decimal("1000.50")


def test_csv_errors_name_line_and_column() -> None:
    text = (
        "period,scope,metric,value\n"  # line 1 (columns in any order)
        "2026,company,revenue,100\n"  # line 2 fine
        "2026,company,revenue,200\n"  # line 3 duplicate of line 2
        "2026,team:,revenue,1\n"  # line 4 bad scope
        "2026-Q5,company,calls,1\n"  # line 5 bad period
        "2026,company,revenue,\n"  # line 6 empty value
        "2026,company,calls,1e\n"  # line 7 not a number
        "2026,company\n"  # line 8 short
    )
    with pytest.raises(PlanFileError) as err:
        parse_csv(text, file="p.csv")
    assert [str(i) for i in err.value.issues] == [
        "p.csv line 3: the same scope, period and metric as line 2",
        "p.csv line 4, column scope: scope 'team:': use company, team:<id>, manager:<id>, "
        "region:<name> or product:<name>",
        "p.csv line 5, column period: period '2026-Q5': use a year (2026), quarter (2026-Q1), "
        "month (2026-03), ISO week (2026-W10) or day (2026-03-05)",
        "p.csv line 6, column value: empty",
        "p.csv line 7, column value: value '1e' is not a number",
        "p.csv line 8: 2 cells, the header has 4",
    ]


def test_csv_header_errors() -> None:
    with pytest.raises(PlanFileError, match="p.csv line 1: missing column.s. value; unknown"):
        parse_csv("scope,period,metric,amount\n", file="p.csv")
