"""One eBay item summary → one canonical row (pure: no I/O).

Field reference: https://developer.ebay.com/api-docs/buy/browse/types/gct:ItemSummary
"""

from __future__ import annotations

import html
import re
from decimal import Decimal, InvalidOperation
from typing import Any
from urllib.parse import parse_qs, urlsplit

from pipelines.errors import SkippableRecordError
from providers.timestamps import parse_utc

SOURCE = "ebay"

# Condition ids are the same on every marketplace and category; only display names vary.
# https://developer.ebay.com/api-docs/sell/static/metadata/condition-id-values.html
CONDITION_BY_ID: dict[int, str] = {
    1000: "new",  # New
    1500: "new",  # New other / open box
    1750: "new",  # New with defects
    2000: "refurbished",  # Certified refurbished
    2010: "refurbished",  # Excellent - Refurbished
    2020: "refurbished",  # Very Good - Refurbished
    2030: "refurbished",  # Good - Refurbished
    2500: "refurbished",  # Seller refurbished
    2750: "used",  # Like New (Graded, for trading cards)
    2990: "used",  # Pre-owned - Excellent (apparel)
    3000: "used",  # Used / Pre-owned - Good
    3010: "used",  # Pre-owned - Fair (apparel)
    4000: "used",  # Very Good (Ungraded, for trading cards)
    5000: "used",  # Good
    6000: "used",  # Acceptable
    7000: "used",  # For parts or not working
}
# Ids eBay may add later fall in the same bands as their neighbours.
CONDITION_BANDS: tuple[tuple[range, str], ...] = (
    (range(1000, 2000), "new"),
    (range(2000, 2700), "refurbished"),
    (range(2700, 7001), "used"),
)
AVAILABILITY_BY_STATUS = {
    "IN_STOCK": "in_stock",
    "LIMITED_STOCK": "in_stock",
    "OUT_OF_STOCK": "out_of_stock",
}
_TAG = re.compile(r"<[^>]+>")


def normalize_item(raw: dict[str, Any]) -> list[dict[str, Any]]:
    """Map one item summary (plus ``__marketplace``) to its canonical row."""
    item_id = raw.get("itemId")
    if not isinstance(item_id, str) or not item_id.strip():
        raise SkippableRecordError("ebay record <no itemId>: itemId is missing")
    title = raw.get("title")
    if not isinstance(title, str):
        raise SkippableRecordError(f"ebay record {item_id}: title is missing")
    price = _money(raw.get("price") or raw.get("currentBidPrice"), item_id, "price")
    list_price = _money(_dig(raw, "marketingPrice", "originalPrice"), item_id, "originalPrice")
    availability, quantity = _availability(raw.get("estimatedAvailabilities"))
    return [
        {
            "source": SOURCE,
            "source_id": item_id,
            "source_parent_id": _item_group_id(raw.get("itemGroupHref")),
            "marketplace": raw.get("__marketplace") or raw.get("listingMarketplaceId"),
            "sku": None,
            # Summaries carry no GTIN (getItem does): an item found by a gtin search has it.
            "gtin": raw.get("__gtin"),
            "mpn": None,
            "brand": None,
            "title": title.strip(),
            "description": _plain_text(raw.get("shortDescription")),
            "product_type": None,
            "category_path": _category_path(raw),
            "condition": normalize_condition(raw.get("conditionId")),
            "availability": availability,
            "price_amount": price[0],
            "list_price_amount": list_price[0],
            "currency": price[1] or list_price[1],
            "inventory_quantity": quantity,
            "url": _text(raw.get("itemWebUrl")),
            "image_url": _text(_dig(raw, "image", "imageUrl")),
            "additional_image_urls": _image_urls(raw.get("additionalImages")),
            "tags": _strings(raw.get("buyingOptions")),
            "status": None,
            "seller_name": _text(_dig(raw, "seller", "username")),
            "source_created_at": parse_utc(raw.get("itemCreationDate")),
            "source_updated_at": None,
        }
    ]


def normalize_condition(condition_id: Any) -> str:
    """eBay ``conditionId`` (``"3000"``) → ``new``/``refurbished``/``used``, else ``unknown``."""
    try:
        number = int(str(condition_id))
    except ValueError:
        return "unknown"
    if number in CONDITION_BY_ID:
        return CONDITION_BY_ID[number]
    return next((name for band, name in CONDITION_BANDS if number in band), "unknown")


def _availability(estimates: Any) -> tuple[str, int | None]:
    """A summary lists an active listing, so ``in_stock`` unless the estimates say otherwise."""
    if not isinstance(estimates, list) or not estimates:
        return "in_stock", None
    statuses = {e.get("estimatedAvailabilityStatus") for e in estimates if isinstance(e, dict)}
    mapped = {AVAILABILITY_BY_STATUS.get(s, "in_stock") for s in statuses if s}
    availability = "out_of_stock" if mapped == {"out_of_stock"} else "in_stock"
    quantity = (
        estimates[0].get("estimatedAvailableQuantity") if isinstance(estimates[0], dict) else None
    )
    return availability, quantity if isinstance(quantity, int) and not isinstance(
        quantity, bool
    ) else None


def _money(amount: Any, item_id: str, field: str) -> tuple[Decimal | None, str | None]:
    """``{"value": "29.99", "currency": "usd"}`` → ``(Decimal("29.99"), "USD")``."""
    if not isinstance(amount, dict) or amount.get("value") in (None, ""):
        return None, None
    try:
        value = Decimal(str(amount["value"]))
    except InvalidOperation:
        raise SkippableRecordError(
            f"ebay record {item_id}: {field}.value {amount['value']!r} is not a number"
        ) from None
    if not value.is_finite():
        raise SkippableRecordError(f"ebay record {item_id}: {field}.value is not finite")
    currency = amount.get("currency")
    return value, currency.strip().upper() if isinstance(
        currency, str
    ) and currency.strip() else None


def _item_group_id(href: Any) -> str | None:
    """``…/item/get_items_by_item_group?item_group_id=123`` → ``"123"``."""
    if not isinstance(href, str):
        return None
    values = parse_qs(urlsplit(href).query).get("item_group_id")
    return values[0] if values else None


def _category_path(raw: dict[str, Any]) -> list[str] | None:
    """The root-first path of the item's leaf category, or only what the payload proves.

    eBay's ``categories`` lists the leaf first, then its ancestors from the root down
    (``[PC Laptops & Netbooks, Computers/Tablets & Networking, Laptops & Netbooks]``), so
    with one leaf the path is the ancestors followed by the leaf. An item listed in two
    categories has two ``leafCategoryIds`` and both trees' ancestors in one list, with
    nothing telling which ancestor belongs to which leaf: the path is then the first
    (primary) leaf alone, never a mix of the two trees. Without ``leafCategoryIds`` only a
    single category proves anything.
    """
    categories = [
        (str(c.get("categoryId")), c["categoryName"])
        for c in raw.get("categories") or []
        if isinstance(c, dict) and _text(c.get("categoryName"))
    ]
    leaves = [str(leaf) for leaf in raw.get("leafCategoryIds") or [] if leaf]
    if not leaves:
        return [categories[0][1]] if len(categories) == 1 else None
    names = dict(categories)
    if leaves[0] not in names:
        return None
    if len(leaves) == 1 and categories[0][0] == leaves[0]:
        return [name for _, name in categories[1:]] + [categories[0][1]]
    return [names[leaves[0]]]


def _image_urls(images: Any) -> list[str] | None:
    if not isinstance(images, list):
        return None
    urls = [i["imageUrl"] for i in images if isinstance(i, dict) and _text(i.get("imageUrl"))]
    return urls or None


def _strings(values: Any) -> list[str] | None:
    if not isinstance(values, list):
        return None
    return [v for v in values if isinstance(v, str) and v] or None


def _plain_text(value: Any) -> str | None:
    text = _text(value)
    return _text(" ".join(html.unescape(_TAG.sub(" ", text)).split())) if text else None


def _text(value: Any) -> str | None:
    return (value.strip() or None) if isinstance(value, str) else None


def _dig(raw: dict[str, Any], *keys: str) -> Any:
    value: Any = raw
    for key in keys:
        if not isinstance(value, dict):
            return None
        value = value.get(key)
    return value
