"""Staging tables: a bundle is loaded into temporary tables first, checked there with SQL
(duplicate ids, references, stage rules), and only then merged into the store, all in one
transaction. Memory stays flat however large the bundle, and line numbers travel with rows.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from sqlalchemy import BigInteger, Column, Connection, Integer, MetaData, Table, text
from sqlalchemy.exc import IntegrityError

from ropilot.connectors.bundle.spec import TABLES, TableSpec
from ropilot.core.errors import BundleIssue
from ropilot.core.store.schema import ENTITY_TABLES
from ropilot.core.store.types import Money, UtcTimestamp


def staging_name(table: str) -> str:
    """The temporary table a bundle table is loaded into."""
    return f"_rp_stage_{table}"


def create_staging(conn: Connection) -> dict[str, Table]:
    """Create one temporary table per bundle table (dropped at commit or rollback on PG)."""
    meta = MetaData()
    out: dict[str, Table] = {}
    for spec in TABLES:
        target = ENTITY_TABLES[spec.name]
        cols: list[Column[Any]] = [Column("_line", Integer, nullable=False)]
        for col in target.columns:
            if col.name == "account_id":
                continue
            kind = col.type
            if isinstance(kind, (UtcTimestamp, Money)):
                kind = BigInteger()
            cols.append(Column(col.name, kind))
        name = staging_name(spec.name)
        conn.execute(text(f"DROP TABLE IF EXISTS {name}"))
        out[spec.name] = Table(
            name, meta, *cols, prefixes=["TEMPORARY"], postgresql_on_commit="DROP"
        )
    meta.create_all(conn)
    return out


def row_writer(
    conn: Connection, table: str, columns: list[str]
) -> Callable[[list[tuple[Any, ...]]], None]:
    """A function that appends rows (tuples in ``columns`` order) to a staging table.

    PostgreSQL gets COPY (several times faster than batched INSERTs); SQLite gets
    ``executemany`` straight on the driver. Both bypass SQLAlchemy's per-row processing, so
    values must already be what the driver takes (see the importer's conversions).
    """
    quoted = ", ".join(f'"{c}"' for c in columns)
    if conn.dialect.name == "postgresql":
        raw: Any = conn.connection.dbapi_connection
        sql = f"COPY {staging_name(table)} ({quoted}) FROM STDIN"

        def copy_rows(rows: list[tuple[Any, ...]]) -> None:
            with raw.cursor() as cursor, cursor.copy(sql) as copy:
                for row in rows:
                    copy.write_row(row)

        return copy_rows
    marks = ", ".join("?" for _ in columns)
    insert_sql = f"INSERT INTO {staging_name(table)} ({quoted}) VALUES ({marks})"

    def insert_rows(rows: list[tuple[Any, ...]]) -> None:
        conn.exec_driver_sql(insert_sql, rows)

    return insert_rows


def _label(labels: dict[str, str], table: str) -> str:
    return labels.get(table, f"{table}.csv")


def check_unique_ids(
    conn: Connection, spec: TableSpec, labels: dict[str, str], limit: int
) -> list[BundleIssue]:
    """Index the staging ids (the reference checks need it) and report duplicated ids."""
    name = staging_name(spec.name)
    try:
        with conn.begin_nested():
            conn.execute(text(f"CREATE UNIQUE INDEX {name}_id ON {name} (id)"))
        return []
    except IntegrityError:
        pass
    conn.execute(text(f"CREATE INDEX {name}_id ON {name} (id)"))
    rows = conn.execute(
        text(
            f"SELECT s._line, f.first_line, s.id FROM {name} s JOIN "
            f"(SELECT id, MIN(_line) AS first_line FROM {name} GROUP BY id HAVING COUNT(*) > 1) f "
            f"ON f.id = s.id WHERE s._line > f.first_line ORDER BY s._line LIMIT :n"
        ),
        {"n": limit},
    ).all()
    label = _label(labels, spec.name)
    issues = []
    for line, first_line, ident in rows:
        if spec.derived_id:
            reason = f"repeats line {first_line} (same {', '.join(spec.derived_id)})"
            issues.append(BundleIssue(label, line, None, reason))
        else:
            issues.append(BundleIssue(label, line, "id", f'id "{ident}" repeats line {first_line}'))
    return issues


def check_references(
    conn: Connection, labels: dict[str, str], present: set[str], limit: int
) -> list[BundleIssue]:
    """Every referenced id must exist in its table of the same bundle."""
    issues: list[BundleIssue] = []
    for spec in TABLES:
        source = staging_name(spec.name)
        for col in spec.columns:
            if col.ref is None or len(issues) >= limit:
                continue
            target = staging_name(col.ref)
            rows = conn.execute(
                text(
                    f"SELECT s._line, s.{col.column} FROM {source} s "
                    f"WHERE s.{col.column} IS NOT NULL AND NOT EXISTS "
                    f"(SELECT 1 FROM {target} t WHERE t.id = s.{col.column}) "
                    f"ORDER BY s._line LIMIT :n"
                ),
                {"n": limit - len(issues)},
            ).all()
            where = (
                f"{col.ref}"
                if col.ref in present
                else f"{col.ref} (the bundle has no {col.ref} table)"
            )
            for line, ident in rows:
                issues.append(
                    BundleIssue(
                        _label(labels, spec.name),
                        line,
                        col.header,
                        f'"{ident}" is referenced but missing from {where}',
                    )
                )
    return issues


def check_deal_stages(conn: Connection, labels: dict[str, str], limit: int) -> list[BundleIssue]:
    """A deal's stage belongs to its pipeline; closed_at is set exactly for won/lost stages."""
    deals, stages = staging_name("deals"), staging_name("stages")
    label = _label(labels, "deals")
    issues: list[BundleIssue] = []
    rows = conn.execute(
        text(
            f"SELECT d._line, d.stage_id, st.pipeline_id, d.pipeline_id FROM {deals} d "
            f"JOIN {stages} st ON st.id = d.stage_id "
            f"WHERE st.pipeline_id <> d.pipeline_id ORDER BY d._line LIMIT :n"
        ),
        {"n": limit},
    ).all()
    for line, stage, stage_pipeline, pipeline in rows:
        issues.append(
            BundleIssue(
                label,
                line,
                "stage_id",
                f'stage "{stage}" belongs to pipeline "{stage_pipeline}", not "{pipeline}"',
            )
        )
    rows = conn.execute(
        text(
            f"SELECT d._line, d.stage_id, st.kind, d.closed_at IS NULL FROM {deals} d "
            f"JOIN {stages} st ON st.id = d.stage_id "
            f"WHERE (st.kind IN ('won', 'lost') AND d.closed_at IS NULL) "
            f"OR (st.kind = 'open' AND d.closed_at IS NOT NULL) ORDER BY d._line LIMIT :n"
        ),
        {"n": max(0, limit - len(issues))},
    ).all()
    for line, stage, kind, closed_missing in rows:
        reason = (
            f'is empty but stage "{stage}" is {kind}: a won or lost deal needs closed_at'
            if closed_missing
            else f'is set but stage "{stage}" is open: only won or lost deals have closed_at'
        )
        issues.append(BundleIssue(label, line, "closed_at", reason))
    return issues


def merge(conn: Connection, account_id: str, present: set[str]) -> None:
    """Upsert every staged table into the store by ``(account_id, id)``.

    PostgreSQL: an UPDATE of rows that exist and differ, then a plain INSERT of new ones —
    measured 1.4x faster than ``INSERT … ON CONFLICT`` (speculative insertion), and a
    re-import of an unchanged bundle writes nothing. SQLite: ``INSERT … ON CONFLICT``,
    its fastest path.
    """
    for spec in TABLES:
        if spec.name not in present:
            continue
        target = ENTITY_TABLES[spec.name]
        stage = staging_name(spec.name)
        cols = [c.name for c in target.columns if c.name != "account_id"]
        quoted = ", ".join(f'"{c}"' for c in cols)
        values = [c for c in cols if c != "id"]
        params = {"account_id": account_id, "account_id_new": account_id}
        if conn.dialect.name == "postgresql":
            sets = ", ".join(f'"{c}" = s."{c}"' for c in values)
            old = ", ".join(f't."{c}"' for c in values)
            new = ", ".join(f's."{c}"' for c in values)
            conn.execute(
                text(
                    f"UPDATE {target.name} AS t SET {sets} FROM {stage} s "
                    f"WHERE t.account_id = :account_id AND t.id = s.id "
                    f"AND ROW({old}) IS DISTINCT FROM ROW({new})"
                ),
                params,
            )
            conn.execute(
                text(
                    f'INSERT INTO {target.name} ("account_id", {quoted}) '
                    f"SELECT CAST(:account_id_new AS VARCHAR), {quoted} FROM {stage} s "
                    f"WHERE NOT EXISTS (SELECT 1 FROM {target.name} t "
                    f"WHERE t.account_id = :account_id AND t.id = s.id) ORDER BY s.id"
                ),
                params,
            )
            continue
        updates = ", ".join(f'"{c}" = excluded."{c}"' for c in values)
        conn.execute(
            text(
                f'INSERT INTO {target.name} ("account_id", {quoted}) '
                f"SELECT :account_id, {quoted} FROM {stage} WHERE true ORDER BY id "
                f'ON CONFLICT ("account_id", "id") DO UPDATE SET {updates}'
            ),
            params,
        )


def drop_staging(conn: Connection) -> None:
    """Drop the staging tables (SQLite keeps temporary tables for the connection's life)."""
    for spec in TABLES:
        conn.execute(text(f"DROP TABLE IF EXISTS {staging_name(spec.name)}"))
