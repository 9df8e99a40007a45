"""``ropilot import``: load an account bundle into the store, all or nothing."""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from pydantic import TypeAdapter, ValidationError
from sqlalchemy import Connection, Table, select

from ropilot.connectors.bundle import staging, values
from ropilot.connectors.bundle.progress import NoProgress, Progress
from ropilot.connectors.bundle.sources import BundleSource, TableReader, open_bundle
from ropilot.connectors.bundle.spec import ACCOUNT, DEFAULTS, TABLES, ColumnSpec, TableSpec
from ropilot.core.errors import BundleError, BundleIssue
from ropilot.core.models import (
    Absence,
    Account,
    Specialisations,
    WorkingInterval,
    derived_id,
)
from ropilot.core.store import Store
from ropilot.core.store.schema import custom_field_defs
from ropilot.core.store.upsert import upsert_rows

MAX_ERRORS = 50
SQLITE_CACHE_KIB = 65536
BATCH = 5000

_JSON_SHAPES: dict[str, TypeAdapter[Any]] = {
    "working_schedule": TypeAdapter(list[WorkingInterval]),
    "absences": TypeAdapter(list[Absence]),
    "specialisations": TypeAdapter(Specialisations),
}


@dataclass
class ImportReport:
    """What an import did."""

    account_id: str
    source: str
    rows: dict[str, int] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)
    seconds: float = 0.0
    phases: dict[str, float] = field(default_factory=dict)
    """Seconds spent reading, checking and merging."""

    @property
    def total_rows(self) -> int:
        """Rows read over all tables (the account row included)."""
        return sum(self.rows.values())


class _Issues:
    def __init__(self) -> None:
        self.items: list[BundleIssue] = []

    def add(self, issue: BundleIssue) -> None:
        if len(self.items) < MAX_ERRORS:
            self.items.append(issue)

    def extend(self, issues: list[BundleIssue]) -> None:
        for issue in issues:
            self.add(issue)

    @property
    def full(self) -> bool:
        return len(self.items) >= MAX_ERRORS

    def raise_if_any(self, source: str) -> None:
        if not self.items:
            return
        shown = "\n".join(f"  {i}" for i in self.items)
        more = f" (the first {MAX_ERRORS} shown)" if self.full else ""
        raise BundleError(
            f"{source}: the bundle was not imported, nothing in the store changed. "
            f"{len(self.items)} problem(s){more}:\n{shown}",
            list(self.items),
        )


def _json_parser(column: str) -> values.Parser:
    adapter = _JSON_SHAPES[column]

    def parse(raw: Any) -> Any:
        try:
            return adapter.dump_python(adapter.validate_python(values.json_value(raw)), mode="json")
        except ValidationError as exc:
            first = exc.errors()[0]
            where = ".".join(str(p) for p in first["loc"])
            raise ValueError(f"{where}: {first['msg']}") from None

    return parse


def _parser(col: ColumnSpec, zone: ZoneInfo, reader: TableReader) -> values.Parser:
    kind = col.kind
    if kind == "id":
        return values.identifier
    if kind == "text":
        return values.text
    if kind == "ts":
        return values.timestamp_parser(zone)
    if kind == "day":
        return values.calendar_day_parser(zone)
    if kind == "money":
        return values.MoneyParser(allow_decimal_comma=reader.decimal_comma)
    if kind == "bool":
        return values.boolean
    if kind == "int":
        return values.integer
    if kind == "count":
        return values.bounded_integer(0, 2**31 - 1)
    if kind == "pct":
        return values.bounded_integer(0, 100)
    if kind == "multi":
        return values.multi
    if kind == "currency":
        return values.currency
    if kind == "tz":
        return values.timezone_name
    if kind == "json":
        return _json_parser(col.column)
    if kind.startswith("choice:"):
        return values.choice(*kind.removeprefix("choice:").split("|"))
    raise AssertionError(f"unknown column kind {kind}")  # pragma: no cover


def _blank(raw: Any) -> bool:
    return raw is None or (type(raw) is str and (not raw or raw.isspace()))


def _driver_value(kind: str, dialect: str) -> Callable[[Any], Any] | None:
    """Conversion of a parsed value for the DB driver (staging rows bypass SQLAlchemy types)."""
    if kind in ("json", "multi"):
        return lambda v: json.dumps(v, ensure_ascii=False, separators=(",", ":"))
    if dialect == "sqlite" and kind == "day":
        return lambda v: v.isoformat()
    if dialect == "sqlite" and kind == "bool":
        return int
    return None


@dataclass
class _Plan:
    """How each cell of a table's rows is turned into a staging row (a tuple)."""

    columns: list[tuple[int | None, bool, str, values.Parser, Any]]
    """(cell index or None when absent, required, header, parser, default)"""
    extras: list[tuple[int, str]]
    width: int
    targets: list[str]
    """Staging columns, in row order: ``_line``, the spec's columns, ``custom_fields``."""
    derived: tuple[int, ...]
    """Row positions whose values make a history row's id (empty: the table has ids)."""
    id_pos: int


def _plan(
    spec: TableSpec, reader: TableReader, zone: ZoneInfo, issues: _Issues, dialect: str
) -> _Plan:
    positions: dict[str, int] = {}
    for idx, header in enumerate(reader.header):
        if not header:
            continue
        if header in positions:
            issues.add(BundleIssue(reader.label, 1, header, "column appears twice in the header"))
        positions[header] = idx
    defaults = DEFAULTS.get(spec.name, {})
    columns = []
    for col in spec.columns:
        parse = _parser(col, zone, reader)
        post = _driver_value(col.kind, dialect)
        default = defaults.get(col.column)
        if post is not None:
            parse = _then(parse, post)
            default = None if default is None else post(default)
        columns.append((positions.get(col.header), col.required, col.header, parse, default))
    known = {col.header for col in spec.columns}
    extras = [(idx, h) for h, idx in positions.items() if h not in known]
    targets = ["_line", *(col.column for col in spec.columns), "custom_fields"]
    derived = tuple(targets.index(c) for c in spec.derived_id)
    return _Plan(columns, extras, len(reader.header), targets, derived, targets.index("id"))


def _then(first: values.Parser, second: Callable[[Any], Any]) -> values.Parser:
    return lambda raw: second(first(raw))


def _rows(reader: TableReader, plan: _Plan, issues: _Issues) -> Iterator[list[Any]]:
    label = reader.label
    width = plan.width
    columns = plan.columns
    extras = plan.extras
    derived = plan.derived
    id_pos = plan.id_pos
    for line, cells in reader.rows:
        row: list[Any] = [line]
        ok = True
        n = len(cells)
        if n > width and any(not _blank(c) for c in cells[width:]):
            issues.add(BundleIssue(label, line, None, "more values than header columns"))
            ok = False
        for idx, required, header, parse, default in columns:
            raw = cells[idx] if idx is not None and idx < n else None
            if raw is None or (type(raw) is str and (not raw or raw.isspace())):
                if required:
                    issues.add(BundleIssue(label, line, header, "is required but empty"))
                    ok = False
                row.append(default)
                continue
            try:
                row.append(parse(raw))
            except ValueError as exc:
                issues.add(BundleIssue(label, line, header, str(exc)))
                ok = False
                row.append(None)
        if extras:
            custom = {h: values.text(cells[i]) for i, h in extras if i < n and not _blank(cells[i])}
            row.append(json.dumps(custom, ensure_ascii=False) if custom else None)
        else:
            row.append(None)
        if derived and row[id_pos] is None:
            # Timestamps are already epoch µs here, which is how derived_id renders datetimes.
            row[id_pos] = derived_id(*(row[i] for i in derived))
        if issues.full:
            return
        if ok:
            yield row


def _read_account(source: BundleSource, issues: _Issues) -> Account:
    if "account" not in source.tables():
        raise BundleError(
            f"{source.description}: the required table account is missing "
            "(account.csv or a sheet named account)",
            [BundleIssue("account", None, None, "required table is missing")],
        )
    with source.open("account", [c.header for c in ACCOUNT.columns if c.required]) as reader:
        zone = ZoneInfo("UTC")
        plan = _plan(ACCOUNT, reader, zone, issues, "")
        rows = [dict(zip(plan.targets, r, strict=True)) for r in _rows(reader, plan, issues)]
        issues.raise_if_any(source.description)
        if len(rows) != 1:
            raise BundleError(
                f"{reader.label}: must hold exactly one account row, found {len(rows)}",
                [BundleIssue(reader.label, None, None, f"{len(rows)} rows instead of one")],
            )
        row = rows[0]
        return Account(
            id=row["id"], name=row["name"], timezone=row["timezone"], currency=row["currency"]
        )


def _load_table(
    conn: Connection,
    spec: TableSpec,
    source: BundleSource,
    stage: Table,
    zone: ZoneInfo,
    issues: _Issues,
    progress: Progress,
    report: ImportReport,
    labels: dict[str, str],
) -> list[str]:
    required = [c.header for c in spec.columns if c.required]
    with source.open(spec.name, required) as reader:
        labels[spec.name] = reader.label
        report.notes.extend(reader.notes)
        plan = _plan(spec, reader, zone, issues, conn.dialect.name)
        write = staging.row_writer(conn, spec.name, plan.targets)
        batch: list[tuple[Any, ...]] = []
        count = 0
        done = 0
        for row in _rows(reader, plan, issues):
            batch.append(tuple(row))
            if len(batch) >= BATCH:
                if not issues.items:
                    write(batch)
                count += len(batch)
                batch = []
                now = reader.consumed()
                progress.advance(now - done, spec.name)
                done = now
        if batch and not issues.items:
            write(batch)
        count += len(batch)
        progress.advance(reader.consumed() - done, spec.name)
        report.rows[spec.name] = count
        return [h for _, h in plan.extras]


def import_bundle(store: Store, path: Path, *, progress: Progress | None = None) -> ImportReport:
    """Import an account bundle into the store.

    All or nothing: every row is checked (values, ids unique per table, references, stage
    rules) before anything is written, and any problem rejects the whole run with up to 50
    issues naming file, line and column. Idempotent: rows are upserted by ``(account, id)``.

    Raises:
        BundleError: the bundle is invalid; ``errors`` holds each issue.
    """
    started = time.perf_counter()
    bar = progress or NoProgress()
    source = open_bundle(Path(path))
    issues = _Issues()
    account = _read_account(source, issues)
    zone = ZoneInfo(account.timezone)
    present = set(source.tables())
    report = ImportReport(account_id=account.id, source=source.description)
    report.rows["account"] = 1
    unknown = sorted(present - {t.name for t in TABLES} - {"account"})
    if unknown:
        report.notes.append(f"ignored, not bundle tables: {', '.join(unknown)}")
    if "deals" not in present:
        raise BundleError(
            f"{source.description}: the required table deals is missing",
            [BundleIssue("deals", None, None, "required table is missing")],
        )
    bar.start(sum(source.size(t.name) for t in TABLES if t.name in present))
    labels: dict[str, str] = {}
    with store.engine.connect() as conn:
        try:
            with conn.begin():
                if conn.dialect.name == "sqlite":
                    # A bigger page cache for this connection: the merge walks large indexes.
                    conn.exec_driver_sql(f"PRAGMA cache_size=-{SQLITE_CACHE_KIB}")
                else:
                    # Staging indexes and the merge's hash joins: keep them in memory on the server.
                    conn.exec_driver_sql("SET LOCAL maintenance_work_mem = '256MB'")
                    conn.exec_driver_sql("SET LOCAL work_mem = '64MB'")
                stages = staging.create_staging(conn)
                custom: dict[str, list[str]] = {}
                for spec in TABLES:
                    if spec.name in present and not issues.full:
                        custom[spec.name] = _load_table(
                            conn, spec, source, stages[spec.name], zone, issues, bar, report, labels
                        )
                issues.raise_if_any(source.description)
                mark = report.phases["read"] = time.perf_counter() - started
                for spec in TABLES:
                    issues.extend(staging.check_unique_ids(conn, spec, labels, MAX_ERRORS))
                issues.raise_if_any(source.description)
                issues.extend(staging.check_references(conn, labels, present, MAX_ERRORS))
                issues.extend(staging.check_deal_stages(conn, labels, MAX_ERRORS))
                issues.raise_if_any(source.description)
                report.phases["check"] = time.perf_counter() - started - mark
                mark += report.phases["check"]
                store.upsert_account(account, conn)
                staging.merge(conn, account.id, present)
                _record_custom_fields(conn, account.id, custom)
                staging.drop_staging(conn)
                report.phases["merge"] = time.perf_counter() - started - mark
            mark = time.perf_counter()
            store.refresh_statistics([spec.name for spec in TABLES if spec.name in present])
            report.phases["statistics"] = time.perf_counter() - mark
        finally:
            close = getattr(source, "close", None)
            if close is not None:
                close()
    report.seconds = time.perf_counter() - started
    return report


def _record_custom_fields(conn: Connection, account_id: str, custom: dict[str, list[str]]) -> None:
    known = {
        (r.entity, r.id)
        for r in conn.execute(
            select(custom_field_defs.c.entity, custom_field_defs.c.id).where(
                custom_field_defs.c.account_id == account_id
            )
        )
    }
    rows = [
        {"account_id": account_id, "entity": table, "id": header, "name": header, "type": "text"}
        for table, headers in custom.items()
        for header in headers
        if (table, header) not in known
    ]
    if rows:
        upsert_rows(conn, custom_field_defs, rows)
