"""One eBay order (already redacted) to one ``orders`` row and its ``order_lines`` rows.

Field reference: https://developer.ebay.com/api-docs/sell/fulfillment/types/sel:Order and
https://developer.ebay.com/api-docs/sell/fulfillment/types/sel:LineItem. Amounts are the
``value`` of eBay's ``Amount`` objects in their ``currency``, as the order was placed; refunds
are the order's completed ``paymentSummary.refunds``. A line's product ids take the form the
eBay products provider gives its rows: ``variant_id`` is the Browse item id
``v1|<legacyItemId>|<legacyVariationId or 0>`` (``products.source_id``), ``product_id`` the
item group (``products.source_parent_id``), which eBay gives only to multi-variation listings.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from pipelines.errors import SkippableRecordError
from pipelines.net.pii import BUYER_KEY_FIELD
from providers.ebay.normalize import SOURCE, _money
from providers.timestamps import parse_utc

FINANCIAL = {
    "PENDING": "pending", "PAID": "paid", "PARTIALLY_REFUNDED": "partially_refunded",
    "FULLY_REFUNDED": "refunded",
}  # fmt: skip
FULFILLMENT = {
    "NOT_STARTED": "unfulfilled", "IN_PROGRESS": "in_progress", "FULFILLED": "fulfilled",
}  # fmt: skip
ZERO = Decimal(0)


def normalize_order(raw: dict[str, Any]) -> dict[str, list[dict[str, Any]]]:
    """``{"orders": [row], "order_lines": [rows]}`` for one getOrders ``Order``."""
    order_id = _text(raw.get("orderId"))
    if not order_id:
        raise SkippableRecordError("ebay order: no orderId")
    where = f"ebay order {order_id}"
    pricing = raw.get("pricingSummary") or {}
    currency = _text((pricing.get("total") or {}).get("currency"))
    updated = _time(raw, "lastModifiedDate", where)
    lines = [_line(item, order_id, updated, where) for item in raw.get("lineItems") or []]
    cancel = raw.get("cancelStatus") or {}
    ship_to = _ship_to(raw)
    order = {
        "source": SOURCE,
        "source_id": order_id,
        "order_number": _text(raw.get("salesRecordReference")) or order_id,
        "marketplace": next((_text(i.get("listingMarketplaceId"))
                             for i in raw.get("lineItems") or []), None),
        "created_at": _time(raw, "creationDate", where),
        "source_updated_at": updated,
        "closed_at": None,
        "cancelled_at": _time(cancel, "cancelledDate", where)
        if cancel.get("cancelState") == "CANCELED" else None,
        "financial_status": FINANCIAL.get(raw.get("orderPaymentStatus") or "", "unknown"),
        "fulfillment_status": FULFILLMENT.get(raw.get("orderFulfillmentStatus") or "", "unknown"),
        "currency": currency,
        "taxes_included": False,
        "subtotal_amount": _amount(pricing.get("priceSubtotal"), f"{where} priceSubtotal"),
        "shipping_amount": _amount(pricing.get("deliveryCost"), f"{where} deliveryCost")
        - abs(_amount(pricing.get("deliveryDiscount"), f"{where} deliveryDiscount")),
        "tax_amount": _amount(pricing.get("tax"), f"{where} tax"),
        "discount_amount": abs(_amount(pricing.get("priceDiscount"), f"{where} priceDiscount")),
        "total_amount": _amount(pricing.get("total"), f"{where} total"),
        "refunded_amount": _refunded(raw, where),
        "line_count": len(lines),
        "ship_country": _text(ship_to.get("countryCode")),
        "ship_region": _text(ship_to.get("stateOrProvince")),
        "buyer_key": _text(raw.get(BUYER_KEY_FIELD)),
    }  # fmt: skip
    return {"orders": [order], "order_lines": lines}


def _line(item: dict[str, Any], order_id: str, updated: Any, where: str) -> dict[str, Any]:
    line_id = _text(item.get("lineItemId"))
    if not line_id:
        raise SkippableRecordError(f"{where}: a line has no lineItemId")
    at = f"{where} line {line_id}"
    quantity = item.get("quantity")
    if not isinstance(quantity, int) or isinstance(quantity, bool):
        raise SkippableRecordError(f"{at}: quantity {quantity!r} is not a whole number")
    cost = _amount(item.get("lineItemCost"), f"{at} lineItemCost")
    discount = sum(
        (abs(_amount(p.get("discountAmount"), f"{at} discountAmount"))
         for p in item.get("appliedPromotions") or []),
        ZERO,
    )  # fmt: skip
    tax = sum((_amount(t.get("amount"), f"{at} tax") for t in item.get("taxes") or []), ZERO)
    item_id = _text(item.get("legacyItemId"))
    variation = _text(item.get("legacyVariationId"))
    return {
        "source": SOURCE,
        "source_id": line_id,
        "order_id": order_id,
        "product_id": item_id if variation else None,
        "variant_id": f"v1|{item_id}|{variation or 0}" if item_id else None,
        "sku": _text(item.get("sku")),
        "gtin": None,
        "quantity": quantity,
        "currency": _text((item.get("lineItemCost") or {}).get("currency")),
        "unit_price_amount": cost / quantity if quantity else cost,
        "discount_amount": discount,
        "tax_amount": tax,
        "line_total_amount": cost - discount,
        "refunded_quantity": None,
        "source_updated_at": updated,
    }


def _ship_to(raw: dict[str, Any]) -> dict[str, Any]:
    """The first shipping step's ``shipTo.contactAddress`` (the scrubber kept country and
    region only)."""
    for instruction in raw.get("fulfillmentStartInstructions") or []:
        ship_to = (instruction.get("shippingStep") or {}).get("shipTo") or {}
        if ship_to.get("contactAddress"):
            return ship_to["contactAddress"]
    return {}


def _refunded(raw: dict[str, Any], where: str) -> Decimal:
    refunds = (raw.get("paymentSummary") or {}).get("refunds") or []
    return sum(
        (_amount(r.get("amount"), f"{where} refund") for r in refunds
         if r.get("refundStatus") == "REFUNDED"),
        ZERO,
    )  # fmt: skip


def _amount(value: Any, where: str) -> Decimal:
    """The ``value`` of an eBay ``Amount`` (``where``: ``order 1-2 total``); zero when absent."""
    record, _, field = where.rpartition(" ")
    amount, _currency = _money(value, record.removeprefix("ebay "), field)
    return ZERO if amount is None else amount


def _time(raw: dict[str, Any], key: str, where: str) -> Any:
    value = raw.get(key)
    if value is None:
        return None
    parsed = parse_utc(value)
    if parsed is None:
        raise SkippableRecordError(f"{where} {key}: {value!r} is not a timestamp")
    return parsed


def _text(value: Any) -> str | None:
    return value.strip() if isinstance(value, str) and value.strip() else None
