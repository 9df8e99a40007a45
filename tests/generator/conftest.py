from __future__ import annotations

import csv
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date
from pathlib import Path

import pytest

from ropilot.generator import GeneratedSummary, generate_bundle

END = date(2026, 11, 24)
DEALS = 3000


@dataclass
class Bundle:
    summary: GeneratedSummary
    tables: dict[str, list[dict[str, str]]]
    progress: list[int]
    end: date
    deals: int

    def __getitem__(self, name: str) -> list[dict[str, str]]:
        return self.tables[name]


def read_bundle(path: Path) -> dict[str, list[dict[str, str]]]:
    tables: dict[str, list[dict[str, str]]] = {}
    for file in sorted(path.glob("*.csv")):
        with file.open(encoding="utf-8", newline="") as handle:
            tables[file.stem] = list(csv.DictReader(handle))
    return tables


@pytest.fixture(scope="session")
def read() -> Callable[[Path], dict[str, list[dict[str, str]]]]:
    return read_bundle


@pytest.fixture(scope="session")
def bundle(tmp_path_factory: pytest.TempPathFactory) -> Bundle:
    out = tmp_path_factory.mktemp("bundle")
    calls: list[int] = []
    summary = generate_bundle(out, deals=DEALS, seed=11, end=END, progress=calls.append)
    return Bundle(summary=summary, tables=read_bundle(out), progress=calls, end=END, deals=DEALS)
