"""The orders fetch: Sell Fulfillment ``getOrders``, incremental by ``lastmodifieddate``.

``GET /sell/fulfillment/v1/order?filter=lastmodifieddate:[<since>..]&limit=&offset=`` pages
through the seller's orders with a user token (``auth.user_token``). The filter reaches back
90 days only: a first pull (and ``--full-refresh``) reads those 90 days, and a pull whose
watermark is older than the window says how much it could not read (a warning and a note on
the run's source counts), never leaving a silent gap. Answers are never cached
(``cacheable=False``): they hold buyer data until ``pipelines/net/pii.py`` has scrubbed them.
https://developer.ebay.com/api-docs/sell/fulfillment/resources/order/methods/getOrders
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

from pipelines.errors import FatalProviderError
from providers.base import FetchContext, OffsetPaginator
from providers.ebay.client import get_json
from providers.ebay.settings import (
    ORDERS_LOOKBACK_HOURS,
    ORDERS_PAGE_SIZE,
    ORDERS_PATH,
    ORDERS_WINDOW_DAYS,
)
from providers.timestamps import parse_utc

if TYPE_CHECKING:
    from pipelines.net.oauth import TokenSource

WATERMARK_KEY = "orders_last_modified"


def format_time(moment: datetime) -> str:
    """eBay's filter form: ISO 8601 in UTC with milliseconds (``2026-10-07T12:00:00.000Z``)."""
    return (
        moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"
    )


class OrdersClient:
    """Pages of getOrders for one ``lastmodifieddate`` filter."""

    def __init__(self, ctx: FetchContext, api_url: str, tokens: TokenSource) -> None:
        self.ctx = ctx
        self.url = api_url.rstrip("/") + ORDERS_PATH
        self.tokens = tokens

    def page(self, since: datetime, limit: int, offset: int, what: str) -> dict[str, Any]:
        params = {
            "filter": f"lastmodifieddate:[{format_time(since)}..]",
            "limit": str(limit),
            "offset": str(offset),
        }
        page = get_json(self.ctx.http, self.tokens, self.url, params, {}, what, cacheable=False)
        orders = page.get("orders", [])
        if not isinstance(orders, list) or not all(isinstance(o, dict) for o in orders):
            raise FatalProviderError(f"ebay {what}: orders is not a list of objects")
        return page


def pull_start(ctx: FetchContext, now: datetime) -> tuple[datetime, str | None]:
    """Where this pull starts, and the note when eBay's window hides part of what it should read.

    The start is the watermark minus ``ORDERS_LOOKBACK_HOURS``, or the window's start on a
    first or ``--full-refresh`` pull, never earlier than the window (eBay would refuse it).
    """
    window = now - timedelta(days=ORDERS_WINDOW_DAYS)
    watermark = None if ctx.full_refresh else parse_utc(ctx.state.get(WATERMARK_KEY))
    if watermark is None:
        ctx.log.info(
            "ebay: orders: full pull of the last %d days (modified since %s); older orders are "
            "beyond getOrders' window", ORDERS_WINDOW_DAYS, format_time(window),
        )  # fmt: skip
        return (
            window,
            f"orders modified before {format_time(window)} not readable: "
            f"eBay's {ORDERS_WINDOW_DAYS}-day getOrders window",
        )
    since = watermark - timedelta(hours=ORDERS_LOOKBACK_HOURS)
    if since >= window:
        ctx.log.info("ebay: orders: modified since %s", format_time(since))
        return since, None
    gap = (
        f"orders modified from {format_time(since)} to {format_time(window)} not readable: "
        f"the last pull is older than eBay's {ORDERS_WINDOW_DAYS}-day getOrders window"
    )
    return window, gap


def fetch_orders(
    ctx: FetchContext,
    client: OrdersClient,
    now: Callable[[], datetime] = lambda: datetime.now(UTC),
) -> Iterator[dict[str, Any]]:
    """Yield each order of the pull, page by page; move the watermark; record the count."""
    if ctx.limit is not None and ctx.limit <= 0:
        return
    since, note = pull_start(ctx, now())
    page_size = ORDERS_PAGE_SIZE if ctx.limit is None else min(ORDERS_PAGE_SIZE, ctx.limit)
    paginator = OffsetPaginator("ebay orders", page_size, limits=ctx.paging)
    newest, read, total = ctx.state.get(WATERMARK_KEY), 0, None
    while paginator.has_more and (ctx.limit is None or read < ctx.limit):
        what = f"orders page {ctx.stats.pages + 1}"
        page = client.page(since, page_size, paginator.offset, what)
        orders = page.get("orders", [])[: None if ctx.limit is None else ctx.limit - read]
        total = page.get("total") if isinstance(page.get("total"), int) else None
        for order in orders:
            newest = _newer(newest, order.get("lastModifiedDate"))
            read += 1
            yield order
        ctx.page_done(len(orders))
        paginator.update(len(page.get("orders", [])), total)
        if not page.get("next"):
            paginator.has_more = False
    if newest and ctx.limit is None:  # eBay does not sort by modification: a cut pull
        ctx.next_state[WATERMARK_KEY] = newest  # could skip orders, so it moves nothing
    if ctx.limit is None and total is not None:
        ctx.expect("orders", source_count=total, read=read, note=note)
    elif note:
        ctx.log.warning("ebay: %s", note)


def _newer(current: Any, candidate: Any) -> Any:
    seen, new = parse_utc(current), parse_utc(candidate)
    if new is None:
        return current
    return candidate if seen is None or new > seen else current


def orders_fact(client: OrdersClient, now: datetime | None = None) -> str:
    """Doctor's line: the user token works, and how many orders eBay's window holds."""
    window = (now or datetime.now(UTC)) - timedelta(days=ORDERS_WINDOW_DAYS)
    page = client.page(window, 1, 0, "orders probe")
    return (
        f"orders: {page.get('total', 'an unknown number of')} modified in the last "
        f"{ORDERS_WINDOW_DAYS} days (user token with sell.fulfillment.readonly; getOrders "
        f"reads no further back)"
    )
