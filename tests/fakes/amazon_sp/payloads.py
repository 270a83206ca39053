"""SP-API payloads in wire form: Orders v2026-01-01 orders, Finances v2024-06-19 refund
transactions, error bodies, LWA answers.

Shapes follow the published models' examples (amzn/selling-partner-api-models:
``orders_2026-01-01.json``'s ``Order``, ``OrderItem``, ``ItemProceeds``, ``Money``;
``finances_2024-06-19.json``'s ``Transaction``, ``Breakdown``, ``ProductContext``) and the
SP-API error envelope ``{"errors": [{"code", "message", "details"}]}``. Every order carries
canary buyer data (``CANARY``) in ``buyer``, ``recipient`` and an item's gift message, which the
pipeline must never write anywhere.
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
    "instruction": "canary-leave-by-the-blue-door",
}
UNAUTHORIZED = {"errors": [{"code": "Unauthorized",
                            "message": "Access to requested resource is denied.",
                            "details": "The access token you provided has expired."}]}  # fmt: skip
QUOTA_EXCEEDED = {"errors": [{"code": "QuotaExceeded",
                              "message": "You exceeded your quota for the requested resource.",
                              "details": ""}]}  # fmt: skip
INVALID_INPUT = {"errors": [{"code": "InvalidInput", "message": "Invalid Input",
                             "details": "Exactly one of createdAfter and lastUpdatedAfter "
                                        "must be provided."}]}  # fmt: skip
INVALID_GRANT = {
    "error": "invalid_grant",
    "error_description": "The request has an invalid grant parameter : refresh_token",
}
INVALID_CLIENT = {"error": "invalid_client", "error_description": "Client authentication failed"}


def money(amount: Decimal | str, currency: str = "USD") -> dict[str, str]:
    return {"amount": str(Decimal(amount).quantize(Decimal("0.01"))), "currencyCode": currency}


def make_item(order: int, number: int, quantity: int = 2, unit: str = "12.50") -> dict[str, Any]:
    """One ``OrderItem`` with ``PROCEEDS``: ``ITEM`` is the whole line (unit × quantity)."""
    breakdowns = [
        {"type": "ITEM", "subtotal": money(Decimal(unit) * quantity)},
        {"type": "SHIPPING", "subtotal": money("3.00")},
        {"type": "TAX", "subtotal": money("2.00"),
         "detailedBreakdowns": [{"subtype": "ITEM", "value": money("2.00")}]},
        {"type": "DISCOUNT", "subtotal": money("-1.00"),
         "detailedBreakdowns": [{"subtype": "ITEM", "value": money("-1.00")}]},
    ]  # fmt: skip
    return {
        "orderItemId": f"{order:05d}{number:09d}",
        "quantityOrdered": quantity,
        "product": {
            "asin": f"B0{order:04d}{number:04d}",
            "title": f"Canary-free product {number}",
            "sellerSku": f"SKU-{order}-{number}",
            "condition": {"conditionType": "NEW", "conditionSubtype": "NEW"},
            "price": {"unitPrice": money(unit)},
        },
        "proceeds": {"proceedsTotal": money(_sum(breakdowns)), "breakdowns": breakdowns},
        "fulfillment": {
            "quantityFulfilled": 0,
            "quantityUnfulfilled": quantity,
            "packing": {"giftOption": {"giftMessage": CANARY["gift"], "giftWrapLevel": "CLASSIC"}},
        },
    }


def _sum(breakdowns: list[dict[str, Any]]) -> Decimal:
    return sum((Decimal(b["subtotal"]["amount"]) for b in breakdowns), Decimal(0))


def make_order(
    n: int, status: str = "UNSHIPPED", updated: str | None = None, items: int = 2
) -> dict[str, Any]:
    """An ``Order`` as searchOrders sends it with ``includedData`` BUYER, RECIPIENT, PROCEEDS
    and FULFILLMENT (the fake leaves out what a request did not include)."""
    lines = [make_item(n, k, unit=f"{10 + k}.50") for k in range(1, items + 1)]
    order_breakdowns = [
        {"type": kind, "subtotal": money(sum((Decimal(b["subtotal"]["amount"])
                                              for line in lines
                                              for b in line["proceeds"]["breakdowns"]
                                              if b["type"] == kind), Decimal(0)))}
        for kind in ("ITEM", "SHIPPING", "TAX", "DISCOUNT")
    ]  # fmt: skip
    order = {
        "orderId": f"902-{n:07d}-{n:07d}",
        "orderAliases": [{"aliasId": f"SELLER-{n}", "aliasType": "SELLER_ORDER_ID"}],
        "createdTime": f"2026-11-{n % 28 + 1:02d}T10:00:00Z",
        "lastUpdatedTime": updated or f"2026-11-{n % 28 + 1:02d}T12:00:{n % 60:02d}Z",
        "programs": [],
        "salesChannel": {"channelName": "AMAZON", "marketplaceId": "ATVPDKIKX0DER",
                         "marketplaceName": "Amazon.com"},
        "buyer": {"buyerName": CANARY["name"], "buyerEmail": CANARY["email"]},
        "recipient": {
            "deliveryAddress": {
                "name": CANARY["name"], "addressLine1": CANARY["street"], "city": "Seattle",
                "stateOrRegion": "WA", "postalCode": "98101-1234", "countryCode": "US",
                "phone": CANARY["phone"], "addressType": "RESIDENTIAL",
            },
            "deliveryPreference": {"addressInstruction": CANARY["instruction"]},
        },
        "proceeds": {"grandTotal": money(_sum(order_breakdowns)),
                     "breakdowns": order_breakdowns},
        "fulfillment": {"fulfillmentStatus": status, "fulfilledBy": "MERCHANT",
                        "fulfillmentServiceLevel": "STANDARD"},
        "orderItems": lines,
    }  # fmt: skip
    if status == "PENDING":
        order.pop("proceeds")
        for line in lines:
            line.pop("proceeds")
            line["product"].pop("price")
    return order


def make_refund(order: dict[str, Any], item: int = 0, quantity: int = 1) -> dict[str, Any]:
    """A ``Refund`` transaction of ``quantity`` units of the order's ``item``-th line: the
    buyer gets the units' price and tax back (``Sales``), Amazon returns part of its fee."""
    line = order["orderItems"][item]
    unit = Decimal(line["product"]["price"]["unitPrice"]["amount"])
    principal, tax, fee = -unit * quantity, Decimal("-1.00") * quantity, Decimal("1.20")
    return {
        "sellingPartnerMetadata": {"sellingPartnerId": "A3TH9S8BH6GOGM", "accountType": "PAYABLE",
                                   "marketplaceId": "ATVPDKIKX0DER"},
        "relatedIdentifiers": [{"relatedIdentifierName": "ORDER_ID",
                                "relatedIdentifierValue": order["orderId"]}],
        "transactionType": "Refund",
        "transactionId": f"refund-{order['orderId']}-{item}",
        "transactionStatus": "RELEASED",
        "description": "Refund Order",
        "postedDate": "2026-11-29T08:00:00Z",
        "totalAmount": _currency(principal + tax + fee),
        "marketplaceDetails": {"marketplaceId": "ATVPDKIKX0DER", "marketplaceName": "Amazon.com"},
        "items": [{
            "description": line["product"]["title"],
            "relatedIdentifiers": [{"itemRelatedIdentifierName": "ORDER_ADJUSTMENT_ITEM_ID",
                                    "itemRelatedIdentifierValue": f"OAI-{line['orderItemId']}"}],
            "totalAmount": _currency(principal + tax + fee),
            "contexts": [{"contextType": "ProductContext", "asin": line["product"]["asin"],
                          "sku": line["product"]["sellerSku"], "quantityShipped": quantity,
                          "fulfillmentNetwork": "MFN"}],
        }],
        "breakdowns": [
            {"breakdownType": "Sales", "breakdownAmount": _currency(principal + tax),
             "breakdowns": [
                 {"breakdownType": "ProductCharges", "breakdownAmount": _currency(principal)},
                 {"breakdownType": "Tax", "breakdownAmount": _currency(tax)}]},
            {"breakdownType": "Expenses", "breakdownAmount": _currency(fee),
             "breakdowns": [{"breakdownType": "AmazonFees", "breakdownAmount": _currency(fee)}]},
        ],
    }  # fmt: skip


def make_shipment(order: dict[str, Any]) -> dict[str, Any]:
    """The order's ``Shipment`` transaction (listTransactions sends it beside any refund)."""
    total = float(order["proceeds"]["grandTotal"]["amount"])
    return {"transactionType": "Shipment", "transactionId": f"ship-{order['orderId']}",
            "transactionStatus": "RELEASED", "description": "Order Payment",
            "postedDate": "2026-11-20T08:00:00Z",
            "totalAmount": {"currencyCode": "USD", "currencyAmount": total},
            "relatedIdentifiers": [{"relatedIdentifierName": "ORDER_ID",
                                    "relatedIdentifierValue": order["orderId"]}],
            "breakdowns": [{"breakdownType": "Sales",
                            "breakdownAmount": {"currencyCode": "USD",
                                                "currencyAmount": total}}]}  # fmt: skip


def _currency(amount: Decimal) -> dict[str, Any]:
    return {"currencyCode": "USD", "currencyAmount": float(amount)}
