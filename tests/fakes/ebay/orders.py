"""The fake's getOrders: Sell Fulfillment ``Order`` objects and their ``limit``/``offset`` pages.

``make_order`` builds an ``Order`` in eBay's wire format (``Amount`` objects, the payment and
fulfillment status enums, ``lineItems`` with ``legacyItemId``/``legacyVariationId``) as in
eBay's getOrders samples. Every order carries buyer data (``CANARY`` values in ``buyer``, the
``shipTo`` address, the checkout notes, a gift message), as eBay sends it: the tests check that
none of it reaches anything the pipeline writes. ``orders_page`` answers one request, filtered
by ``lastmodifieddate:[from..]`` and sorted by modification, as the server's handler serves it.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any
from urllib.parse import urlencode

from tests.fakes.ebay.payloads import ebay_error

ORDERS_PATH = "/sell/fulfillment/v1/order"
FULFILLMENT_SCOPE = "https://api.ebay.com/oauth/api_scope/sell.fulfillment.readonly"
MAX_LIMIT = 200
# Order n is placed and modified on day n after BASE: inside getOrders' 90-day window whenever
# the tests run.
BASE = datetime.now(UTC).replace(hour=0, minute=0, second=0, microsecond=0) - timedelta(days=40)
CANARY = {
    "name": "Philomena Canaryhurst",
    "email": "canary.ebay.buyer@example.invalid",
    "phone": "+44 7700 900 417",
    "street": "12 Canary Mews",
    "note": "ring-the-canary-bell",
    "username": "canary_buyer_2026",
}
BAD_FILTER = ebay_error(
    30700, "API_FULFILLMENT", "REQUEST", "Invalid filter value.",
    "The 'filter' value is invalid; use lastmodifieddate:[<ISO 8601 UTC>..].",
)  # fmt: skip
BAD_ORDER_LIMIT = ebay_error(
    30800, "API_FULFILLMENT", "REQUEST", "Invalid limit.",
    f"The 'limit' value should be between 1 and {MAX_LIMIT} (inclusive).",
)  # fmt: skip


def stamp(moment: datetime) -> str:
    """eBay's timestamp form: ``2026-10-07T12:00:00.000Z``."""
    return moment.strftime("%Y-%m-%dT%H:%M:%S.000Z")


def amount(value: Decimal | str, currency: str = "USD") -> dict[str, str]:
    return {"value": str(value), "currency": currency}


def _address() -> dict[str, Any]:
    return {
        "addressLine1": CANARY["street"], "addressLine2": "Flat 3", "city": "Canaryville",
        "stateOrProvince": "CA", "postalCode": "94000-C4N", "countryCode": "US",
    }  # fmt: skip


def make_line(order: int, number: int, price: str = "20.00", quantity: int = 2) -> dict[str, Any]:
    """A line of listing ``200000000000 + number``; even numbers are variations (group ids)."""
    item = 200_000_000_000 + number
    line: dict[str, Any] = {
        "lineItemId": f"{order}00{number}0001",
        "legacyItemId": str(item),
        "sku": f"EB-SKU-{number}",
        "title": f"Fake listing {number}",
        "quantity": quantity,
        "lineItemCost": amount(Decimal(price) * quantity),
        "discountedLineItemCost": amount(Decimal(price) * quantity),
        "total": amount(Decimal(price) * quantity),
        "taxes": [],
        "appliedPromotions": [],
        "refunds": [],
        "listingMarketplaceId": "EBAY_US",
        "purchaseMarketplaceId": "EBAY_US",
        "lineItemFulfillmentStatus": "NOT_STARTED",
        "giftDetails": {"message": CANARY["note"], "recipientEmail": CANARY["email"],
                        "senderName": CANARY["name"]},
    }  # fmt: skip
    if number % 2 == 0:
        line["legacyVariationId"] = f"{number}0000"
    return line


def make_order(number: int, lines: int = 2, **overrides: Any) -> dict[str, Any]:
    """An Order whose totals reconcile: lines + 5.00 delivery + 3.00 tax − 2.00 discount."""
    items = [make_line(number, i + 1) for i in range(lines)]
    goods = sum(Decimal(i["lineItemCost"]["value"]) for i in items)
    day = BASE + timedelta(days=number)
    order = {
        "orderId": f"{number:02d}-1234{number}-5678{number}",
        "legacyOrderId": f"11{number}-22{number}",
        "creationDate": stamp(day + timedelta(hours=9, minutes=30)),
        "lastModifiedDate": stamp(day + timedelta(hours=12)),
        "orderFulfillmentStatus": "NOT_STARTED",
        "orderPaymentStatus": "PAID",
        "sellerId": "fake_seller",
        "salesRecordReference": str(1000 + number),
        "buyer": {
            "username": CANARY["username"],
            "taxAddress": {"stateOrProvince": "CA", "postalCode": "94000", "countryCode": "US"},
            "buyerRegistrationAddress": {
                "fullName": CANARY["name"], "contactAddress": _address(),
                "primaryPhone": {"phoneNumber": CANARY["phone"]}, "email": CANARY["email"],
            },
        },
        "buyerCheckoutNotes": CANARY["note"],
        "pricingSummary": {
            "priceSubtotal": amount(goods), "deliveryCost": amount("5.00"),
            "tax": amount("3.00"), "priceDiscount": amount("-2.00"),
            "total": amount(goods + Decimal("6.00")),
        },
        "cancelStatus": {"cancelState": "NONE_REQUESTED", "cancelRequests": []},
        "paymentSummary": {"totalDueSeller": amount(goods), "refunds": [], "payments": []},
        "fulfillmentStartInstructions": [{
            "fulfillmentInstructionsType": "SHIP_TO", "ebaySupportedFulfillment": False,
            "shippingStep": {"shippingCarrierCode": "USPS", "shipTo": {
                "fullName": CANARY["name"], "companyName": "Canary Holdings",
                "contactAddress": _address(), "primaryPhone": {"phoneNumber": CANARY["phone"]},
                "email": CANARY["email"],
            }},
        }],
        "lineItems": items,
    }  # fmt: skip
    order.update(overrides)
    return order


def orders_page(
    orders: list[dict[str, Any]], args: dict[str, str], base_url: str
) -> tuple[int, dict[str, Any]]:
    """The status and body getOrders answers ``args`` with (``filter``, ``limit``, ``offset``)."""
    since = _since(args.get("filter", ""))
    try:
        limit, offset = int(args.get("limit", "50")), int(args.get("offset", "0"))
    except ValueError:
        return 400, BAD_ORDER_LIMIT
    if since is None:
        return 400, BAD_FILTER
    if not 1 <= limit <= MAX_LIMIT or offset < 0:
        return 400, BAD_ORDER_LIMIT
    matching = sorted((o for o in orders if o["lastModifiedDate"] >= since),
                      key=lambda o: o["lastModifiedDate"])  # fmt: skip
    href = f"{base_url}{ORDERS_PATH}?"
    body: dict[str, Any] = {
        "href": href + urlencode({**args, "limit": limit, "offset": offset}),
        "total": len(matching),
        "limit": limit,
        "offset": offset,
        "orders": matching[offset : offset + limit],
        "warnings": [],
    }
    if offset + limit < len(matching):
        body["next"] = href + urlencode({**args, "limit": limit, "offset": offset + limit})
    return 200, body


def _since(value: str) -> str | None:
    """``lastmodifieddate:[2026-10-01T00:00:00.000Z..]`` → the start; None when malformed."""
    prefix = "lastmodifieddate:["
    if not value.startswith(prefix) or not value.endswith("..]"):
        return None
    return value[len(prefix) : -3] or None
