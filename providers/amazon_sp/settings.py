"""Amazon Selling Partner API (orders) settings, options and the documented limits.

Orders API v2026-01-01 (models/orders-api-model/orders_2026-01-01.json in
amzn/selling-partner-api-models): searchOrders ``GET /orders/2026-01-01/orders`` returns each
order with its ``orderItems``; ``includedData`` adds datasets (``PROCEEDS``: the money,
``FULFILLMENT``: the status, ``RECIPIENT``: the delivery address); a next page is asked for
with ``paginationToken`` = the last answer's ``pagination.nextToken``. Refunds are Finances API
v2024-06-19 listTransactions ``GET /finances/2024-06-19/transactions`` with
``relatedIdentifierName=ORDER_ID`` (the v0 Finances operations by order are deprecated).
Default rate limits per account-application pair, as the models document them: searchOrders
0.0056 requests a second with a burst of 20, listTransactions 0.5 with a burst of 10; a
response states the pair's own rate in ``x-amzn-RateLimit-Limit``. Orders API v0
(getOrders/getOrderItems) is deprecated and removed on 2027-03-27; it is no longer read.
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

ORDERS_PATH = "/orders/2026-01-01/orders"
TRANSACTIONS_PATH = "/finances/2024-06-19/transactions"
RATE_LIMIT_HEADER = "x-amzn-RateLimit-Limit"
# (requests a second, burst) of each operation, as documented.
SEARCH_ORDERS_LIMIT = (0.0056, 20)
LIST_TRANSACTIONS_LIMIT = (0.5, 10)
MAX_THROTTLED = 3  # 429s in a row for one call before the pull fails (retriable)
MAX_RESULTS_PER_PAGE = 100  # searchOrders maxResultsPerPage: 1..100
INCLUDED_DATA = ("PROCEEDS", "FULFILLMENT")  # money and status; RECIPIENT by option

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
        "Hours before the last pull's newest lastUpdatedTime that the next pull starts at",
    ),
    Option(
        "recipient",
        bool,
        False,
        "Ask searchOrders for RECIPIENT data (needs the Direct-to-Consumer Delivery role) to "
        "fill ship_country and ship_region; the rest of the address is dropped before landing",
    ),
    Option(
        "refunds",
        bool,
        True,
        "Read the refunds of shipped orders from Finances listTransactions (needs the Finance "
        "and Accounting role); off: refunded_amount and refunded_quantity stay empty",
    ),
)
