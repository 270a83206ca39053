"""Amazon seller orders through the Selling Partner API (Orders API v2026-01-01).

This provider offers the ``orders`` dataset only: an Amazon seller's products are the
``amazon`` provider's (Creators API), and its lines join them on the ASIN. The SP-API's own
catalog (Listings Items, reports) is not read. A raw record is one ``Order`` as searchOrders
sent it (items inside) with its Finances refund transactions under ``__refunds``, redacted
before it lands.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

from pipelines.errors import FatalProviderError
from providers.amazon_sp.client import SpClient, lwa_token
from providers.amazon_sp.normalize import normalize_order
from providers.amazon_sp.orders import OrdersPull, marketplace_ids, search_params, updated_after
from providers.amazon_sp.settings import (
    ENDPOINT_ENV,
    LWA_URL_ENV,
    OPTIONS,
    ORDERS_PATH,
    PROVIDER,
    SETTINGS,
)
from providers.base import FetchContext, ProbeResult, Provider

__all__ = ["AmazonSpProvider"]

NOT_PRODUCTS = (
    f"{PROVIDER} offers the orders dataset only; Amazon products come from the amazon provider"
)


class AmazonSpProvider(Provider):
    """An Amazon seller's orders and order items, paced to the documented rate limits."""

    name = PROVIDER
    title = "Amazon seller orders (Selling Partner API)"
    settings = SETTINGS
    options = OPTIONS
    datasets = ("orders",)
    record_noun = "orders"

    def __init__(
        self,
        *,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
        now: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self.clock = clock  # token lifetimes and pacing
        self.sleep = sleep  # pacing waits
        self.now = now

    def fetch(self, ctx: FetchContext) -> Iterator[dict[str, Any]]:
        """Products are not offered (see ``NOT_PRODUCTS``)."""
        raise FatalProviderError(NOT_PRODUCTS)

    def normalize(self, raw: dict[str, Any]) -> list[dict[str, Any]]:
        """Products are not offered (see ``NOT_PRODUCTS``)."""
        raise FatalProviderError(NOT_PRODUCTS)

    def fetch_dataset(self, dataset: str, ctx: FetchContext) -> Iterator[dict[str, Any]]:
        """Orders updated since the last pull (``providers.amazon_sp.orders``)."""
        if dataset != "orders":
            return super().fetch_dataset(dataset, ctx)
        markets = marketplace_ids(ctx.settings)
        pull = OrdersPull(ctx, self.client(ctx), self.clock, self.sleep)
        return pull.orders(markets, updated_after(ctx, self.now()))

    def normalize_dataset(self, dataset: str, raw: dict[str, Any]) -> dict[str, list[dict]]:
        """``orders`` and ``order_lines`` rows (``providers.amazon_sp.normalize``)."""
        if dataset != "orders":
            return super().normalize_dataset(dataset, raw)
        return normalize_order(raw)

    def probe(self, ctx: FetchContext) -> ProbeResult:
        """One searchOrders call for a single order of the last day: proves the LWA
        credentials, the refresh token, the endpoint, the marketplaces and the Orders role."""
        markets = marketplace_ids(ctx.settings)
        pull = OrdersPull(ctx, self.client(ctx), self.clock, self.sleep)
        params = search_params(ctx.options, markets, self.now() - timedelta(days=1), 1)
        body = pull.client.get(ORDERS_PATH, params, "searchOrders probe", pull.orders_pacer)
        found = len(body.get("orders") or [])
        more = " and more" if (body.get("pagination") or {}).get("nextToken") else ""
        detail = f"marketplaces {', '.join(markets)}: searchOrders answered"
        facts = (
            f"orders updated in the last day: {found}{more}",
            f"rate limit searchOrders: {pull.orders_pacer.rate:g} requests/s",
        )
        return ProbeResult(detail, facts)

    def client(self, ctx: FetchContext) -> SpClient:
        """The SP-API client of this fetch, with a token cache for its credentials."""
        tokens = lwa_token(ctx.settings, ctx.settings[LWA_URL_ENV], clock=self.clock)
        return SpClient(ctx.http, ctx.settings[ENDPOINT_ENV], tokens)
