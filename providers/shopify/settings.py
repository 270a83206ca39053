"""Shopify's settings, options and constants, declared once.

Environment settings hold the shop and its secret; `pipeline.toml` options under
``[providers.shopify]`` say how much to ask for per call, how far back an incremental pull
looks and when to use a bulk operation (for products and for orders).
"""

from __future__ import annotations

from providers.base import Option, Setting

SHOP_DOMAIN_ENV = "SHOPIFY_SHOP_DOMAIN"
CLIENT_ID_ENV = "SHOPIFY_CLIENT_ID"
CLIENT_SECRET_ENV = "SHOPIFY_CLIENT_SECRET"
ACCESS_TOKEN_ENV = "SHOPIFY_ACCESS_TOKEN"
API_VERSION_ENV = "SHOPIFY_API_VERSION"
API_URL_ENV = "SHOPIFY_API_URL"

DEFAULT_API_VERSION = "2026-10"
DEFAULT_PAGE_SIZE = 100
DEFAULT_VARIANTS_PER_PRODUCT = 100
DEFAULT_QUERY = ""
DEFAULT_LOOKBACK_HOURS = 24
DEFAULT_BULK = "auto"
# Cursor paging stops at 25,000 items (https://shopify.dev/docs/api/usage/pagination-graphql);
# the margin covers products created while a pull pages through the catalog.
DEFAULT_BULK_THRESHOLD = 20_000
DEFAULT_BULK_POLL_SECONDS = 2.0
DEFAULT_BULK_TIMEOUT_SECONDS = 3600

BULK_MODES = ("auto", "full_refresh", "always", "never")
# Orders: a backfill (no watermark yet, or --full-refresh) runs as a bulk operation by default.
DEFAULT_ORDERS_BULK = "backfill"
ORDERS_BULK_MODES = ("backfill", "always", "never")
# Polling a bulk operation backs off from bulk_poll_seconds, doubling up to this.
MAX_BULK_POLL_SECONDS = 30.0

# https://shopify.dev/docs/api/usage/limits: connections return at most 250 nodes per call.
MAX_PAGE_SIZE = 250
MAX_VARIANTS_PER_PRODUCT = 250
MAX_LOOKBACK_HOURS = 24 * 365
MAX_BULK_THRESHOLD = 10**9
MAX_BULK_TIMEOUT_SECONDS = 10 * 86400
# https://shopify.dev/docs/apps/build/apis/graphql-admin/rate-limits: the requested cost of a
# single query may not exceed 1,000 points, whatever the plan.
MAX_QUERY_COST = 1000
# THROTTLED answers to one call that are waited out before the call fails.
MAX_THROTTLE_RETRIES = 10
# Wait after a THROTTLED answer that carries no usable bucket status: doubles per attempt.
THROTTLE_FALLBACK_SECONDS = 1.0
MAX_THROTTLE_WAIT_SECONDS = 60.0

GRAPHQL_PATH = "/admin/api/{version}/graphql.json"
# The client credentials grant of Dev Dashboard apps (tokens live 86,399 s):
# https://shopify.dev/docs/apps/build/authentication-authorization/access-tokens/client-credentials-grant
TOKEN_PATH = "/admin/oauth/access_token"
# Mint a new token this many seconds before the current one lapses (at most a tenth of its life).
TOKEN_REFRESH_MARGIN = 600.0
ACCESS_TOKEN_HEADER = "X-Shopify-Access-Token"
API_VERSION_HEADER = "X-Shopify-API-Version"
# Since 2025-04 it names the deprecated fields a query used ("Shop.products, Shop.productVariants").
DEPRECATED_REASON_HEADER = "X-Shopify-API-Deprecated-Reason"

# The access scopes each dataset needs (https://shopify.dev/docs/api/usage/access-scopes); a
# write_ scope includes its read_ scope. Add a dataset here when the provider gains one.
DATASET_SCOPES: dict[str, tuple[str, ...]] = {
    "products": ("read_products",),
    "orders": ("read_orders",),
}
DATASETS = ("products",)  # what a run pulls unless [pipeline] datasets says more
# Without it, Shopify serves only the last 60 days of orders (a scope Shopify grants on request).
ALL_ORDERS_SCOPE = "read_all_orders"

# https://shopify.dev/docs/api/usage/versioning: a version every quarter (YYYY-01/04/07/10),
# each supported for at least 12 months from its release.
RELEASE_MONTHS = (1, 4, 7, 10)
SUPPORT_MONTHS = 12
# doctor and the run summary warn this many days before the configured version's support ends.
VERSION_WARNING_DAYS = 90

SETTINGS: tuple[Setting, ...] = (
    Setting(SHOP_DOMAIN_ENV, "The shop's domain, e.g. example.myshopify.com"),
    Setting(
        CLIENT_ID_ENV,
        "Client ID of the shop's Dev Dashboard app (preferred: tokens are minted and refreshed)",
        secret=True,
        required=False,
    ),
    Setting(
        CLIENT_SECRET_ENV,
        "Client secret of that app, used with SHOPIFY_CLIENT_ID",
        secret=True,
        required=False,
    ),
    Setting(
        ACCESS_TOKEN_ENV,
        "A legacy custom app's Admin API token (shpat_...; use only without "
        "SHOPIFY_CLIENT_ID/SHOPIFY_CLIENT_SECRET)",
        secret=True,
        required=False,
    ),
    Setting(
        API_VERSION_ENV,
        "GraphQL Admin API version (YYYY-MM)",
        required=False,
        default=DEFAULT_API_VERSION,
    ),
    Setting(
        API_URL_ENV,
        "Base URL replacing https://{shop} (proxies, test doubles); "
        "/admin/api/{version}/graphql.json and /admin/oauth/access_token follow",
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
        minimum=1,
        maximum=MAX_PAGE_SIZE,
    ),
    Option(
        "variants_per_product",
        int,
        DEFAULT_VARIANTS_PER_PRODUCT,
        f"Variants fetched per product with its products page (1-{MAX_VARIANTS_PER_PRODUCT}); "
        "a product with more is completed with follow-up queries",
        minimum=1,
        maximum=MAX_VARIANTS_PER_PRODUCT,
    ),
    Option(
        "query",
        str,
        DEFAULT_QUERY,
        'Shopify search filter for products, e.g. "status:active" (a pull with a filter '
        "never marks products as deleted)",
    ),
    Option(
        "lookback_hours",
        int,
        DEFAULT_LOOKBACK_HOURS,
        "Incremental pulls ask for products updated since the last committed watermark "
        "minus this many hours",
        maximum=MAX_LOOKBACK_HOURS,
    ),
    Option(
        "bulk",
        str,
        DEFAULT_BULK,
        "When to use a bulk operation instead of paging: auto (the pull counts at least "
        "bulk_threshold products), full_refresh (auto, and every --full-refresh run), always, "
        "never",
        choices=BULK_MODES,
    ),
    Option(
        "orders_bulk",
        str,
        DEFAULT_ORDERS_BULK,
        "When an orders pull runs as a bulk operation instead of paging: backfill (the first "
        "pull, with no watermark yet, and every --full-refresh), always, never",
        choices=ORDERS_BULK_MODES,
    ),
    Option(
        "bulk_threshold",
        int,
        DEFAULT_BULK_THRESHOLD,
        "Products in a pull from which auto uses a bulk operation (paging stops at 25,000)",
        minimum=1,
        maximum=MAX_BULK_THRESHOLD,
    ),
    Option(
        "bulk_poll_seconds",
        float,
        DEFAULT_BULK_POLL_SECONDS,
        f"First wait between polls of a bulk operation; doubles up to {MAX_BULK_POLL_SECONDS:g} s",
        above=0,
    ),
    Option(
        "bulk_timeout_seconds",
        int,
        DEFAULT_BULK_TIMEOUT_SECONDS,
        "How long to wait for a bulk operation (ours, or one already running) before failing",
        minimum=1,
        maximum=MAX_BULK_TIMEOUT_SECONDS,
    ),
)
