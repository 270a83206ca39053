"""One Shopify order node (already redacted) to one ``orders`` row and its ``order_lines`` rows.

Amounts are the shop-currency ``shopMoney`` of each ``MoneyBag`` as the order was placed
(``totalPriceSet``); refunds are in ``refunded_amount`` and the lines' ``refunded_quantity``
(``quantity`` − ``currentQuantity``). Statuses map to the shared vocabulary
(``pipelines/lake/order_schema.py``); a status Shopify adds later becomes ``unknown``.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from pipelines.errors import SkippableRecordError
from pipelines.net.pii import BUYER_KEY_FIELD
from providers.shopify.normalize import _money, _text, _timestamp
from providers.shopify.order_queries import LINES_PER_ORDER
from providers.shopify.orders import LINES_TRUNCATED

PROVIDER = "shopify"
FINANCIAL = {
    "PENDING": "pending", "AUTHORIZED": "authorized", "PAID": "paid",
    "PARTIALLY_PAID": "partially_paid", "PARTIALLY_REFUNDED": "partially_refunded",
    "REFUNDED": "refunded", "VOIDED": "voided", "EXPIRED": "expired",
}  # fmt: skip
FULFILLMENT = {
    "UNFULFILLED": "unfulfilled", "PENDING_FULFILLMENT": "unfulfilled", "OPEN": "unfulfilled",
    "REQUEST_DECLINED": "unfulfilled", "PARTIALLY_FULFILLED": "partially_fulfilled",
    "FULFILLED": "fulfilled", "IN_PROGRESS": "in_progress", "ON_HOLD": "on_hold",
    "SCHEDULED": "scheduled", "RESTOCKED": "restocked",
}  # fmt: skip


def normalize_order(raw: dict[str, Any]) -> dict[str, list[dict[str, Any]]]:
    """``{"orders": [row], "order_lines": [rows]}`` for one order node."""
    order_id = _text(raw.get("id"))
    if not order_id:
        raise SkippableRecordError(f"{PROVIDER} order: no id")
    where = f"{PROVIDER} order {order_id}"
    if raw.get(LINES_TRUNCATED):
        raise SkippableRecordError(
            f"{where}: more than {LINES_PER_ORDER} lines (not read in this version)"
        )
    currency = _text(raw.get("currencyCode"))
    updated = _timestamp(raw.get("updatedAt"), f"{where} updatedAt")
    lines = [
        _line(node, order_id, currency, updated, where)
        for node in (raw.get("lineItems") or {}).get("nodes") or []
    ]
    order = {
        "source": PROVIDER,
        "source_id": order_id,
        "order_number": _text(raw.get("orderNumber")),
        "marketplace": _text((raw.get("__shop") or {}).get("myshopifyDomain")),
        "created_at": _timestamp(raw.get("createdAt"), f"{where} createdAt"),
        "source_updated_at": updated,
        "closed_at": _timestamp(raw.get("closedAt"), f"{where} closedAt"),
        "cancelled_at": _timestamp(raw.get("cancelledAt"), f"{where} cancelledAt"),
        "financial_status": FINANCIAL.get(raw.get("displayFinancialStatus") or "", "unknown"),
        "fulfillment_status": FULFILLMENT.get(raw.get("displayFulfillmentStatus") or "", "unknown"),
        "currency": currency,
        "taxes_included": raw.get("taxesIncluded"),
        "subtotal_amount": sum(
            (line["unit_price_amount"] or Decimal(0)) * line["quantity"] for line in lines
        ) if lines else Decimal(0),
        "shipping_amount": _bag(raw.get("totalShippingPriceSet"), f"{where} shipping"),
        "tax_amount": _bag(raw.get("totalTaxSet"), f"{where} tax"),
        "discount_amount": _bag(raw.get("totalDiscountsSet"), f"{where} discounts"),
        "total_amount": _bag(raw.get("totalPriceSet"), f"{where} total"),
        "refunded_amount": _bag(raw.get("totalRefundedSet"), f"{where} refunded"),
        "line_count": len(lines),
        "ship_country": _text((raw.get("shippingAddress") or {}).get("countryCodeV2")),
        "ship_region": _text((raw.get("shippingAddress") or {}).get("provinceCode")),
        "buyer_key": _text(raw.get(BUYER_KEY_FIELD)),
    }  # fmt: skip
    return {"orders": [order], "order_lines": lines}


def _line(
    node: dict[str, Any], order_id: str, currency: str | None, updated: Any, where: str
) -> dict[str, Any]:
    line_id = _text(node.get("id"))
    if not line_id:
        raise SkippableRecordError(f"{where}: a line has no id")
    at = f"{where} line {line_id}"
    variant = node.get("variant") or {}
    quantity = node.get("quantity")
    if not isinstance(quantity, int):
        raise SkippableRecordError(f"{at}: quantity {quantity!r} is not a whole number")
    current = node.get("currentQuantity")
    unit = _bag(node.get("originalUnitPriceSet"), f"{at} unit price")
    discount = sum(
        (_bag(a.get("allocatedAmountSet"), f"{at} discount") or Decimal(0)
         for a in node.get("discountAllocations") or []),
        Decimal(0),
    )  # fmt: skip
    tax = sum(
        (_bag(t.get("priceSet"), f"{at} tax") or Decimal(0) for t in node.get("taxLines") or []),
        Decimal(0),
    )
    line_currency = _line_currency(node) or currency
    return {
        "source": PROVIDER,
        "source_id": line_id,
        "order_id": order_id,
        "product_id": _text((variant.get("product") or {}).get("id")),
        "variant_id": _text(variant.get("id")),
        "sku": _text(node.get("sku")),
        "gtin": _text(variant.get("barcode")),
        "quantity": quantity,
        "currency": line_currency,
        "unit_price_amount": unit,
        "discount_amount": discount,
        "tax_amount": tax,
        "line_total_amount": None if unit is None else unit * quantity - discount,
        "refunded_quantity": quantity - current if isinstance(current, int) else None,
        "source_updated_at": updated,
    }


def _line_currency(node: dict[str, Any]) -> str | None:
    money = (node.get("originalUnitPriceSet") or {}).get("shopMoney") or {}
    return _text(money.get("currencyCode"))


def _bag(value: Any, where: str) -> Decimal | None:
    """The ``shopMoney.amount`` of a ``MoneyBag``, or None when absent."""
    money = (value or {}).get("shopMoney") or {}
    return _money(money.get("amount"), where)
