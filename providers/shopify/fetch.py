"""The product fetch: plan the pull, page through it or run a bulk operation, move the watermark,
and record what Shopify says it holds against what was read (``ctx.expect``)."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from pipelines.errors import FatalProviderError
from providers.base import CursorPaginator, FetchContext
from providers.shopify import queries
from providers.shopify.bulk_pull import pull_bulk
from providers.shopify.client import ShopifyClient
from providers.shopify.incremental import PullPlan, Watermark, plan_pull, read_watermark
from providers.shopify.options import FetchOptions
from providers.shopify.settings import MAX_QUERY_COST
from providers.shopify.variants import VariantTally, complete_variants

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


@dataclass(frozen=True)
class ProductsCount:
    """``productsCount``: the products a filter matches; ``exact`` unless only a lower bound."""

    count: int
    exact: bool


def fetch_products(
    ctx: FetchContext, client: ShopifyClient | None = None
) -> Iterator[dict[str, Any]]:
    """Yield product nodes (with all their variants) plus ``__shop``.

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
    bulk, counted = choose_bulk(ctx, client, options, plan)
    if bulk:
        document = queries.bulk_products_query(plan.search)
        nodes = pull_bulk(ctx, client, options, document, queries.PRODUCTS_BULK)
    else:
        nodes = fetch_pages(ctx, client, options, plan.search, counted)
    for node in nodes:
        watermark.see(node.get("updatedAt"))
        yield {**node, "__shop": shop}
    if plan.complete and ctx.limit is None:
        ctx.mark_complete()


def choose_bulk(
    ctx: FetchContext, client: ShopifyClient, options: FetchOptions, plan: PullPlan
) -> tuple[bool, ProductsCount | None]:
    """Whether this pull runs as a bulk operation (see the ``bulk`` option), and the products
    count taken before a paged pull that is not cut by ``--limit``."""
    wanted = options.bulk == "always" or (options.bulk == "full_refresh" and ctx.full_refresh)
    if ctx.limit is not None:  # a bulk operation cannot stop early
        if wanted:
            ctx.log.info("%s: --limit given, paging instead of a bulk operation", PROVIDER)
        return False, None
    if wanted:
        return True, None
    counted = count_products(client, plan.search)
    if options.bulk != "auto" or counted.count < options.bulk_threshold:
        return False, counted
    ctx.log.info(
        "%s: %d products to pull (bulk_threshold %d): using a bulk operation instead of paging",
        PROVIDER,
        counted.count,
        options.bulk_threshold,
    )
    return True, counted


def count_products(client: ShopifyClient, search: str | None) -> ProductsCount:
    """How many products the pull's filter matches (asked exact, uncapped)."""
    data = client.execute(
        queries.COUNT_QUERY, queries.COUNT_OPERATION, {"query": search}, "products count"
    )
    answer = data.get("productsCount") or {}
    count = answer.get("count")
    if not isinstance(count, int):
        raise FatalProviderError(f"{PROVIDER} products count: response has no productsCount")
    return ProductsCount(count, answer.get("precision", "EXACT") == "EXACT")


# --- paging ----------------------------------------------------------------------------------


def fetch_pages(
    ctx: FetchContext,
    client: ShopifyClient,
    options: FetchOptions,
    search: str | None,
    before: ProductsCount | None,
) -> Iterator[dict[str, Any]]:
    """Product nodes, page by page, oldest update first, up to ``ctx.limit``, each completed
    to its last variant; then the counts (``expect_counts``)."""
    per_page = _products_per_page(ctx, options)
    paginator = CursorPaginator(f"{PROVIDER} products", ctx.paging)
    tally, seen = VariantTally(), set()
    while paginator.has_more and (ctx.limit is None or len(seen) < ctx.limit):
        first = per_page if ctx.limit is None else min(per_page, ctx.limit - len(seen))
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
            node = complete_variants(client, node)
            tally.add(node)
            seen.add(node.get("id"))
            yield node
        ctx.page_done(len(nodes))
        page_info = connection.get("pageInfo") or {}
        paginator.update(bool(page_info.get("hasNextPage")), page_info.get("endCursor"), len(nodes))
    expect_counts(ctx, client, search, before, tally, len(seen))


def expect_counts(
    ctx: FetchContext,
    client: ShopifyClient,
    search: str | None,
    before: ProductsCount | None,
    tally: VariantTally,
    products: int,
) -> None:
    """Record the variants read against the products' ``variantsCount``, and (for a pull not
    cut by ``--limit``) the distinct products read against ``productsCount``.

    ``productsCount`` is asked before and after paging; products created, updated into the
    filter or deleted while paging move it, so the two counts' difference is the tolerance.
    """
    ctx.expect("variants", source_count=tally.source, read=tally.read, note=tally.note())
    if before is None:
        return
    after = count_products(client, search)
    ctx.expect(
        "products",
        source_count=after.count,
        read=products,
        tolerance=abs(after.count - before.count),
        at_least=not (before.exact and after.exact),
    )


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
