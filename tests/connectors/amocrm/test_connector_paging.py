"""The amoCRM connector's paging against a scripted JSON client (no HTTP)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import pytest

from ropilot.connectors.amocrm.connector import AmoCRMConfig, AmoCRMConnector
from ropilot.connectors.pagination import PaginationError
from ropilot.core.errors import AuthenticationError


def _lead(i: int) -> dict[str, Any]:
    return {
        "id": i,
        "name": f"L{i}",
        "price": 10,
        "status_id": 1,
        "pipeline_id": 2,
        "responsible_user_id": 3,
        "created_at": 1700000000,
        "updated_at": 1700000000 + i,
    }


class Scripted:
    def __init__(self, pages: dict[int, Any]) -> None:
        self.pages = pages
        self.calls: list[dict[str, Any]] = []

    def get_json(self, path: str, params: Mapping[str, Any] | None = None) -> Any:
        self.calls.append({"path": path, **(params or {})})
        if path == "/api/v4/account":
            return {"id": 1, "name": "Acme", "subdomain": "acme", "currency": "RUB"}
        return self.pages.get(int((params or {})["page"]))


def _page(n: int, ids: list[int], more: bool) -> dict[str, Any]:
    links: dict[str, Any] = {"self": {"href": f"/api/v4/leads?page={n}"}}
    if more:
        links["next"] = {"href": f"/api/v4/leads?page={n + 1}"}
    return {"_page": n, "_links": links, "_embedded": {"leads": [_lead(i) for i in ids]}}


def _connector(client: Any) -> AmoCRMConnector:
    return AmoCRMConnector(AmoCRMConfig(account_id="a", base_url="http://x", page_limit=2), client)


def test_reads_until_no_next_link() -> None:
    client = Scripted({1: _page(1, [1, 2], True), 2: _page(2, [3], False)})
    deals = list(_connector(client).read("deals"))
    assert [d.id for d in deals] == ["1", "2", "3"]  # type: ignore[attr-defined]
    assert [c["page"] for c in client.calls] == [1, 2]
    assert client.calls[0]["order[updated_at]"] == "asc"
    assert client.calls[0]["with"] == "contacts,loss_reason"


def test_204_on_a_next_page_ends_the_read() -> None:
    client = Scripted({1: _page(1, [1, 2], True)})  # page 2 → None (204)
    assert len(list(_connector(client).read("deals"))) == 2


def test_incremental_filter_is_unix_seconds() -> None:
    from datetime import UTC, datetime

    client = Scripted({1: _page(1, [1], False)})
    list(_connector(client).read("deals", since=datetime(2026, 1, 1, tzinfo=UTC)))
    assert client.calls[0]["filter[updated_at][from]"] == 1767225600


def test_a_repeated_page_stops_the_read() -> None:
    client = Scripted({1: _page(1, [1, 2], True), 2: _page(1, [1, 2], True)})
    with pytest.raises(PaginationError):
        list(_connector(client).read("deals"))


def test_check_reports_instead_of_raising() -> None:
    class Refusing:
        def get_json(self, path: str, params: Any = None) -> Any:
            raise AuthenticationError("401 Unauthorized: re-authorise the account")

    result = _connector(Refusing()).check()
    assert result.ok is False
    assert "AuthenticationError" in result.message
    ok = _connector(Scripted({})).check()
    assert ok.ok and "acme" in ok.message
