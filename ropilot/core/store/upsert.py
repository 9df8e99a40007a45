"""Idempotent bulk upserts by primary key, the same statement shape on SQLite and PostgreSQL."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from itertools import islice
from typing import Any

from sqlalchemy import Connection, Table, bindparam
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.sql.dml import Insert

from ropilot.core.errors import StoreError

BATCH_SIZE = 2000


def upsert_statement(conn: Connection, table: Table, columns: Sequence[str]) -> Insert:
    """``INSERT … ON CONFLICT (primary key) DO UPDATE`` setting ``columns`` from the new row.

    Only the columns given are written on conflict. A new row still needs every NOT NULL
    column; to change a few fields of rows known to exist use :func:`update_rows`.
    """
    dialect = conn.dialect.name
    insert_fn: Any
    if dialect == "sqlite":
        insert_fn = sqlite.insert
    elif dialect == "postgresql":
        insert_fn = postgresql.insert
    else:  # pragma: no cover - make_engine refuses other databases
        raise StoreError(f"upserts are not implemented for {dialect}")
    stmt = insert_fn(table)
    key = [c.name for c in table.primary_key.columns]
    missing = [k for k in key if k not in columns]
    if missing:
        raise StoreError(f"rows for {table.name} lack key column(s) {', '.join(missing)}")
    updates = {name: stmt.excluded[name] for name in columns if name not in key}
    if not updates:
        return stmt.on_conflict_do_nothing(index_elements=key)  # type: ignore[no-any-return]
    return stmt.on_conflict_do_update(index_elements=key, set_=updates)  # type: ignore[no-any-return]


def update_rows(conn: Connection, table: Table, rows: Iterable[Mapping[str, Any]]) -> int:
    """Update some columns of existing rows found by primary key; missing rows are skipped.

    Returns:
        The number of rows updated.
    """
    batch = list(rows)
    if not batch:
        return 0
    key = [c.name for c in table.primary_key.columns]
    columns = [c for c in batch[0] if c not in key]
    if not columns:
        return 0
    stmt = (
        table.update()
        .where(*(table.c[k] == bindparam(f"k_{k}") for k in key))
        .values({c: bindparam(f"v_{c}") for c in columns})
    )
    params = [
        {**{f"k_{k}": row[k] for k in key}, **{f"v_{c}": row[c] for c in columns}} for row in batch
    ]
    result = conn.execute(stmt, params)
    return int(result.rowcount)


def upsert_rows(
    conn: Connection,
    table: Table,
    rows: Iterable[Mapping[str, Any]],
    *,
    batch_size: int = BATCH_SIZE,
) -> int:
    """Upsert rows (dicts of column → value, all with the same keys) in batches.

    Returns:
        The number of rows sent.
    """
    iterator = iter(rows)
    total = 0
    stmt: Insert | None = None
    columns: tuple[str, ...] = ()
    while batch := list(islice(iterator, batch_size)):
        if stmt is None:
            columns = tuple(batch[0])
            stmt = upsert_statement(conn, table, columns)
        for row in batch:
            if len(row) != len(columns):
                raise StoreError(
                    f"rows for {table.name} must all have the same columns {columns}, "
                    f"got {tuple(row)}"
                )
        conn.execute(stmt, batch)
        total += len(batch)
    return total
