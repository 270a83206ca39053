"""One Amazon order (already redacted) to one ``orders`` row and its ``order_lines`` rows.

Money (https://developer-docs.amazon.com/sp-api/docs/orders-api-v0-reference#orderitem): an
item's ``ItemPrice`` is the price of the whole line (unit price × ``QuantityOrdered``), so the
unit price is ``ItemPrice / QuantityOrdered``; ``ItemTax`` and ``ShippingTax`` are the tax,
``PromotionDiscount`` and ``ShippingDiscount`` the discounts, ``ShippingPrice`` the shipping.
The order's ``OrderTotal`` is the total, else the lines' sum. A Pending order has no prices
yet: it is dropped with that reason and read again once Amazon updates it. ``OrderStatus``
maps to the shared vocabulary below; Amazon does not report refunds on orders (they are
Finances API events), so ``refunded_amount`` is null.
A line's ``product_id`` and ``variant_id`` are its ASIN, the ``source_id`` of the ``amazon``
provider's products; ``sku`` is the ``SellerSKU``. Amazon gives no stable buyer id, so there is
no buyer key.
"""

from __future__ import annotations

from decimal import Decimal, InvalidOperation
from typing import Any

from pipelines.errors import SkippableRecordError
from providers.amazon_sp.orders import ITEMS_KEY
from providers.amazon_sp.settings import PROVIDER
from providers.timestamps import parse_utc

# OrderStatus -> (financial_status, fulfillment_status)
STATUSES = {
    "PendingAvailability": ("pending", "unfulfilled"),
    "Pending": ("pending", "unfulfilled"),
    "Unshipped": ("paid", "unfulfilled"),
    "PartiallyShipped": ("paid", "partially_fulfilled"),
    "Shipped": ("paid", "fulfilled"),
    "InvoiceUnconfirmed": ("paid", "fulfilled"),
    "Canceled": ("voided", "unfulfilled"),
    "Unfulfillable": ("paid", "on_hold"),
}
ZERO = Decimal(0)


def normalize_order(raw: dict[str, Any]) -> dict[str, list[dict[str, Any]]]:
    """``{"orders": [row], "order_lines": [rows]}`` for one order with its ``__items``."""
    order_id = _text(raw.get("AmazonOrderId"))
    if not order_id:
        raise SkippableRecordError(f"{PROVIDER} order: no AmazonOrderId")
    where = f"{PROVIDER} order {order_id}"
    total = _money(raw.get("OrderTotal"), f"{where} OrderTotal")
    currency = _currency(raw.get("OrderTotal"))
    updated = _time(raw.get("LastUpdateDate"), f"{where} LastUpdateDate")
    items = [i for i in raw.get(ITEMS_KEY) or [] if isinstance(i, dict)]
    lines = [_line(item, order_id, currency, updated, where) for item in items]
    currency = currency or next((line["currency"] for line in lines if line["currency"]), None)
    if not currency:
        raise SkippableRecordError(f"{where}: {raw.get('OrderStatus')}, no prices yet")
    for line in lines:
        line["currency"] = line["currency"] or currency
    status = str(raw.get("OrderStatus") or "")
    financial, fulfillment = STATUSES.get(status, ("unknown", "unknown"))
    shipping = _sum(items, ("ShippingPrice",), where)
    tax = _sum(items, ("ItemTax", "ShippingTax"), where)
    discounts = _sum(items, ("PromotionDiscount", "ShippingDiscount"), where)
    subtotal = _sum(items, ("ItemPrice",), where)
    address = raw.get("ShippingAddress") or {}
    order = {
        "source": PROVIDER,
        "source_id": order_id,
        "order_number": order_id,
        "marketplace": _text(raw.get("MarketplaceId")),
        "created_at": _time(raw.get("PurchaseDate"), f"{where} PurchaseDate"),
        "source_updated_at": updated,
        "closed_at": None,
        "cancelled_at": updated if status == "Canceled" else None,
        "financial_status": financial,
        "fulfillment_status": fulfillment,
        "currency": currency,
        "taxes_included": False,
        "subtotal_amount": subtotal,
        "shipping_amount": shipping,
        "tax_amount": tax,
        "discount_amount": discounts,
        "total_amount": total if total is not None else subtotal + shipping + tax - discounts,
        "refunded_amount": None,
        "line_count": len(lines),
        "ship_country": _text(address.get("CountryCode")),
        "ship_region": _text(address.get("StateOrRegion")),
        "buyer_key": None,
    }
    return {"orders": [order], "order_lines": lines}


def _line(
    item: dict[str, Any], order_id: str, currency: str | None, updated: Any, where: str
) -> dict[str, Any]:
    line_id = _text(item.get("OrderItemId"))
    if not line_id:
        raise SkippableRecordError(f"{where}: an item has no OrderItemId")
    at = f"{where} item {line_id}"
    quantity = item.get("QuantityOrdered")
    if not isinstance(quantity, int) or isinstance(quantity, bool):
        raise SkippableRecordError(f"{at}: QuantityOrdered {quantity!r} is not a whole number")
    price = _money(item.get("ItemPrice"), f"{at} ItemPrice")
    discount = _money(item.get("PromotionDiscount"), f"{at} PromotionDiscount") or ZERO
    tax = _money(item.get("ItemTax"), f"{at} ItemTax") or ZERO
    asin = _text(item.get("ASIN"))
    return {
        "source": PROVIDER,
        "source_id": line_id,
        "order_id": order_id,
        "product_id": asin,
        "variant_id": asin,
        "sku": _text(item.get("SellerSKU")),
        "gtin": None,
        "quantity": quantity,
        "currency": _currency(item.get("ItemPrice")) or currency,
        "unit_price_amount": None if price is None or not quantity else price / quantity,
        "discount_amount": discount,
        "tax_amount": tax,
        "line_total_amount": None if price is None else price - discount,
        "refunded_quantity": None,
        "source_updated_at": updated,
    }


def _sum(items: list[dict[str, Any]], fields: tuple[str, ...], where: str) -> Decimal:
    return sum(
        (_money(item.get(f), f"{where} {f}") or ZERO for item in items for f in fields), ZERO
    )


def _money(value: Any, where: str) -> Decimal | None:
    """The ``Amount`` of a ``Money`` object (``{"CurrencyCode", "Amount": "12.34"}``)."""
    if not isinstance(value, dict) or value.get("Amount") in (None, ""):
        return None
    try:
        amount = Decimal(str(value["Amount"]))
    except InvalidOperation:
        raise SkippableRecordError(f"{where} {value['Amount']!r} is not a number") from None
    if not amount.is_finite():
        raise SkippableRecordError(f"{where} {value['Amount']!r} is not a number")
    return amount


def _currency(value: Any) -> str | None:
    return _text(value.get("CurrencyCode")) if isinstance(value, dict) else None


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
