"""The orders fetch: searchOrders pages by ``lastUpdatedAfter``, with items, money and status.

A raw record is one ``Order`` as searchOrders sent it (its ``orderItems`` inside; ``PROCEEDS``
and ``FULFILLMENT`` asked for by ``includedData``, ``RECIPIENT`` when the ``recipient`` option
is on) plus ``__refunds``: its refund transactions (``providers.amazon_sp.refunds``). The first
pull reads ``initial_days`` back; later pulls start ``lookback_hours`` before the newest
``lastUpdatedTime`` the last committed pull saw (the watermark in ``next_state``). Amazon wants
``lastUpdatedAfter`` at least two minutes in the past, and serves orders of the last two years
only; a ``paginationToken`` lives 24 hours.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from datetime import UTC, datetime, timedelta
from typing import Any

from pipelines.errors import ConfigError
from pipelines.net.pacing import RatePacer
from providers.amazon_sp.client import SpClient
from providers.amazon_sp.refunds import REFUNDS_KEY, RefundsPull
from providers.amazon_sp.settings import (
    INCLUDED_DATA,
    MARKETPLACE_IDS_ENV,
    MAX_RESULTS_PER_PAGE,
    ORDERS_PATH,
    PROVIDER,
    SEARCH_ORDERS_LIMIT,
)
from providers.base import CursorPaginator, FetchContext

WATERMARK_KEY = "orders_last_updated"


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


def search_params(
    options: Mapping[str, Any], markets: list[str], since: datetime, per_page: int
) -> dict[str, str]:
    """The query of a first searchOrders page (arrays comma-separated, as the model has them)."""
    included = [*INCLUDED_DATA, *(["RECIPIENT"] if options.get("recipient") else [])]
    return {"marketplaceIds": ",".join(markets), "lastUpdatedAfter": format_time(since),
            "maxResultsPerPage": str(per_page), "includedData": ",".join(included)}  # fmt: skip


class OrdersPull:
    """One pull: the client, the operations' pacers and the watermark."""

    def __init__(
        self,
        ctx: FetchContext,
        client: SpClient,
        clock: Callable[[], float],
        sleep: Callable[[float], None],
    ) -> None:
        self.ctx = ctx
        self.client = client
        self.orders_pacer = RatePacer(*SEARCH_ORDERS_LIMIT, ctx.stats, clock=clock, sleep=sleep)
        self.refunds = RefundsPull(ctx, client, clock, sleep)
        self.newest: str | None = None

    def orders(self, markets: list[str], since: datetime) -> Iterator[dict[str, Any]]:
        """Every order updated after ``since`` with its refunds, page by page."""
        ctx = self.ctx
        ctx.log.info("%s: orders updated after %s", PROVIDER, format_time(since))
        first = search_params(ctx.options, markets, since, MAX_RESULTS_PER_PAGE)
        paginator = CursorPaginator(f"{PROVIDER} orders", ctx.paging)
        read = 0
        while paginator.has_more and (ctx.limit is None or read < ctx.limit):
            params = first if paginator.cursor is None else {
                **first, "paginationToken": paginator.cursor,
            }  # fmt: skip
            what = f"searchOrders page {paginator.pages + 1}"
            body = self.client.get(ORDERS_PATH, params, what, self.orders_pacer)
            orders = [o for o in body.get("orders") or [] if isinstance(o, dict)]
            if ctx.limit is not None:
                orders = orders[: ctx.limit - read]
            for order in orders:
                read += 1
                self._see(order.get("lastUpdatedTime"))
                yield {**order, REFUNDS_KEY: self.refunds.of(order)}
            ctx.page_done(len(orders))
            token = (body.get("pagination") or {}).get("nextToken")
            paginator.update(bool(token), token or None, len(orders))
        if self.newest:
            ctx.next_state[WATERMARK_KEY] = self.newest

    def _see(self, updated: Any) -> None:
        try:
            moment = datetime.fromisoformat(str(updated).replace("Z", "+00:00"))
        except ValueError:
            return
        text = moment.astimezone(UTC).isoformat()
        if self.newest is None or text > self.newest:
            self.newest = text
