"""``Direct`` statements store and read exactly what ``Connection.execute`` does."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest
from sqlalchemy import bindparam, insert, select, update
from sqlalchemy.exc import IntegrityError

from ropilot.core.store import Store
from ropilot.core.store.direct import Direct
from ropilot.core.store.schema import routing_decisions, routing_seq

WHEN = datetime(2026, 3, 2, 9, 30, 15, 123456, tzinfo=UTC)


def _decision(i: str) -> dict[str, object]:
    return {
        "account_id": "a",
        "id": i,
        "deal_id": "d1",
        "pool": "p",
        "manager_id": "m1",
        "previous_manager_id": None,
        "rule": "fairness",
        "reason": "new",
        "strategy": "weighted_fair",
        "regulations_version": "v1",
        "decided_at": WHEN,
        "explanation": {"chosen": "m1", "tie": {"mask": "5", "order": ["m1", "m2"]}, "ё": 1},
        "inputs": "{}",
        "applied_at": None,
        "apply_error": None,
    }


def test_values_round_trip_as_with_execute(store: Store) -> None:
    stmt = insert(routing_decisions).values(
        {c.name: bindparam(c.name) for c in routing_decisions.columns}
    )
    with store.begin() as c:
        c.execute(insert(routing_decisions), _decision("by-sqlalchemy"))
        Direct(stmt).run(c, _decision("direct"))
    with store.begin() as c:
        rows = {
            r.id: r._asdict()
            for r in c.execute(select(routing_decisions).order_by(routing_decisions.c.id))
        }
    a, b = rows.pop("by-sqlalchemy"), rows.pop("direct")
    assert a.pop("id") == "by-sqlalchemy" and b.pop("id") == "direct"
    assert a == b
    assert b["decided_at"] == WHEN
    assert b["explanation"]["tie"]["order"] == ["m1", "m2"]
    assert b["applied_at"] is None


def test_reads_apply_result_processors_and_name_columns(store: Store) -> None:
    with store.begin() as c:
        c.execute(insert(routing_decisions), _decision("x"))
        q = select(routing_decisions.c.id, routing_decisions.c.decided_at).where(
            routing_decisions.c.id == bindparam("wanted")
        )
        row = Direct(q).first(c, {"wanted": "x"})
        assert Direct(q).first(c, {"wanted": "nobody"}) is None
    assert row is not None
    assert row.id == "x" and row.decided_at == WHEN and row.decided_at.tzinfo is not None


def test_literal_values_returning_and_the_callers_transaction(store: Store) -> None:
    bump = (
        update(routing_seq)
        .where(routing_seq.c.account_id == bindparam("acct"))
        .values(seq=routing_seq.c.seq + 1)
        .returning(routing_seq.c.seq)
    )
    direct = Direct(bump)
    with store.begin() as c:
        c.execute(insert(routing_seq), {"account_id": "a", "seq": 40})
        assert [tuple(r) for r in direct.run(c, {"acct": "a"})] == [(41,)]
        assert direct.first(c, {"acct": "a"}) == (42,)
    with store.engine.connect() as conn:
        direct.run(conn, {"acct": "a"})  # the first statement: begins the transaction...
        conn.commit()  # ...that the caller commits
    with store.engine.connect() as conn:
        direct.run(conn, {"acct": "a"})
        conn.rollback()  # or rolls back
    with store.begin() as c:
        assert c.execute(select(routing_seq.c.seq)).scalar() == 43


def test_run_many_with_constants_and_json_given_as_text(store: Store) -> None:
    stmt = insert(routing_decisions).values(
        {c.name: bindparam(c.name) for c in routing_decisions.columns}
    )
    rows = []
    for i in ("m1", "m2"):
        row = _decision(i)
        row["explanation"] = json.dumps({"chosen": i, "ё": [1, 2]})  # already JSON: passed raw
        for shared in ("account_id", "decided_at", "rule"):
            del row[shared]
        rows.append(row)
    with store.begin() as c:
        Direct(stmt).run_many(
            c,
            rows,
            constants={"account_id": "a", "decided_at": WHEN, "rule": "fairness"},
            raw=("explanation",),
        )
        Direct(stmt).run_many(c, [])  # nothing to write: no statement
    with store.begin() as c:
        got = c.execute(select(routing_decisions).order_by(routing_decisions.c.id)).all()
    assert [(r.id, r.account_id, r.rule, r.decided_at) for r in got] == [
        ("m1", "a", "fairness", WHEN),
        ("m2", "a", "fairness", WHEN),
    ]
    assert got[1].explanation == {"chosen": "m2", "ё": [1, 2]}


def test_a_missing_value_an_in_list_and_a_driver_error_are_refused_clearly(store: Store) -> None:
    stmt = insert(routing_decisions).values(
        {c.name: bindparam(c.name) for c in routing_decisions.columns}
    )
    row = _decision("x")
    del row["apply_error"]
    with store.begin() as c, pytest.raises(ValueError, match="no value for :apply_error"):
        Direct(stmt).run(c, row)
    listed = select(routing_seq.c.seq).where(
        routing_seq.c.account_id.in_(bindparam("ids", expanding=True))
    )
    with store.begin() as c, pytest.raises(ValueError, match="IN lists"):
        Direct(listed).run(c, {"ids": ["a"]})
    with store.begin() as c:
        Direct(stmt).run(c, _decision("dup"))
    with store.begin() as c, pytest.raises(IntegrityError):  # SQLAlchemy's, not the driver's
        Direct(stmt).run(c, _decision("dup"))


def test_an_insert_without_values_takes_the_columns_given_as_keys(store: Store) -> None:
    from ropilot.core.store.schema import routing_load

    row = {"account_id": "a", "manager_id": "m", "open_deals": 2, "open_tasks": 0, "seq": 1}
    with store.begin() as c, pytest.raises(ValueError, match="no value for"):
        Direct(insert(routing_load)).run(c, row)  # every column would need a value
    with store.begin() as c:
        Direct(insert(routing_load), keys=list(row)).run(c, row)
        got = c.execute(select(routing_load)).one()._asdict()
    assert {k: got[k] for k in row} == row
