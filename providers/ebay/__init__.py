"""eBay provider: Browse API item searches, one canonical row per item; the seller's orders.

eBay cannot list "all items": the pipeline runs the searches configured under
``[providers.ebay] queries``. Each raw record is an ``itemSummary`` exactly as returned, plus
``__marketplace`` (the X-EBAY-C-MARKETPLACE-ID asked) and ``__query`` (the ``q`` text, or the
other criteria, that found it), and ``__gtin`` when the search asked for a GTIN (item summaries
carry none: only getItem does). An item found by several queries is kept once per fetch.

The ``orders`` dataset is the seller's Sell Fulfillment orders (``orders.py``), read with a
user token minted from ``EBAY_REFRESH_TOKEN`` (``auth.user_token``).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator, Mapping
from typing import TYPE_CHECKING, Any

from pipelines.errors import ConfigError
from pipelines.net.endpoints import check_endpoint
from pipelines.net.oauth import ClientCredentialsToken, TokenSource
from pipelines.net.secrets import register_secret
from providers.base import FetchContext, ProbeResult, Provider
from providers.ebay.auth import StaticToken, application_token, user_token
from providers.ebay.client import BrowseClient
from providers.ebay.normalize import normalize_item
from providers.ebay.settings import (
    API_RESULT_CAP,
    DEFAULT_API_URL,
    DEFAULT_OAUTH_URL,
    ENV_API_URL,
    ENV_CLIENT_ID,
    ENV_CLIENT_SECRET,
    ENV_OAUTH_TOKEN,
    ENV_OAUTH_URL,
    ENV_REFRESH_TOKEN,
    FULFILLMENT_SCOPE,
    OPTIONS,
    SETTINGS,
    Query,
    SearchPlan,
    check_options,
)

if TYPE_CHECKING:
    from providers.batch import NormalizedBlock
    from providers.ebay.orders import OrdersClient

__all__ = ["EbayProvider"]


class EbayProvider(Provider):
    """eBay Browse API ``item_summary/search``; client-credentials tokens minted and cached."""

    name = "ebay"
    title = "eBay (Browse API)"
    datasets = ("products", "orders")
    settings = SETTINGS
    options = OPTIONS
    # Browse API default application quota: 5,000 calls a day (more on request, after review).
    daily_budget = 5000

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self.clock = clock
        # One token cache per token endpoint and client, kept for the life of the process.
        self._tokens: dict[tuple[str, ...], ClientCredentialsToken] = {}

    # --- configuration ------------------------------------------------------------------------

    def missing_settings(self, env: Mapping[str, str]) -> list[str]:
        """Configured by EBAY_CLIENT_ID + EBAY_CLIENT_SECRET, or else by EBAY_OAUTH_TOKEN."""
        has_id, has_secret = bool(env.get(ENV_CLIENT_ID)), bool(env.get(ENV_CLIENT_SECRET))
        if (has_id and has_secret) or env.get(ENV_OAUTH_TOKEN):
            return []
        if has_id != has_secret:
            return [ENV_CLIENT_SECRET if has_id else ENV_CLIENT_ID]
        return [ENV_CLIENT_ID, ENV_CLIENT_SECRET]

    def check_environment(self, env: Mapping[str, str]) -> list[str]:
        """Half a client id/secret pair beside a static token, and bad endpoint overrides."""
        problems = []
        has_id, has_secret = bool(env.get(ENV_CLIENT_ID)), bool(env.get(ENV_CLIENT_SECRET))
        if has_id != has_secret and env.get(ENV_OAUTH_TOKEN):
            present, absent = (
                (ENV_CLIENT_ID, ENV_CLIENT_SECRET) if has_id else (ENV_CLIENT_SECRET, ENV_CLIENT_ID)
            )
            problems.append(f"{present} is set without {absent}; set both, or neither")
        for env_name in (ENV_API_URL, ENV_OAUTH_URL):
            if env.get(env_name):
                try:
                    check_endpoint(env_name, env[env_name])
                except ConfigError as exc:
                    problems.append(str(exc))
        return problems

    def check_options(self, options: Mapping[str, Any]) -> SearchPlan:
        """Validate ``[providers.ebay]`` up front; ``ConfigError`` names every bad key."""
        return check_options(options)

    # --- fetch --------------------------------------------------------------------------------

    def fetch(self, ctx: FetchContext) -> Iterator[dict[str, Any]]:
        """Yield each item summary once, query by query, page by page, up to ``ctx.limit``."""
        plan = self.check_options(ctx.options)
        if ctx.limit is not None and ctx.limit <= 0:
            return
        client = self._client(ctx)
        # With a small limit, ask for small pages (offset stays a multiple of limit: eBay's rule).
        page_size = plan.page_size if ctx.limit is None else min(plan.page_size, ctx.limit)
        seen: set[str] = set()
        remaining = ctx.limit
        for query in plan.queries:
            ctx.log.info("ebay: searching %r on %s", query.label, query.marketplace)
            for records in self._query_records(ctx, client, query, page_size, plan, seen):
                if remaining is not None:
                    records = records[:remaining]
                    remaining -= len(records)
                ctx.page_done(len(records))
                yield from records
                if remaining == 0:
                    return

    def probe(self, ctx: FetchContext) -> ProbeResult:
        """Mint a token (with client credentials) and ask the first query for one item; when
        the run asks for orders, mint the user token too and ask getOrders for one order."""
        query = self.check_options(ctx.options).queries[0]
        total = self._client(ctx).count(query)
        detail = f"search {query.label!r} on {query.marketplace}: {total} results"
        if "orders" not in ctx.datasets:
            return ProbeResult(detail)
        from providers.ebay.orders import orders_fact

        return ProbeResult(detail, (orders_fact(self.orders_client(ctx)),))

    def fetch_dataset(self, dataset: str, ctx: FetchContext) -> Iterator[dict[str, Any]]:
        """Products (``fetch``) or the seller's orders (``orders.py``)."""
        if dataset == "orders":
            from providers.ebay.orders import fetch_orders

            return fetch_orders(ctx, self.orders_client(ctx))
        return super().fetch_dataset(dataset, ctx)

    def normalize_dataset(self, dataset: str, raw: dict[str, Any]) -> dict[str, list[dict]]:
        """An order row and its line rows; products as ``normalize``."""
        if dataset == "orders":
            from providers.ebay.order_normalize import normalize_order

            return normalize_order(raw)
        return super().normalize_dataset(dataset, raw)

    def orders_client(self, ctx: FetchContext) -> OrdersClient:
        """The getOrders client with the seller's user token (``ConfigError`` without one)."""
        from providers.ebay.orders import OrdersClient

        api_url = check_endpoint(ENV_API_URL, ctx.settings.get(ENV_API_URL) or DEFAULT_API_URL)
        return OrdersClient(ctx, api_url, self._user_token(ctx.settings))

    def _user_token(self, settings: Mapping[str, str]) -> TokenSource:
        client_id, secret = settings.get(ENV_CLIENT_ID), settings.get(ENV_CLIENT_SECRET)
        refresh = settings.get(ENV_REFRESH_TOKEN)
        if not (client_id and secret and refresh):
            raise ConfigError(
                f"ebay orders: set {ENV_REFRESH_TOKEN} (the seller's refresh token with the "
                f"{FULFILLMENT_SCOPE} scope) with {ENV_CLIENT_ID} and {ENV_CLIENT_SECRET}; "
                "see docs/orders.md#ebay"
            )
        oauth_url = check_endpoint(ENV_OAUTH_URL, settings.get(ENV_OAUTH_URL) or DEFAULT_OAUTH_URL)
        key = (oauth_url, client_id, secret, refresh)
        if key not in self._tokens:
            self._tokens[key] = user_token(client_id, secret, refresh, oauth_url, clock=self.clock)
        return self._tokens[key]

    def _client(self, ctx: FetchContext) -> BrowseClient:
        api_url = check_endpoint(ENV_API_URL, ctx.settings.get(ENV_API_URL) or DEFAULT_API_URL)
        return BrowseClient(ctx.http, api_url, self._token_source(ctx.settings), ctx.paging)

    def _query_records(
        self,
        ctx: FetchContext,
        client: BrowseClient,
        query: Query,
        page_size: int,
        plan: SearchPlan,
        seen: set[str],
    ) -> Iterator[list[dict[str, Any]]]:
        """Per page: the items not seen before, with their context keys, within the query cap;
        then the search's ``total`` against the items it returned (``expect_search``).

        An item seen before (on this page, an earlier one, or another query) is counted in
        ``ctx.stats.duplicates``; one repeated within a page is also a warning.
        """
        context = {"__marketplace": query.marketplace, "__query": query.label}
        if "gtin" in query.params:  # every item of a gtin search has that GTIN
            context["__gtin"] = query.params["gtin"]
        taken, total = 0, None
        pages = client.search_pages(query, page_size, plan.max_results_per_query)
        for number, (items, page_total) in enumerate(pages, start=1):
            total = page_total  # the last page's: the freshest
            items = items[: plan.max_results_per_query - taken]
            taken += len(items)
            records, on_page = [], set()
            for item in items:
                item_id = item.get("itemId")
                if isinstance(item_id, str) and item_id in seen:
                    ctx.stats.duplicates += 1
                    if item_id in on_page:
                        ctx.log.warning("ebay: %r page %d lists item %s twice; kept once",
                                        query.label, number, item_id)  # fmt: skip
                    continue
                if isinstance(item_id, str):
                    seen.add(item_id)
                    on_page.add(item_id)
                records.append({**item, **context})
            yield records
        expect_search(ctx, query, page_size, plan.max_results_per_query, total, taken)

    def _token_source(self, settings: Mapping[str, str]) -> TokenSource:
        client_id, secret = settings.get(ENV_CLIENT_ID), settings.get(ENV_CLIENT_SECRET)
        if client_id and secret:
            oauth_url = check_endpoint(
                ENV_OAUTH_URL, settings.get(ENV_OAUTH_URL) or DEFAULT_OAUTH_URL
            )
            key = (oauth_url, client_id, secret)
            if key not in self._tokens:
                self._tokens[key] = application_token(
                    client_id, secret, oauth_url, clock=self.clock
                )
            return self._tokens[key]
        static = settings.get(ENV_OAUTH_TOKEN)
        if static:
            register_secret(static)
            return StaticToken(static)
        raise ConfigError(
            f"ebay: set {ENV_CLIENT_ID} and {ENV_CLIENT_SECRET} (preferred) or {ENV_OAUTH_TOKEN}"
        )

    # --- normalize ----------------------------------------------------------------------------

    def normalize(self, raw: dict[str, Any]) -> list[dict[str, Any]]:
        """One item summary → one canonical row (see ``providers.ebay.normalize``)."""
        return normalize_item(raw)

    def normalize_batch(self, raws: list[dict[str, Any]]) -> NormalizedBlock:
        """The rows of a block of item summaries, computed column by column (``columnar.py``)."""
        from providers.ebay.columnar import normalize_block  # pyarrow: not for --help

        return normalize_block(raws)

    def raw_keys(self, raw: dict[str, Any]) -> list[str]:
        """The summary's ``itemId`` (its one row's ``source_id``)."""
        return [str(raw.get("itemId"))]


# --- completeness ------------------------------------------------------------------------------


def expect_search(
    ctx: FetchContext,
    query: Query,
    page_size: int,
    max_results: int,
    total: int | None,
    read: int,
) -> None:
    """Record a search's last ``total`` against the items its pages returned.

    eBay serves at most 10,000 results of one search (``offset + limit`` may not pass it),
    and ``max_results_per_query`` may stop sooner: the count expected is the smallest of
    the three, and the note says which cap cut the search.
    """
    if total is None:
        ctx.log.warning("ebay: search %r answered no total; its count is not checked", query.label)
        return
    api_cap = API_RESULT_CAP // page_size * page_size
    expected = min(total, api_cap, max_results)
    note = None
    if expected < total:
        cap = (
            f"max_results_per_query {max_results}"
            if max_results < api_cap
            else f"eBay's {API_RESULT_CAP:,}-result cap"
        )
        note = f"{total - expected} of {total} results not readable: {cap}"
    what = f"search {query.label!r} ({query.marketplace}) items"
    ctx.expect(what, source_count=total, read=read, expected=expected, note=note)
