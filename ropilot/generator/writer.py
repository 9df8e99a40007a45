"""Streaming CSV writers for the tables of an account bundle."""

from __future__ import annotations

import csv
from collections.abc import Iterable, Sequence
from pathlib import Path
from types import TracebackType
from typing import IO, Any

TABLES: dict[str, tuple[str, ...]] = {
    "account": ("id", "name", "timezone", "currency"),
    "teams": ("id", "name", "parent_id", "head_id"),
    "managers": ("id", "name", "email", "team_id", "role", "active", "timezone", "hired_at"),
    "pipelines": ("id", "name"),
    "stages": ("id", "pipeline_id", "name", "sort", "kind", "probability"),
    "companies": (
        "id", "name", "inn", "phone", "email", "responsible_id", "segment", "region",
        "created_at",
    ),
    "contacts": ("id", "name", "phone", "email", "company_id", "responsible_id", "created_at"),
    "deals": (
        "id", "name", "pipeline_id", "stage_id", "responsible_id", "amount", "currency",
        "contact_id", "company_id", "source", "product", "region", "created_at", "updated_at",
        "closed_at", "loss_reason", "expected_close_at", "utm_campaign",
    ),
    "stage_changes": ("deal_id", "from_stage_id", "to_stage_id", "changed_at", "changed_by"),
    "assignments": ("deal_id", "from_manager_id", "to_manager_id", "changed_at"),
    "activities": (
        "id", "type", "manager_id", "at", "deal_id", "contact_id", "company_id", "direction",
        "duration_s", "result",
    ),
    "tasks": (
        "id", "responsible_id", "created_at", "due_at", "completed_at", "deal_id",
        "contact_id", "company_id", "type", "text",
    ),
}  # fmt: skip
"""Every table the generator writes, with its columns in file order.

``deals.utm_campaign`` is not a bundle column: the importer keeps it as a custom field.
"""


class TableWriter:
    """Writes the rows of one table and counts them.

    Hot loops may call :attr:`raw` (the csv writer's ``writerow``) directly and add to
    :attr:`rows` themselves.
    """

    def __init__(self, handle: IO[str], columns: Sequence[str]) -> None:
        self._writer = csv.writer(handle, lineterminator="\r\n")
        self._writer.writerow(columns)
        self.raw = self._writer.writerow
        self.rows = 0

    def write(self, row: Sequence[Any]) -> None:
        """Write one row (values in the table's column order; ``""`` for empty cells)."""
        self._writer.writerow(row)
        self.rows += 1

    def write_many(self, rows: Iterable[Sequence[Any]]) -> None:
        """Write several rows."""
        for row in rows:
            self._writer.writerow(row)
            self.rows += 1


class BundleWriter:
    """All table files of one bundle, open at once for streaming.

    Use as a context manager; the files are closed on exit.

    Args:
        out_dir: the bundle folder; created if missing. Existing table files are replaced.
    """

    def __init__(self, out_dir: Path) -> None:
        self.out_dir = out_dir
        out_dir.mkdir(parents=True, exist_ok=True)
        self._handles: list[IO[str]] = []
        self.tables: dict[str, TableWriter] = {}
        try:
            for name, columns in TABLES.items():
                handle = (out_dir / f"{name}.csv").open(
                    "w", encoding="utf-8", newline="", buffering=1 << 20
                )
                self._handles.append(handle)
                self.tables[name] = TableWriter(handle, columns)
        except BaseException:
            self.close()
            raise

    def __getitem__(self, name: str) -> TableWriter:
        return self.tables[name]

    def counts(self) -> dict[str, int]:
        """Rows written per table (header excluded)."""
        return {name: table.rows for name, table in self.tables.items()}

    def close(self) -> None:
        """Flush and close every file."""
        for handle in self._handles:
            handle.close()
        self._handles = []

    def __enter__(self) -> BundleWriter:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()
