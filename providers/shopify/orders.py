"""The orders fetch: ``orders`` pages with their line items, incremental by ``updated_at``, and a
bulk operation for a backfill.

A backfill (the first pull, with no watermark yet, and every ``--full-refresh``) runs as one
bulk operation by default (``orders_bulk``): Shopify reads every order in the background, with
all its lines, and the result file is spooled, scrubbed line by line, and re-joined
(``bulk_pull.py``). Later pulls page through the orders updated since the watermark minus the
lookback, oldest update first. Either way the nodes have the same shape and the watermark is
the newest ``updatedAt`` read. Without the ``read_all_orders`` scope Shopify serves only the last
60 days of orders. Answers are never cached (``cacheable=False``): they are not scrubbed yet
when they arrive.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from typing import Any

from pipelines.errors import FatalProviderError
from providers.base import CursorPaginator, FetchContext
from providers.shopify.bulk_pull import pull_bulk
from providers.shopify.client import ShopifyClient
from providers.shopify.fetch import fetch_shop
from providers.shopify.incremental import Watermark, format_time, read_watermark
from providers.shopify.options import FetchOptions
from providers.shopify.order_queries import (
    LINES_PER_ORDER,
    ORDERS_BULK,
    ORDERS_OPERATION,
    ORDERS_QUERY,
    bulk_orders_query,
    orders_query_cost,
)

PROVIDER = "shopify"
ORDERS_PER_PAGE = 4
LINES_TRUNCATED = "__lines_truncated"


def fetch_orders(ctx: FetchContext, client: ShopifyClient) -> Iterator[dict[str, Any]]:
    """Yield order nodes with their lines and ``__shop``; move the watermark. The first pull
    (and ``--full-refresh``) reads every order the app may see, as a bulk operation unless
    ``orders_bulk`` says ``never`` or ``--limit`` is given."""
    if ctx.limit is not None and ctx.limit <= 0:
        return
    options = FetchOptions.from_options(ctx.options)
    search = _search(ctx, options)
    shop = fetch_shop(client)
    watermark = Watermark(read_watermark(ctx.state), ctx.next_state)
    if _use_bulk(ctx, options, search):
        document = bulk_orders_query(search)
        nodes = pull_bulk(ctx, client, options, document, ORDERS_BULK, ctx.scrub)
    else:
        nodes = _fetch_pages(ctx, client, search)
    for node in nodes:
        watermark.see(node.get("updatedAt"))
        yield _with_context(node, shop)


def _use_bulk(ctx: FetchContext, options: FetchOptions, search: str | None) -> bool:
    """Whether this pull runs as a bulk operation (see the ``orders_bulk`` option)."""
    wanted = options.orders_bulk == "always" or (
        options.orders_bulk == "backfill" and search is None
    )
    if wanted and ctx.limit is not None:  # a bulk operation cannot stop early
        ctx.log.info("%s: orders: --limit given, paging instead of a bulk operation", PROVIDER)
        return False
    if wanted:
        ctx.log.info("%s: orders: running the pull as a bulk operation", PROVIDER)
    return wanted


def _search(ctx: FetchContext, options: FetchOptions) -> str | None:
    watermark = None if ctx.full_refresh else read_watermark(ctx.state)
    if watermark is None:
        reason = "--full-refresh" if ctx.full_refresh else "no watermark yet"
        ctx.log.info("%s: orders: full pull of every order the app may read (%s)", PROVIDER, reason)
        return None
    since = watermark - timedelta(hours=options.lookback_hours)
    ctx.log.info("%s: orders: updated since %s", PROVIDER, format_time(since))
    return f"updated_at:>='{format_time(since)}'"


def _fetch_pages(
    ctx: FetchContext, client: ShopifyClient, search: str | None
) -> Iterator[dict[str, Any]]:
    """Order nodes, page by page, oldest update first, up to ``ctx.limit``."""
    paginator = CursorPaginator(f"{PROVIDER} orders", ctx.paging)
    read = 0
    while paginator.has_more and (ctx.limit is None or read < ctx.limit):
        first = ORDERS_PER_PAGE if ctx.limit is None else min(ORDERS_PER_PAGE, ctx.limit - read)
        connection = _page(client, first, paginator.cursor, search, ctx.stats.pages + 1)
        nodes = (connection.get("nodes") or [])[:first]
        read += len(nodes)
        yield from nodes
        ctx.page_done(len(nodes))
        info = connection.get("pageInfo") or {}
        paginator.update(bool(info.get("hasNextPage")), info.get("endCursor"), len(nodes))


def _page(
    client: ShopifyClient, first: int, cursor: str | None, search: str | None, number: int
) -> dict[str, Any]:
    what = f"orders page {number}"
    variables = {"first": first, "cursor": cursor, "query": search, "linesFirst": LINES_PER_ORDER}
    cost = orders_query_cost(first, LINES_PER_ORDER)
    data = client.execute(ORDERS_QUERY, ORDERS_OPERATION, variables, what, cost=cost)
    connection = data.get("orders")
    if not isinstance(connection, dict):
        raise FatalProviderError(f"{PROVIDER} {what}: response has no data.orders")
    return connection


def _with_context(node: dict[str, Any], shop: dict[str, Any]) -> dict[str, Any]:
    """The node plus ``__shop``, and ``__lines_truncated`` when it has more lines than read."""
    record = {**node, "__shop": shop}
    lines = node.get("lineItems") or {}
    if (lines.get("pageInfo") or {}).get("hasNextPage"):
        record[LINES_TRUNCATED] = True
    return record
