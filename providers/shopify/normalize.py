"""One Shopify product node (with its variants and ``__shop``) to canonical rows, one per variant.

Pure functions, no I/O. Field meanings:
https://shopify.dev/docs/api/admin-graphql/latest/objects/ProductVariant.
"""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal, InvalidOperation
from typing import Any

from pipelines.errors import SkippableRecordError

SOURCE = "shopify"
# Shopify names the only variant of a product without options "Default Title".
DEFAULT_VARIANT_TITLE = "Default Title"


def normalize_product(raw: dict[str, Any]) -> list[dict[str, Any]]:
    """Canonical rows for every variant of one product node.

    Raises ``SkippableRecordError`` when the product has no id, no title or no variants,
    or when a value cannot be read (a variant without id, a price that is not a number).
    """
    product_id = raw.get("id")
    if not product_id:
        raise SkippableRecordError(f"{SOURCE} record {raw.get('handle')!r}: id missing")
    if raw.get("title") is None:
        raise SkippableRecordError(f"{SOURCE} record {product_id}: title missing")
    variants = (raw.get("variants") or {}).get("nodes") or []
    if not variants:
        raise SkippableRecordError(f"{SOURCE} record {product_id}: variants missing")
    product = _product_fields(raw)
    several = len(variants) > 1
    return [_variant_row(raw, product, variant, several) for variant in variants]


def _product_fields(raw: dict[str, Any]) -> dict[str, Any]:
    """The columns every variant row of a product shares."""
    product_id = raw["id"]
    shop = raw.get("__shop") or {}
    currency = shop.get("currencyCode")
    return {
        "source": SOURCE,
        "source_parent_id": product_id,
        "marketplace": _text(shop.get("myshopifyDomain")),
        "mpn": None,
        "brand": _text(raw.get("vendor")),
        "description": _text(raw.get("description")),
        "product_type": _text(raw.get("productType")),
        # The product taxonomy (`category { fullName }`) is not fetched yet; productType is
        # a free-text label and already has its own column.
        "category_path": None,
        "condition": "new",
        "currency": currency.upper() if currency else None,
        "image_url": _image_url(raw),
        "additional_image_urls": None,
        "tags": [str(tag) for tag in raw.get("tags") or []],
        "status": raw["status"].lower() if raw.get("status") else None,
        "seller_name": None,
    }


def _variant_row(
    raw: dict[str, Any], product: dict[str, Any], variant: dict[str, Any], several: bool
) -> dict[str, Any]:
    product_id = raw["id"]
    variant_id = variant.get("id")
    if not variant_id:
        raise SkippableRecordError(f"{SOURCE} record {product_id}: variant id missing")
    where = f"{SOURCE} record {variant_id}"
    quantity = variant.get("inventoryQuantity")
    return {
        **product,
        "source_id": variant_id,
        "sku": _text(variant.get("sku")),
        "gtin": _text(variant.get("barcode")),
        "title": _title(raw["title"], variant.get("title")),
        "availability": _availability(variant.get("availableForSale"), quantity),
        "price_amount": _money(variant.get("price"), f"{where}: price"),
        "list_price_amount": _money(variant.get("compareAtPrice"), f"{where}: compareAtPrice"),
        "inventory_quantity": quantity if isinstance(quantity, int) else None,
        "url": _variant_url(raw.get("onlineStoreUrl"), variant_id, several),
        "source_created_at": _timestamp(
            variant.get("createdAt") or raw.get("createdAt"), f"{where}: createdAt"
        ),
        "source_updated_at": _timestamp(
            variant.get("updatedAt") or raw.get("updatedAt"), f"{where}: updatedAt"
        ),
    }


def _text(value: Any) -> str | None:
    """Stripped text, or None for null and blank values."""
    if value is None:
        return None
    text = str(value).strip()
    return text or None


def _title(product_title: str, variant_title: str | None) -> str:
    """``Product - Variant``, or the product title alone for a default variant.

    A blank product title stays blank (not replaced by the variant title) so that the
    quality gate sees it.
    """
    title = str(product_title).strip()
    variant = (variant_title or "").strip()
    if not title or not variant or variant == DEFAULT_VARIANT_TITLE:
        return title
    return f"{title} - {variant}"


def _availability(available_for_sale: bool | None, quantity: int | None) -> str:
    """Google Merchant availability from ``availableForSale`` and ``inventoryQuantity``.

    Sellable with nothing on hand means the shop keeps selling when out of stock
    (inventory policy CONTINUE), which Merchant calls backorder.
    """
    if available_for_sale is None:
        return "unknown"
    if not available_for_sale:
        return "out_of_stock"
    if isinstance(quantity, int) and quantity <= 0:
        return "backorder"
    return "in_stock"


def _money(value: Any, where: str) -> Decimal | None:
    """A ``Money`` scalar (a decimal string such as ``"19.99"``) as a Decimal."""
    if value is None or value == "":
        return None
    try:
        amount = Decimal(str(value))
    except InvalidOperation:
        raise SkippableRecordError(f"{where} {value!r} is not a number") from None
    if not amount.is_finite():
        raise SkippableRecordError(f"{where} {value!r} is not a number")
    return amount


def _timestamp(value: Any, where: str) -> datetime | None:
    """An ISO 8601 ``DateTime`` (``2026-10-03T08:15:00Z``) as an aware UTC datetime."""
    if not value:
        return None
    try:
        parsed = datetime.fromisoformat(str(value))
    except ValueError:
        raise SkippableRecordError(f"{where} {value!r} is not an ISO 8601 timestamp") from None
    if parsed.tzinfo is None:
        raise SkippableRecordError(f"{where} {value!r} has no time zone")
    return parsed.astimezone(UTC)


def _image_url(raw: dict[str, Any]) -> str | None:
    media = raw.get("featuredMedia") or {}
    image = (media.get("preview") or {}).get("image") or {}
    return _text(image.get("url"))


def _variant_url(online_store_url: str | None, variant_id: str, several: bool) -> str | None:
    """The product page, pointing at the variant when the product has several.

    The storefront selects a variant from ``?variant=<numeric id>``.
    """
    url = _text(online_store_url)
    if url is None or not several:
        return url
    numeric_id = variant_id.rsplit("/", 1)[-1]
    separator = "&" if "?" in url else "?"
    return f"{url}{separator}variant={numeric_id}"
