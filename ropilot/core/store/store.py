"""The store: one object over one database, SQLite or PostgreSQL."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Connection, Engine, Table, func, select
from sqlalchemy.exc import OperationalError

from ropilot.core.errors import StoreError
from ropilot.core.models import Account
from ropilot.core.store import migrate
from ropilot.core.store.checkpoint import WalCheckpointer
from ropilot.core.store.engine import make_engine
from ropilot.core.store.mapping import model_from_row, row_from_model, table_for_model
from ropilot.core.store.schema import (
    ENTITY_TABLES,
    accounts,
    custom_field_defs,
    metadata,
    sync_bookmarks,
)
from ropilot.core.store.upsert import update_rows, upsert_rows

ENTITY_ORDER = (
    "teams",
    "managers",
    "pipelines",
    "stages",
    "companies",
    "contacts",
    "deals",
    "stage_changes",
    "assignments",
    "activities",
    "tasks",
    "events",
)


def _entity_table(name: str) -> Table:
    try:
        return ENTITY_TABLES[name]
    except KeyError as exc:
        raise StoreError(f"no entity table {name!r}; one of {', '.join(ENTITY_ORDER)}") from exc


class Store:
    """Access to ropilot's database: upserts, bookmarks and simple reads.

    Use :meth:`open` to get one with its schema up to date. Methods that write accept an
    optional ``conn`` so several writes can share one transaction (``with store.begin() as
    conn``); without it each call commits on its own.
    """

    def __init__(self, engine: Engine, checkpointer: WalCheckpointer | None = None) -> None:
        self.engine = engine
        self.checkpointer = checkpointer

    @classmethod
    def open(cls, url: str, *, upgrade: bool = True, background_checkpoint: bool = True) -> Store:
        """Open the store at ``url``, applying pending migrations unless ``upgrade`` is False.

        For an SQLite file, ``background_checkpoint`` (the default) copies the write-ahead log
        back into the database on a background thread instead of inside an unlucky commit
        (see :mod:`ropilot.core.store.checkpoint`); False keeps SQLite's own checkpointing.

        Raises:
            StoreError: when the database cannot be reached or migrated.
        """
        engine = make_engine(url)
        checkpointer = None
        database = engine.url.database
        if (
            background_checkpoint
            and engine.dialect.name == "sqlite"
            and database not in (None, "", ":memory:")
            and "uri" not in engine.url.query  # file: URIs keep SQLite's own checkpointing
        ):
            checkpointer = WalCheckpointer(str(database))
            checkpointer.install(engine)
        store = cls(engine, checkpointer)
        if upgrade:
            try:
                migrate.upgrade(engine)
            except OperationalError as exc:
                raise StoreError(
                    f"cannot open the store at {engine.url.render_as_string()}: {exc.orig}"
                ) from exc
        return store

    @property
    def dialect(self) -> str:
        """``sqlite`` or ``postgresql``."""
        return self.engine.dialect.name

    def close(self) -> None:
        """Finish the background checkpoint (if any) and release the connection pool."""
        if self.checkpointer is not None:
            self.checkpointer.stop()
        self.engine.dispose()

    @contextmanager
    def begin(self) -> Iterator[Connection]:
        """A transaction: committed when the block ends, rolled back if it raises."""
        with self.engine.begin() as conn:
            yield conn

    @contextmanager
    def _conn(self, conn: Connection | None) -> Iterator[Connection]:
        if conn is not None:
            yield conn
        else:
            with self.begin() as own:
                yield own

    # -- writes ---------------------------------------------------------------------------

    def upsert_account(self, account: Account, conn: Connection | None = None) -> None:
        """Insert or update an account."""
        with self._conn(conn) as c:
            upsert_rows(c, accounts, [account.model_dump()])

    def upsert(
        self, table: str, rows: Iterable[Mapping[str, Any]], conn: Connection | None = None
    ) -> int:
        """Upsert rows into an entity table by ``(account_id, id)``; returns rows sent."""
        target = _entity_table(table)
        with self._conn(conn) as c:
            return upsert_rows(c, target, rows)

    def update(
        self, table: str, rows: Iterable[Mapping[str, Any]], conn: Connection | None = None
    ) -> int:
        """Change some columns of existing rows (found by ``account_id`` and ``id``).

        For what a webhook says about a record (a new responsible, a new stage) without
        knowing the rest of it. Returns the number of rows changed; unknown ids are skipped.
        """
        target = _entity_table(table)
        with self._conn(conn) as c:
            return update_rows(c, target, rows)

    def delete(
        self, table: str, account_id: str, ids: Iterable[str], conn: Connection | None = None
    ) -> int:
        """Delete records by external id (records deleted in the CRM); returns rows deleted."""
        target = _entity_table(table)
        wanted = list(ids)
        removed = 0
        with self._conn(conn) as c:
            for start in range(0, len(wanted), 500):
                chunk = wanted[start : start + 500]
                result = c.execute(
                    target.delete().where(target.c.account_id == account_id, target.c.id.in_(chunk))
                )
                removed += int(result.rowcount)
        return removed

    def upsert_models(self, models: Iterable[Any], conn: Connection | None = None) -> int:
        """Upsert entity models (any mix of types); returns the number of models written."""
        grouped: dict[str, list[dict[str, Any]]] = defaultdict(list)
        for model in models:
            grouped[table_for_model(type(model))].append(row_from_model(model))
        total = 0
        with self._conn(conn) as c:
            for table in sorted(grouped, key=ENTITY_ORDER.index):
                total += upsert_rows(c, ENTITY_TABLES[table], grouped[table])
        return total

    def upsert_custom_field_defs(
        self, account_id: str, rows: Iterable[Mapping[str, Any]], conn: Connection | None = None
    ) -> int:
        """Upsert custom field definitions (entity, id, name, type, required_stage_ids)."""
        full = [{"account_id": account_id, **row} for row in rows]
        with self._conn(conn) as c:
            return upsert_rows(c, custom_field_defs, full)

    def custom_field_defs(self, account_id: str) -> list[dict[str, Any]]:
        """The account's custom field definitions, by entity and id."""
        with self.engine.connect() as c:
            rows = c.execute(
                select(custom_field_defs)
                .where(custom_field_defs.c.account_id == account_id)
                .order_by(custom_field_defs.c.entity, custom_field_defs.c.id)
            ).mappings()
            return [dict(r) for r in rows]

    # -- bookmarks ------------------------------------------------------------------------

    def get_bookmark(self, account_id: str, stream: str) -> str | None:
        """The saved sync position of a stream (e.g. ``deals``), or None before the first sync."""
        with self.engine.connect() as c:
            return c.execute(
                select(sync_bookmarks.c.value).where(
                    sync_bookmarks.c.account_id == account_id, sync_bookmarks.c.stream == stream
                )
            ).scalar_one_or_none()

    def set_bookmark(
        self, account_id: str, stream: str, value: str, conn: Connection | None = None
    ) -> None:
        """Save a stream's sync position; commit it with the rows it covers via ``conn``."""
        row = {
            "account_id": account_id,
            "stream": stream,
            "value": value,
            "updated_at": datetime.now(UTC),
        }
        with self._conn(conn) as c:
            upsert_rows(c, sync_bookmarks, [row])

    def refresh_statistics(self, tables: Sequence[str]) -> None:
        """Refresh the query planner's statistics after a bulk load.

        PostgreSQL plans from sampled statistics that autovacuum refreshes only later; without
        them the engine's period queries can take minutes instead of a second right after an
        import. SQLite keeps no statistics unless ANALYZE is run, and ropilot's queries are
        written for its statistics-free planner, so nothing is done there.
        """
        if self.dialect != "postgresql":
            return
        with self.engine.begin() as conn:
            for table in tables:
                if table not in metadata.tables:
                    raise StoreError(f"no table {table!r} to analyse")
                conn.exec_driver_sql(f"ANALYZE {metadata.tables[table].name}")

    # -- reads ----------------------------------------------------------------------------

    def get_account(self, account_id: str) -> Account | None:
        """The account with this id, if stored."""
        with self.engine.connect() as c:
            row = c.execute(select(accounts).where(accounts.c.id == account_id)).mappings().first()
        return None if row is None else Account.model_validate(dict(row))

    def list_accounts(self) -> list[Account]:
        """All stored accounts, by id."""
        with self.engine.connect() as c:
            rows = c.execute(select(accounts).order_by(accounts.c.id)).mappings().all()
        return [Account.model_validate(dict(r)) for r in rows]

    def counts(self, account_id: str) -> dict[str, int]:
        """Rows per entity table for one account, in dependency order."""
        out: dict[str, int] = {}
        with self.engine.connect() as c:
            for name in ENTITY_ORDER:
                table = ENTITY_TABLES[name]
                out[name] = c.execute(
                    select(func.count()).select_from(table).where(table.c.account_id == account_id)
                ).scalar_one()
        return out

    def iter_rows(
        self, table: str, account_id: str, *, chunk: int = 5000
    ) -> Iterator[dict[str, Any]]:
        """Stream an entity table's rows for an account, ordered by id, without loading all."""
        target = _entity_table(table)
        stmt = (
            select(target)
            .where(target.c.account_id == account_id)
            .order_by(target.c.id)
            .execution_options(yield_per=chunk)
        )
        with self.engine.connect() as c:
            for row in c.execute(stmt).mappings():
                yield dict(row)

    def iter_models(self, table: str, account_id: str) -> Iterator[Any]:
        """Stream an entity table as domain models."""
        for row in self.iter_rows(table, account_id):
            yield model_from_row(table, row)
