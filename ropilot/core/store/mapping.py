"""Conversions between domain models and store rows."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from ropilot.core.models import ENTITY_MODELS, Manager
from ropilot.core.store.schema import ENTITY_TABLES

_JSON_MODEL_FIELDS = {"working_schedule", "absences", "specialisations"}
_LIST_FIELDS = {"phones", "emails"}


def table_for_model(model_type: type[Any]) -> str:
    """The store table that holds a model type."""
    for name, candidate in ENTITY_MODELS.items():
        if candidate is model_type:
            return name
    raise KeyError(f"{model_type.__name__} is not a stored entity")


def row_from_model(model: Any) -> dict[str, Any]:
    """A store row (column → value) for an entity model; empty collections become NULL."""
    table = ENTITY_TABLES[table_for_model(type(model))]
    row: dict[str, Any] = {}
    for column in table.columns:
        name = column.name
        value = getattr(model, name)
        if name in _JSON_MODEL_FIELDS:
            value = _dump_json_field(model, name)
        elif hasattr(value, "value") and not isinstance(value, (str, int)):
            value = value.value  # pragma: no cover - StrEnum values are str
        if isinstance(value, (dict, list)) and not value:
            value = None
        row[name] = value
    return row


def _dump_json_field(model: Any, name: str) -> Any:
    dumped = model.model_dump(mode="json", include={name})
    return dumped[name]


def model_from_row(table_name: str, row: Mapping[str, Any]) -> Any:
    """The entity model for a store row (NULL collections become empty ones)."""
    model_type = ENTITY_MODELS[table_name]
    data: dict[str, Any] = {}
    for key, value in row.items():
        if value is None and (key in _LIST_FIELDS or key == "custom_fields"):
            continue
        if value is None and key in _JSON_MODEL_FIELDS and model_type is Manager:
            continue
        if value is None and key == "payload":
            continue
        data[key] = value
    return model_type.model_validate(data)
