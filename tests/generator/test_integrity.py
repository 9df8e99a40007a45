"""Every rule of the bundle format holds in the generated account."""

from __future__ import annotations

import itertools
import re
from collections import defaultdict
from datetime import datetime, time
from decimal import Decimal
from typing import Any

import holidays

from ropilot.generator import TABLES

TIMESTAMP = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\+03:00$")
TIMESTAMP_COLUMNS = {
    "managers": ("hired_at",),
    "companies": ("created_at",),
    "contacts": ("created_at",),
    "deals": ("created_at", "updated_at", "closed_at"),
    "stage_changes": ("changed_at",),
    "assignments": ("changed_at",),
    "activities": ("at",),
    "tasks": ("created_at", "due_at", "completed_at"),
}


def ts(value: str) -> datetime:
    return datetime.fromisoformat(value)


def test_headers_and_required_cells(bundle: Any) -> None:
    for name, columns in TABLES.items():
        rows = bundle[name]
        assert rows, name
        assert tuple(rows[0]) == columns
        assert len(rows) == bundle.summary.rows[name]
    assert bundle["account"] == [
        {
            "id": "demo",
            "name": bundle["account"][0]["name"],
            "timezone": "Europe/Moscow",
            "currency": "RUB",
        }
    ]
    for name in ("teams", "managers", "pipelines", "stages", "companies", "contacts", "deals"):
        ids = [row["id"] for row in bundle[name]]
        assert len(ids) == len(set(ids)), name
        assert all(row["name"] for row in bundle[name]), name
    for name in ("activities", "tasks"):
        ids = [row["id"] for row in bundle[name]]
        assert len(ids) == len(set(ids)), name


def test_timestamps_are_iso_with_moscow_offset(bundle: Any) -> None:
    for table, columns in TIMESTAMP_COLUMNS.items():
        for row in bundle[table]:
            for column in columns:
                value = row[column]
                if value:
                    assert TIMESTAMP.match(value), (table, column, value)
                    ts(value)
    for row in bundle["deals"]:
        assert row["created_at"]
        if row["expected_close_at"]:
            assert re.fullmatch(r"\d{4}-\d{2}-\d{2}", row["expected_close_at"])


def test_every_reference_exists(bundle: Any) -> None:
    ids = {
        name: {row["id"] for row in bundle[name]} for name, cols in TABLES.items() if "id" in cols
    }
    managers, deals = ids["managers"], ids["deals"]

    def check(table: str, column: str, target: set[str], required: bool = False) -> None:
        for row in bundle[table]:
            value = row[column]
            if required:
                assert value, (table, column)
            if value:
                assert value in target, (table, column, value)

    check("teams", "parent_id", ids["teams"])
    check("teams", "head_id", managers, required=True)
    check("managers", "team_id", ids["teams"], required=True)
    check("stages", "pipeline_id", ids["pipelines"], required=True)
    check("companies", "responsible_id", managers)
    check("contacts", "company_id", ids["companies"])
    check("contacts", "responsible_id", managers)
    check("deals", "pipeline_id", ids["pipelines"], required=True)
    check("deals", "stage_id", ids["stages"], required=True)
    check("deals", "responsible_id", managers, required=True)
    check("deals", "contact_id", ids["contacts"])
    check("deals", "company_id", ids["companies"])
    check("stage_changes", "deal_id", deals, required=True)
    check("stage_changes", "from_stage_id", ids["stages"])
    check("stage_changes", "to_stage_id", ids["stages"], required=True)
    check("stage_changes", "changed_by", managers, required=True)
    check("assignments", "deal_id", deals, required=True)
    check("assignments", "from_manager_id", managers, required=True)
    check("assignments", "to_manager_id", managers, required=True)
    for table in ("activities", "tasks"):
        check(table, "deal_id", deals)
        check(table, "contact_id", ids["contacts"])
        check(table, "company_id", ids["companies"])
    check("activities", "manager_id", managers, required=True)
    check("tasks", "responsible_id", managers, required=True)


def test_pipelines_have_one_won_and_one_lost_stage(bundle: Any) -> None:
    by_pipeline: dict[str, list[dict[str, str]]] = defaultdict(list)
    for row in bundle["stages"]:
        by_pipeline[row["pipeline_id"]].append(row)
        assert 0 <= int(row["probability"]) <= 100
    assert 2 <= len(by_pipeline) <= 3
    for stages in by_pipeline.values():
        kinds = [s["kind"] for s in sorted(stages, key=lambda s: int(s["sort"]))]
        assert len(stages) == 8
        assert kinds.count("won") == 1 and kinds.count("lost") == 1
        assert kinds[:6] == ["open"] * 6
    names = {row["name"] for row in bundle["stages"]}
    assert {"Новый лид", "КП отправлено", "Успешно реализовано"} <= names


def test_closed_at_exactly_when_stage_is_won_or_lost(bundle: Any) -> None:
    stages = {row["id"]: row for row in bundle["stages"]}
    kinds: dict[str, int] = defaultdict(int)
    for deal in bundle["deals"]:
        stage = stages[deal["stage_id"]]
        assert stage["pipeline_id"] == deal["pipeline_id"]
        kinds[stage["kind"]] += 1
        assert bool(deal["closed_at"]) == (stage["kind"] in ("won", "lost")), deal["id"]
        if stage["kind"] != "lost":
            assert not deal["loss_reason"]
        if deal["closed_at"]:
            assert ts(deal["created_at"]) <= ts(deal["closed_at"]) <= ts(deal["updated_at"])
        assert ts(deal["created_at"]) <= ts(deal["updated_at"])
    assert min(kinds["open"], kinds["won"], kinds["lost"]) > 0.05 * len(bundle["deals"])
    lost = [d for d in bundle["deals"] if stages[d["stage_id"]]["kind"] == "lost"]
    assert sum(1 for d in lost if d["loss_reason"]) > 0.8 * len(lost)
    assert any(not d["loss_reason"] for d in lost)


def test_stage_history_is_consistent_with_deals(bundle: Any) -> None:
    stages = {row["id"]: row for row in bundle["stages"]}
    history: dict[str, list[dict[str, str]]] = defaultdict(list)
    for row in bundle["stage_changes"]:
        history[row["deal_id"]].append(row)
    for deal in bundle["deals"]:
        rows = history[deal["id"]]
        assert rows, deal["id"]
        assert rows[0]["from_stage_id"] == ""
        assert rows[0]["changed_at"] == deal["created_at"]
        assert all(row["from_stage_id"] for row in rows[1:])
        for before, after in itertools.pairwise(rows):
            assert after["from_stage_id"] == before["to_stage_id"]
            assert ts(after["changed_at"]) > ts(before["changed_at"])
            assert after["to_stage_id"] != after["from_stage_id"]
        for row in rows:
            assert stages[row["to_stage_id"]]["pipeline_id"] == deal["pipeline_id"]
        assert rows[-1]["to_stage_id"] == deal["stage_id"]
        if deal["closed_at"]:
            assert rows[-1]["changed_at"] == deal["closed_at"]
        assert ts(rows[-1]["changed_at"]) <= ts(deal["updated_at"])


def test_assignments_lead_to_the_current_responsible(bundle: Any) -> None:
    deals = {row["id"]: row for row in bundle["deals"]}
    chains: dict[str, list[dict[str, str]]] = defaultdict(list)
    for row in bundle["assignments"]:
        chains[row["deal_id"]].append(row)
    assert 0.02 * len(deals) < len(chains) < 0.3 * len(deals)
    first_owner = {
        row["deal_id"]: row["changed_by"]
        for row in bundle["stage_changes"]
        if not row["from_stage_id"]
    }
    for deal_id, rows in chains.items():
        deal = deals[deal_id]
        assert rows[0]["from_manager_id"] == first_owner[deal_id]
        assert rows[-1]["to_manager_id"] == deal["responsible_id"]
        for before, after in itertools.pairwise(rows):
            assert after["from_manager_id"] == before["to_manager_id"]
            assert ts(after["changed_at"]) > ts(before["changed_at"])
        for row in rows:
            assert row["from_manager_id"] != row["to_manager_id"]
            assert ts(row["changed_at"]) >= ts(deal["created_at"])
            if deal["closed_at"]:
                assert ts(row["changed_at"]) <= ts(deal["closed_at"])
    for deal_id, owner in first_owner.items():
        if deal_id not in chains:
            assert deals[deal_id]["responsible_id"] == owner


def test_nothing_happens_after_end(bundle: Any) -> None:
    limit = datetime.combine(bundle.end, time(23, 59, 59)).isoformat() + "+03:00"
    limit_ts = ts(limit)
    for table, columns in TIMESTAMP_COLUMNS.items():
        for column in columns:
            if (table, column) == ("tasks", "due_at"):
                continue
            for row in bundle[table]:
                if row[column]:
                    assert ts(row[column]) <= limit_ts, (table, column, row)


def test_work_happens_in_working_hours_of_the_production_calendar(bundle: Any) -> None:
    calendar = holidays.country_holidays("RU", years=range(2021, 2028))
    for row in bundle["activities"]:
        at = ts(row["at"])
        assert time(9) <= at.time() < time(19)
        assert calendar.is_working_day(at.date())
    created = [ts(row["created_at"]).date() for row in bundle["deals"]]
    weekend = sum(1 for d in created if not calendar.is_working_day(d))
    assert 0 < weekend < 0.05 * len(created)


def test_managers_and_teams(bundle: Any) -> None:
    managers = bundle["managers"]
    assert len(managers) == 6  # 3,000 deals: the minimum head count
    roles = {row["role"] for row in managers}
    assert roles <= {"manager", "senior", "head", "assistant"}
    assert "head" in roles
    assert any(row["active"] == "false" for row in managers)
    assert all(row["hired_at"] for row in managers)
    teams = bundle["teams"]
    roots = [t for t in teams if not t["parent_id"]]
    assert len(roots) == 1
    assert 2 <= len(teams) - 1 <= 4
    assert all(t["parent_id"] == roots[0]["id"] for t in teams if t is not roots[0])


def test_money_values(bundle: Any) -> None:
    deals = bundle["deals"]
    amounts = [d["amount"] for d in deals]
    assert any(a == "" for a in amounts)
    assert any(a != "" and Decimal(a) == 0 for a in amounts)
    for deal in deals:
        if deal["amount"]:
            assert re.fullmatch(r"\d+(\.\d{2})?", deal["amount"])
        assert deal["currency"] in ("", "RUB", "USD")
    assert 0 < sum(1 for d in deals if d["currency"] == "USD") < 0.05 * len(deals)
    assert any(d["utm_campaign"] for d in deals)
