from __future__ import annotations

import csv
from datetime import date
from pathlib import Path

import pytest

from ropilot.generator import TABLES, generate_bundle


def _files(path: Path) -> dict[str, bytes]:
    return {file.name: file.read_bytes() for file in sorted(path.glob("*.csv"))}


def test_same_seed_gives_byte_identical_files(tmp_path: Path) -> None:
    first = generate_bundle(tmp_path / "a", deals=700, seed=5)
    second = generate_bundle(tmp_path / "b", deals=700, seed=5)
    a, b = _files(tmp_path / "a"), _files(tmp_path / "b")
    assert sorted(a) == sorted(f"{name}.csv" for name in TABLES)
    assert a == b
    assert first.rows == second.rows


def test_different_seed_gives_different_files(tmp_path: Path) -> None:
    generate_bundle(tmp_path / "a", deals=700, seed=5)
    generate_bundle(tmp_path / "b", deals=700, seed=6)
    a, b = _files(tmp_path / "a"), _files(tmp_path / "b")
    for name in ("deals.csv", "stage_changes.csv", "companies.csv", "contacts.csv"):
        assert a[name] != b[name], name


def test_end_is_a_parameter_not_the_clock(tmp_path: Path) -> None:
    generate_bundle(tmp_path, deals=300, seed=5, end=date(2025, 6, 30), months=6)
    with (tmp_path / "deals.csv").open(encoding="utf-8", newline="") as handle:
        deals = list(csv.DictReader(handle))
    created = [row["created_at"] for row in deals]
    assert min(created) >= "2025-01-01"
    assert max(created) < "2025-07-01"
    assert max(row["updated_at"] for row in deals) < "2025-07-01"
    assert any(row["created_at"] >= "2025-06-20" for row in deals)


def test_summary_counts_rows_and_rejects_bad_arguments(tmp_path: Path) -> None:
    summary = generate_bundle(tmp_path, deals=250, seed=2)
    assert summary.path == tmp_path
    assert summary.rows["deals"] == 250
    for name, count in summary.rows.items():
        lines = (tmp_path / f"{name}.csv").read_bytes().count(b"\r\n")
        assert lines >= count + 1, name  # header + rows (quoted cells never hold newlines)
    assert summary.total_rows == sum(summary.rows.values())
    with pytest.raises(ValueError):
        generate_bundle(tmp_path, deals=-1)
    with pytest.raises(ValueError):
        generate_bundle(tmp_path, deals=10, months=0)


def test_progress_reports_every_deal_in_chunks(tmp_path: Path) -> None:
    calls: list[int] = []
    generate_bundle(tmp_path, deals=2500, seed=3, months=6, progress=calls.append)
    assert sum(calls) == 2500
    assert calls[:2] == [1000, 1000]
    assert calls[-1] == 500
