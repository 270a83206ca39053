"""One Amazon order (already redacted) to one ``orders`` row and its ``order_lines`` rows.

Orders API v2026-01-01 (``Order``, ``OrderItem``, ``ItemProceeds``, ``Money``): a line's unit
price is its product's ``price.unitPrice``; its ``proceeds.breakdowns`` give the line's
``ITEM`` (unit price × quantity), ``SHIPPING``, ``TAX`` and ``DISCOUNT`` amounts (a discount
lowers the proceeds, so it is sent negative; the rows hold its size). A line's tax and
discount are the ``ITEM`` part of their ``detailedBreakdowns`` (the shipping's count in the
order's sums only). The order's ``proceeds.grandTotal`` is the total, else the lines' sum. A
Pending order has no proceeds yet: it is dropped with that reason and read again once Amazon
updates it. The ``fulfillment.fulfillmentStatus`` maps to the shared vocabulary below; refunds
come from the Finances API (``providers.amazon_sp.refunds``) and turn a paid order
``partially_refunded`` or ``refunded``. A line's ``product_id`` and ``variant_id`` are its
ASIN, the ``source_id`` of the ``amazon`` provider's products; ``sku`` is the ``sellerSku``.
Ship country and region come from ``recipient.deliveryAddress`` (the ``recipient`` option).
Amazon gives no stable buyer id, so there is no buyer key.
"""

from __future__ import annotations

from decimal import Decimal, InvalidOperation
from typing import Any

from pipelines.errors import SkippableRecordError
from providers.amazon_sp.refunds import REFUNDS_KEY, refund_totals
from providers.amazon_sp.settings import PROVIDER
from providers.timestamps import parse_utc

# fulfillmentStatus -> (financial_status, fulfillment_status)
STATUSES = {
    "PENDING_AVAILABILITY": ("pending", "unfulfilled"),
    "PENDING": ("pending", "unfulfilled"),
    "UNSHIPPED": ("paid", "unfulfilled"),
    "PARTIALLY_SHIPPED": ("paid", "partially_fulfilled"),
    "SHIPPED": ("paid", "fulfilled"),
    "CANCELLED": ("voided", "unfulfilled"),
    "UNFULFILLABLE": ("paid", "on_hold"),
}
ZERO = Decimal(0)


def normalize_order(raw: dict[str, Any]) -> dict[str, list[dict[str, Any]]]:
    """``{"orders": [row], "order_lines": [rows]}`` for one order with its ``__refunds``."""
    order_id = _text(raw.get("orderId"))
    if not order_id:
        raise SkippableRecordError(f"{PROVIDER} order: no orderId")
    where = f"{PROVIDER} order {order_id}"
    total = _money(grand := (raw.get("proceeds") or {}).get("grandTotal"), f"{where} grandTotal")
    status = str((raw.get("fulfillment") or {}).get("fulfillmentStatus") or "")
    updated = _time(raw.get("lastUpdatedTime"), f"{where} lastUpdatedTime")
    items = [i for i in raw.get("orderItems") or [] if isinstance(i, dict)]
    lines = [_line(item, order_id, updated, where) for item in items]
    currency = _currency(grand) or next((ln["currency"] for ln in lines if ln["currency"]), None)
    if not currency:
        raise SkippableRecordError(f"{where}: {status or 'no status'}, no prices yet")
    for line in lines:
        line["currency"] = line["currency"] or currency
    refunded = _refunds(raw.get(REFUNDS_KEY), lines, where)
    financial, fulfillment = STATUSES.get(status, ("unknown", "unknown"))
    subtotal, shipping, tax, discounts = (
        _sum(items, kind, where) for kind in ("ITEM", "SHIPPING", "TAX", "DISCOUNT")
    )
    total = total if total is not None else subtotal + shipping + tax - discounts
    if refunded and financial == "paid":
        financial = "refunded" if refunded >= total else "partially_refunded"
    address = (raw.get("recipient") or {}).get("deliveryAddress") or {}
    order = {
        "source": PROVIDER,
        "source_id": order_id,
        "order_number": order_id,
        "marketplace": _text((raw.get("salesChannel") or {}).get("marketplaceId")),
        "created_at": _time(raw.get("createdTime"), f"{where} createdTime"),
        "source_updated_at": updated,
        "closed_at": None,
        "cancelled_at": updated if status == "CANCELLED" else None,
        "financial_status": financial,
        "fulfillment_status": fulfillment,
        "currency": currency,
        "taxes_included": False,
        "subtotal_amount": subtotal,
        "shipping_amount": shipping,
        "tax_amount": tax,
        "discount_amount": discounts,
        "total_amount": total,
        "refunded_amount": refunded,
        "line_count": len(lines),
        "ship_country": _text(address.get("countryCode")),
        "ship_region": _text(address.get("stateOrRegion")),
        "buyer_key": None,
    }
    return {"orders": [order], "order_lines": lines}


def _refunds(refunds: Any, lines: list[dict[str, Any]], where: str) -> Decimal | None:
    """The refunded amount (None when the refunds were not looked up); sets the lines'
    ``refunded_quantity`` by SKU, else ASIN."""
    if not isinstance(refunds, list):
        return None
    amount, quantities = refund_totals(refunds, where)
    for line in lines:
        by_sku = quantities.get(line["sku"] or "", 0)
        line["refunded_quantity"] = by_sku or quantities.get(line["product_id"] or "", 0)
    return amount


def _line(item: dict[str, Any], order_id: str, updated: Any, where: str) -> dict[str, Any]:
    line_id = _text(item.get("orderItemId"))
    if not line_id:
        raise SkippableRecordError(f"{where}: an item has no orderItemId")
    at = f"{where} item {line_id}"
    quantity = item.get("quantityOrdered")
    if not isinstance(quantity, int) or isinstance(quantity, bool):
        raise SkippableRecordError(f"{at}: quantityOrdered {quantity!r} is not a whole number")
    product = item.get("product") or {}
    unit = (product.get("price") or {}).get("unitPrice")
    price = _breakdown(item, "ITEM", at)
    unit_price = _money(unit, f"{at} unitPrice")
    if unit_price is None and price is not None and quantity:
        unit_price = price / quantity
    discount = _breakdown(item, "DISCOUNT", at, "ITEM") or ZERO
    asin = _text(product.get("asin"))
    return {
        "source": PROVIDER,
        "source_id": line_id,
        "order_id": order_id,
        "product_id": asin,
        "variant_id": asin,
        "sku": _text(product.get("sellerSku")),
        "gtin": None,
        "quantity": quantity,
        "currency": _currency(unit) or _currency((item.get("proceeds") or {}).get("proceedsTotal")),
        "unit_price_amount": unit_price,
        "discount_amount": discount,
        "tax_amount": _breakdown(item, "TAX", at, "ITEM") or ZERO,
        "line_total_amount": None if price is None else price - discount,
        "refunded_quantity": None,
        "source_updated_at": updated,
    }


def _breakdown(
    item: dict[str, Any], kind: str, where: str, subtype: str | None = None
) -> Decimal | None:
    """The size of an item's proceeds breakdown of ``kind`` (None when it has none); with
    ``subtype``, of its detailed breakdown of that subtype where it has detailed ones (the
    line's own tax and discount, without the shipping's)."""
    found = [b for b in (item.get("proceeds") or {}).get("breakdowns") or []
             if isinstance(b, dict) and b.get("type") == kind]  # fmt: skip
    if not found:
        return None
    total = ZERO
    for entry in found:
        details = [d for d in entry.get("detailedBreakdowns") or [] if isinstance(d, dict)]
        if subtype and details:
            values = [d.get("value") for d in details if d.get("subtype") == subtype]
        else:
            values = [entry.get("subtotal")]
        total += sum((_money(v, f"{where} {kind}") or ZERO for v in values), ZERO)
    return abs(total)


def _sum(items: list[dict[str, Any]], kind: str, where: str) -> Decimal:
    return sum((_breakdown(item, kind, where) or ZERO for item in items), ZERO)


def _money(value: Any, where: str) -> Decimal | None:
    """The ``amount`` of a ``Money`` object (``{"amount": "12.34", "currencyCode"}``)."""
    if not isinstance(value, dict) or value.get("amount") in (None, ""):
        return None
    try:
        amount = Decimal(str(value["amount"]))
    except InvalidOperation:
        raise SkippableRecordError(f"{where} {value['amount']!r} is not a number") from None
    if not amount.is_finite():
        raise SkippableRecordError(f"{where} {value['amount']!r} is not a number")
    return amount


def _currency(value: Any) -> str | None:
    return _text(value.get("currencyCode")) if isinstance(value, dict) else None


def _time(value: Any, where: str) -> Any:
    if not value:
        return None
    parsed = parse_utc(value)
    if parsed is None:
        raise SkippableRecordError(f"{where} {value!r} is not an ISO 8601 timestamp")
    return parsed


def _text(value: Any) -> str | None:
    if value is None:
        return None
    text = str(value).strip()
    return text or None
