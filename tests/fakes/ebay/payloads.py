"""What the fake eBay answers with: eBay's error bodies, and item summaries (``make_item``).

Error ids and texts for 1001/1002/1100/2001/2003 are eBay's documented common errors; the
Browse paging errors (12001 and the offset/limit ones) follow eBay's format and wording
as seen in client code, their ids are not all verified.
"""

from __future__ import annotations

from typing import Any


def ebay_error(error_id: int, domain: str, category: str, message: str, long: str = "") -> dict:
    """eBay's REST error body with one entry."""
    entry: dict[str, Any] = {
        "errorId": error_id,
        "domain": domain,
        "category": category,
        "message": message,
    }
    if long:
        entry["longMessage"] = long
    return {"errors": [entry]}


INVALID_TOKEN = ebay_error(
    1001,
    "OAuth",
    "REQUEST",
    "Invalid access token",
    "Invalid access token. Check the value of the Authorization HTTP request header.",
)
MISSING_TOKEN = ebay_error(
    1002,
    "OAuth",
    "REQUEST",
    "Missing access token",
    "Access token is missing in the Authorization HTTP request header.",
)
ACCESS_DENIED = ebay_error(
    1100, "OAuth", "REQUEST", "Access denied", "Insufficient permissions to fulfill the request."
)
TOO_MANY_REQUESTS = ebay_error(
    2001,
    "ACCESS",
    "REQUEST",
    "Too many requests",
    "The request limit has been reached for the resource.",
)
INTERNAL_ERROR = ebay_error(
    2003,
    "ACCESS",
    "APPLICATION",
    "Internal error",
    "There was a problem with an eBay internal system or process. Contact eBay developer "
    "support for assistance.",
)
MISSING_CRITERIA = ebay_error(
    12001,
    "API_BROWSE",
    "REQUEST",
    "The call must have a valid 'q', 'category_ids', 'charity_ids', 'epid' or 'gtin' query "
    "parameter.",
)
BAD_LIMIT = ebay_error(
    12002, "API_BROWSE", "REQUEST", "The 'limit' value should be between 1 and 200 (inclusive)."
)
OFFSET_NOT_MULTIPLE = ebay_error(
    12003,
    "API_BROWSE",
    "REQUEST",
    "The 'offset' value must be either zero or a multiple of the 'limit' value.",
)
OFFSET_TOO_LARGE = ebay_error(
    12004,
    "API_BROWSE",
    "REQUEST",
    "The 'offset' value is invalid.",
    "The 'offset' plus 'limit' values must not exceed 10000; narrow the search with filters.",
)
INVALID_CLIENT = {"error": "invalid_client", "error_description": "client authentication failed"}
UNSUPPORTED_GRANT = {
    "error": "unsupported_grant_type",
    "error_description": "grant type in request is not supported by the authorization server",
}
INVALID_GRANT = {
    "error": "invalid_grant",
    "error_description": "the provided authorization refresh token is invalid or was issued to "
    "another client",
}
INVALID_SCOPE = {
    "error": "invalid_scope",
    "error_description": "The requested scope is invalid, unknown, malformed, or exceeds the "
    "scope granted to the client",
}


def make_item(n: int, marketplace: str = "EBAY_US", prefix: int = 100_000_000_000) -> dict:
    """A plausible item summary number ``n`` (the fake's default catalog)."""
    currency = {"EBAY_GB": "GBP", "EBAY_DE": "EUR"}.get(marketplace, "USD")
    legacy = prefix + n
    return {
        "itemId": f"v1|{legacy}|0",
        "title": f"Fake listing {n}",
        "price": {"value": f"{10 + n % 90}.99", "currency": currency},
        "itemWebUrl": f"https://www.ebay.com/itm/{legacy}",
        "conditionId": "3000",
        "condition": "Used",
        "legacyItemId": str(legacy),
        "listingMarketplaceId": marketplace,
    }
