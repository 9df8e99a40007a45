"""Export then import gives back the same store, for every container."""

from __future__ import annotations

from pathlib import Path

import pytest

from ropilot.connectors.bundle.exporter import export_bundle
from ropilot.connectors.bundle.importer import import_bundle
from ropilot.core.errors import BundleError
from ropilot.core.models import Account
from ropilot.core.store import ENTITY_ORDER, Store
from ropilot.generator import generate_bundle


def _dump(store: Store, account_id: str) -> dict[str, list[dict[str, object]]]:
    return {t: list(store.iter_rows(t, account_id)) for t in ENTITY_ORDER}


@pytest.fixture(scope="module")
def generated(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("gen") / "bundle"
    generate_bundle(out, deals=400, seed=11)
    return out


@pytest.mark.parametrize("target", ["folder", "bundle.zip", "bundle.xlsx"])
def test_export_then_import_gives_the_same_store(
    store: Store, generated: Path, tmp_path: Path, target: str
) -> None:
    report = import_bundle(store, generated)
    original = _dump(store, report.account_id)
    assert len(original["deals"]) == 400
    exported = export_bundle(store, tmp_path / target)
    assert exported.rows["deals"] == 400

    fresh = Store.open(f"sqlite:///{tmp_path / 'fresh.db'}")
    try:
        import_bundle(fresh, tmp_path / target)
        assert fresh.get_account(report.account_id) == store.get_account(report.account_id)
        assert _dump(fresh, report.account_id) == original
    finally:
        fresh.close()


def test_small_bundle_round_trip_keeps_custom_fields(store: Store, tmp_path: Path) -> None:
    small = Path(__file__).parent / "data" / "small"
    import_bundle(store, small)
    export_bundle(store, tmp_path / "out")
    header = (tmp_path / "out" / "deals.csv").read_text(encoding="utf-8").splitlines()[0]
    assert header.endswith(",expected_close_at,utm_campaign")
    before = _dump(store, "acme")
    import_bundle(store, tmp_path / "out")
    assert _dump(store, "acme") == before


def test_export_refuses_a_folder_with_csv_files(store: Store, tmp_path: Path) -> None:
    small = Path(__file__).parent / "data" / "small"
    import_bundle(store, small)
    with pytest.raises(BundleError, match="already holds CSV files"):
        export_bundle(store, small)


def test_export_needs_an_account_when_several(store: Store, tmp_path: Path) -> None:
    store.upsert_account(Account(id="a", name="A"))
    store.upsert_account(Account(id="b", name="B"))
    with pytest.raises(BundleError, match="several accounts; choose one with --account"):
        export_bundle(store, tmp_path / "x")
    with pytest.raises(BundleError, match="no account 'c'"):
        export_bundle(store, tmp_path / "x", account_id="c")
