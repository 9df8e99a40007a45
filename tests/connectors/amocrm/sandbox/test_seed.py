"""Seeding from a bundle: id mapping, won/lost → 142/143, fields, history, generator."""

from __future__ import annotations

from pathlib import Path

import pytest

from ropilot.connectors.amocrm.sandbox import SandboxState, sandbox_from_options
from ropilot.core.errors import BundleError


def _write(folder: Path, name: str, text: str) -> None:
    (folder / f"{name}.csv").write_text(text.strip() + "\n", encoding="utf-8")


@pytest.fixture
def tiny(tmp_path: Path) -> Path:
    _write(tmp_path, "account", "id,name,timezone,currency\nacme,ACME,Europe/Moscow,RUB")
    _write(tmp_path, "teams", "id,name\nt-b,Второй\nt-a,Первый")
    _write(
        tmp_path,
        "managers",
        "id,name,email,team_id,role,active\nm1,Анна,a@x.ru,t-a,head,true\n77,Борис,,t-b,manager,false",
    )
    _write(tmp_path, "pipelines", "id,name\np,Воронка")
    _write(
        tmp_path,
        "stages",
        "id,pipeline_id,name,sort,kind\nnew,p,Новый,10,open\nwon,p,Выиграна,90,won\nlost,p,Проиграна,100,lost",
    )
    _write(
        tmp_path,
        "companies",
        "id,name,inn,phone,email,segment,region\nc1,ООО Ромашка,7707083893,+7 495 1;+7 495 2,,Малый,Москва",
    )
    _write(tmp_path, "contacts", "id,name,phone,company_id,responsible_id\nk1,Иван,8 912 1,c1,77")
    _write(
        tmp_path,
        "deals",
        "id,name,pipeline_id,stage_id,responsible_id,amount,currency,contact_id,company_id,created_at,closed_at,loss_reason,expected_close_at,extra\n"
        "d2,Вторая,p,lost,m1,10.50,RUB,k1,c1,2026-01-10T10:00:00+03:00,2026-01-12T10:00:00+03:00,Дорого,2026-02-01,abc\n"
        "d1,Первая,p,new,77,,,,,2026-01-11T10:00:00,,,,",
    )
    _write(
        tmp_path,
        "stage_changes",
        "deal_id,from_stage_id,to_stage_id,changed_at,changed_by\nd2,,new,2026-01-10T10:00:00+03:00,m1\nd2,new,lost,2026-01-12T10:00:00+03:00,m1",
    )
    _write(
        tmp_path,
        "assignments",
        "deal_id,from_manager_id,to_manager_id,changed_at\nd1,m1,77,2026-01-11T11:00:00+03:00",
    )
    _write(
        tmp_path,
        "activities",
        "id,type,manager_id,at,deal_id,contact_id,company_id,direction,duration_s,result\n"
        "a1,call,m1,2026-01-10T11:00:00+03:00,d2,k1,c1,in,42,answered\na2,meeting,m1,2026-01-10T12:00:00+03:00,,k1,,,,held",
    )
    _write(
        tmp_path,
        "tasks",
        "id,responsible_id,created_at,due_at,completed_at,deal_id,type,text\n"
        "x1,m1,2026-01-10T10:00:00+03:00,2026-01-11T10:00:00+03:00,2026-01-10T15:00:00+03:00,d2,call,Позвонить",
    )
    return tmp_path


def test_tiny_bundle(tiny: Path) -> None:
    state = SandboxState.from_bundle(tiny)
    m = state.id_map
    assert m["account"] == {"acme": 1_000_001}
    assert m["teams"] == {"t-a": 1_000_001, "t-b": 1_000_002}
    assert m["managers"] == {"m1": 1_000_001, "77": 77}
    assert m["deals"] == {"d1": 1_000_001, "d2": 1_000_002}
    assert m["stages"]["won"] == 142 and m["stages"]["lost"] == 143
    assert state.subdomain == "acme"
    statuses = state.pipelines[m["pipelines"]["p"]]["statuses"]
    assert [(s["id"], s["name"], s["sort"]) for s in statuses] == [
        (m["stages"]["new"], "Новый", 10),
        (142, "Выиграна", 90),
        (143, "Проиграна", 100),
    ]
    users = state.users
    assert users[1_000_001]["is_admin"] and users[1_000_001]["group_id"] == 1_000_001
    assert not users[77]["is_active"]
    d2 = state.records["leads"][1_000_002]
    assert d2["price"] == 11  # 10.50 rounds half up; amoCRM prices are integers
    assert d2["status_id"] == 143 and d2["closed_at"] is not None
    assert state.loss_reasons[d2["loss_reason_id"]]["name"] == "Дорого"
    assert (
        d2["contacts"] == [(m["contacts"]["k1"], True)] and d2["company_id"] == m["companies"]["c1"]
    )
    by_code = {
        state.fields["leads"][f].code or state.fields["leads"][f].name: v
        for f, v in d2["cf"].items()
    }
    assert by_code["CURRENCY"][0]["value"] == "RUB"
    assert by_code["extra"] == [{"value": "abc"}]
    assert by_code["EXPECTED_CLOSE"] == [{"value": 1769893200}]  # 2026-02-01 00:00 Moscow
    d1 = state.records["leads"][1_000_001]
    assert d1["price"] == 0 and d1["closed_at"] is None and d1["responsible_user_id"] == 77
    company = state.records["companies"][m["companies"]["c1"]]
    phones = next(
        v for f, v in company["cf"].items() if state.fields["companies"][f].code == "PHONE"
    )
    assert [p["value"] for p in phones] == ["+7 495 1", "+7 495 2"]
    types = sorted(e["type"] for e in state.events.values())
    assert types == [
        "entity_responsible_changed",
        "lead_added",
        "lead_added",
        "lead_status_changed",
    ]
    assert set(m["stage_changes"].values()) <= set(state.events)
    call = state.notes["leads"][m["activities"]["a1"]]
    assert call["note_type"] == "call_in" and call["params"]["duration"] == 42
    assert call["params"]["call_result"] == "answered"
    meeting = state.notes["contacts"][m["activities"]["a2"]]
    assert meeting["note_type"] == "service_message"
    assert meeting["params"] == {"service": "ropilot", "text": "meeting: held"}
    task = state.records["tasks"][m["tasks"]["x1"]]
    assert task["is_completed"] and task["task_type_id"] == 1 and task["entity_type"] == "leads"
    assert task["updated_at"] == 1768046400  # completed_at


def test_broken_bundle_names_file_and_line(tiny: Path) -> None:
    _write(tiny, "deals", "id,pipeline_id,stage_id,created_at\nd1,p,new,yesterday")
    with pytest.raises(BundleError, match=r"deals.csv line 2, column created_at"):
        SandboxState.from_bundle(tiny)


def test_generated_and_switches() -> None:
    state = sandbox_from_options(None, deals=50, seed=3, rate_limit=0, access_ttl=120)
    assert len(state.records["leads"]) == 50
    assert state.config.rate_limit == 0 and state.auth.settings.access_ttl == 120
    with pytest.raises(TypeError, match="unknown sandbox switch"):
        sandbox_from_options(None, deals=5, seed=1, no_such_switch=True)
