"""Paginators that never loop forever and never end silently short.

:func:`iterate_pages` drives any ``fetch_page(token) -> Page`` function. It raises
:class:`PaginationError` when the source hands out a page token (page number, URL, offset)
it handed out before, when a page repeats the previous page's items, or when ``max_pages`` is
reached while more pages remain; and :class:`IncompleteReadError` when the source reported a
total and fewer items arrived. Both errors come *after* the items already yielded, so a sync
must only save its bookmark once the iteration has finished.

Ready-made paginators over :class:`~ropilot.connectors.http.HttpClient`:

* :class:`PageNumberPaginator`: ``?page=N&limit=L`` (amoCRM API v4; 204 No Content = end);
* :class:`LinkPaginator`: follows ``_links.next.href`` (HAL, amoCRM API v4);
* :class:`OffsetPaginator`: ``start`` / ``next`` / ``total`` (Bitrix24 ``*.list`` methods).
"""

from __future__ import annotations

from collections.abc import Callable, Hashable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Generic, TypeVar

from ropilot.connectors.http import HttpClient
from ropilot.core.errors import ConnectorError

__all__ = [
    "IncompleteReadError",
    "LinkPaginator",
    "OffsetPaginator",
    "Page",
    "PageNumberPaginator",
    "PaginationError",
    "iterate_items",
    "iterate_pages",
]

T = TypeVar("T")


class PaginationError(ConnectorError):
    """The source's pagination went wrong (a repeated page, too many pages, a bad answer)."""


class IncompleteReadError(ConnectorError):
    """The source reported more items than it delivered."""

    retriable = True


@dataclass(frozen=True)
class Page(Generic[T]):
    """One page of a listing.

    Attributes:
        items: the page's items.
        next_token: what fetches the next page (page number, URL, offset), None on the last.
        total: the number of items the whole listing has, when the source says.
    """

    items: Sequence[T]
    next_token: Hashable | None = None
    total: int | None = field(default=None)


def iterate_pages(
    fetch_page: Callable[[Any], Page[T]],
    *,
    first_token: Hashable | None = None,
    max_pages: int | None = None,
    item_key: Callable[[T], Hashable | None] | None = None,
    name: str = "listing",
) -> Iterator[Page[T]]:
    """Fetch pages until the source says there are no more, guarding against its bugs.

    Args:
        fetch_page: fetches the page for a token (``first_token`` for the first page).
        first_token: the token of the first page.
        max_pages: raise instead of fetching more than this many pages (None: no cap).
        item_key: an item's identity (e.g. its id); when given, a page with exactly the same
            items as the page before raises (a source that ignores the page parameter).
        name: what is being listed, for messages.

    Yields:
        Each page, in order.

    Raises:
        PaginationError: a token came back a second time, a page repeated the previous one,
            or ``max_pages`` pages were read and the source still had more.
        IncompleteReadError: the source reported a total and fewer items arrived.
    """
    seen: set[Hashable] = set()
    token: Hashable | None = first_token
    if token is not None:
        seen.add(token)
    previous_keys: tuple[Hashable, ...] | None = None
    pages = 0
    received = 0
    total: int | None = None
    while True:
        if max_pages is not None and pages >= max_pages:
            raise PaginationError(
                f"{name}: stopped after {max_pages} pages ({received} items) while the source "
                f"still has more (next page {token!r}); raise max_pages or narrow the request"
            )
        page = fetch_page(token)
        pages += 1
        received += len(page.items)
        if page.total is not None:
            total = page.total
        if item_key is not None and page.items:
            keys = tuple(item_key(item) for item in page.items)
            if None not in keys and keys == previous_keys:
                raise PaginationError(
                    f"{name}: page {token!r} returned the same {len(keys)} items as the page "
                    "before; the source ignores the page parameter, stopping instead of looping"
                )
            previous_keys = keys
        yield page
        next_token = page.next_token
        if next_token is None:
            break
        if next_token in seen:
            raise PaginationError(
                f"{name}: the source returned the page token {next_token!r} a second time "
                f"(after page {pages}); stopping instead of reading the same pages again"
            )
        seen.add(next_token)
        token = next_token
    if total is not None and received < total:
        raise IncompleteReadError(
            f"{name}: the source reported {total} items but delivered {received}; "
            f"{total - received} are missing (records deleted while reading, or a page was "
            "lost): run the read again"
        )


def iterate_items(
    fetch_page: Callable[[Any], Page[T]],
    *,
    first_token: Hashable | None = None,
    max_pages: int | None = None,
    item_key: Callable[[T], Hashable | None] | None = None,
    name: str = "listing",
) -> Iterator[T]:
    """The items of :func:`iterate_pages`, one by one (same arguments and errors)."""
    for page in iterate_pages(
        fetch_page, first_token=first_token, max_pages=max_pages, item_key=item_key, name=name
    ):
        yield from page.items


def _dig(body: Any, path: Sequence[str]) -> Any:
    node = body
    for part in path:
        if not isinstance(node, Mapping) or part not in node:
            return None
        node = node[part]
    return node


def _items(body: Any, path: Sequence[str], name: str) -> list[Any]:
    found = _dig(body, path)
    if not isinstance(found, list):
        raise PaginationError(
            f"{name}: the answer has no list at {'.'.join(path)}; got "
            f"{type(found).__name__ if found is not None else 'nothing'}"
        )
    return found


def _int_or_none(value: Any) -> int | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, str) and value.isdigit():
        return int(value)
    return None


def _key_by(id_field: str | None) -> Callable[[Any], Hashable | None] | None:
    if id_field is None:
        return None

    def key(item: Any) -> Hashable | None:
        value = item.get(id_field) if isinstance(item, Mapping) else None
        return value if isinstance(value, Hashable) else None

    return key


class _HttpPaginator:
    """Shared plumbing: iteration over pages and items."""

    name: str
    max_pages: int | None
    id_field: str | None
    first_token: Hashable | None = None

    def fetch(self, token: Any) -> Page[Any]:
        raise NotImplementedError  # pragma: no cover

    def pages(self) -> Iterator[Page[Any]]:
        """The pages, guarded as :func:`iterate_pages` describes."""
        return iterate_pages(
            self.fetch,
            first_token=self.first_token,
            max_pages=self.max_pages,
            item_key=_key_by(self.id_field),
            name=self.name,
        )

    def __iter__(self) -> Iterator[Any]:
        for page in self.pages():
            yield from page.items


class PageNumberPaginator(_HttpPaginator):
    """``?page=N&limit=L`` listings (amoCRM API v4).

    The listing ends on 204 No Content, on a page without ``_links.next`` when the answer has
    ``_links``, else on a page shorter than ``limit``. ``_total_items`` (when present) is
    checked against what arrived.

    Args:
        client: the HTTP client.
        path: the listing's path, e.g. ``api/v4/leads``.
        items_path: where the items are in the answer, e.g. ``("_embedded", "leads")``.
        params: other query parameters (filters, order, ``with``).
        limit: page size (amoCRM: at most 250, 100 for events).
        first_page: the first page number.
        page_param: the page parameter's name.
        limit_param: the page size parameter's name.
        total_path: where the source reports the total, if it does.
        id_field: the item field that identifies it (repeated-page check); None to skip.
        max_pages: cap on pages read (None: no cap).
    """

    def __init__(
        self,
        client: HttpClient,
        path: str,
        *,
        items_path: Sequence[str],
        params: Mapping[str, Any] | None = None,
        limit: int = 250,
        first_page: int = 1,
        page_param: str = "page",
        limit_param: str = "limit",
        total_path: Sequence[str] = ("_total_items",),
        id_field: str | None = "id",
        max_pages: int | None = None,
    ) -> None:
        self.client = client
        self.path = path
        self.items_path = tuple(items_path)
        self.params = dict(params or {})
        self.limit = limit
        self.first_token = first_page
        self.page_param = page_param
        self.limit_param = limit_param
        self.total_path = tuple(total_path)
        self.id_field = id_field
        self.max_pages = max_pages
        self.name = f"GET {path}"

    def fetch(self, token: Any) -> Page[Any]:
        """Fetch page number ``token``."""
        number = int(token)
        params = {**self.params, self.page_param: number, self.limit_param: self.limit}
        body = self.client.get_json(self.path, params)
        if body is None:
            return Page([], None)
        items = _items(body, self.items_path, self.name)
        links = body.get("_links") if isinstance(body, Mapping) else None
        more = "next" in links if isinstance(links, Mapping) else len(items) >= self.limit
        return Page(
            items,
            number + 1 if more and items else None,
            _int_or_none(_dig(body, self.total_path)),
        )


class LinkPaginator(_HttpPaginator):
    """HAL listings that link to the next page (``_links.next.href``, amoCRM API v4).

    The first request is ``path`` with ``params``; the next ones follow the absolute links
    as given (they carry the parameters). 204 No Content ends the listing.

    Args:
        client: the HTTP client.
        path: the listing's path.
        items_path: where the items are in the answer.
        params: query parameters of the first request.
        next_path: where the next page's URL is.
        total_path: where the source reports the total, if it does.
        id_field: the item field that identifies it (repeated-page check); None to skip.
        max_pages: cap on pages read (None: no cap).
    """

    def __init__(
        self,
        client: HttpClient,
        path: str,
        *,
        items_path: Sequence[str],
        params: Mapping[str, Any] | None = None,
        next_path: Sequence[str] = ("_links", "next", "href"),
        total_path: Sequence[str] = ("_total_items",),
        id_field: str | None = "id",
        max_pages: int | None = None,
    ) -> None:
        self.client = client
        self.path = path
        self.items_path = tuple(items_path)
        self.params = dict(params or {})
        self.next_path = tuple(next_path)
        self.total_path = tuple(total_path)
        self.id_field = id_field
        self.max_pages = max_pages
        self.name = f"GET {path}"
        self.first_token = None

    def fetch(self, token: Any) -> Page[Any]:
        """Fetch the first page (token None) or the page at URL ``token``."""
        if token is None:
            body = self.client.get_json(self.path, self.params)
        else:
            body = self.client.get_json(str(token))
        if body is None:
            return Page([], None)
        items = _items(body, self.items_path, self.name)
        href = _dig(body, self.next_path)
        return Page(
            items,
            href if isinstance(href, str) and href and items else None,
            _int_or_none(_dig(body, self.total_path)),
        )


class OffsetPaginator(_HttpPaginator):
    """``start`` / ``next`` / ``total`` listings (Bitrix24 ``crm.*.list`` and the like).

    Each call sends ``start`` (0 first, then the answer's ``next``); the listing ends on an
    answer without ``next``. ``total`` is checked against what arrived. Reads sent as POST
    are marked idempotent, so they are retried like GETs.

    Args:
        client: the HTTP client.
        path: the method's path, e.g. ``crm.deal.list``.
        params: the method's parameters (filter, select, order).
        method: ``POST`` (parameters as a JSON body) or ``GET`` (as a query string).
        items_path: where the items are in the answer.
        start_param: the offset parameter's name.
        next_path: where the next offset is.
        total_path: where the total is.
        id_field: the item field that identifies it (repeated-page check); None to skip.
        max_pages: cap on pages read (None: no cap).
    """

    def __init__(
        self,
        client: HttpClient,
        path: str,
        *,
        params: Mapping[str, Any] | None = None,
        method: str = "POST",
        items_path: Sequence[str] = ("result",),
        start_param: str = "start",
        next_path: Sequence[str] = ("next",),
        total_path: Sequence[str] = ("total",),
        id_field: str | None = "ID",
        max_pages: int | None = None,
    ) -> None:
        self.client = client
        self.path = path
        self.params = dict(params or {})
        self.method = method.upper()
        self.items_path = tuple(items_path)
        self.start_param = start_param
        self.next_path = tuple(next_path)
        self.total_path = tuple(total_path)
        self.id_field = id_field
        self.max_pages = max_pages
        self.name = f"{self.method} {path}"
        self.first_token = 0

    def fetch(self, token: Any) -> Page[Any]:
        """Fetch the page at offset ``token``."""
        values = {**self.params, self.start_param: token}
        if self.method == "GET":
            response = self.client.request("GET", self.path, params=values)
        else:
            response = self.client.request(self.method, self.path, json=values, idempotent=True)
        body = response.json
        if body is None:
            if response.status == 204:
                return Page([], None)
            raise PaginationError(
                f"{self.name}: HTTP {response.status} without a JSON body: {response.snippet()}"
            )
        items = _items(body, self.items_path, self.name)
        return Page(
            items,
            _int_or_none(_dig(body, self.next_path)),
            _int_or_none(_dig(body, self.total_path)),
        )
