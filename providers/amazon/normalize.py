"""Map one Creators API item (wire form, plus ``__marketplace``) to one canonical row.

Field reference: the SDK's models (``creatorsapi_python_sdk.models.item`` and friends), the
Creators API docs (https://affiliate-program.amazon.com/creatorsapi/docs/en-us/introduction)
and PA-API 5's offer pages, whose OffersV2 shapes the Creators API kept
(https://webservices.amazon.com/paapi5/documentation/use-cases/using-offer-information/determining-availability.html).
"""

from __future__ import annotations

import re
from decimal import Decimal, InvalidOperation
from typing import Any

from pipelines.errors import SkippableRecordError

SOURCE = "amazon"

# OffersV2 ``availability.type``: AVAILABLE_DATE, IN_STOCK, IN_STOCK_SCARCE, LEADTIME,
# OUT_OF_STOCK, PREORDER, UNAVAILABLE, UNKNOWN (PA-API 5 OffersV2, kept by the Creators API);
# BACKORDER and the Offers V1 words (Now, Backorderable, Preorderable) are mapped too.
# Keys are upper case with every non-letter removed, so "OUT_OF_STOCK" and "OutOfStock" meet.
AVAILABILITY = {
    "INSTOCK": "in_stock",
    "INSTOCKSCARCE": "in_stock",
    "NOW": "in_stock",
    "OUTOFSTOCK": "out_of_stock",
    "UNAVAILABLE": "out_of_stock",
    "PREORDER": "preorder",
    "PREORDERABLE": "preorder",
    # Orderable now, shipped when stock arrives (a restock date or a lead time).
    "AVAILABLEDATE": "backorder",
    "LEADTIME": "backorder",
    "BACKORDER": "backorder",
    "BACKORDERABLE": "backorder",
}

# OffersV2 ``condition.value``: New, Used, Refurbished, Collectible.
CONDITION = {"new": "new", "used": "used", "collectible": "used", "refurbished": "refurbished"}


def normalize_item(raw: dict[str, Any]) -> list[dict[str, Any]]:
    """One canonical row for one ASIN."""
    asin = raw.get("asin")
    if not asin:
        raise SkippableRecordError("amazon record without asin: asin is missing")
    info = raw.get("itemInfo") or {}
    title = _path(info, "title", "displayValue")
    if title is None:
        raise SkippableRecordError(f"amazon record {asin}: itemInfo.title is missing")
    listing = _first_listing(raw)
    price = _path(listing, "price", "money") or {}
    return [
        {
            "source": SOURCE,
            "source_id": asin,
            "source_parent_id": raw.get("parentASIN"),
            "marketplace": raw.get("__marketplace"),
            "sku": None,
            "gtin": _gtin(info),
            "mpn": _path(info, "manufactureInfo", "itemPartNumber", "displayValue"),
            "brand": _path(info, "byLineInfo", "brand", "displayValue"),
            # An empty title stays empty: the quality gate quarantines it with a reason.
            "title": str(title).strip(),
            "description": _description(info),
            "product_type": _path(info, "classifications", "productGroup", "displayValue"),
            "category_path": _category_path(raw),
            "condition": _condition(listing),
            "availability": _availability(listing),
            "price_amount": _money(price.get("amount"), asin, "price"),
            "list_price_amount": _money(
                _path(listing, "price", "savingBasis", "money", "amount"), asin, "savingBasis"
            ),
            "currency": (price.get("currency") or "").upper() or None,
            "inventory_quantity": None,
            "url": raw.get("detailPageURL"),
            "image_url": _image_url(_path(raw, "images", "primary")),
            "additional_image_urls": _variant_urls(raw),
            "tags": None,
            "status": None,
            "seller_name": _path(listing, "merchantInfo", "name"),
            "source_created_at": None,
            "source_updated_at": None,
        }
    ]


def _path(value: Any, *keys: str) -> Any:
    """``value[k1][k2]...``, or None as soon as a level is missing."""
    for key in keys:
        if not isinstance(value, dict):
            return None
        value = value.get(key)
    return value


def _first_listing(raw: dict[str, Any]) -> dict[str, Any]:
    """The offer shown in the buy box: OffersV2 returns it first (empty when no offers)."""
    listings = _path(raw, "offersV2", "listings") or []
    return listings[0] if listings and isinstance(listings[0], dict) else {}


def _money(amount: Any, asin: str, field: str) -> Decimal | None:
    """An amount as Decimal; the SDK parses JSON numbers as floats, so go through their repr."""
    if amount is None:
        return None
    try:
        return Decimal(str(amount))
    except InvalidOperation as exc:
        raise SkippableRecordError(f"amazon record {asin}: {field} amount {amount!r}") from exc


def _gtin(info: dict[str, Any]) -> str | None:
    for kind in ("eans", "upcs"):
        values = _path(info, "externalIds", kind, "displayValues") or []
        if values:
            return str(values[0])
    return None


def _description(info: dict[str, Any]) -> str | None:
    """The feature bullets as plain text: the Creators API has no description field."""
    features = _path(info, "features", "displayValues") or []
    text = "\n".join(str(f).strip() for f in features if str(f).strip())
    return text or None


def _category_path(raw: dict[str, Any]) -> list[str] | None:
    """Root-first names of the first browse node and its ``ancestor`` ladder."""
    nodes = _path(raw, "browseNodeInfo", "browseNodes") or []
    node = nodes[0] if nodes else None
    names: list[str] = []
    while isinstance(node, dict):
        name = node.get("displayName") or node.get("contextFreeName")
        if name:
            names.append(name)
        node = node.get("ancestor")
    return names[::-1] or None


def _condition(listing: dict[str, Any]) -> str:
    value = _path(listing, "condition", "value")
    return CONDITION.get(str(value).strip().lower(), "unknown") if value else "unknown"


def _availability(listing: dict[str, Any]) -> str:
    value = _path(listing, "availability", "type")
    if not value:
        return "unknown"
    return AVAILABILITY.get(re.sub(r"[^A-Z]", "", str(value).upper()), "unknown")


def _image_url(image: Any) -> str | None:
    """The large rendition (500 px), else the largest one present."""
    for size in ("large", "hiRes", "medium", "small"):
        url = _path(image, size, "url")
        if url:
            return url
    return None


def _variant_urls(raw: dict[str, Any]) -> list[str] | None:
    variants = _path(raw, "images", "variants") or []
    urls = [url for url in (_image_url(v) for v in variants) if url]
    return urls or None
