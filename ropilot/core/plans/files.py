"""Plan files: TOML (nested, for people) and CSV (``scope,period,metric,value``, for sheets).

TOML form — scope kind, then the id (not for ``company``), then the period, then metrics;
costs sit in ``costs`` and ``one_time_costs`` tables under a period::

    name = "2026"

    [company."2026"]
    revenue = 120000000.00
    won_deals = 600

    [company."2026-01".one_time_costs]
    crm_licence = 120000

    [manager.m1."2026-03"]
    revenue = 1000000
    calls = 400

CSV form: one line per value with the columns ``scope`` (``company``, ``team:north``,
``manager:m1`` …), ``period``, ``metric`` (costs as ``cost:<item>`` / ``one_time_cost:<item>``)
and ``value``; UTF-8 (a BOM tolerated) with ``,``, or ``;`` with a decimal comma as a Russian
Excel saves it. Numbers are read as exact decimals (TOML floats too). Reading validates every
value and reports all problems at once, each naming the file, the line or key and what is wrong.
"""

from __future__ import annotations

import csv
import io
import tomllib
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import Any

from ropilot.core.errors import ConfigurationError
from ropilot.core.plans.models import SCOPE_KINDS, PlanDocument, PlanLine, make_line

CSV_COLUMNS = ("scope", "period", "metric", "value")
MAX_ISSUES = 50
_COST_TABLES = {"costs": "cost:", "one_time_costs": "one_time_cost:"}


@dataclass(frozen=True)
class PlanFileIssue:
    """One problem in a plan file: the file, the line or the key, and what is wrong."""

    file: str
    line: int | None
    key: str | None
    reason: str

    def __str__(self) -> str:
        where = self.file
        if self.line is not None:
            where += f" line {self.line}"
        if self.key:
            where += f", {'column' if self.line is not None else 'key'} {self.key}"
        return f"{where}: {self.reason}"


class PlanFileError(ConfigurationError):
    """A plan file is invalid; ``issues`` lists every problem found (up to 50)."""

    def __init__(self, issues: list[PlanFileIssue]) -> None:
        shown = issues[:MAX_ISSUES]
        head = f"{len(issues)} problem(s) in the plan file:\n" + "\n".join(map(str, shown))
        super().__init__(head)
        self.issues = shown


# -- TOML -----------------------------------------------------------------------------------


def read_toml(path: Path | str, *, name: str | None = None) -> PlanDocument:
    """Read a plan from a TOML file (see the module docstring for the form).

    Raises:
        PlanFileError: listing every problem with its key.
    """
    p = Path(path)
    return parse_toml(p.read_text(encoding="utf-8-sig"), file=p.name, name=name)


def parse_toml(text: str, *, file: str = "plan.toml", name: str | None = None) -> PlanDocument:
    """Parse TOML text into a plan; ``name`` overrides the file's ``name`` key."""
    try:
        data = tomllib.loads(text, parse_float=Decimal)
    except tomllib.TOMLDecodeError as exc:
        raise PlanFileError([PlanFileIssue(file, None, None, f"not valid TOML: {exc}")]) from exc
    issues: list[PlanFileIssue] = []
    lines: list[PlanLine] = []
    where: dict[tuple[str, str, str], str] = {}

    def bad(key: str, reason: str) -> None:
        issues.append(PlanFileIssue(file, None, key, reason))

    def add(scope: str, period: str, metric: str, value: Any, key: str) -> None:
        if isinstance(value, bool) or not isinstance(value, (int, Decimal, str)):
            bad(key, f"{value!r} is not a number")
            return
        try:
            line = make_line(scope, period, metric, value)
        except ConfigurationError as exc:
            bad(key, str(exc))
            return
        if line.key in where:
            bad(key, f"the same value is also given at {where[line.key]}")
            return
        where[line.key] = key
        lines.append(line)

    def metrics(scope: str, period: str, table: Any, key: str) -> None:
        if not isinstance(table, dict):
            bad(key, "expected a table of metric = value")
            return
        for metric, value in table.items():
            mkey = f"{key}.{_toml_key(metric)}"
            if metric in _COST_TABLES:
                if not isinstance(value, dict):
                    bad(mkey, "expected a table of item = amount")
                    continue
                for item, amount in value.items():
                    add(
                        scope,
                        period,
                        _COST_TABLES[metric] + item,
                        amount,
                        f"{mkey}.{_toml_key(item)}",
                    )
            else:
                add(scope, period, metric, value, mkey)

    def periods(scope: str, table: Any, key: str) -> None:
        if not isinstance(table, dict):
            bad(key, "expected a table of periods")
            return
        for period, inner in table.items():
            metrics(scope, period, inner, f'{key}."{period}"')

    doc_name = name
    for top, value in data.items():
        if top == "name":
            if not isinstance(value, str) or not value.strip():
                bad("name", "the plan name must be a non-empty string")
            elif doc_name is None:
                doc_name = value.strip()
        elif top == "company":
            periods("company", value, "company")
        elif top in SCOPE_KINDS:
            if not isinstance(value, dict):
                bad(top, f"expected a table of {top} ids")
                continue
            for ident, inner in value.items():
                periods(f"{top}:{ident}", inner, f"{top}.{_toml_key(ident)}")
        else:
            bad(top, f"unknown key: use name, {', '.join(SCOPE_KINDS)}")
    if doc_name is None and not issues:
        bad("name", 'the plan has no name: add name = "…" at the top')
    if issues:
        raise PlanFileError(issues)
    assert doc_name is not None
    return PlanDocument(doc_name, tuple(lines))


def _number(value: Decimal) -> str:
    return format(value, "f")


def to_toml(document: PlanDocument) -> str:
    """The plan as TOML text; :func:`parse_toml` reads it back to an equal document."""
    groups: dict[tuple[str, str | None, str], list[PlanLine]] = {}
    for line in document.lines:
        kind, _, key = line.scope.partition(":")
        groups.setdefault((kind, key or None, line.period), []).append(line)
    out = [f"name = {_toml_string(document.name)}"]
    order = {k: i for i, k in enumerate(SCOPE_KINDS)}
    for (kind, ident, period), items in sorted(
        groups.items(), key=lambda kv: (order[kv[0][0]], kv[0][1] or "", kv[0][2])
    ):
        head = kind if ident is None else f"{kind}.{_toml_key(ident)}"
        head += f".{_toml_string(period)}"
        plain = [x for x in items if not x.is_cost]
        if plain:
            out.append(f"\n[{head}]")
            out += [f"{_toml_key(x.metric)} = {_number(x.value)}" for x in plain]
        for table, prefix in _COST_TABLES.items():
            costs = [x for x in items if x.metric.startswith(prefix)]
            if costs:
                out.append(f"\n[{head}.{table}]")
                out += [f"{_toml_key(x.metric[len(prefix) :])} = {_number(x.value)}" for x in costs]
    return "\n".join(out) + "\n"


def _toml_string(s: str) -> str:
    escaped = s.replace("\\", "\\\\").replace('"', '\\"')
    return f'"{escaped}"'


def _toml_key(key: str) -> str:
    bare = key.isascii() and key.replace("_", "").replace("-", "").isalnum()
    return key if bare else _toml_string(key)


def write_toml(document: PlanDocument, path: Path | str) -> None:
    """Write the plan to a TOML file (UTF-8)."""
    Path(path).write_text(to_toml(document), encoding="utf-8")


# -- CSV ------------------------------------------------------------------------------------


def read_csv(path: Path | str, *, name: str | None = None) -> PlanDocument:
    """Read a plan from a CSV file; the plan is named ``name`` or after the file.

    Raises:
        PlanFileError: listing every problem with its line and column.
    """
    p = Path(path)
    return parse_csv(p.read_text(encoding="utf-8-sig"), file=p.name, name=name or p.stem)


def parse_csv(text: str, *, file: str = "plan.csv", name: str = "plan") -> PlanDocument:
    """Parse CSV text (header ``scope,period,metric,value`` in any order) into a plan."""
    text = text.removeprefix("\ufeff")
    first = text.split("\n", 1)[0]
    sep = ";" if ";" in first and "," not in first else ","
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=sep)
    issues: list[PlanFileIssue] = []
    header = next(reader, None)
    if header is None:
        raise PlanFileError([PlanFileIssue(file, None, None, "the file is empty")])
    cols = [h.strip().lower() for h in header]
    missing = [c for c in CSV_COLUMNS if c not in cols]
    extra = [c for c in cols if c not in CSV_COLUMNS]
    if missing or extra:
        parts = []
        if missing:
            parts.append(f"missing column(s) {', '.join(missing)}")
        if extra:
            parts.append(f"unknown column(s) {', '.join(extra)}")
        raise PlanFileError(
            [PlanFileIssue(file, 1, None, "; ".join(parts) + f": use {','.join(CSV_COLUMNS)}")]
        )
    at = {c: cols.index(c) for c in CSV_COLUMNS}
    lines: list[PlanLine] = []
    seen: dict[tuple[str, str, str], int] = {}
    for row in reader:
        number = reader.line_num
        if not any(cell.strip() for cell in row):
            continue
        if len(row) != len(cols):
            issues.append(
                PlanFileIssue(file, number, None, f"{len(row)} cells, the header has {len(cols)}")
            )
            continue
        cell = {c: row[i].strip() for c, i in at.items()}
        if sep == ";":
            cell["value"] = cell["value"].replace(",", ".")
        line = _csv_line(cell, file, number, issues)
        if line is None:
            continue
        if line.key in seen:
            issues.append(
                PlanFileIssue(
                    file,
                    number,
                    None,
                    f"the same scope, period and metric as line {seen[line.key]}",
                )
            )
            continue
        seen[line.key] = number
        lines.append(line)
    if issues:
        raise PlanFileError(issues)
    return PlanDocument(name, tuple(lines))


def _csv_line(
    cell: dict[str, str], file: str, number: int, issues: list[PlanFileIssue]
) -> PlanLine | None:
    for name in CSV_COLUMNS:
        if not cell[name]:
            issues.append(PlanFileIssue(file, number, name, "empty"))
            return None
    try:
        return make_line(cell["scope"], cell["period"], cell["metric"], cell["value"])
    except ConfigurationError as exc:
        msg = str(exc)
        column = next((c for c in CSV_COLUMNS if msg.startswith(c)), None)
        if column is None and msg.startswith("unknown metric"):
            column = "metric"
        issues.append(PlanFileIssue(file, number, column, msg))
        return None


def to_csv(document: PlanDocument) -> str:
    """The plan as CSV text with the header ``scope,period,metric,value``."""
    buf = io.StringIO(newline="")
    writer = csv.writer(buf, lineterminator="\n")
    writer.writerow(CSV_COLUMNS)
    for line in document.lines:
        writer.writerow([line.scope, line.period, line.metric, _number(line.value)])
    return buf.getvalue()


def write_csv(document: PlanDocument, path: Path | str) -> None:
    """Write the plan to a CSV file (UTF-8)."""
    Path(path).write_text(to_csv(document), encoding="utf-8")
