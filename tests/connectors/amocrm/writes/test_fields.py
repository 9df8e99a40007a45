"""update_field against a running sandbox: by field code, by numeric id, dates, clearing."""

from __future__ import annotations

from datetime import date
from typing import Any

import pytest

from ropilot.connectors.amocrm.connector import AmoCRMConnector
from ropilot.connectors.amocrm.writes import AmoCRMValidationError, field_values


def _deal(connector: AmoCRMConnector, lead: int) -> Any:
    return next(d for d in connector.read("deals") if d.id == str(lead))


def _field_id(connector: AmoCRMConnector, code: str) -> int:
    body = connector.client.get_json("/api/v4/leads/custom_fields", {"limit": 50})
    return next(int(f["id"]) for f in body["_embedded"]["custom_fields"] if f.get("code") == code)


def test_update_field_by_code(connector: AmoCRMConnector, wire: Any, leads: list[int]) -> None:
    wire.sent.clear()
    connector.update_field("deal", str(leads[0]), "REGION", "Kazan")
    (patch,) = wire.requests_to("PATCH", f"/api/v4/leads/{leads[0]}")
    assert patch.body == {
        "custom_fields_values": [{"field_code": "REGION", "values": [{"value": "Kazan"}]}]
    }
    assert _deal(connector, leads[0]).region == "Kazan"


def test_update_field_by_numeric_id(
    connector: AmoCRMConnector, wire: Any, leads: list[int]
) -> None:
    region = _field_id(connector, "REGION")
    wire.sent.clear()
    connector.update_field("deal", str(leads[1]), str(region), "Perm")
    (patch,) = wire.requests_to("PATCH", f"/api/v4/leads/{leads[1]}")
    assert patch.body["custom_fields_values"][0]["field_id"] == region
    assert _deal(connector, leads[1]).region == "Perm"


def test_update_date_field_round_trips(connector: AmoCRMConnector, leads: list[int]) -> None:
    connector.update_field("deal", str(leads[2]), "EXPECTED_CLOSE", date(2031, 2, 3))
    assert _deal(connector, leads[2]).expected_close_at == date(2031, 2, 3)


def test_clearing_a_field(connector: AmoCRMConnector, leads: list[int]) -> None:
    connector.update_field("deal", str(leads[3]), "REGION", "Omsk")
    connector.update_field("deal", str(leads[3]), "REGION", None)
    assert _deal(connector, leads[3]).region is None


def test_unknown_field_fails_with_the_amocrm_validation_detail(
    connector: AmoCRMConnector, leads: list[int]
) -> None:
    with pytest.raises(AmoCRMValidationError) as caught:
        connector.update_field("deal", str(leads[0]), "999999", "x")
    assert "custom_fields_values.0.field_id" in str(caught.value)
    assert "NotSupportedChoice" in str(caught.value)


def test_field_values_shapes() -> None:
    assert field_values(None) is None
    assert field_values(True) == [{"value": True}]
    assert field_values(["a", "b"]) == [{"value": "a"}, {"value": "b"}]
    assert field_values({"enum_id": 17}) == [{"enum_id": 17}]
    assert field_values(date(2020, 1, 1)) == [{"value": 1577836800}]
