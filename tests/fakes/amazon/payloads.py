"""Catalog items as the Creators API returns them (GetItems and SearchItems, every resource).

``make_item`` builds an item from its parts (``itemInfo``, browse nodes, images, an OffersV2
listing from ``make_listing``); ``numbered_catalog`` a catalog of plain in-stock items.
"""

from __future__ import annotations

from typing import Any


def _attr(value: Any, label: str) -> dict[str, Any]:
    return {"displayValue": value, "label": label, "locale": "en_US"}


def _image(url: str, size: int) -> dict[str, Any]:
    return {"url": url, "height": size, "width": size}


def _image_set(image_id: str) -> dict[str, Any]:
    base = f"https://m.media-amazon.com/images/I/{image_id}"
    return {
        "small": _image(f"{base}._SL75_.jpg", 75),
        "medium": _image(f"{base}._SL160_.jpg", 160),
        "large": _image(f"{base}._SL500_.jpg", 500),
    }


def _money(amount: float, currency: str) -> dict[str, Any]:
    return {"amount": amount, "currency": currency, "displayAmount": f"${amount:,.2f}"}


def browse_path(names: list[tuple[str, str]]) -> dict[str, Any]:
    """A browse node with its ancestor ladder, from ``[(id, name), ...]`` root first."""
    node: dict[str, Any] | None = None
    for node_id, name in names:
        current = {"contextFreeName": name, "displayName": name, "id": node_id}
        if node is not None:
            current["ancestor"] = node
        node = current
    assert node is not None
    return node


def make_listing(
    price: float,
    *,
    currency: str = "USD",
    list_price: float | None = None,
    availability: str = "IN_STOCK",
    condition: str = "New",
    merchant: str = "Amazon.com",
    merchant_id: str = "ATVPDKIKX0DER",
) -> dict[str, Any]:
    """One OffersV2 listing as the API returns it."""
    messages = {
        "IN_STOCK": "In Stock",
        "IN_STOCK_SCARCE": "Only 3 left in stock - order soon.",
        "OUT_OF_STOCK": "Currently unavailable.",
        "PREORDER": "This item will be released on December 12, 2026.",
        "LEADTIME": "Usually ships within 2 to 3 weeks.",
        "AVAILABLE_DATE": "Temporarily out of stock. Order now and we'll deliver when available.",
    }
    price_block: dict[str, Any] = {"money": _money(price, currency)}
    if list_price is not None:
        price_block["savingBasis"] = {
            "money": _money(list_price, currency),
            "savingBasisType": "LIST_PRICE",
            "savingBasisTypeLabel": "List Price",
        }
        if list_price > price:
            saved = round(list_price - price, 2)
            price_block["savings"] = {
                "money": _money(saved, currency),
                "percentage": round(100 * saved / list_price),
            }
    return {
        "availability": {
            "maxOrderQuantity": 30,
            "message": messages.get(availability, ""),
            "minOrderQuantity": 1,
            "type": availability,
        },
        "condition": {
            "subCondition": "Unknown" if condition == "New" else "Good",
            "value": condition,
        },
        "isBuyBoxWinner": True,
        "merchantInfo": {"id": merchant_id, "name": merchant},
        "price": price_block,
        "violatesMAP": False,
    }


def make_item(
    asin: str,
    title: str | None,
    *,
    brand: str | None = "Anker",
    parent_asin: str | None = None,
    ean: str | None = None,
    upc: str | None = None,
    part_number: str | None = None,
    features: list[str] | None = None,
    product_group: str | None = "Personal Computer",
    categories: list[tuple[str, str]] | None = None,
    image_id: str | None = "71abcDEFghL",
    variant_images: list[str] | None = None,
    listing: dict[str, Any] | None = None,
    partner_tag: str = "pipelinetest-20",
) -> dict[str, Any]:
    """An item as GetItems/SearchItems return it with every resource requested."""
    info = _item_info(
        title,
        brand=brand,
        product_group=product_group,
        ean=ean,
        upc=upc,
        features=features,
        part_number=part_number,
    )
    item: dict[str, Any] = {
        "asin": asin,
        "detailPageURL": f"https://www.amazon.com/dp/{asin}?tag={partner_tag}&linkCode=ogi&th=1&psc=1",
        "itemInfo": info,
    }
    if categories:
        item["browseNodeInfo"] = _browse_node_info(categories)
    if image_id:
        item["images"] = _images(image_id, variant_images)
    if listing is not None:
        item["offersV2"] = {"listings": [listing]}
    if parent_asin:
        item["parentASIN"] = parent_asin
    return item


def _item_info(
    title: str | None,
    *,
    brand: str | None,
    product_group: str | None,
    ean: str | None,
    upc: str | None,
    features: list[str] | None,
    part_number: str | None,
) -> dict[str, Any]:
    """An item's ``itemInfo``: title, by-line, classifications, ids, features, part number."""
    info: dict[str, Any] = {}
    if title is not None:
        info["title"] = _attr(title, "Title")
    if brand is not None:
        info["byLineInfo"] = {
            "brand": _attr(brand, "Brand"),
            "manufacturer": _attr(brand, "Manufacturer"),
        }
    if product_group is not None:
        info["classifications"] = {
            "binding": _attr(product_group, "Binding"),
            "productGroup": _attr(product_group, "ProductGroup"),
        }
    external = _external_ids(ean, upc)
    if external:
        info["externalIds"] = external
    if features:
        info["features"] = {"displayValues": features, "label": "Features", "locale": "en_US"}
    if part_number:
        info["manufactureInfo"] = {
            "itemPartNumber": _attr(part_number, "PartNumber"),
            "model": _attr(part_number, "Model"),
        }
    return info


def _external_ids(ean: str | None, upc: str | None) -> dict[str, Any]:
    external: dict[str, Any] = {}
    if ean:
        external["eans"] = {"displayValues": [ean], "label": "EAN", "locale": "en_US"}
    if upc:
        external["upcs"] = {"displayValues": [upc], "label": "UPC", "locale": "en_US"}
    return external


def _browse_node_info(categories: list[tuple[str, str]]) -> dict[str, Any]:
    """The item's browse node (``categories`` root first) and its website sales rank."""
    node = browse_path(categories)
    node.update({"isRoot": False, "salesRank": 27})
    return {
        "browseNodes": [node],
        "websiteSalesRank": {
            "contextFreeName": categories[0][1],
            "displayName": categories[0][1],
            "id": categories[0][0],
            "salesRank": 1843,
        },
    }


def _images(image_id: str, variant_images: list[str] | None) -> dict[str, Any]:
    images: dict[str, Any] = {"primary": _image_set(image_id)}
    if variant_images:
        images["variants"] = [_image_set(v) for v in variant_images]
    return images


def numbered_catalog(count: int, prefix: str = "B0TEST") -> list[dict[str, Any]]:
    """``count`` plain in-stock items with ASINs ``B0TEST0001``, ``B0TEST0002``, ..."""
    return [
        make_item(
            f"{prefix}{n:04d}",
            f"Test product {n}",
            listing=make_listing(10 + n + 0.99),
            categories=[("172282", "Electronics")],
        )
        for n in range(1, count + 1)
    ]
