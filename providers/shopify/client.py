"""A small GraphQL Admin API client on the shared HTTP layer, and the product fetch loop.

Why not the ``ShopifyAPI`` package: its GraphQL client has no timeout, retries or throttle
handling, and its session rewrites every host to ``*.myshopify.com`` (see PROVIDERS.md).
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any

from pipelines.errors import ConfigError, FatalProviderError, RetriableProviderError
from pipelines.http import HttpResponse, check_endpoint
from pipelines.secrets import mask
from providers.base import CursorPaginator, FetchContext
from providers.shopify import queries
from providers.shopify.settings import (
    ACCESS_TOKEN_ENV,
    ACCESS_TOKEN_HEADER,
    API_URL_ENV,
    API_VERSION_ENV,
    API_VERSION_HEADER,
    DEFAULT_API_VERSION,
    GRAPHQL_PATH,
    MAX_PAGE_SIZE,
    MAX_QUERY_COST,
    MAX_VARIANTS_PER_PRODUCT,
    SHOP_DOMAIN_ENV,
)

PROVIDER = "shopify"
_VERSION_RE = re.compile(r"^(\d{4}-\d{2}|unstable)$")
_DOMAIN_RE = re.compile(r"^[A-Za-z0-9]([A-Za-z0-9.-]*[A-Za-z0-9])?(:\d+)?$")


# --- configuration ---------------------------------------------------------------------------


def check_settings(settings: Mapping[str, str]) -> list[str]:
    """Problems with the shop domain, API version and URL override (empty when all is well)."""
    problems = []
    domain = settings.get(SHOP_DOMAIN_ENV)
    if domain and not _DOMAIN_RE.match(domain):
        problems.append(
            f"{SHOP_DOMAIN_ENV}: {domain!r} is not a bare host name (write example.myshopify.com, "
            "without https:// or a path)"
        )
    version = settings.get(API_VERSION_ENV) or DEFAULT_API_VERSION
    if not _VERSION_RE.match(version):
        problems.append(f"{API_VERSION_ENV}: {version!r} is not an API version like 2026-10")
    if settings.get(API_URL_ENV):
        try:
            check_endpoint(API_URL_ENV, settings[API_URL_ENV])
        except ConfigError as exc:
            problems.append(str(exc))
    return problems


def graphql_url(settings: Mapping[str, str]) -> str:
    """``{base}/admin/api/{version}/graphql.json``; base is the override or https://{shop}."""
    problems = check_settings(settings)
    if problems:
        raise ConfigError("; ".join(problems))
    override = settings.get(API_URL_ENV)
    if not override and not settings.get(SHOP_DOMAIN_ENV):
        raise ConfigError(f"{SHOP_DOMAIN_ENV} is not set")
    base = (
        check_endpoint(API_URL_ENV, override)
        if override
        else f"https://{settings[SHOP_DOMAIN_ENV]}"
    )
    version = settings.get(API_VERSION_ENV) or DEFAULT_API_VERSION
    return base + GRAPHQL_PATH.format(version=version)


@dataclass(frozen=True)
class PagingOptions:
    """The validated ``[providers.shopify]`` options."""

    page_size: int
    variants_per_product: int
    query: str

    @classmethod
    def from_options(cls, options: Mapping[str, Any]) -> PagingOptions:
        """Validate the options, naming the key of the first bad one."""
        page_size = _bounded_int(options, "page_size", MAX_PAGE_SIZE)
        variants = _bounded_int(options, "variants_per_product", MAX_VARIANTS_PER_PRODUCT)
        query = options.get("query") or ""
        if not isinstance(query, str):
            raise ConfigError(f"providers.shopify.query: must be a string, got {query!r}")
        return cls(page_size, variants, query)

    def products_per_page(self) -> int:
        """``page_size``, lowered so that one query stays under Shopify's cost limit."""
        return min(
            self.page_size,
            queries.max_products_per_page(self.variants_per_product, MAX_QUERY_COST),
        )


def _bounded_int(options: Mapping[str, Any], name: str, maximum: int) -> int:
    value = options.get(name)
    if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= maximum:
        raise ConfigError(
            f"providers.shopify.{name}: must be an integer from 1 to {maximum}, got {value!r}"
        )
    return value


# --- GraphQL transport -----------------------------------------------------------------------


class ShopifyClient:
    """POSTs GraphQL documents to one shop and returns their ``data``."""

    def __init__(self, ctx: FetchContext) -> None:
        self.ctx = ctx
        self.url = graphql_url(ctx.settings)
        self.version = ctx.settings.get(API_VERSION_ENV) or DEFAULT_API_VERSION
        self.headers = {ACCESS_TOKEN_HEADER: ctx.settings[ACCESS_TOKEN_ENV]}
        self._version_checked = False

    def execute(
        self, query: str, operation: str, variables: Mapping[str, Any], what: str
    ) -> dict[str, Any]:
        """Run one query; raise on errors without data, warn on errors with data."""
        response = self.ctx.http.request(
            "POST",
            self.url,
            what=what,
            json_body={"query": query, "operationName": operation, "variables": dict(variables)},
            headers=self.headers,
            cacheable=True,
        )
        self._check_version(response)
        payload = response.json(f"{PROVIDER} {what}")
        if not isinstance(payload, dict):
            raise FatalProviderError(f"{PROVIDER} {what}: response is not a JSON object")
        return check_graphql(payload, what, self.ctx.log)

    def _check_version(self, response: HttpResponse) -> None:
        """Warn once when Shopify served another version than asked for.

        An unsupported version is served as the oldest supported one, with no error:
        https://shopify.dev/docs/api/usage/versioning. Cached responses carry no such header.
        """
        served = _header(response.headers, API_VERSION_HEADER)
        if served is None or self._version_checked:
            return
        self._version_checked = True
        if served != self.version:
            self.ctx.log.warning(
                "%s: asked for API version %s but Shopify served %s; set %s to a supported version",
                PROVIDER,
                self.version,
                served,
                API_VERSION_ENV,
            )


def _header(headers: Mapping[str, str], name: str) -> str | None:
    wanted = name.lower()
    return next((value for key, value in headers.items() if key.lower() == wanted), None)


def check_graphql(payload: dict[str, Any], what: str, log: Any) -> dict[str, Any]:
    """The ``data`` of a GraphQL response, or the error its ``errors`` call for.

    THROTTLED is retriable (https://shopify.dev/docs/api/usage/rate-limits); other errors
    are fatal without data and only a warning with data (singer-sdk's GraphQLStream).
    """
    errors = payload.get("errors") or []
    if isinstance(errors, str | dict):
        errors = [errors]
    data = payload.get("data")
    if any(_error_code(e) == "THROTTLED" for e in errors):
        raise RetriableProviderError(
            f"{PROVIDER} {what}: throttled by Shopify (THROTTLED){_throttle_note(payload)}"
        )
    if errors and not data:
        raise FatalProviderError(
            mask(f"GraphQL errors from {PROVIDER} {what}: {_messages(errors)}")
        )
    if errors:
        log.warning(
            "%s %s: GraphQL errors with data, going on: %s", PROVIDER, what, _messages(errors)
        )
    if not isinstance(data, dict):
        raise FatalProviderError(f"{PROVIDER} {what}: response has no data")
    return data


def _error_code(error: Any) -> str | None:
    if isinstance(error, dict) and isinstance(error.get("extensions"), dict):
        return error["extensions"].get("code")
    return None


def _messages(errors: list[Any]) -> str:
    parts = []
    for error in errors:
        if not isinstance(error, dict):
            parts.append(str(error))
            continue
        code = _error_code(error)
        parts.append(f"{error.get('message', error)}" + (f" ({code})" if code else ""))
    return "; ".join(parts)[:500]


def _throttle_note(payload: dict[str, Any]) -> str:
    """``: 12 of 2000 points available, restoring 100/s`` from ``extensions.cost``."""
    cost = (payload.get("extensions") or {}).get("cost") or {}
    status = cost.get("throttleStatus") or {}
    if not status:
        return ""
    return (
        f": requested cost {cost.get('requestedQueryCost')}, "
        f"{status.get('currentlyAvailable')} of {status.get('maximumAvailable')} points "
        f"available, restoring {status.get('restoreRate')}/s"
    )


# --- fetching --------------------------------------------------------------------------------


def fetch_shop(client: ShopifyClient) -> dict[str, Any]:
    """The shop's ``currencyCode`` and ``myshopifyDomain``, as the ``__shop`` context key."""
    data = client.execute(queries.SHOP_QUERY, queries.SHOP_OPERATION, {}, "shop")
    shop = data.get("shop")
    if not isinstance(shop, dict):
        raise FatalProviderError(f"{PROVIDER} shop: response has no data.shop")
    return {
        "currencyCode": shop.get("currencyCode"),
        "myshopifyDomain": shop.get("myshopifyDomain"),
    }


def fetch_products(ctx: FetchContext) -> Iterator[dict[str, Any]]:
    """Yield product nodes (with their variants) plus ``__shop``, page by page."""
    if ctx.limit is not None and ctx.limit <= 0:
        return
    paging = PagingOptions.from_options(ctx.options)
    per_page = _products_per_page(ctx, paging)
    client = ShopifyClient(ctx)
    shop = fetch_shop(client)
    paginator = CursorPaginator(f"{PROVIDER} products")
    fetched = 0
    while paginator.has_more:
        first = per_page if ctx.limit is None else min(per_page, ctx.limit - fetched)
        what = f"products page {ctx.stats.pages + 1}"
        connection = _fetch_page(client, paging, first, paginator.cursor, what)
        nodes = connection.get("nodes") or []
        for node in nodes[:first]:
            _warn_if_truncated(ctx, node, paging.variants_per_product)
            yield {**node, "__shop": shop}
        fetched += min(len(nodes), first)
        ctx.page_done(min(len(nodes), first))
        page_info = connection.get("pageInfo") or {}
        paginator.update(bool(page_info.get("hasNextPage")), page_info.get("endCursor"))
        if ctx.limit is not None and fetched >= ctx.limit:
            return


def _products_per_page(ctx: FetchContext, paging: PagingOptions) -> int:
    per_page = paging.products_per_page()
    if per_page < paging.page_size:
        ctx.log.info(
            "%s: %d products per page instead of %d, so that a query with %d variants per "
            "product stays under Shopify's %d-point cost limit",
            PROVIDER,
            per_page,
            paging.page_size,
            paging.variants_per_product,
            MAX_QUERY_COST,
        )
    return per_page


def _fetch_page(
    client: ShopifyClient, paging: PagingOptions, first: int, cursor: str | None, what: str
) -> dict[str, Any]:
    variables = {
        "first": first,
        "cursor": cursor,
        "query": paging.query or None,
        "variantsFirst": paging.variants_per_product,
    }
    data = client.execute(queries.PRODUCTS_QUERY, queries.PRODUCTS_OPERATION, variables, what)
    connection = data.get("products")
    if not isinstance(connection, dict):
        raise FatalProviderError(f"{PROVIDER} {what}: response has no data.products")
    return connection


def _warn_if_truncated(ctx: FetchContext, node: dict[str, Any], variants_per_product: int) -> None:
    """Products with more variants than asked for are kept, but never silently.

    Fetching every variant of such products needs a bulk operation (a later issue).
    """
    page_info = (node.get("variants") or {}).get("pageInfo") or {}
    if page_info.get("hasNextPage"):
        ctx.log.warning(
            "%s: product %s (%r) has more than %d variants; only the first %d are fetched "
            "(raise variants_per_product, up to %d)",
            PROVIDER,
            node.get("id"),
            node.get("title"),
            variants_per_product,
            variants_per_product,
            MAX_VARIANTS_PER_PRODUCT,
        )
