"""Amazon Selling Partner API (orders) settings, options and the documented limits.

Orders API v0 (https://developer-docs.amazon.com/sp-api/docs/orders-api-v0-reference):
getOrders ``GET /orders/v0/orders`` and getOrderItems ``GET /orders/v0/orders/{id}/orderItems``,
paged by ``NextToken``. Default rate limits per account-application pair
(https://developer-docs.amazon.com/sp-api/docs/orders-api-rate-limits): getOrders 0.0167
requests a second with a burst of 20, getOrderItems 0.5 with a burst of 30; a response states
the pair's own rate in ``x-amzn-RateLimit-Limit``. Amazon has announced Orders API v2026-01-01
(searchOrders) and the removal of these v0 operations on 2027-03-27.
"""

from __future__ import annotations

from providers.base import Option, Setting

PROVIDER = "amazon_sp"
CLIENT_ID_ENV = "AMAZON_SP_LWA_CLIENT_ID"
CLIENT_SECRET_ENV = "AMAZON_SP_LWA_CLIENT_SECRET"  # pragma: allowlist secret
REFRESH_TOKEN_ENV = "AMAZON_SP_REFRESH_TOKEN"
ENDPOINT_ENV = "AMAZON_SP_ENDPOINT"
MARKETPLACE_IDS_ENV = "AMAZON_SP_MARKETPLACE_IDS"
LWA_URL_ENV = "AMAZON_SP_LWA_URL"

DEFAULT_ENDPOINT = "https://sellingpartnerapi-na.amazon.com"
DEFAULT_MARKETPLACE_IDS = "ATVPDKIKX0DER"  # amazon.com
DEFAULT_LWA_URL = "https://api.amazon.com/auth/o2/token"

ORDERS_PATH = "/orders/v0/orders"
ITEMS_PATH = ORDERS_PATH + "/{order_id}/orderItems"
RATE_LIMIT_HEADER = "x-amzn-RateLimit-Limit"
# (requests a second, burst) of each operation, as documented.
GET_ORDERS_LIMIT = (0.0167, 20)
GET_ORDER_ITEMS_LIMIT = (0.5, 30)
MAX_THROTTLED = 3  # 429s in a row for one call before the pull fails (retriable)
MAX_RESULTS_PER_PAGE = 100  # getOrders MaxResultsPerPage: 1..100

SETTINGS = (
    Setting(CLIENT_ID_ENV, "Login with Amazon client id of the SP-API application", secret=True),
    Setting(CLIENT_SECRET_ENV, "Login with Amazon client secret", secret=True),
    Setting(REFRESH_TOKEN_ENV, "LWA refresh token the seller's authorization gave", secret=True),
    Setting(
        ENDPOINT_ENV,
        "SP-API regional endpoint (sellingpartnerapi-na, -eu or -fe .amazon.com)",
        required=False,
        default=DEFAULT_ENDPOINT,
    ),
    Setting(
        MARKETPLACE_IDS_ENV,
        "Marketplace ids to read orders of, comma-separated (ATVPDKIKX0DER: amazon.com)",
        required=False,
        default=DEFAULT_MARKETPLACE_IDS,
    ),
    Setting(
        LWA_URL_ENV,
        "Override of the LWA token URL, for proxies and fakes",
        required=False,
        default=DEFAULT_LWA_URL,
    ),
)

OPTIONS = (
    Option(
        "initial_days",
        int,
        30,
        "Days of order updates the first orders pull reads (Amazon serves two years at most)",
        minimum=1,
        maximum=730,
    ),
    Option(
        "lookback_hours",
        float,
        2.0,
        "Hours before the last pull's newest LastUpdateDate that the next pull starts at",
    ),
)
