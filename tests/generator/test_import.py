"""The generated bundle passes the real importer (all rules checked there too)."""

from __future__ import annotations

from pathlib import Path

from ropilot.connectors.bundle.importer import import_bundle
from ropilot.core.store import Store
from ropilot.generator import generate_bundle


def test_generated_bundle_imports_cleanly(tmp_path: Path) -> None:
    summary = generate_bundle(tmp_path / "bundle", deals=800, seed=9)
    store = Store.open(f"sqlite:///{tmp_path / 'store.sqlite'}")
    try:
        report = import_bundle(store, tmp_path / "bundle")
        counts = store.counts(report.account_id)
    finally:
        store.close()
    assert report.account_id == "demo"
    for table, rows in summary.rows.items():
        if table != "account":
            assert counts[table] == rows, table
