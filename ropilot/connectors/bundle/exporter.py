"""``ropilot export``: write an account from the store as a bundle (CSV folder, zip, XLSX).

Every table is streamed from the database to its file; importing the result into an empty
store gives back the same rows (custom fields included, as extra columns).
"""

from __future__ import annotations

import csv
import io
import json
import time
import zipfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol
from zoneinfo import ZoneInfo

from sqlalchemy import text

from ropilot.connectors.bundle.progress import NoProgress, Progress
from ropilot.connectors.bundle.spec import ACCOUNT, TABLES, TableSpec
from ropilot.core.errors import BundleError
from ropilot.core.models import Account
from ropilot.core.store import Store


@dataclass
class ExportReport:
    """What an export wrote."""

    account_id: str
    path: Path
    format: str
    rows: dict[str, int] = field(default_factory=dict)
    seconds: float = 0.0


def _formatter(kind: str, zone: ZoneInfo) -> Callable[[Any], Any]:
    if kind == "ts":
        return lambda v: v.astimezone(zone).isoformat()
    if kind == "money":
        return lambda v: format(v, "f")
    if kind == "bool":
        return lambda v: "true" if v else "false"
    if kind == "multi":
        return lambda v: ";".join(v)
    if kind == "json":
        return lambda v: json.dumps(v, ensure_ascii=False, separators=(",", ":"))
    if kind == "day":
        return lambda v: v.isoformat()
    return lambda v: v if isinstance(v, str) else str(v)


def _custom_keys(store: Store, table: str, account_id: str) -> list[str]:
    if store.dialect == "postgresql":
        sql = (
            f"SELECT DISTINCT k FROM {table}, jsonb_object_keys({table}.custom_fields) AS k "
            f"WHERE account_id = :a AND custom_fields IS NOT NULL"
        )
    else:
        sql = (
            f"SELECT DISTINCT j.key FROM {table}, json_each({table}.custom_fields) AS j "
            f"WHERE account_id = :a AND custom_fields IS NOT NULL"
        )
    with store.engine.connect() as conn:
        return sorted(str(r[0]) for r in conn.execute(text(sql), {"a": account_id}))


def _rows(store: Store, spec: TableSpec, account: Account, keys: list[str]) -> Iterator[list[Any]]:
    zone = ZoneInfo(account.timezone)
    plan = [(col.column, _formatter(col.kind, zone)) for col in spec.columns]
    for row in store.iter_rows(spec.name, account.id):
        out: list[Any] = []
        for column, fmt in plan:
            value = row[column]
            out.append(None if value is None or value == [] else fmt(value))
        custom = row.get("custom_fields") or {}
        for key in keys:
            value = custom.get(key)
            out.append(None if value is None else str(value))
        yield out


class _Sink(Protocol):
    def table(self, name: str, header: list[str]) -> Any: ...


class _CsvSink:
    def __init__(self, opener: Callable[[str], io.TextIOBase]) -> None:
        self.opener = opener

    @contextmanager
    def table(self, name: str, header: list[str]) -> Iterator[Callable[[list[Any]], None]]:
        with self.opener(f"{name}.csv") as fh:
            writer = csv.writer(fh, lineterminator="\r\n")
            writer.writerow(header)
            yield lambda row: writer.writerow(["" if v is None else v for v in row])


class _XlsxSink:
    def __init__(self, workbook: Any) -> None:
        self.wb = workbook

    @contextmanager
    def table(self, name: str, header: list[str]) -> Iterator[Callable[[list[Any]], None]]:
        sheet = self.wb.add_worksheet(name)
        sheet.write_row(0, 0, header)
        state = {"r": 1}

        def write(row: list[Any]) -> None:
            r = state["r"]
            for c, value in enumerate(row):
                if value is None:
                    continue
                if isinstance(value, str):
                    sheet.write_string(r, c, value)
                else:  # pragma: no cover - every formatter yields text
                    sheet.write(r, c, value)
            state["r"] = r + 1

        yield write


def _format_of(path: Path) -> str:
    suffix = path.suffix.lower()
    if suffix == ".zip":
        return "zip"
    if suffix == ".xlsx":
        return "xlsx"
    if suffix:
        raise BundleError(f"{path}: export to a folder, a .zip or an .xlsx file")
    return "csv"


def resolve_account(store: Store, account_id: str | None) -> Account:
    """The account to export: the one given, or the only one in the store.

    Raises:
        BundleError: when the account is unknown or several exist and none was named.
    """
    accounts = store.list_accounts()
    if account_id is not None:
        for account in accounts:
            if account.id == account_id:
                return account
        known = ", ".join(a.id for a in accounts) or "none"
        raise BundleError(f"no account {account_id!r} in the store (accounts: {known})")
    if len(accounts) == 1:
        return accounts[0]
    if not accounts:
        raise BundleError("the store holds no account yet: import or sync one first")
    raise BundleError(
        "the store holds several accounts; choose one with --account "
        f"({', '.join(a.id for a in accounts)})"
    )


def export_bundle(
    store: Store,
    path: Path,
    *,
    account_id: str | None = None,
    progress: Progress | None = None,
) -> ExportReport:
    """Write one account as a bundle at ``path`` (folder, ``.zip`` or ``.xlsx``).

    Raises:
        BundleError: for an unknown account or an unsupported path.
    """
    started = time.perf_counter()
    bar = progress or NoProgress()
    path = Path(path)
    fmt = _format_of(path)
    account = resolve_account(store, account_id)
    counts = store.counts(account.id)
    bar.start(sum(counts[t.name] for t in TABLES))
    report = ExportReport(account_id=account.id, path=path, format=fmt)
    with _open_sink(path, fmt) as sink:
        with sink.table("account", [c.header for c in ACCOUNT.columns]) as write:
            write([account.id, account.name, account.timezone, account.currency])
        for spec in TABLES:
            if not counts[spec.name]:
                continue
            keys = [k for k in _custom_keys(store, spec.name, account.id) if spec.column(k) is None]
            header = [c.header for c in spec.columns] + keys
            n = 0
            with sink.table(spec.name, header) as write:
                for row in _rows(store, spec, account, keys):
                    write(row)
                    n += 1
                    if n % 5000 == 0:
                        bar.advance(5000, spec.name)
            bar.advance(n % 5000, spec.name)
            report.rows[spec.name] = n
    report.seconds = time.perf_counter() - started
    return report


@contextmanager
def _open_sink(path: Path, fmt: str) -> Iterator[Any]:
    if fmt == "csv":
        path.mkdir(parents=True, exist_ok=True)
        stale = [p.name for p in path.glob("*.csv")]
        if stale:
            raise BundleError(
                f"{path} already holds CSV files ({', '.join(sorted(stale)[:5])}); "
                "export into an empty or new folder"
            )
        yield _CsvSink(lambda name: (path / name).open("w", encoding="utf-8", newline=""))
    elif fmt == "zip":
        path.parent.mkdir(parents=True, exist_ok=True)
        with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_DEFLATED) as zf:

            def opener(name: str) -> io.TextIOBase:
                return io.TextIOWrapper(zf.open(name, "w"), encoding="utf-8", newline="")

            yield _CsvSink(opener)
    else:
        import xlsxwriter

        path.parent.mkdir(parents=True, exist_ok=True)
        workbook = xlsxwriter.Workbook(
            str(path),
            {"constant_memory": True, "strings_to_formulas": False, "strings_to_urls": False},
        )
        try:
            yield _XlsxSink(workbook)
        finally:
            workbook.close()
