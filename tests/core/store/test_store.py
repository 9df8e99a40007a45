from __future__ import annotations

import subprocess
import sys
from datetime import UTC, datetime, timedelta, timezone
from decimal import Decimal

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import inspect, select

from ropilot.core.errors import ConfigurationError, StoreError
from ropilot.core.models import Account, Deal, Manager, StageChange
from ropilot.core.store import Store, migrate
from ropilot.core.store.schema import deals, metadata

T0 = datetime(2026, 3, 1, 9, 0, tzinfo=timezone(timedelta(hours=3)))


def _deal(**kw: object) -> Deal:
    base: dict[str, object] = {
        "account_id": "a",
        "id": "d1",
        "pipeline_id": "p1",
        "stage_id": "s1",
        "amount": Decimal("1500.25"),
        "created_at": T0,
    }
    base.update(kw)
    return Deal.model_validate(base)


def test_upsert_twice_gives_one_row(store: Store) -> None:
    store.upsert_models([_deal()])
    store.upsert_models([_deal()])
    assert store.counts("a")["deals"] == 1


def test_changed_fields_are_updated_and_others_kept(store: Store) -> None:
    store.upsert_models([_deal(responsible_id="m1", source="site")])
    store.upsert_models([_deal(responsible_id="m2", source="site", amount=Decimal("99.99"))])
    (deal,) = store.iter_models("deals", "a")
    assert deal.responsible_id == "m2"
    assert deal.amount == Decimal("99.99")
    assert deal.source == "site"


def test_partial_update_touches_only_given_columns(store: Store) -> None:
    store.upsert_models([_deal(responsible_id="m1", source="site")])
    changed = store.update(
        "deals",
        [
            {"account_id": "a", "id": "d1", "responsible_id": "m9"},
            {"account_id": "a", "id": "missing", "responsible_id": "m9"},
        ],
    )
    assert changed == 1
    (deal,) = store.iter_models("deals", "a")
    assert (deal.responsible_id, deal.source, deal.amount) == ("m9", "site", Decimal("1500.25"))
    assert store.counts("a")["deals"] == 1


def test_same_external_id_in_two_accounts_are_two_rows(store: Store) -> None:
    store.upsert_models([_deal(), _deal(account_id="b")])
    assert store.counts("a")["deals"] == 1
    assert store.counts("b")["deals"] == 1


def test_timestamps_come_back_as_the_same_instant_in_utc(store: Store) -> None:
    store.upsert_models([_deal(closed_at=datetime(2026, 3, 31, 23, 59, 59, 999999, tzinfo=UTC))])
    (deal,) = store.iter_models("deals", "a")
    assert deal.created_at == T0
    assert deal.created_at.utcoffset() == timedelta(0)
    assert deal.created_at.hour == 6
    assert deal.closed_at == datetime(2026, 3, 31, 23, 59, 59, 999999, tzinfo=UTC)


def test_money_is_exact_in_sql_sums(store: Store) -> None:
    # 0.1 + 0.2 is not 0.3 in binary floating point; the store must give exactly 0.30.
    store.upsert_models(
        [_deal(id="x", amount=Decimal("0.1")), _deal(id="y", amount=Decimal("0.2"))]
    )
    from sqlalchemy import func

    from ropilot.core.store.types import Money

    with store.engine.connect() as conn:
        total = conn.execute(select(func.sum(deals.c.amount).cast(Money))).scalar_one()
    assert total == Decimal("0.30")


def test_money_with_more_than_four_decimals_is_refused(store: Store) -> None:
    with pytest.raises(Exception, match="more than 4 decimal places"):
        store.upsert_models([_deal(amount=Decimal("1.23456"))])


def test_naive_timestamps_are_refused_by_the_model() -> None:
    with pytest.raises(ValueError, match="time zone"):
        _deal(created_at=datetime(2026, 3, 1, 9, 0))


def test_manager_json_fields_round_trip(store: Store) -> None:
    manager = Manager.model_validate(
        {
            "account_id": "a",
            "id": "m1",
            "name": "Анна",
            "absences": [{"start": "2026-01-10", "end": "2026-01-20", "reason": "отпуск"}],
            "specialisations": {"products": ["CRM"], "regions": ["Москва"]},
        }
    )
    store.upsert_models([manager])
    (back,) = store.iter_models("managers", "a")
    assert back == manager


def test_history_rows_keyed_by_derived_id(store: Store) -> None:
    change = StageChange(
        account_id="a",
        id="d1|1|s1|s2",
        deal_id="d1",
        from_stage_id="s1",
        to_stage_id="s2",
        changed_at=T0,
    )
    store.upsert_models([change, change])
    assert store.counts("a")["stage_changes"] == 1


def test_bookmarks_persist_across_processes(store_url: str) -> None:
    store = Store.open(store_url)
    assert store.get_bookmark("a", "deals") is None
    store.set_bookmark("a", "deals", "2026-03-01T00:00:00Z")
    store.set_bookmark("a", "deals", "2026-03-02T00:00:00Z")
    store.close()
    code = (
        "import sys; from ropilot.core.store import Store; "
        "print(Store.open(sys.argv[1]).get_bookmark('a', 'deals'))"
    )
    out = subprocess.run(
        [sys.executable, "-c", code, store_url], capture_output=True, text=True, check=True
    )
    assert out.stdout.strip() == "2026-03-02T00:00:00Z"


def test_accounts_round_trip(store: Store) -> None:
    store.upsert_account(Account(id="acme", name="ООО «Акме»", timezone="Asia/Novosibirsk"))
    assert store.get_account("acme") == Account(
        id="acme", name="ООО «Акме»", timezone="Asia/Novosibirsk", currency="RUB"
    )
    assert store.get_account("nope") is None


def test_migrations_match_the_tables(store: Store) -> None:
    assert migrate.current_revision(store.engine) == migrate.head_revision()
    with store.engine.connect() as conn:
        assert compare_metadata(MigrationContext.configure(conn), metadata) == []


def test_upgrade_is_idempotent(store_url: str) -> None:
    Store.open(store_url).close()
    store = Store.open(store_url)
    try:
        assert "deals" in inspect(store.engine).get_table_names()
        assert migrate.current_revision(store.engine) == migrate.head_revision()
    finally:
        store.close()


def test_engine_uses_wal_on_sqlite(tmp_path) -> None:  # type: ignore[no-untyped-def]
    store = Store.open(f"sqlite:///{tmp_path / 'w.db'}")
    with store.engine.connect() as conn:
        assert conn.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
    store.close()


def test_unknown_table_and_bad_url_give_clear_errors(tmp_path) -> None:  # type: ignore[no-untyped-def]
    store = Store.open(f"sqlite:///{tmp_path / 'x.db'}")
    with pytest.raises(StoreError, match="no entity table 'leads'"):
        store.upsert("leads", [])
    store.close()
    with pytest.raises(ConfigurationError, match="supports SQLite and PostgreSQL"):
        Store.open("mysql://localhost/x")
