"""The orders fetch: ``orders`` pages with their line items, incremental by ``updated_at``.

Field reference: https://shopify.dev/docs/api/admin-graphql/latest/objects/Order and
https://shopify.dev/docs/api/admin-graphql/latest/objects/LineItem. The query asks for no
buyer data beyond the shipping country and region and the customer's id (the buyer key's
input, removed with everything else of the buyer by ``pipelines/net/pii.py`` before the record
lands). Without the ``read_all_orders`` scope Shopify serves only the last 60 days of orders.
Answers are never cached (``cacheable=False``): they are not scrubbed yet when they arrive.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from typing import Any

from pipelines.errors import FatalProviderError
from providers.base import CursorPaginator, FetchContext
from providers.shopify.client import ShopifyClient
from providers.shopify.fetch import fetch_shop
from providers.shopify.incremental import Watermark, format_time, read_watermark
from providers.shopify.options import FetchOptions

PROVIDER = "shopify"
ORDERS_OPERATION = "Orders"
ORDERS_PER_PAGE = 4
LINES_PER_ORDER = 25
LINES_TRUNCATED = "__lines_truncated"

_MONEY = "{ shopMoney { amount currencyCode } }"
ORDERS_QUERY = f"""\
query {ORDERS_OPERATION}($first: Int!, $cursor: String, $query: String, $linesFirst: Int!) {{
  orders(first: $first, after: $cursor, query: $query, sortKey: UPDATED_AT) {{
    nodes {{
      id
      orderNumber: name
      createdAt
      updatedAt
      closedAt
      cancelledAt
      currencyCode
      taxesIncluded
      displayFinancialStatus
      displayFulfillmentStatus
      totalShippingPriceSet {_MONEY}
      totalTaxSet {_MONEY}
      totalDiscountsSet {_MONEY}
      totalPriceSet {_MONEY}
      totalRefundedSet {_MONEY}
      shippingAddress {{ countryCodeV2 provinceCode }}
      customer {{ id }}
      lineItems(first: $linesFirst) {{
        nodes {{
          id
          sku
          quantity
          currentQuantity
          variant {{ id barcode product {{ id }} }}
          originalUnitPriceSet {_MONEY}
          discountAllocations {{ allocatedAmountSet {_MONEY} }}
          taxLines {{ priceSet {_MONEY} }}
        }}
        pageInfo {{ hasNextPage }}
      }}
    }}
    pageInfo {{ hasNextPage endCursor }}
  }}
}}
"""


def orders_query_cost(orders: int, lines: int) -> int:
    """Upper bound of the requested cost (objects 1, a connection 2 + ``first`` × a node):
    an order is 9 objects plus its line connection, a line 9 objects."""
    return 2 + orders * (9 + 2 + lines * 9)


def fetch_orders(ctx: FetchContext, client: ShopifyClient) -> Iterator[dict[str, Any]]:
    """Yield order nodes with their lines and ``__shop``, oldest update first; move the
    watermark. The first pull (and ``--full-refresh``) reads every order the app may see."""
    if ctx.limit is not None and ctx.limit <= 0:
        return
    search = _search(ctx)
    shop = fetch_shop(client)
    watermark = Watermark(read_watermark(ctx.state), ctx.next_state)
    paginator = CursorPaginator(f"{PROVIDER} orders", ctx.paging)
    read = 0
    while paginator.has_more and (ctx.limit is None or read < ctx.limit):
        first = ORDERS_PER_PAGE if ctx.limit is None else min(ORDERS_PER_PAGE, ctx.limit - read)
        connection = _page(client, first, paginator.cursor, search, ctx.stats.pages + 1)
        nodes = (connection.get("nodes") or [])[:first]
        for node in nodes:
            watermark.see(node.get("updatedAt"))
            read += 1
            yield _with_context(node, shop)
        ctx.page_done(len(nodes))
        info = connection.get("pageInfo") or {}
        paginator.update(bool(info.get("hasNextPage")), info.get("endCursor"), len(nodes))


def _search(ctx: FetchContext) -> str | None:
    options = FetchOptions.from_options(ctx.options)
    watermark = None if ctx.full_refresh else read_watermark(ctx.state)
    if watermark is None:
        ctx.log.info("%s: orders: full pull (every order the app may read)", PROVIDER)
        return None
    since = watermark - timedelta(hours=options.lookback_hours)
    ctx.log.info("%s: orders: updated since %s", PROVIDER, format_time(since))
    return f"updated_at:>='{format_time(since)}'"


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
