"""The product fetch: plan the pull, page through it or run a bulk operation, move the watermark."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from pipelines.errors import FatalProviderError
from providers.base import CursorPaginator, FetchContext
from providers.shopify import queries
from providers.shopify.bulk import BulkRunner
from providers.shopify.bulk_result import read_bulk_result
from providers.shopify.client import ShopifyClient
from providers.shopify.incremental import PullPlan, Watermark, plan_pull, read_watermark
from providers.shopify.options import FetchOptions
from providers.shopify.settings import MAX_PAGE_SIZE, MAX_QUERY_COST, MAX_VARIANTS_PER_PRODUCT

PROVIDER = "shopify"


def fetch_shop(client: ShopifyClient, *, cacheable: bool = True) -> dict[str, Any]:
    """The shop's ``currencyCode`` and ``myshopifyDomain``, as the ``__shop`` context key."""
    data = client.execute(
        queries.SHOP_QUERY, queries.SHOP_OPERATION, {}, "shop", cacheable=cacheable
    )
    shop = data.get("shop")
    if not isinstance(shop, dict):
        raise FatalProviderError(f"{PROVIDER} shop: response has no data.shop")
    return {
        "currencyCode": shop.get("currencyCode"),
        "myshopifyDomain": shop.get("myshopifyDomain"),
    }


def fetch_products(
    ctx: FetchContext, client: ShopifyClient | None = None
) -> Iterator[dict[str, Any]]:
    """Yield product nodes (with their variants) plus ``__shop``.

    Moves the watermark in ``ctx.next_state`` as products arrive, and marks the fetch
    complete when it was a full, unfiltered pull that ran to the end.
    """
    if ctx.limit is not None and ctx.limit <= 0:
        return
    options = FetchOptions.from_options(ctx.options)
    client = client or ShopifyClient(ctx)
    plan = plan_pull(ctx, options)
    shop = fetch_shop(client)
    watermark = Watermark(read_watermark(ctx.state), ctx.next_state)
    if use_bulk(ctx, client, options, plan):
        nodes = fetch_bulk(ctx, client, options, plan)
    else:
        nodes = fetch_pages(ctx, client, options, plan.search)
    for node in nodes:
        watermark.see(node.get("updatedAt"))
        yield {**node, "__shop": shop}
    if plan.complete and ctx.limit is None:
        ctx.mark_complete()


def use_bulk(
    ctx: FetchContext, client: ShopifyClient, options: FetchOptions, plan: PullPlan
) -> bool:
    """Whether this pull runs as a bulk operation (see the ``bulk`` option)."""
    if options.bulk == "never":
        return False
    wanted = options.bulk == "always" or (options.bulk == "full_refresh" and ctx.full_refresh)
    if ctx.limit is not None:  # a bulk operation cannot stop early
        if wanted:
            ctx.log.info("%s: --limit given, paging instead of a bulk operation", PROVIDER)
        return False
    if wanted:
        return True
    count = count_products(client, plan.search)
    if count < options.bulk_threshold:
        return False
    ctx.log.info(
        "%s: %d products to pull (bulk_threshold %d): using a bulk operation instead of paging",
        PROVIDER,
        count,
        options.bulk_threshold,
    )
    return True


def count_products(client: ShopifyClient, search: str | None) -> int:
    """How many products the pull's filter matches (exact, uncapped)."""
    data = client.execute(
        queries.COUNT_QUERY, queries.COUNT_OPERATION, {"query": search}, "products count"
    )
    count = (data.get("productsCount") or {}).get("count")
    if not isinstance(count, int):
        raise FatalProviderError(f"{PROVIDER} products count: response has no productsCount")
    return count


# --- paging ----------------------------------------------------------------------------------


def fetch_pages(
    ctx: FetchContext, client: ShopifyClient, options: FetchOptions, search: str | None
) -> Iterator[dict[str, Any]]:
    """Product nodes, page by page, oldest update first, up to ``ctx.limit``."""
    per_page = _products_per_page(ctx, options)
    paginator = CursorPaginator(f"{PROVIDER} products")
    fetched = 0
    while paginator.has_more:
        first = per_page if ctx.limit is None else min(per_page, ctx.limit - fetched)
        what = f"products page {ctx.stats.pages + 1}"
        variables = {
            "first": first,
            "cursor": paginator.cursor,
            "query": search,
            "variantsFirst": options.variants_per_product,
        }
        connection = _fetch_page(client, variables, what)
        nodes = (connection.get("nodes") or [])[:first]
        for node in nodes:
            _warn_if_truncated(ctx, node, options.variants_per_product)
            yield node
        fetched += len(nodes)
        ctx.page_done(len(nodes))
        page_info = connection.get("pageInfo") or {}
        paginator.update(bool(page_info.get("hasNextPage")), page_info.get("endCursor"))
        if ctx.limit is not None and fetched >= ctx.limit:
            return


def _products_per_page(ctx: FetchContext, options: FetchOptions) -> int:
    per_page = options.products_per_page()
    if per_page < options.page_size:
        ctx.log.info(
            "%s: %d products per page instead of %d, so that a query with %d variants per "
            "product stays under Shopify's %d-point cost limit",
            PROVIDER,
            per_page,
            options.page_size,
            options.variants_per_product,
            MAX_QUERY_COST,
        )
    return per_page


def _fetch_page(client: ShopifyClient, variables: dict[str, Any], what: str) -> dict[str, Any]:
    cost = queries.products_query_cost(variables["first"], variables["variantsFirst"])
    data = client.execute(
        queries.PRODUCTS_QUERY,
        queries.PRODUCTS_OPERATION,
        variables,
        what,
        cost=cost,
        cacheable=True,
    )
    connection = data.get("products")
    if not isinstance(connection, dict):
        raise FatalProviderError(f"{PROVIDER} {what}: response has no data.products")
    return connection


def _warn_if_truncated(ctx: FetchContext, node: dict[str, Any], variants_per_product: int) -> None:
    """Products with more variants than asked for are kept, but never silently."""
    page_info = (node.get("variants") or {}).get("pageInfo") or {}
    if page_info.get("hasNextPage"):
        ctx.log.warning(
            "%s: product %s (%r) has more than %d variants; only the first %d are fetched "
            '(raise variants_per_product, up to %d, or set bulk = "always", which fetches '
            "every variant)",
            PROVIDER,
            node.get("id"),
            node.get("title"),
            variants_per_product,
            variants_per_product,
            MAX_VARIANTS_PER_PRODUCT,
        )


# --- bulk --------------------------------------------------------------------------------------


def fetch_bulk(
    ctx: FetchContext, client: ShopifyClient, options: FetchOptions, plan: PullPlan
) -> Iterator[dict[str, Any]]:
    """Product nodes with all their variants, from one bulk operation's result file.

    Progress is reported in pages of 250 products, the largest page a paged pull asks for.
    """
    operation = BulkRunner(client, options).run(queries.bulk_products_query(plan.search))
    url = operation.get("url")
    if not url:  # Shopify gives no file when nothing matched
        ctx.log.info("%s: bulk operation %s matched no products", PROVIDER, operation.get("id"))
        return
    pending = 0
    for node in read_bulk_result(ctx, url):
        yield node
        pending += 1
        if pending == MAX_PAGE_SIZE:
            ctx.page_done(pending)
            pending = 0
    if pending:
        ctx.page_done(pending)
