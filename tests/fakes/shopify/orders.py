"""The fake's ``orders`` query: Order nodes with their line items, paged by cursor, sorted by
``updatedAt`` and filtered by ``updated_at:>='…'``, as the GraphQL Admin API serves them.

``make_order`` builds an Order node in wire format (``MoneyBag`` amounts, ``Display…Status``
enums, the query's ``orderNumber: name`` alias). It also carries buyer data the pipeline
never asks for (``CANARY`` values in the customer, the addresses, the note): this server
answers with more than the selection, so the tests check that the scrubber, not only the
query, keeps buyer data out of everything written.
"""

from __future__ import annotations

import base64
import json
from decimal import Decimal
from typing import Any

from tests.fakes.shopify.graphql import matching
from tests.fakes.shopify.throttle import MAX_COST, _max_cost_exceeded, orders_cost

CANARY = {
    "name": "Zebulon Canarysmith",
    "email": "canary.buyer@example.invalid",
    "phone": "+1 555 0199 7733",
    "street": "77 Canary Wharf Lane",
    "note": "leave-at-canary-door",
}


def money(amount: Decimal | str, currency: str = "EUR") -> dict[str, Any]:
    """A ``MoneyBag`` with its shop and presentment amounts."""
    value = {"amount": str(amount), "currencyCode": currency}
    return {"shopMoney": value, "presentmentMoney": value}


def make_line(order: int, number: int, price: str = "20.00", quantity: int = 2) -> dict[str, Any]:
    line_id = order * 100 + number
    return {
        "id": f"gid://shopify/LineItem/{line_id}",
        "name": f"Product {number}",
        "sku": f"SKU-{number}01",
        "quantity": quantity,
        "currentQuantity": quantity,
        "variant": {
            "id": f"gid://shopify/ProductVariant/{number * 100 + 1}",
            "barcode": None,
            "product": {"id": f"gid://shopify/Product/{number}"},
        },
        "originalUnitPriceSet": money(price),
        "discountAllocations": [],
        "taxLines": [{"priceSet": money("0.00")}],
    }


def make_order(number: int, lines: int = 2, **overrides: Any) -> dict[str, Any]:
    """An Order node whose totals reconcile: lines + 5.00 shipping + 3.00 tax − 2.00 discount."""
    items = [make_line(number, i + 1) for i in range(lines)]
    goods = sum(Decimal(i["originalUnitPriceSet"]["shopMoney"]["amount"]) * i["quantity"]
                for i in items)  # fmt: skip
    address = {
        "name": CANARY["name"], "address1": CANARY["street"], "city": "Canaryville",
        "zip": "C4N 4RY", "phone": CANARY["phone"], "countryCodeV2": "CA", "provinceCode": "ON",
    }  # fmt: skip
    node = {
        "id": f"gid://shopify/Order/{number}",
        "orderNumber": f"#{1000 + number}",
        "createdAt": "2026-10-01T09:00:00Z",
        "updatedAt": f"2026-10-{(number % 28) + 1:02d}T12:00:00Z",
        "closedAt": None,
        "cancelledAt": None,
        "currencyCode": "EUR",
        "taxesIncluded": False,
        "displayFinancialStatus": "PAID",
        "displayFulfillmentStatus": "UNFULFILLED",
        "totalShippingPriceSet": money("5.00"),
        "totalTaxSet": money("3.00"),
        "totalDiscountsSet": money("2.00"),
        "totalPriceSet": money(goods + 6),
        "totalRefundedSet": money("0.00"),
        "email": CANARY["email"],
        "phone": CANARY["phone"],
        "note": CANARY["note"],
        "shippingAddress": address,
        "billingAddress": dict(address),
        "customer": {
            "id": f"gid://shopify/Customer/{700 + number}",
            "email": CANARY["email"],
            "firstName": CANARY["name"].split()[0],
            "lastName": CANARY["name"].split()[1],
            "phone": CANARY["phone"],
        },
        "lineItems": {"nodes": items, "pageInfo": {"hasNextPage": False}},
    }
    return {**node, **overrides}


def _cursor(order: dict[str, Any]) -> str:
    last = {"last_id": int(order["id"].rsplit("/", 1)[-1]), "last_value": order["updatedAt"]}
    return base64.b64encode(json.dumps(last, separators=(",", ":")).encode()).decode()


class OrderQueries:
    """``FakeShopify``'s answer to ``orders(first:, after:, query:, sortKey: UPDATED_AT)``."""

    orders: list[dict[str, Any]]

    def _orders(self, variables: dict[str, Any]) -> tuple[dict[str, Any], int, int | None]:
        first, lines = variables.get("first"), variables.get("linesFirst")
        if not isinstance(first, int) or not isinstance(lines, int):
            bad = "first" if not isinstance(first, int) else "linesFirst"
            error = {"message": f"Variable ${bad} of type Int! was provided invalid value"}
            return {"errors": [error]}, 200, None
        cost = orders_cost(first, lines)
        if cost > MAX_COST:
            return _max_cost_exceeded(cost), 200, None
        found = matching(self.orders, variables.get("query"))
        cursors = {_cursor(o): i + 1 for i, o in enumerate(found)}
        cursor = variables.get("cursor")
        start = 0 if cursor is None else cursors.get(cursor)
        if start is None:
            return {"errors": [{"message": "Invalid cursor for current pagination."}]}, 200, 1
        page = found[start : start + first]
        connection = {
            "nodes": page,
            "pageInfo": {
                "hasNextPage": start + first < len(found),
                "endCursor": _cursor(page[-1]) if page else None,
            },
        }
        actual = 2 + sum(11 + 9 * len(o["lineItems"]["nodes"]) for o in page)
        return {"data": {"orders": connection}}, 200, actual
