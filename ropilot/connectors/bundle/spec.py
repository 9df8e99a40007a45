"""The bundle's tables and columns, as ../shared/reference/import_format.md defines them.

Kinds: ``id`` (text id), ``text``, ``ts`` (timestamp), ``day`` (calendar day), ``money``,
``bool``, ``int``, ``pct`` (0–100), ``multi`` (``;``-separated), ``json``, ``currency``,
``tz`` and ``choice:a|b|c``. ``ref`` names the table a column's ids must exist in.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class ColumnSpec:
    """One column of a bundle table."""

    header: str
    kind: str
    required: bool = False
    ref: str | None = None
    store: str | None = None
    extension: bool = False
    """Not in the published format: written by ``ropilot export`` so export → import keeps
    everything the store holds; read back when present."""

    @property
    def column(self) -> str:
        """The store column the value goes to."""
        return self.store or self.header


@dataclass(frozen=True, slots=True)
class TableSpec:
    """One table (a CSV file or an XLSX sheet)."""

    name: str
    columns: tuple[ColumnSpec, ...]
    required: bool = False
    derived_id: tuple[str, ...] = ()
    """For history tables without ids: the columns whose values make the row's id."""

    def column(self, header: str) -> ColumnSpec | None:
        """The column spec for a header, if the format defines it."""
        for col in self.columns:
            if col.header == header:
                return col
        return None


def _c(
    header: str, kind: str, *, req: bool = False, ref: str | None = None, **kw: object
) -> ColumnSpec:
    return ColumnSpec(header, kind, req, ref, **kw)  # type: ignore[arg-type]


ACCOUNT = TableSpec(
    "account",
    (
        _c("id", "id", req=True),
        _c("name", "text", req=True),
        _c("timezone", "tz", req=True),
        _c("currency", "currency", req=True),
    ),
    required=True,
)

TABLES: tuple[TableSpec, ...] = (
    TableSpec(
        "teams",
        (
            _c("id", "id", req=True),
            _c("name", "text", req=True),
            _c("parent_id", "id", ref="teams"),
            _c("head_id", "id", ref="managers"),
        ),
    ),
    TableSpec(
        "managers",
        (
            _c("id", "id", req=True),
            _c("name", "text", req=True),
            _c("email", "text"),
            _c("team_id", "id", ref="teams"),
            _c("role", "choice:manager|senior|head|assistant"),
            _c("active", "bool"),
            _c("timezone", "tz"),
            _c("hired_at", "ts"),
            _c("working_schedule", "json", extension=True),
            _c("absences", "json", extension=True),
            _c("specialisations", "json", extension=True),
        ),
    ),
    TableSpec("pipelines", (_c("id", "id", req=True), _c("name", "text", req=True))),
    TableSpec(
        "stages",
        (
            _c("id", "id", req=True),
            _c("pipeline_id", "id", req=True, ref="pipelines"),
            _c("name", "text", req=True),
            _c("sort", "int", req=True),
            _c("kind", "choice:open|won|lost", req=True),
            _c("probability", "pct"),
        ),
    ),
    TableSpec(
        "companies",
        (
            _c("id", "id", req=True),
            _c("name", "text", req=True),
            _c("inn", "text"),
            _c("phone", "multi", store="phones"),
            _c("email", "multi", store="emails"),
            _c("responsible_id", "id", ref="managers"),
            _c("segment", "text"),
            _c("region", "text"),
            _c("created_at", "ts"),
        ),
    ),
    TableSpec(
        "contacts",
        (
            _c("id", "id", req=True),
            _c("name", "text", req=True),
            _c("phone", "multi", store="phones"),
            _c("email", "multi", store="emails"),
            _c("company_id", "id", ref="companies"),
            _c("responsible_id", "id", ref="managers"),
            _c("created_at", "ts"),
            _c("inn", "text", extension=True),
            _c("segment", "text", extension=True),
            _c("region", "text", extension=True),
        ),
    ),
    TableSpec(
        "deals",
        (
            _c("id", "id", req=True),
            _c("name", "text"),
            _c("pipeline_id", "id", req=True, ref="pipelines"),
            _c("stage_id", "id", req=True, ref="stages"),
            _c("responsible_id", "id", ref="managers"),
            _c("amount", "money"),
            _c("currency", "currency"),
            _c("contact_id", "id", ref="contacts"),
            _c("company_id", "id", ref="companies"),
            _c("source", "text"),
            _c("product", "text"),
            _c("region", "text"),
            _c("created_at", "ts", req=True),
            _c("updated_at", "ts"),
            _c("closed_at", "ts"),
            _c("loss_reason", "text"),
            _c("expected_close_at", "day"),
        ),
        required=True,
    ),
    TableSpec(
        "stage_changes",
        (
            _c("id", "id", extension=True),
            _c("deal_id", "id", req=True, ref="deals"),
            _c("from_stage_id", "id", ref="stages"),
            _c("to_stage_id", "id", req=True, ref="stages"),
            _c("changed_at", "ts", req=True),
            _c("changed_by", "id", ref="managers"),
        ),
        derived_id=("deal_id", "changed_at", "from_stage_id", "to_stage_id"),
    ),
    TableSpec(
        "assignments",
        (
            _c("id", "id", extension=True),
            _c("deal_id", "id", req=True, ref="deals"),
            _c("from_manager_id", "id", ref="managers"),
            _c("to_manager_id", "id", req=True, ref="managers"),
            _c("changed_at", "ts", req=True),
        ),
        derived_id=("deal_id", "changed_at", "from_manager_id", "to_manager_id"),
    ),
    TableSpec(
        "activities",
        (
            _c("id", "id", req=True),
            _c("type", "choice:call|meeting|email|offer|presale|note", req=True),
            _c("manager_id", "id", req=True, ref="managers"),
            _c("at", "ts", req=True),
            _c("deal_id", "id", ref="deals"),
            _c("contact_id", "id", ref="contacts"),
            _c("company_id", "id", ref="companies"),
            _c("direction", "choice:in|out"),
            _c("duration_s", "count"),
            _c("result", "text"),
        ),
    ),
    TableSpec(
        "tasks",
        (
            _c("id", "id", req=True),
            _c("responsible_id", "id", req=True, ref="managers"),
            _c("created_at", "ts", req=True),
            _c("due_at", "ts", req=True),
            _c("completed_at", "ts"),
            _c("deal_id", "id", ref="deals"),
            _c("contact_id", "id", ref="contacts"),
            _c("company_id", "id", ref="companies"),
            _c("type", "text"),
            _c("text", "text"),
        ),
    ),
)

TABLES_BY_NAME = {t.name: t for t in (ACCOUNT, *TABLES)}

DEFAULTS: dict[str, dict[str, object]] = {
    "managers": {"role": "manager", "active": True},
}
"""Values a column takes when the cell is empty or the column is absent."""
