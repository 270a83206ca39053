"""SP-API Orders v0 payloads in wire form: orders, order items, error bodies, LWA answers.

Shapes follow the Orders API v0 reference's examples (``Order``, ``OrderItem``, ``Money``) and
the SP-API error envelope ``{"errors": [{"code", "message", "details"}]}``. Every order carries
canary buyer data (``CANARY``) in ``BuyerInfo``, the ``ShippingAddress`` and an item's gift
message, which the pipeline must never write anywhere.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

CANARY = {
    "name": "Quillon Canarywright",
    "email": "canary.amazon.buyer@marketplace.example.invalid",
    "phone": "+1 555 0142 8821",
    "street": "91 Canary Fjord Road",
    "gift": "canary-gift-message-xyz",
}
UNAUTHORIZED = {"errors": [{"code": "Unauthorized",
                            "message": "Access to requested resource is denied.",
                            "details": "The access token you provided has expired."}]}  # fmt: skip
QUOTA_EXCEEDED = {"errors": [{"code": "QuotaExceeded",
                              "message": "You exceeded your quota for the requested resource.",
                              "details": ""}]}  # fmt: skip
NOT_FOUND = {"errors": [{"code": "NotFound", "message": "Order not found", "details": ""}]}
INVALID_INPUT = {"errors": [{"code": "InvalidInput",
                             "message": "Missing required 'MarketplaceIds'.",
                             "details": ""}]}  # fmt: skip
INVALID_GRANT = {
    "error": "invalid_grant",
    "error_description": "The request has an invalid grant parameter : refresh_token",
}
INVALID_CLIENT = {"error": "invalid_client", "error_description": "Client authentication failed"}


def money(amount: Decimal | str, currency: str = "USD") -> dict[str, str]:
    return {"CurrencyCode": currency, "Amount": str(Decimal(amount).quantize(Decimal("0.01")))}


def make_item(order: int, number: int, quantity: int = 2, unit: str = "12.50") -> dict[str, Any]:
    """One ``OrderItem``: ``ItemPrice`` is the whole line (unit × quantity)."""
    price = Decimal(unit) * quantity
    return {
        "ASIN": f"B0{order:04d}{number:04d}",
        "SellerSKU": f"SKU-{order}-{number}",
        "OrderItemId": f"{order:05d}{number:09d}",
        "Title": f"Canary-free product {number}",
        "QuantityOrdered": quantity,
        "QuantityShipped": 0,
        "ItemPrice": money(price),
        "ItemTax": money("2.00"),
        "ShippingPrice": money("3.00"),
        "ShippingTax": money("0.00"),
        "ShippingDiscount": money("0.00"),
        "PromotionDiscount": money("1.00"),
        "PromotionDiscountTax": money("0.00"),
        "BuyerInfo": {"GiftMessageText": CANARY["gift"], "GiftWrapLevel": "Classic"},
        "IsGift": "true",
    }


def item_total(item: dict[str, Any]) -> Decimal:
    plus = ("ItemPrice", "ItemTax", "ShippingPrice", "ShippingTax")
    minus = ("PromotionDiscount", "ShippingDiscount")
    return sum((Decimal(item[k]["Amount"]) for k in plus), Decimal(0)) - sum(
        (Decimal(item[k]["Amount"]) for k in minus), Decimal(0)
    )


def make_order(
    n: int, status: str = "Unshipped", updated: str | None = None, items: int = 2
) -> dict[str, Any]:
    """An ``Order`` with its items under ``__items`` (the fake serves them by getOrderItems)."""
    lines = [make_item(n, k, unit=f"{10 + k}.50") for k in range(1, items + 1)]
    total = sum((item_total(i) for i in lines), Decimal(0))
    order = {
        "AmazonOrderId": f"902-{n:07d}-{n:07d}",
        "PurchaseDate": f"2026-11-{n % 28 + 1:02d}T10:00:00Z",
        "LastUpdateDate": updated or f"2026-11-{n % 28 + 1:02d}T12:00:{n % 60:02d}Z",
        "OrderStatus": status,
        "FulfillmentChannel": "MFN",
        "SalesChannel": "Amazon.com",
        "OrderType": "StandardOrder",
        "MarketplaceId": "ATVPDKIKX0DER",
        "OrderTotal": money(total),
        "NumberOfItemsShipped": 0,
        "NumberOfItemsUnshipped": sum(i["QuantityOrdered"] for i in lines),
        "PaymentMethod": "Other",
        "IsPrime": False,
        "ShippingAddress": {
            "Name": CANARY["name"], "AddressLine1": CANARY["street"], "City": "Seattle",
            "StateOrRegion": "WA", "PostalCode": "98101-1234", "CountryCode": "US",
            "Phone": CANARY["phone"], "AddressType": "Residential",
        },
        "BuyerInfo": {"BuyerEmail": CANARY["email"], "BuyerName": CANARY["name"]},
        "__items": lines,
    }  # fmt: skip
    if status == "Pending":
        order.pop("OrderTotal")
        for line in lines:
            for key in [k for k, v in line.items() if isinstance(v, dict) and "Amount" in v]:
                line.pop(key)
    return order
