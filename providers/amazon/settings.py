"""Amazon provider settings, options and constants.

Creators API versions name the credentials' auth flow and region, as Amazon issues them
(Associates Central shows the version next to the credential): 2.1 / 2.2 / 2.3 are the
Cognito credentials of North America / Europe / Far East, 3.1 / 3.2 / 3.3 the Login with
Amazon (LWA) ones of the same regions. python-amazon-paapi 7.1.0 maps each to its token
endpoint in ``amazon_creatorsapi.core.oauth.VERSION_ENDPOINTS``.
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field

from providers.amazon.marketplaces import MARKETPLACES
from providers.base import Option, Setting

CREDENTIAL_ID_ENV = "AMAZON_CREATORS_CREDENTIAL_ID"
CREDENTIAL_SECRET_ENV = "AMAZON_CREATORS_CREDENTIAL_SECRET"
VERSION_ENV = "AMAZON_CREATORS_VERSION"
PARTNER_TAG_ENV = "AMAZON_PARTNER_TAG"
API_URL_ENV = "AMAZON_CREATORS_API_URL"
AUTH_URL_ENV = "AMAZON_CREATORS_AUTH_URL"

# 3.1: the default country is US, a North America store, and credentials created since
# February 2026 are LWA ones (3.x); 2.1 remains valid for older Cognito credentials.
DEFAULT_VERSION = "3.1"
DEFAULT_COUNTRY = "US"
DEFAULT_THROTTLING_SECONDS = 1.0
DEFAULT_SEARCH_PAGES = 1
# Retries of one Creators API call (429, 5xx, connection errors), done by the shared HTTP
# layer's policy in the wrapper's connection pool; the wrapper itself refreshes an expired
# token once on a 401.
DEFAULT_RETRIES = 3

# GetItems takes at most 10 item ids; SearchItems pages are 1..10.
MAX_ITEMS_PER_REQUEST = 10
DEFAULT_SEARCH_ITEM_COUNT = 10
MAX_SEARCH_PAGES = 10

# PA-API 5.0 settings (AMAZON_PAAPI_ACCESS_KEY, _SECRET_KEY, _PARTNER_TAG, _HOST, _REGION)
# no longer work; check_environment names any that is still set.
PAAPI_RETIRED_ON = "2026-04-30"
RETIRED_PAAPI_PREFIX = "AMAZON_PAAPI_"

SETTINGS = (
    Setting(CREDENTIAL_ID_ENV, "Creators API credential ID (Associates Central)", secret=True),
    Setting(CREDENTIAL_SECRET_ENV, "Creators API credential secret", secret=True),
    Setting(
        VERSION_ENV,
        "Creators API version the credentials were issued for (2.1-2.3 Cognito, 3.1-3.3 LWA)",
        required=False,
        default=DEFAULT_VERSION,
    ),
    Setting(PARTNER_TAG_ENV, "Associates tracking id (partner tag), e.g. yourstore-20"),
    Setting(
        API_URL_ENV,
        "Override of the Creators API base URL (the wrapper's host), for proxies and fakes",
        required=False,
    ),
    Setting(
        AUTH_URL_ENV,
        "Override of the complete OAuth2 token URL (the wrapper's auth_endpoint)",
        required=False,
    ),
)


class SearchTable(BaseModel):
    """One ``searches`` table as ``pipeline.toml`` may hold it (checked when the file loads)."""

    model_config = ConfigDict(extra="forbid", strict=True)

    keywords: str = Field(min_length=1)
    search_index: str | None = None
    pages: int = Field(default=DEFAULT_SEARCH_PAGES, ge=1, le=MAX_SEARCH_PAGES)


OPTIONS = (
    Option(
        "country",
        str,
        DEFAULT_COUNTRY,
        "Amazon store country code (the Creators API's marketplaces)",
        choices=tuple(MARKETPLACES),
    ),
    Option(
        "asins", list, [], "ASINs (or product URLs) to fetch with GetItems, 10 per call", item=str
    ),
    Option(
        "searches",
        list,
        [],
        "Keyword searches: tables {keywords, search_index (optional), pages (1-10, default 1)}",
        item=SearchTable,
    ),
    Option(
        "throttling_seconds",
        float,
        DEFAULT_THROTTLING_SECONDS,
        "Minimum seconds between two Creators API calls",
    ),
)
