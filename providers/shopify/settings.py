"""Shopify's settings, options and constants, declared once.

Environment settings hold the shop and its secret; `pipeline.toml` options under
``[providers.shopify]`` say how much to ask for per call.
"""

from __future__ import annotations

from providers.base import Option, Setting

SHOP_DOMAIN_ENV = "SHOPIFY_SHOP_DOMAIN"
ACCESS_TOKEN_ENV = "SHOPIFY_ACCESS_TOKEN"
API_VERSION_ENV = "SHOPIFY_API_VERSION"
API_URL_ENV = "SHOPIFY_API_URL"

DEFAULT_API_VERSION = "2026-10"
DEFAULT_PAGE_SIZE = 100
DEFAULT_VARIANTS_PER_PRODUCT = 100
DEFAULT_QUERY = ""

# https://shopify.dev/docs/api/usage/limits: connections return at most 250 nodes per call.
MAX_PAGE_SIZE = 250
MAX_VARIANTS_PER_PRODUCT = 250
# https://shopify.dev/docs/apps/build/apis/graphql-admin/rate-limits: the requested cost of a
# single query may not exceed 1,000 points, whatever the plan.
MAX_QUERY_COST = 1000

GRAPHQL_PATH = "/admin/api/{version}/graphql.json"
ACCESS_TOKEN_HEADER = "X-Shopify-Access-Token"
API_VERSION_HEADER = "X-Shopify-API-Version"

SETTINGS: tuple[Setting, ...] = (
    Setting(SHOP_DOMAIN_ENV, "The shop's domain, e.g. example.myshopify.com"),
    Setting(ACCESS_TOKEN_ENV, "Admin API access token (read_products scope)", secret=True),
    Setting(
        API_VERSION_ENV,
        "GraphQL Admin API version (YYYY-MM)",
        required=False,
        default=DEFAULT_API_VERSION,
    ),
    Setting(
        API_URL_ENV,
        "Base URL replacing https://{shop} (proxies, test doubles); "
        "/admin/api/{version}/graphql.json follows",
        required=False,
    ),
)

OPTIONS: tuple[Option, ...] = (
    Option(
        "page_size",
        int,
        DEFAULT_PAGE_SIZE,
        f"Products per page (1-{MAX_PAGE_SIZE}); lowered when needed to keep each query "
        f"under Shopify's {MAX_QUERY_COST}-point cost limit",
    ),
    Option(
        "variants_per_product",
        int,
        DEFAULT_VARIANTS_PER_PRODUCT,
        f"Variants fetched per product (1-{MAX_VARIANTS_PER_PRODUCT}); "
        "products with more are logged as truncated",
    ),
    Option(
        "query",
        str,
        DEFAULT_QUERY,
        "Shopify search filter for products, e.g. \"updated_at:>='2026-11-01T00:00:00Z'\"",
    ),
)
