from __future__ import annotations

from typing import Any

import pytest
import responses
from responses import matchers

from ropilot.connectors.http import HttpClient
from ropilot.connectors.pagination import (
    IncompleteReadError,
    LinkPaginator,
    OffsetPaginator,
    Page,
    PageNumberPaginator,
    PaginationError,
    iterate_items,
    iterate_pages,
)

BASE = "https://acc.amocrm.ru/"
LEADS = BASE + "api/v4/leads"


def _client() -> HttpClient:
    return HttpClient(BASE, sleep=lambda s: None)


def _leads(ids: range) -> list[dict[str, Any]]:
    return [{"id": i, "name": f"lead {i}"} for i in ids]


def test_iterate_pages_follows_tokens_until_none() -> None:
    pages = {None: Page([1, 2], "b"), "b": Page([3], "c"), "c": Page([4], None)}
    calls: list[Any] = []

    def fetch(token: Any) -> Page[int]:
        calls.append(token)
        return pages[token]

    assert list(iterate_items(fetch)) == [1, 2, 3, 4]
    assert calls == [None, "b", "c"]


def test_repeated_token_raises_naming_it() -> None:
    pages = {None: Page([1], "b"), "b": Page([2], "c"), "c": Page([3], "b")}
    seen: list[int] = []
    with pytest.raises(PaginationError, match="'b' a second time"):
        for item in iterate_items(pages.__getitem__, name="deals"):
            seen.append(item)
    assert seen == [1, 2, 3]


def test_token_equal_to_the_first_page_raises() -> None:
    with pytest.raises(PaginationError, match="1 a second time"):
        list(iterate_pages(lambda t: Page([t], 1), first_token=1))


def test_max_pages_never_ends_silently() -> None:
    with pytest.raises(PaginationError, match="stopped after 3 pages .* still has more"):
        list(iterate_pages(lambda t: Page([t], (t or 0) + 1), max_pages=3))
    # reaching max_pages exactly on the last page is fine
    assert len(list(iterate_pages(lambda t: Page([t], None), max_pages=1))) == 1


def test_short_read_against_a_reported_total() -> None:
    pages = {None: Page([1, 2], "b", total=5), "b": Page([3], None, total=5)}
    with pytest.raises(
        IncompleteReadError, match="reported 5 items but delivered 3; 2 are missing"
    ):
        list(iterate_items(pages.__getitem__))


def test_same_items_twice_raises() -> None:
    with pytest.raises(PaginationError, match="same 2 items"):
        list(
            iterate_pages(
                lambda t: Page([{"id": 1}, {"id": 2}], (t or 0) + 1), item_key=lambda i: i["id"]
            )
        )


@responses.activate
def test_amocrm_page_numbers_end_on_missing_next_link() -> None:
    for page, ids, has_next in [
        (1, range(1, 3), True),
        (2, range(3, 5), True),
        (3, range(5, 6), False),
    ]:
        links: dict[str, Any] = {"self": {"href": f"{LEADS}?page={page}"}}
        if has_next:
            links["next"] = {"href": f"{LEADS}?page={page + 1}"}
        responses.get(
            LEADS,
            json={"_page": page, "_links": links, "_embedded": {"leads": _leads(ids)}},
            match=[
                matchers.query_param_matcher({"page": str(page), "limit": "2", "order[id]": "asc"})
            ],
        )
    paginator = PageNumberPaginator(
        _client(),
        "api/v4/leads",
        items_path=("_embedded", "leads"),
        params={"order[id]": "asc"},
        limit=2,
    )
    assert [d["id"] for d in paginator] == [1, 2, 3, 4, 5]
    assert len(responses.calls) == 3


@responses.activate
def test_amocrm_204_ends_the_listing() -> None:
    responses.get(
        LEADS,
        json={
            "_page": 1,
            "_links": {"next": {"href": "x"}},
            "_embedded": {"leads": _leads(range(1, 3))},
        },
        match=[matchers.query_param_matcher({"page": "1", "limit": "2"})],
    )
    responses.get(
        LEADS,
        status=204,
        body="",
        match=[matchers.query_param_matcher({"page": "2", "limit": "2"})],
    )
    paginator = PageNumberPaginator(
        _client(), "api/v4/leads", items_path=("_embedded", "leads"), limit=2
    )
    assert [d["id"] for d in paginator] == [1, 2]


@responses.activate
def test_server_ignoring_page_parameter_is_caught() -> None:
    responses.get(
        LEADS,
        json={"_links": {"next": {"href": "x"}}, "_embedded": {"leads": _leads(range(1, 3))}},
    )
    paginator = PageNumberPaginator(
        _client(), "api/v4/leads", items_path=("_embedded", "leads"), limit=2
    )
    with pytest.raises(PaginationError, match="ignores the page parameter"):
        list(paginator)
    assert len(responses.calls) == 2


@responses.activate
def test_total_items_checked_for_page_numbers() -> None:
    url = BASE + "api/v4/users"
    responses.get(
        url,
        json={"_total_items": 3, "_links": {}, "_embedded": {"users": _leads(range(1, 3))}},
    )
    paginator = PageNumberPaginator(_client(), "api/v4/users", items_path=("_embedded", "users"))
    with pytest.raises(IncompleteReadError, match="1 are missing"):
        list(paginator)


@responses.activate
def test_answer_without_items_is_an_error() -> None:
    responses.get(LEADS, json={"_page": 1, "_links": {}})
    paginator = PageNumberPaginator(_client(), "api/v4/leads", items_path=("_embedded", "leads"))
    with pytest.raises(PaginationError, match="no list at _embedded.leads"):
        list(paginator)


@responses.activate
def test_link_paginator_follows_next_href_and_detects_a_loop() -> None:
    p2 = f"{LEADS}?page=2&limit=2"
    responses.get(
        LEADS,
        json={"_links": {"next": {"href": p2}}, "_embedded": {"leads": _leads(range(1, 3))}},
        match=[matchers.query_param_matcher({"limit": "2"})],
    )
    responses.get(
        LEADS,
        json={"_links": {"next": {"href": p2}}, "_embedded": {"leads": _leads(range(3, 5))}},
        match=[matchers.query_param_matcher({"page": "2", "limit": "2"})],
    )
    paginator = LinkPaginator(
        _client(), "api/v4/leads", items_path=("_embedded", "leads"), params={"limit": 2}
    )
    got: list[int] = []
    with pytest.raises(PaginationError, match=r"page=2&limit=2"):
        for lead in paginator:
            got.append(lead["id"])
    assert got == [1, 2, 3, 4]


@responses.activate
def test_link_paginator_ends_without_next() -> None:
    responses.get(
        LEADS,
        json={
            "_links": {"next": {"href": LEADS + "?page=2"}},
            "_embedded": {"leads": _leads(range(1, 3))},
        },
        match=[matchers.query_param_matcher({})],
    )
    responses.get(
        LEADS,
        json={"_links": {"self": {"href": "x"}}, "_embedded": {"leads": _leads(range(3, 4))}},
        match=[matchers.query_param_matcher({"page": "2"})],
    )
    assert [
        d["id"] for d in LinkPaginator(_client(), "api/v4/leads", items_path=("_embedded", "leads"))
    ] == [1, 2, 3]


B24 = "https://portal.bitrix24.ru/rest/1/code/"


@responses.activate
def test_bitrix_offset_paginator() -> None:
    url = B24 + "crm.deal.list"
    body = {"filter": {">ID": 0}, "select": ["ID"]}
    responses.post(
        url,
        json={"result": [{"ID": "1"}, {"ID": "2"}], "next": 2, "total": 3},
        match=[matchers.json_params_matcher({**body, "start": 0})],
    )
    responses.post(
        url,
        json={"result": [{"ID": "3"}], "total": 3},
        match=[matchers.json_params_matcher({**body, "start": 2})],
    )
    paginator = OffsetPaginator(HttpClient(B24, sleep=lambda s: None), "crm.deal.list", params=body)
    assert [d["ID"] for d in paginator] == ["1", "2", "3"]


@responses.activate
def test_bitrix_short_read_and_repeated_offset() -> None:
    url = B24 + "crm.deal.list"
    responses.post(
        url,
        json={"result": [{"ID": "1"}], "next": 50, "total": 120},
        match=[matchers.json_params_matcher({"start": 0})],
    )
    responses.post(
        url,
        json={"result": [{"ID": "2"}], "total": 120},
        match=[matchers.json_params_matcher({"start": 50})],
    )
    paginator = OffsetPaginator(HttpClient(B24, sleep=lambda s: None), "crm.deal.list")
    with pytest.raises(IncompleteReadError, match="reported 120 items but delivered 2"):
        list(paginator)
    responses.reset()
    responses.post(
        url,
        json={"result": [{"ID": "1"}], "next": 50},
        match=[matchers.json_params_matcher({"start": 0})],
    )
    responses.post(
        url,
        json={"result": [{"ID": "2"}], "next": 0},
        match=[matchers.json_params_matcher({"start": 50})],
    )
    with pytest.raises(PaginationError, match="page token 0 a second time"):
        list(paginator)


@responses.activate
def test_bitrix_reads_sent_as_post_are_retried() -> None:
    url = B24 + "crm.deal.list"
    responses.post(url, status=500, json={"error": "INTERNAL_SERVER_ERROR"})
    responses.post(url, json={"result": [{"ID": "1"}], "total": 1})
    paginator = OffsetPaginator(HttpClient(B24, sleep=lambda s: None), "crm.deal.list")
    assert list(paginator) == [{"ID": "1"}]
    assert len(responses.calls) == 2
