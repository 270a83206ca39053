"""Shopify: products and their variants from the GraphQL Admin API.

One raw record is one product node as the API returned it, variants nested, plus
``"__shop": {"currencyCode": ..., "myshopifyDomain": ...}`` from the shop query.
Normalizing yields one canonical row per variant. Pulls are incremental after the first
committed run, paced by Shopify's cost bucket, and run as bulk operations for large catalogs.
Credentials are a Dev Dashboard app's client id and secret or a legacy token (``auth.py``);
the API version is held against Shopify's support window (``versions.py``).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator, Mapping
from datetime import UTC, date, datetime
from typing import TYPE_CHECKING, Any

from pipelines.errors import FatalProviderError, UnsupportedApiError
from pipelines.net.oauth import ClientCredentialsToken, TokenSource
from providers.base import FetchContext, ProbeResult, Provider
from providers.shopify import queries
from providers.shopify.auth import (
    StaticToken,
    app_token,
    conflicting_credentials,
    missing_credentials,
)
from providers.shopify.client import ShopifyClient, base_url, check_settings
from providers.shopify.normalize import normalize_product
from providers.shopify.scopes import (
    credentials_fact,
    missing_scopes,
    orders_window_fact,
    scopes_fact,
)
from providers.shopify.settings import (
    ACCESS_TOKEN_ENV,
    CLIENT_ID_ENV,
    CLIENT_SECRET_ENV,
    OPTIONS,
    SETTINGS,
)
from providers.shopify.versions import FAILURE, OK, WARNING, check_version

if TYPE_CHECKING:
    from providers.batch import NormalizedBlock, RawTable

__all__ = ["ShopifyProvider"]


def utc_today() -> date:
    """Today in UTC (the day Shopify releases and retires versions on)."""
    return datetime.now(UTC).date()


class ShopifyProvider(Provider):
    """Products of one Shopify shop, one row per variant."""

    name = "shopify"
    title = "Shopify (GraphQL Admin API)"
    settings = SETTINGS
    options = OPTIONS
    record_noun = "products"
    row_noun = "variant rows"
    # No daily quota: the cost bucket refills every second (the throttle paces calls to it).
    daily_budget = 0
    # A [budget] for Shopify caps the GraphQL cost points spent per UTC day (docs/budget.md).
    budget_unit = "points"
    datasets = ("products", "orders")

    def __init__(
        self,
        clock: Callable[[], float] = time.monotonic,
        today: Callable[[], date] | None = None,
    ) -> None:
        self.clock = clock  # token lifetimes
        self._today = today  # the API version's support window (default: the UTC date)
        # One token cache per token endpoint and app, kept for the life of the process.
        self._tokens: dict[tuple[str, str, str], ClientCredentialsToken] = {}

    def today(self) -> date:
        """The day the API version is judged on."""
        return (self._today or utc_today)()

    # --- configuration ------------------------------------------------------------------------

    def missing_settings(self, env: Mapping[str, str]) -> list[str]:
        """Configured by the shop plus SHOPIFY_CLIENT_ID + SECRET, or else SHOPIFY_ACCESS_TOKEN."""
        return missing_credentials(env)

    def conflicting_settings(self, env: Mapping[str, str]) -> list[str]:
        """Both kinds of credentials at once."""
        return conflicting_credentials(env)

    def check_environment(self, env: Mapping[str, str]) -> list[str]:
        """Both kinds of credentials, a malformed shop or version, a refused URL override."""
        return conflicting_credentials(env) + check_settings(self.resolve_settings(env))

    # --- fetch --------------------------------------------------------------------------------

    def fetch(self, ctx: FetchContext) -> Iterator[dict[str, Any]]:
        """Yield product nodes with their variants and the ``__shop`` context.

        The fetch (bulk operations, their download through requests) is imported here, so
        that listing the providers or reading their settings stays cheap."""
        from providers.shopify.fetch import fetch_products

        return fetch_products(ctx, self.client(ctx))

    def normalize(self, raw: dict[str, Any]) -> list[dict[str, Any]]:
        """One canonical row per variant of the product."""
        return normalize_product(raw)

    def fetch_dataset(self, dataset: str, ctx: FetchContext) -> Iterator[dict[str, Any]]:
        """Products (``fetch``) or order nodes with their lines (``orders.py``)."""
        if dataset == "orders":
            from providers.shopify.orders import fetch_orders  # requests: not for --help

            return fetch_orders(ctx, self.client(ctx))
        return super().fetch_dataset(dataset, ctx)

    def normalize_dataset(self, dataset: str, raw: dict[str, Any]) -> dict[str, list[dict]]:
        """An order row and its line rows; products as ``normalize``."""
        if dataset == "orders":
            from providers.shopify.order_normalize import normalize_order

            return normalize_order(raw)
        return super().normalize_dataset(dataset, raw)

    def normalize_batch(self, raws: list[dict[str, Any]]) -> NormalizedBlock:
        """The rows of a block of product nodes, computed column by column (``columnar.py``)."""
        from providers.shopify.columnar import normalize_block  # pyarrow: not for --help

        return normalize_block(raws)

    def raw_table(self) -> RawTable:
        """Landed product nodes read straight into Arrow (``JSON_SCHEMA``), their variant ids
        and the batch normalizer over that table."""
        from providers.batch import RawTable  # pyarrow: not for --help
        from providers.shopify.columnar import JSON_SCHEMA, KEY_SCHEMA, normalize_table, variant_ids

        return RawTable(JSON_SCHEMA, KEY_SCHEMA, variant_ids, normalize_table)

    def raw_keys(self, raw: dict[str, Any]) -> list[str]:
        """The variant ids of the product node (its rows' ``source_id``)."""
        variants = raw.get("variants")
        nodes = variants.get("nodes") if isinstance(variants, dict) else None
        if not isinstance(nodes, list):
            return []
        return [str(node.get("id")) for node in nodes if isinstance(node, dict)]

    def probe(self, ctx: FetchContext) -> ProbeResult:
        """The shop and the app's granted scopes, uncached: what doctor shows.

        ``shop maple.myshopify.com, currency CAD, API 2026-10``, then the kind of credentials
        (and the token's remaining life), the scopes granted against those needed, and the
        version's support window. Errors are the shared HTTP layer's, with ``status`` 401 (bad
        credentials), 403 (missing scope) or 404 (wrong shop or URL).
        """
        client = self.client(ctx)
        data = client.execute(queries.PROBE_QUERY, queries.PROBE_OPERATION, {}, "shop")
        shop = data.get("shop") or {}
        installation = data.get("currentAppInstallation") or {}
        granted = [s.get("handle") for s in installation.get("accessScopes") or []]
        datasets = [d for d in ctx.datasets if d in self.datasets]
        if missing_scopes(granted, datasets):
            error = FatalProviderError(f"shopify: {scopes_fact(granted, datasets)}")
            error.status = 403
            raise error
        served = client.served_version or client.version
        detail = f"shop {shop.get('myshopifyDomain')}, currency {shop.get('currencyCode')}"
        facts = [credentials_fact(client.tokens, self.clock()), scopes_fact(granted, datasets)]
        window = orders_window_fact(granted, datasets)
        if window:
            facts.append(window)
        version = check_version(client.version, self.today())
        if version.level == OK:  # a warning is in ctx.stats.warnings already
            facts.append(version.message)
        return ProbeResult(f"{detail}, API {served}", tuple(facts))

    def client(self, ctx: FetchContext) -> ShopifyClient:
        """The GraphQL client of this fetch, once the API version passed its check."""
        client = ShopifyClient(ctx, self._token_source(ctx.settings))  # settings checked here
        self.check_version(ctx, client.version)
        return client

    def check_version(self, ctx: FetchContext, version: str) -> None:
        """Fail past the version's end of support; warn in the last 90 days before it.

        A recording replayed offline is not held to the support window of its version.
        """
        if ctx.offline:
            return
        verdict = check_version(version, self.today())
        if verdict.level == FAILURE:
            raise UnsupportedApiError(verdict.message)
        if verdict.level == WARNING:
            ctx.log.warning("%s", verdict.message)
            ctx.stats.warnings.append(verdict.message)

    def _token_source(self, settings: Mapping[str, str]) -> TokenSource:
        client_id, secret = settings.get(CLIENT_ID_ENV), settings.get(CLIENT_SECRET_ENV)
        if not (client_id and secret):
            return StaticToken(settings.get(ACCESS_TOKEN_ENV) or "")
        base = base_url(settings)
        key = (base, client_id, secret)
        if key not in self._tokens:
            self._tokens[key] = app_token(base, client_id, secret, clock=self.clock)
        return self._tokens[key]
