"""Paging one Browse API search, with the bearer token and the marketplace header."""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

from pipelines.errors import FatalProviderError
from pipelines.net.oauth import TokenSource
from pipelines.net.secrets import mask
from providers.base import OffsetPaginator, PagingLimits
from providers.ebay.auth import STATIC_TOKEN_HINT
from providers.ebay.settings import API_RESULT_CAP, SEARCH_PATH, Query

if TYPE_CHECKING:
    from pipelines.net.http import HttpClient, HttpResponse


class BrowseClient:
    """Runs Browse searches page by page; on a 401 mints a new token once and retries."""

    def __init__(
        self,
        http: HttpClient,
        api_url: str,
        tokens: TokenSource,
        paging: PagingLimits | None = None,
    ) -> None:
        self.http = http
        self.paging = paging
        self.search_url = api_url.rstrip("/") + SEARCH_PATH
        self.tokens = tokens

    def search_pages(
        self, query: Query, page_size: int, max_results: int
    ) -> Iterator[tuple[list[dict[str, Any]], int | None]]:
        """Yield the ``itemSummaries`` of each page of ``query`` with the page's ``total``.

        Stops at ``total``, when the response has no ``next``, at ``max_results`` and before
        ``offset + limit`` would pass eBay's 10,000-result cap (eBay answers 400 past it).
        """
        # The paginator stops once offset >= max_results, so the last offset it asks for is
        # the largest multiple of page_size below the cap: offset + page_size <= 10,000.
        cap = min(max_results, API_RESULT_CAP - page_size + 1)
        paginator = OffsetPaginator(
            f"ebay search {query.label!r}", page_size, max_results=cap, limits=self.paging
        )
        page_number = 0
        while paginator.has_more:
            page_number += 1
            what = f"search {query.label!r} ({query.marketplace}) page {page_number}"
            params = {**query.params, "limit": str(page_size), "offset": str(paginator.offset)}
            page = self._get_page(params, query.marketplace, what)
            items = _item_summaries(page, what)
            paginator.update(len(items), _total(page))
            if not page.get("next"):
                paginator.has_more = False
            yield items, _total(page)

    def count(self, query: Query) -> int | None:
        """The ``total`` of a one-item first page of ``query`` (the ``doctor`` probe)."""
        what = f"search {query.label!r} ({query.marketplace}) probe"
        params = {**query.params, "limit": "1", "offset": "0"}
        page = self._get_page(params, query.marketplace, what)
        _item_summaries(page, what)
        return _total(page)

    def _get_page(self, params: dict[str, str], marketplace: str, what: str) -> dict[str, Any]:
        headers = {"X-EBAY-C-MARKETPLACE-ID": marketplace}
        # The marketplace header is part of the cache key.
        return get_json(self.http, self.tokens, self.search_url, params, headers, what)


def get_json(
    http: HttpClient,
    tokens: TokenSource,
    url: str,
    params: dict[str, str],
    headers: dict[str, str],
    what: str,
    *,
    cacheable: bool = True,
) -> dict[str, Any]:
    """GET ``url`` with a bearer token from ``tokens``; on a 401 mint once more and retry once.

    Throttling (429) and server errors are retried by the shared HTTP layer.
    """
    token = tokens.get(http)  # a refused mint fails here, without a second try
    try:
        response = _send(http, token, url, params, headers, what, cacheable)
    except FatalProviderError as exc:
        if not _is_unauthorized(exc):
            raise
        if not tokens.can_refresh:
            error = FatalProviderError(mask(f"{exc} ({STATIC_TOKEN_HINT})"))
            error.status = exc.status
            raise error from None
        # The cached token was revoked or lapsed early: mint once more and retry once.
        http.log.warning("ebay %s: token refused (401); minting a new one", what)
        tokens.invalidate()
        response = _send(http, tokens.get(http), url, params, headers, what, cacheable)
    page = response.json(f"ebay {what}")
    if not isinstance(page, dict):
        raise FatalProviderError(f"ebay {what}: expected a JSON object, got {type(page).__name__}")
    return page


def _send(
    http: HttpClient,
    token: str,
    url: str,
    params: dict[str, str],
    headers: dict[str, str],
    what: str,
    cacheable: bool,
) -> HttpResponse:
    headers = {"Authorization": f"Bearer {token}", "Accept": "application/json", **headers}
    return http.request("GET", url, what=what, params=params, headers=headers, cacheable=cacheable)


def _is_unauthorized(exc: FatalProviderError) -> bool:
    """True for the shared HTTP layer's error for a 401 response."""
    return exc.status == 401


def _item_summaries(page: dict[str, Any], what: str) -> list[dict[str, Any]]:
    # eBay leaves ``itemSummaries`` out of a page with no items (e.g. total 0).
    items = page.get("itemSummaries", [])
    if not isinstance(items, list) or not all(isinstance(item, dict) for item in items):
        raise FatalProviderError(f"ebay {what}: itemSummaries is not a list of objects")
    return items


def _total(page: dict[str, Any]) -> int | None:
    total = page.get("total")
    return total if isinstance(total, int) and not isinstance(total, bool) else None
