"""Import of the hand-written small bundle: every expected value below was worked out by hand
from tests/connectors/bundle/data/small (Europe/Moscow is UTC+3 all year)."""

from __future__ import annotations

import zipfile
from collections.abc import Callable
from datetime import UTC, date, datetime
from decimal import Decimal
from pathlib import Path

import pytest

from ropilot.connectors.bundle.importer import MAX_ERRORS, import_bundle
from ropilot.core.errors import BundleError
from ropilot.core.models import Role
from ropilot.core.store import Store

Edit = Callable[[Path, str, str, str], None]


def _snapshot(store: Store) -> dict[str, list[dict[str, object]]]:
    out = {}
    for table in store.counts("acme"):
        out[table] = list(store.iter_rows(table, "acme"))
    return out


def test_imports_every_table_with_values_converted(store: Store, small_bundle: Path) -> None:
    report = import_bundle(store, small_bundle)
    assert report.account_id == "acme"
    assert store.counts("acme") == {
        "teams": 2,
        "managers": 4,
        "pipelines": 1,
        "stages": 5,
        "companies": 1,
        "contacts": 1,
        "deals": 3,
        "stage_changes": 5,
        "assignments": 1,
        "activities": 3,
        "tasks": 2,
        "events": 0,
    }
    account = store.get_account("acme")
    assert account is not None and account.name == "ООО «Акме»"
    deals = {d.id: d for d in store.iter_models("deals", "acme")}
    # 2026-01-31T23:30:00+03:00 is 20:30 UTC the same day.
    assert deals["d1"].created_at == datetime(2026, 1, 31, 20, 30, tzinfo=UTC)
    assert deals["d1"].amount == Decimal("150000.50")
    assert deals["d1"].custom_fields == {"utm_campaign": "winter"}
    assert deals["d1"].expected_close_at == date(2026, 2, 28)
    # No offset: local time of the account (Moscow, UTC+3).
    assert deals["d2"].created_at == datetime(2026, 2, 1, 7, 0, tzinfo=UTC)
    assert deals["d2"].amount is None
    assert deals["d2"].loss_reason == "Дорого"
    # A timestamp in expected_close_at is taken as its day in the account's zone.
    assert deals["d3"].expected_close_at == date(2026, 3, 31)
    assert deals["d3"].currency == "USD"


def test_defaults_booleans_and_lists(store: Store, small_bundle: Path) -> None:
    import_bundle(store, small_bundle)
    managers = {m.id: m for m in store.iter_models("managers", "acme")}
    assert managers["m1"].active is True  # "да"
    assert managers["m4"].active is False  # "no"
    assert managers["m3"].active is True  # empty → default
    assert managers["m3"].role is Role.MANAGER  # empty → default
    assert managers["m2"].timezone == "Asia/Yekaterinburg"
    (company,) = store.iter_models("companies", "acme")
    assert company.name == 'ООО "Ромашка"'
    assert company.phones == ["8 (912) 345-67-89", "+7 495 123-45-67"]
    assert company.custom_fields == {"okved": "62.01"}


def test_import_twice_leaves_the_store_as_after_once(store: Store, small_bundle: Path) -> None:
    import_bundle(store, small_bundle)
    first = _snapshot(store)
    import_bundle(store, small_bundle)
    assert _snapshot(store) == first


def test_changed_values_are_updated(store: Store, small_bundle: Path, edit: Edit) -> None:
    import_bundle(store, small_bundle)
    edit(small_bundle, "deals", "150000.50", "175000")
    import_bundle(store, small_bundle)
    deals = {d.id: d for d in store.iter_models("deals", "acme")}
    assert deals["d1"].amount == Decimal("175000.00")
    assert store.counts("acme")["deals"] == 3


def test_stage_changes_without_ids_are_idempotent(store: Store, small_bundle: Path) -> None:
    import_bundle(store, small_bundle)
    import_bundle(store, small_bundle)
    changes = [c for c in store.iter_models("stage_changes", "acme") if c.deal_id == "d1"]
    assert sorted(c.to_stage_id for c in changes) == ["s1", "s3", "won"]


def _expect_errors(store: Store, bundle: Path) -> list[str]:
    with pytest.raises(BundleError) as info:
        import_bundle(store, bundle)
    return [str(e) for e in info.value.errors]


def test_bad_value_names_file_line_column_and_changes_nothing(
    store: Store, small_bundle: Path, edit: Edit, tmp_path: Path
) -> None:
    import_bundle(store, small_bundle)
    before = _snapshot(store)
    edit(small_bundle, "deals", "2026-02-28T23:59:59+03:00", "2026-13-01")
    errors = _expect_errors(store, small_bundle)
    assert errors == [
        'deals.csv line 2, column closed_at: "2026-13-01" is not a timestamp (ISO 8601)'
    ]
    assert _snapshot(store) == before


def test_rejected_run_on_empty_store_writes_nothing(
    store: Store, small_bundle: Path, edit: Edit
) -> None:
    edit(small_bundle, "tasks", "m2,2026-02-01", "m9,2026-02-01")
    errors = _expect_errors(store, small_bundle)
    assert errors == [
        'tasks.csv line 3, column responsible_id: "m9" is referenced but missing from managers'
    ]
    assert store.list_accounts() == []
    assert sum(store.counts("acme").values()) == 0


def test_bare_date_is_not_a_timestamp(store: Store, small_bundle: Path, edit: Edit) -> None:
    edit(small_bundle, "activities", "2026-02-05T15:00:00+03:00", "2026-02-05")
    errors = _expect_errors(store, small_bundle)
    assert errors == [
        'activities.csv line 3, column at: "2026-02-05" is a date without a time; '
        "a timestamp is required"
    ]


def test_required_column_and_value(store: Store, small_bundle: Path, edit: Edit) -> None:
    edit(small_bundle, "stages", "s2,p1,КП отправлено,20", "s2,p1,,20")
    assert _expect_errors(store, small_bundle) == [
        "stages.csv line 3, column name: is required but empty"
    ]
    edit(small_bundle, "activities", "id,type,manager_id,at", "id,kind,manager_id,at")
    errors = _expect_errors(store, small_bundle)
    assert errors == ["activities.csv line 1, column type: required column is missing"]


def test_duplicate_id_is_refused(store: Store, small_bundle: Path) -> None:
    with (small_bundle / "activities.csv").open("a", encoding="utf-8") as fh:
        fh.write("a2,note,m3,2026-03-03T10:00:00+03:00,,,,,,\n")
    assert _expect_errors(store, small_bundle) == [
        'activities.csv line 5, column id: id "a2" repeats line 3'
    ]


def test_stage_must_belong_to_the_deal_pipeline(store: Store, small_bundle: Path) -> None:
    with (small_bundle / "pipelines.csv").open("a", encoding="utf-8") as fh:
        fh.write("p2,Сервис\n")
    with (small_bundle / "stages.csv").open("a", encoding="utf-8") as fh:
        fh.write("x1,p2,Новый,10,open,\n")
    with (small_bundle / "deals.csv").open("a", encoding="utf-8") as fh:
        fh.write("d4,,p1,x1,m3,,,,,,,,2026-03-05T10:00:00Z,,,,,\n")
    assert _expect_errors(store, small_bundle) == [
        'deals.csv line 5, column stage_id: stage "x1" belongs to pipeline "p2", not "p1"'
    ]


def test_closed_at_exactly_for_won_and_lost(store: Store, small_bundle: Path, edit: Edit) -> None:
    edit(small_bundle, "deals", ",2026-02-28T23:59:59+03:00,", ",,")
    edit(
        small_bundle,
        "deals",
        "2026-03-01T09:00:00+03:00,,,",
        "2026-03-01T09:00:00+03:00,,2026-03-02T00:00:00Z,",
    )
    errors = _expect_errors(store, small_bundle)
    assert errors == [
        'deals.csv line 2, column closed_at: is empty but stage "won" is won: '
        "a won or lost deal needs closed_at",
        'deals.csv line 4, column closed_at: is set but stage "s2" is open: '
        "only won or lost deals have closed_at",
    ]


def test_missing_referenced_table_is_named(store: Store, small_bundle: Path) -> None:
    (small_bundle / "contacts.csv").unlink()
    errors = _expect_errors(store, small_bundle)
    assert errors[0] == (
        'deals.csv line 2, column contact_id: "k1" is referenced but missing from '
        "contacts (the bundle has no contacts table)"
    )
    # k1 is the contact of deals d1 (line 2), d3 (line 4) and activities a1 (2), a3 (4).
    assert [e.split(",")[0] for e in errors] == [
        "deals.csv line 2",
        "deals.csv line 4",
        "activities.csv line 2",
        "activities.csv line 4",
    ]


def test_at_most_fifty_errors_are_reported(store: Store, small_bundle: Path) -> None:
    with (small_bundle / "pipelines.csv").open("a", encoding="utf-8") as fh:
        for i in range(80):
            fh.write(f"p{i + 10},\n")
    errors = _expect_errors(store, small_bundle)
    assert len(errors) == MAX_ERRORS
    assert errors[0] == "pipelines.csv line 3, column name: is required but empty"
    assert errors[-1] == f"pipelines.csv line {MAX_ERRORS + 2}, column name: is required but empty"


def test_account_and_deals_are_required(store: Store, small_bundle: Path) -> None:
    (small_bundle / "deals.csv").unlink()
    with pytest.raises(BundleError, match="required table deals is missing"):
        import_bundle(store, small_bundle)
    (small_bundle / "account.csv").unlink()
    with pytest.raises(BundleError, match="required table account is missing"):
        import_bundle(store, small_bundle)


def test_minimal_bundle_with_only_required_tables(store: Store, tmp_path: Path) -> None:
    bundle = tmp_path / "min"
    bundle.mkdir()
    (bundle / "account.csv").write_text("id,name,timezone,currency\nx,X,UTC,EUR\n")
    (bundle / "deals.csv").write_text(
        "id,pipeline_id,stage_id,created_at\n1,p,s,2026-01-01T00:00:00Z\n"
    )
    errors = _expect_errors(store, bundle)
    assert errors == [
        'deals.csv line 2, column pipeline_id: "p" is referenced but missing from '
        "pipelines (the bundle has no pipelines table)",
        'deals.csv line 2, column stage_id: "s" is referenced but missing from '
        "stages (the bundle has no stages table)",
    ]


def _excel_ru(bundle: Path) -> None:
    """Rewrite deals.csv as Excel saves it in a Russian locale: ';', cp1251, decimal comma."""
    text = (bundle / "deals.csv").read_text(encoding="utf-8")
    rows = [line.split(",") for line in text.splitlines()]
    rows[1][5] = "150000,50"
    (bundle / "deals.csv").write_bytes(
        "\r\n".join(";".join(r) for r in rows).encode("cp1251") + b"\r\n"
    )


def test_excel_russian_csv_is_detected_and_said(store: Store, small_bundle: Path) -> None:
    _excel_ru(small_bundle)
    report = import_bundle(store, small_bundle)
    assert (
        "deals.csv: encoding Windows-1251 (the file is not valid UTF-8), separator ';'"
        in report.notes
    )
    deals = {d.id: d for d in store.iter_models("deals", "acme")}
    assert deals["d1"].amount == Decimal("150000.50")
    assert deals["d1"].name == "Поставка"


def test_mixed_decimal_marks_are_refused(store: Store, small_bundle: Path) -> None:
    _excel_ru(small_bundle)
    raw = (small_bundle / "deals.csv").read_bytes().replace(b";20000;", b";20000.5;")
    (small_bundle / "deals.csv").write_bytes(raw)
    errors = _expect_errors(store, small_bundle)
    assert len(errors) == 1
    assert errors[0].startswith(
        'deals.csv line 4, column amount: "20000.5" uses "." as decimal mark'
    )


def test_decimal_comma_in_a_comma_separated_file_is_refused(
    store: Store, small_bundle: Path, edit: Edit
) -> None:
    edit(small_bundle, "deals", "150000.50", '"150000,50"')
    assert _expect_errors(store, small_bundle) == [
        'deals.csv line 2, column amount: "150000,50" uses a decimal comma in a '
        "comma-separated file; write 150000.50"
    ]


def test_thousands_separator_is_refused(store: Store, small_bundle: Path, edit: Edit) -> None:
    edit(small_bundle, "deals", "150000.50", "150 000.50")
    errors = _expect_errors(store, small_bundle)
    assert errors[0].startswith('deals.csv line 2, column amount: "150 000.50" is not an amount')


def test_utf8_bom_is_tolerated(store: Store, small_bundle: Path) -> None:
    path = small_bundle / "account.csv"
    path.write_bytes(b"\xef\xbb\xbf" + path.read_bytes())
    import_bundle(store, small_bundle)
    assert store.get_account("acme") is not None


def test_booleans_in_every_spelling(store: Store, small_bundle: Path, edit: Edit) -> None:
    edit(small_bundle, "managers", "head,да,", "head,НЕТ,")
    edit(small_bundle, "managers", "senior,true,", "senior,Yes,")
    import_bundle(store, small_bundle)
    managers = {m.id: m for m in store.iter_models("managers", "acme")}
    assert (managers["m1"].active, managers["m2"].active) == (False, True)
    edit(small_bundle, "managers", "head,НЕТ,", "head,maybe,")
    assert _expect_errors(store, small_bundle) == [
        'managers.csv line 2, column active: "maybe" is not a boolean (true/false, 1/0, yes/no, да/нет)'
    ]


def test_zip_container_with_a_folder_inside(
    store: Store, small_bundle: Path, tmp_path: Path
) -> None:
    archive = tmp_path / "bundle.zip"
    with zipfile.ZipFile(archive, "w") as zf:
        for file in small_bundle.glob("*.csv"):
            zf.write(file, f"export/{file.name}")
    import_bundle(store, archive)
    assert store.counts("acme")["deals"] == 3


def test_xlsx_with_typed_cells(store: Store, tmp_path: Path) -> None:
    from openpyxl import Workbook

    wb = Workbook()
    ws = wb.active
    ws.title = "account"
    ws.append(["id", "name", "timezone", "currency"])
    ws.append(["x", "X", "Europe/Moscow", "RUB"])
    for name, rows in {
        "pipelines": [["id", "name"], [1, "P"]],
        "stages": [["id", "pipeline_id", "name", "sort", "kind"], [10, 1, "Won", 1, "won"]],
        "deals": [
            ["id", "pipeline_id", "stage_id", "amount", "created_at", "closed_at"],
            [100, 1, 10, 1234.5, datetime(2026, 1, 1, 12, 0), "2026-01-02T12:00:00Z"],
        ],
    }.items():
        sheet = wb.create_sheet(name)
        for row in rows:
            sheet.append(row)
    path = tmp_path / "b.xlsx"
    wb.save(path)
    import_bundle(store, path)
    (deal,) = store.iter_models("deals", "x")
    assert (deal.id, deal.pipeline_id, deal.stage_id) == ("100", "1", "10")
    assert deal.amount == Decimal("1234.50")
    # A date cell is local time of the account: 12:00 Moscow = 09:00 UTC.
    assert deal.created_at == datetime(2026, 1, 1, 9, 0, tzinfo=UTC)


def test_broken_quoting_names_the_line(store: Store, small_bundle: Path) -> None:
    with (small_bundle / "pipelines.csv").open("a", encoding="utf-8") as fh:
        fh.write('p2,"Сервис\n')
    with pytest.raises(BundleError, match="pipelines.csv line 3"):
        import_bundle(store, small_bundle)
