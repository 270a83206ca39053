"""eBay Browse API: constants, the declared settings and options, and option validation.

Vendor facts (checked against eBay's docs, see the links):
- Search: ``GET /buy/browse/v1/item_summary/search`` with one of ``q``, ``category_ids``,
  ``epid``, ``gtin``; ``limit`` 1–200, ``offset`` a multiple of ``limit``, and at most 10,000
  results reachable per query (offset + limit ≤ 10,000).
  https://developer.ebay.com/api-docs/buy/browse/resources/item_summary/methods/search
- Application token: client-credentials grant against the identity endpoint, valid ~2 hours,
  minting limited per day. https://developer.ebay.com/api-docs/static/oauth-client-credentials-grant.html
- Orders: ``GET /sell/fulfillment/v1/order`` (getOrders) with a *user* token minted from a
  refresh token (``grant_type=refresh_token``, scope ``sell.fulfillment.readonly``);
  ``filter=lastmodifieddate:[from..]``, ``limit``/``offset`` paging; the filter reaches back
  90 days only. https://developer.ebay.com/api-docs/sell/fulfillment/resources/order/methods/getOrders
  https://developer.ebay.com/api-docs/static/oauth-refresh-token-request.html
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, model_validator

from pipelines.errors import ConfigError
from providers.base import Option, Setting

DEFAULT_API_URL = "https://api.ebay.com"
DEFAULT_OAUTH_URL = "https://api.ebay.com/identity/v1/oauth2/token"
DEFAULT_SCOPE = "https://api.ebay.com/oauth/api_scope"
DEFAULT_MARKETPLACE = "EBAY_US"
DEFAULT_PAGE_SIZE = 100
DEFAULT_MAX_RESULTS_PER_QUERY = 10_000
# Refresh a minted token this many seconds before it lapses (capped at a tenth of its life).
DEFAULT_TOKEN_REFRESH_MARGIN = 300.0

SEARCH_PATH = "/buy/browse/v1/item_summary/search"
ORDERS_PATH = "/sell/fulfillment/v1/order"
FULFILLMENT_SCOPE = "https://api.ebay.com/oauth/api_scope/sell.fulfillment.readonly"
ORDERS_PAGE_SIZE = 200
ORDERS_WINDOW_DAYS = 90  # getOrders' filter returns orders of the last 90 days only
ORDERS_LOOKBACK_HOURS = 2  # an incremental pull starts this long before the last watermark
MAX_PAGE_SIZE = 200
API_RESULT_CAP = 10_000  # offset + limit may never pass this

QUERY_CRITERIA = ("q", "category_ids", "epid", "gtin")
QUERY_KEYS = (*QUERY_CRITERIA, "filter", "sort", "marketplace")
# X-EBAY-C-MARKETPLACE-ID values of the marketplaces whose Browse item_summary search works
# (https://developer.ebay.com/api-docs/buy/ref-marketplace-supported.html), and eBay Motors.
MARKETPLACES = (
    "EBAY_AT", "EBAY_AU", "EBAY_BE", "EBAY_CA", "EBAY_CH", "EBAY_DE", "EBAY_ES", "EBAY_FR",
    "EBAY_GB", "EBAY_HK", "EBAY_IE", "EBAY_IT", "EBAY_NL", "EBAY_PL", "EBAY_SG", "EBAY_US",
    "EBAY_MOTORS_US",
)  # fmt: skip

ENV_CLIENT_ID = "EBAY_CLIENT_ID"
ENV_CLIENT_SECRET = "EBAY_CLIENT_SECRET"
ENV_OAUTH_TOKEN = "EBAY_OAUTH_TOKEN"
ENV_API_URL = "EBAY_API_URL"
ENV_OAUTH_URL = "EBAY_OAUTH_URL"
ENV_REFRESH_TOKEN = "EBAY_REFRESH_TOKEN"

SETTINGS: tuple[Setting, ...] = (
    Setting(
        ENV_CLIENT_ID,
        "eBay application client id (preferred: tokens are minted and refreshed)",
        secret=True,
        required=False,
    ),
    Setting(
        ENV_CLIENT_SECRET,
        "eBay application client secret (cert id), used with EBAY_CLIENT_ID",
        secret=True,
        required=False,
    ),
    Setting(
        ENV_OAUTH_TOKEN,
        "a ready eBay application access token (expires after ~2 hours; use only without "
        "EBAY_CLIENT_ID/EBAY_CLIENT_SECRET)",
        secret=True,
        required=False,
    ),
    Setting(
        ENV_REFRESH_TOKEN,
        "the seller's eBay user refresh token with the sell.fulfillment.readonly scope "
        "(orders only; used with EBAY_CLIENT_ID/EBAY_CLIENT_SECRET)",
        secret=True,
        required=False,
        datasets=("orders",),
    ),
    Setting(
        ENV_API_URL,
        "base URL replacing https://api.ebay.com (sandbox, proxy or test double)",
        required=False,
        default=DEFAULT_API_URL,
    ),
    Setting(
        ENV_OAUTH_URL,
        "complete token endpoint URL (e.g. eBay's sandbox one)",
        required=False,
        default=DEFAULT_OAUTH_URL,
    ),
)


class QueryTable(BaseModel):
    """One ``queries`` table as ``pipeline.toml`` may hold it (checked when the file loads)."""

    model_config = ConfigDict(extra="forbid", strict=True)

    q: str | None = None
    category_ids: str | int | list[str | int] | None = None
    epid: str | None = None
    gtin: str | None = None
    filter: str | list[str] | None = None
    sort: str | None = None
    marketplace: Literal[MARKETPLACES] | None = None

    @model_validator(mode="after")
    def _one_criterion(self) -> QueryTable:
        if not any(getattr(self, name) for name in QUERY_CRITERIA):
            raise ValueError("needs at least one of q, category_ids, epid or gtin")
        return self


OPTIONS: tuple[Option, ...] = (
    Option(
        "marketplace",
        str,
        DEFAULT_MARKETPLACE,
        "X-EBAY-C-MARKETPLACE-ID for queries without their own marketplace",
        choices=MARKETPLACES,
    ),
    Option(
        "queries",
        list,
        [],
        "searches to run: tables with q and/or category_ids/epid/gtin, optional filter, sort, "
        "marketplace",
        item=QueryTable,
    ),
    Option(
        "page_size",
        int,
        DEFAULT_PAGE_SIZE,
        "items per page (limit), 1–200",
        minimum=1,
        maximum=MAX_PAGE_SIZE,
    ),
    Option(
        "max_results_per_query",
        int,
        DEFAULT_MAX_RESULTS_PER_QUERY,
        "stop a query after this many items (eBay serves at most 10,000)",
        minimum=1,
        maximum=API_RESULT_CAP,
    ),
)


@dataclass(frozen=True)
class Query:
    """One validated search: its Browse query parameters and the marketplace to ask."""

    params: dict[str, str]
    marketplace: str

    @property
    def label(self) -> str:
        """What found an item: the ``q`` text, else the other criteria (``gtin=…``)."""
        if "q" in self.params:
            return self.params["q"]
        return ",".join(f"{k}={self.params[k]}" for k in QUERY_CRITERIA if k in self.params)


@dataclass(frozen=True)
class SearchPlan:
    """The validated ``[providers.ebay]`` options."""

    queries: tuple[Query, ...]
    page_size: int
    max_results_per_query: int


def check_options(options: Mapping[str, Any]) -> SearchPlan:
    """Validate the eBay options; raise one ``ConfigError`` listing every problem."""
    problems: list[str] = []
    marketplace = options.get("marketplace", DEFAULT_MARKETPLACE)
    problems += _check_marketplace("providers.ebay.marketplace", marketplace)
    page_size = options.get("page_size", DEFAULT_PAGE_SIZE)
    problems += _check_int("providers.ebay.page_size", page_size, 1, MAX_PAGE_SIZE)
    max_results = options.get("max_results_per_query", DEFAULT_MAX_RESULTS_PER_QUERY)
    problems += _check_int("providers.ebay.max_results_per_query", max_results, 1, API_RESULT_CAP)
    queries, query_problems = _check_queries(options.get("queries"), marketplace)
    problems += query_problems
    if problems:
        raise ConfigError("; ".join(problems))
    return SearchPlan(tuple(queries), page_size, max_results)


def _check_int(key: str, value: Any, low: int, high: int) -> list[str]:
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
        return [f"{key}: must be an integer from {low} to {high}, got {value!r}"]
    return []


def _check_marketplace(key: str, value: Any) -> list[str]:
    if value not in MARKETPLACES:
        return [f"{key}: expected one of {', '.join(MARKETPLACES)}, got {value!r}"]
    return []


def _check_queries(raw: Any, default_marketplace: Any) -> tuple[list[Query], list[str]]:
    if not isinstance(raw, list | tuple) or not raw:
        return [], [
            "providers.ebay.queries: give at least one search table (q, category_ids, epid or "
            "gtin); the Browse API cannot list every item"
        ]
    queries: list[Query] = []
    problems: list[str] = []
    for index, table in enumerate(raw):
        query, table_problems = _check_query(f"providers.ebay.queries[{index}]", table)
        problems += table_problems
        if query is not None:
            marketplace = query.marketplace or default_marketplace
            queries.append(Query(query.params, marketplace))
    return queries, problems


def _check_query(key: str, table: Any) -> tuple[Query | None, list[str]]:
    if not isinstance(table, Mapping):
        return None, [f'{key}: must be a table such as {{ q = "film camera" }}']
    problems = [f"{key}.{name}: unknown key" for name in table if name not in QUERY_KEYS]
    params: dict[str, str] = {}
    for name in ("q", "epid", "gtin", "sort"):
        if name in table:
            value = table[name]
            if not isinstance(value, str) or not value.strip():
                problems.append(f"{key}.{name}: must be a non-empty string")
            else:
                params[name] = value.strip()
    for name in ("category_ids", "filter"):
        if name in table:
            value = _join_list(table[name])
            if value is None:
                problems.append(f"{key}.{name}: must be a string or a list of strings")
            else:
                params[name] = value
    if not any(name in params for name in QUERY_CRITERIA):
        problems.append(f"{key}: needs at least one of q, category_ids, epid or gtin")
    marketplace = table.get("marketplace", "")
    if "marketplace" in table:
        problems += _check_marketplace(f"{key}.marketplace", marketplace)
    return Query(params, marketplace), problems


def _join_list(value: Any) -> str | None:
    """``"9355"``, ``9355`` or ``["9355", 625]`` → ``"9355,625"`` (eBay's comma-separated form)."""
    items = value if isinstance(value, list | tuple) else [value]
    parts = []
    for item in items:
        if isinstance(item, bool) or not isinstance(item, str | int) or not str(item).strip():
            return None
        parts.append(str(item).strip())
    return ",".join(parts) or None
