from __future__ import annotations

import shutil
from collections.abc import Callable
from pathlib import Path

import pytest

SMALL = Path(__file__).parent / "data" / "small"


@pytest.fixture
def small_bundle(tmp_path: Path) -> Path:
    """A copy of the hand-written small bundle that a test may edit."""
    target = tmp_path / "bundle"
    shutil.copytree(SMALL, target)
    return target


@pytest.fixture
def edit() -> Callable[[Path, str, str, str], None]:
    """Replace text in one file of a bundle (the text must be there)."""

    def replace(bundle: Path, table: str, old: str, new: str) -> None:
        path = bundle / f"{table}.csv"
        content = path.read_text(encoding="utf-8")
        assert old in content, f"{old!r} not in {table}.csv"
        path.write_text(content.replace(old, new, 1), encoding="utf-8")

    return replace
