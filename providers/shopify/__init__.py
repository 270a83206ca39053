"""Shopify: products and their variants from the GraphQL Admin API.

One raw record is one product node as the API returned it, variants nested, plus
``"__shop": {"currencyCode": ..., "myshopifyDomain": ...}`` from the shop query.
Normalizing yields one canonical row per variant. Pulls are incremental after the first
committed run, paced by Shopify's cost bucket, and run as bulk operations for large catalogs.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any

from providers.base import FetchContext, Provider
from providers.shopify.client import ShopifyClient, check_settings
from providers.shopify.fetch import fetch_products, fetch_shop
from providers.shopify.normalize import normalize_product
from providers.shopify.settings import OPTIONS, SETTINGS

__all__ = ["ShopifyProvider"]


class ShopifyProvider(Provider):
    """Products of one Shopify shop, one row per variant."""

    name = "shopify"
    title = "Shopify (GraphQL Admin API)"
    settings = SETTINGS
    options = OPTIONS

    def fetch(self, ctx: FetchContext) -> Iterator[dict[str, Any]]:
        """Yield product nodes with their variants and the ``__shop`` context."""
        return fetch_products(ctx)

    def normalize(self, raw: dict[str, Any]) -> list[dict[str, Any]]:
        """One canonical row per variant of the product."""
        return normalize_product(raw)

    def probe(self, ctx: FetchContext) -> str:
        """The shop query, uncached: ``shop maple.myshopify.com, currency CAD, API 2026-10``.

        Errors are the shared HTTP layer's, with ``status`` 401 (bad token), 403 (missing
        scope) or 404 (wrong shop or URL).
        """
        client = ShopifyClient(ctx)
        shop = fetch_shop(client, cacheable=False)
        version = client.served_version or client.version
        return f"shop {shop['myshopifyDomain']}, currency {shop['currencyCode']}, API {version}"

    def check_environment(self, env: Mapping[str, str]) -> list[str]:
        """A malformed shop domain or API version, or a refused URL override."""
        return check_settings(self.resolve_settings(env))
