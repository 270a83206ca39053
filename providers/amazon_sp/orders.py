"""The orders fetch: getOrders pages by ``LastUpdatedAfter``, each order's getOrderItems.

A raw record is one ``Order`` as getOrders sent it plus ``__items`` (the ``OrderItems`` of all
its getOrderItems pages). The first pull reads ``initial_days`` back; later pulls start
``lookback_hours`` before the newest ``LastUpdateDate`` the last committed pull saw (the
watermark in ``next_state``). Amazon wants ``LastUpdatedAfter`` at least two minutes in the
past, and serves orders of the last two years only.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from datetime import UTC, datetime, timedelta
from typing import Any

from pipelines.errors import ConfigError
from pipelines.net.pacing import RatePacer
from providers.amazon_sp.client import SpClient
from providers.amazon_sp.settings import (
    GET_ORDER_ITEMS_LIMIT,
    GET_ORDERS_LIMIT,
    ITEMS_PATH,
    MARKETPLACE_IDS_ENV,
    MAX_RESULTS_PER_PAGE,
    ORDERS_PATH,
    PROVIDER,
)
from providers.base import CursorPaginator, FetchContext

WATERMARK_KEY = "orders_last_updated"
ITEMS_KEY = "__items"


def marketplace_ids(settings: Mapping[str, str]) -> list[str]:
    """The configured marketplace ids; at least one."""
    ids = [m.strip() for m in str(settings.get(MARKETPLACE_IDS_ENV) or "").split(",") if m.strip()]
    if not ids:
        raise ConfigError(f"{MARKETPLACE_IDS_ENV}: no marketplace id given")
    return ids


def format_time(moment: datetime) -> str:
    """ISO 8601 in UTC with a ``Z``, as the SP-API wants it."""
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def updated_after(ctx: FetchContext, now: datetime) -> datetime:
    """Where this pull starts: the watermark less the lookback, else ``initial_days`` back."""
    mark = None if ctx.full_refresh else ctx.state.get(WATERMARK_KEY)
    if mark:
        start = datetime.fromisoformat(str(mark)) - timedelta(hours=ctx.options["lookback_hours"])
    else:
        start = now - timedelta(days=ctx.options["initial_days"])
    return min(start, now - timedelta(minutes=2))


class OrdersPull:
    """One pull: the client, the two operations' pacers and the watermark."""

    def __init__(
        self,
        ctx: FetchContext,
        client: SpClient,
        clock: Callable[[], float],
        sleep: Callable[[float], None],
    ) -> None:
        self.ctx = ctx
        self.client = client
        self.orders_pacer = RatePacer(*GET_ORDERS_LIMIT, ctx.stats, clock=clock, sleep=sleep)
        self.items_pacer = RatePacer(*GET_ORDER_ITEMS_LIMIT, ctx.stats, clock=clock, sleep=sleep)
        self.newest: str | None = None

    def orders(self, markets: list[str], since: datetime) -> Iterator[dict[str, Any]]:
        """Every order updated after ``since`` with its items, page by page."""
        ctx = self.ctx
        ctx.log.info("%s: orders updated after %s", PROVIDER, format_time(since))
        first = {"MarketplaceIds": ",".join(markets), "LastUpdatedAfter": format_time(since),
                 "MaxResultsPerPage": str(MAX_RESULTS_PER_PAGE)}  # fmt: skip
        paginator = CursorPaginator(f"{PROVIDER} orders", ctx.paging)
        read = 0
        while paginator.has_more and (ctx.limit is None or read < ctx.limit):
            # A next page is asked for by its token and the marketplaces alone.
            params = first if paginator.cursor is None else {
                "MarketplaceIds": first["MarketplaceIds"], "NextToken": paginator.cursor,
            }  # fmt: skip
            what = f"getOrders page {paginator.pages + 1}"
            payload = self.client.get(ORDERS_PATH, params, what, self.orders_pacer)
            orders = [o for o in payload.get("Orders") or [] if isinstance(o, dict)]
            if ctx.limit is not None:
                orders = orders[: ctx.limit - read]
            for order in orders:
                read += 1
                self._see(order.get("LastUpdateDate"))
                yield {**order, ITEMS_KEY: self.items(order)}
            ctx.page_done(len(orders))
            token = payload.get("NextToken")
            paginator.update(bool(token), token or None, len(orders))
        if self.newest:
            ctx.next_state[WATERMARK_KEY] = self.newest

    def items(self, order: dict[str, Any]) -> list[dict[str, Any]]:
        """The ``OrderItems`` of every getOrderItems page of ``order``."""
        order_id = str(order.get("AmazonOrderId") or "")
        if not order_id:
            return []
        path = ITEMS_PATH.format(order_id=order_id)
        paginator = CursorPaginator(f"{PROVIDER} order {order_id} items", self.ctx.paging)
        found: list[dict[str, Any]] = []
        while paginator.has_more:
            params = {} if paginator.cursor is None else {"NextToken": paginator.cursor}
            what = f"getOrderItems {order_id} page {paginator.pages + 1}"
            payload = self.client.get(path, params, what, self.items_pacer)
            page = [i for i in payload.get("OrderItems") or [] if isinstance(i, dict)]
            found.extend(page)
            token = payload.get("NextToken")
            paginator.update(bool(token), token or None, len(page))
        return found

    def _see(self, updated: Any) -> None:
        try:
            moment = datetime.fromisoformat(str(updated).replace("Z", "+00:00"))
        except ValueError:
            return
        text = moment.astimezone(UTC).isoformat()
        if self.newest is None or text > self.newest:
            self.newest = text
