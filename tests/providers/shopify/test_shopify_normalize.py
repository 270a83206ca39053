"""The Shopify provider's normalize: recorded products as whole rows, availability, bad records."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from pipelines.errors import SkippableRecordError
from pipelines.lake.schema import BUSINESS_COLUMNS
from tests.fakes.shopify import make_product, make_variant

FIXTURES = Path(__file__).parents[2] / "fixtures" / "shopify"


# --- normalizing -------------------------------------------------------------------------------


def recorded_records() -> list[dict[str, Any]]:
    """The fixture page's product nodes as fetch yields them."""
    page = json.loads((FIXTURES / "products_page.json").read_text())
    shop = json.loads((FIXTURES / "shop.json").read_text())["data"]["shop"]
    return [{**node, "__shop": shop} for node in page["data"]["products"]["nodes"]]


def utc(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=UTC)


PARKA = "https://maple-and-pine-demo.myshopify.com/products/muskoka-down-parka"
PARKA_ROW = {
    "source": "shopify",
    "source_parent_id": "gid://shopify/Product/8234517701111",
    "marketplace": "maple-and-pine-demo.myshopify.com",
    "mpn": None,
    "brand": "Maple & Pine",
    "description": (
        "Hip-length parka with 650-fill responsibly sourced down and a removable hood."
    ),
    "product_type": "Jackets",
    "category_path": None,
    "condition": "new",
    "price_amount": Decimal("349.00"),
    "currency": "CAD",
    "image_url": (
        "https://cdn.shopify.com/s/files/1/0712/4480/3391/files/muskoka-down-parka.jpg?v=1759000000"
    ),
    "additional_image_urls": None,
    "tags": ["winter", "down"],
    "status": "active",
    "seller_name": None,
}
EXPECTED_ROWS = [
    {
        **PARKA_ROW,
        "source_id": "gid://shopify/ProductVariant/45871200001001",
        "sku": "MP-001-1",
        "gtin": "0634517701111",
        "title": "Muskoka Down Parka - S",
        "availability": "out_of_stock",
        "list_price_amount": Decimal("399.00"),
        "inventory_quantity": 0,
        "url": f"{PARKA}?variant=45871200001001",
        "source_created_at": utc("2026-02-26T08:00:00"),
        "source_updated_at": utc("2026-09-14T08:00:00"),
    },
    {
        **PARKA_ROW,
        "source_id": "gid://shopify/ProductVariant/45871200001002",
        "sku": "MP-001-2",
        "gtin": "0634517701112",
        "title": "Muskoka Down Parka - M",
        "availability": "in_stock",
        "list_price_amount": Decimal("399.00"),
        "inventory_quantity": 5,
        "url": f"{PARKA}?variant=45871200001002",
        "source_created_at": utc("2026-02-26T08:01:00"),
        "source_updated_at": utc("2026-09-14T07:55:00"),
    },
    {
        **PARKA_ROW,
        "source_id": "gid://shopify/ProductVariant/45871200001003",
        "sku": "MP-001-3",
        "gtin": "0634517701113",
        "title": "Muskoka Down Parka - L",
        "availability": "in_stock",
        "list_price_amount": None,
        "inventory_quantity": 10,
        "url": f"{PARKA}?variant=45871200001003",
        "source_created_at": utc("2026-02-26T08:02:00"),
        "source_updated_at": utc("2026-09-14T07:50:00"),
    },
    {
        "source": "shopify",
        "source_id": "gid://shopify/ProductVariant/45871200006001",
        "source_parent_id": "gid://shopify/Product/8234517706666",
        "marketplace": "maple-and-pine-demo.myshopify.com",
        "sku": "MP-006",
        "gtin": "0634517706666",
        "mpn": None,
        "brand": "Ember Co.",
        "title": "Cedar Fire Starter (12 pack)",
        "description": "Wax-dipped cedar fire starters, 12 per box.",
        "product_type": "Camping",
        "category_path": None,
        "condition": "new",
        "availability": "backorder",
        "price_amount": Decimal("12.50"),
        "list_price_amount": None,
        "currency": "CAD",
        "inventory_quantity": -3,
        "url": "https://maple-and-pine-demo.myshopify.com/products/cedar-fire-starter-12-pack",
        "image_url": (
            "https://cdn.shopify.com/s/files/1/0712/4480/3391/files/"
            "cedar-fire-starter-12-pack.jpg?v=1759004885"
        ),
        "additional_image_urls": None,
        "tags": ["camp", "fire"],
        "status": "active",
        "seller_name": None,
        "source_created_at": utc("2026-03-13T08:00:00"),
        "source_updated_at": utc("2026-09-15T19:05:00"),
    },
    {
        "source": "shopify",
        "source_id": "gid://shopify/ProductVariant/45871200040001",
        "source_parent_id": "gid://shopify/Product/8234517744440",
        "marketplace": "maple-and-pine-demo.myshopify.com",
        "sku": "MP-040",
        "gtin": "0634517744440",
        "mpn": None,
        "brand": "Hive & Hearth",
        "title": "Wildflower Seed Kit",
        "description": "Native Ontario wildflower seeds.",
        "product_type": None,
        "category_path": None,
        "condition": "new",
        "availability": "in_stock",
        "price_amount": Decimal("14.00"),
        "list_price_amount": None,
        "currency": "CAD",
        "inventory_quantity": 20,
        "url": None,
        "image_url": None,
        "additional_image_urls": None,
        "tags": [],
        "status": "draft",
        "seller_name": None,
        "source_created_at": utc("2026-06-23T08:00:00"),
        "source_updated_at": utc("2026-09-25T17:27:00"),
    },
]


def test_normalize_recorded_products_as_whole_rows(provider):
    rows = [row for raw in recorded_records() for row in provider.normalize(raw)]

    assert rows == EXPECTED_ROWS
    assert all(tuple(sorted(row)) == tuple(sorted(BUSINESS_COLUMNS)) for row in rows)


def test_normalize_falls_back_to_product_timestamps_and_converts_to_utc(provider):
    variant = make_variant(1, 1, createdAt=None, updatedAt=None)
    raw = make_product(1, createdAt="2026-01-02T03:04:05-05:00", updatedAt="2026-10-01T00:00:00Z")
    raw["variants"]["nodes"] = [variant]

    (row,) = provider.normalize(raw)

    assert row["source_created_at"] == utc("2026-01-02T08:04:05")
    assert row["source_updated_at"] == utc("2026-10-01T00:00:00")
    assert row["title"] == "Product 1"
    assert row["url"] == "https://fake-shop.example/products/product-1"  # one variant: no ?variant
    assert row["currency"] is None  # no __shop: the quality gate decides


def test_normalize_keeps_a_blank_title_blank_for_the_quality_gate(provider):
    raw = make_product(1, variants=2, title="  ")

    assert [row["title"] for row in provider.normalize(raw)] == ["", ""]


@pytest.mark.parametrize(
    ("available", "quantity", "availability"),
    [
        (True, 5, "in_stock"),
        (True, None, "in_stock"),  # inventory not tracked
        (True, 0, "backorder"),
        (True, -2, "backorder"),
        (False, 0, "out_of_stock"),
        (False, 7, "out_of_stock"),
        (None, 3, "unknown"),
    ],
)
def test_normalize_availability(provider, available, quantity, availability):
    raw = make_product(1)
    raw["variants"]["nodes"] = [
        make_variant(1, 1, availableForSale=available, inventoryQuantity=quantity)
    ]

    assert provider.normalize(raw)[0]["availability"] == availability


def _broken(change: Callable[[dict[str, Any]], None]) -> dict[str, Any]:
    raw = make_product(1)
    change(raw)
    return raw


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        (_broken(lambda r: r.pop("id")), "shopify record 'product-1': id missing"),
        (_broken(lambda r: r.update(title=None)), "shopify record gid://shopify/Product/1: title"),
        (
            _broken(lambda r: r.update(variants={"nodes": []})),
            "shopify record gid://shopify/Product/1: variants missing",
        ),
        (
            _broken(lambda r: r["variants"]["nodes"][0].update(id=None)),
            "shopify record gid://shopify/Product/1: variant id missing",
        ),
        (
            _broken(lambda r: r["variants"]["nodes"][0].update(price="12,50")),
            "shopify record gid://shopify/ProductVariant/101: price '12,50' is not a number",
        ),
        (
            _broken(lambda r: r["variants"]["nodes"][0].update(compareAtPrice="NaN")),
            "shopify record gid://shopify/ProductVariant/101: compareAtPrice 'NaN' is not",
        ),
        (
            _broken(lambda r: r["variants"]["nodes"][0].update(updatedAt="yesterday")),
            "shopify record gid://shopify/ProductVariant/101: updatedAt 'yesterday' is not",
        ),
        (
            _broken(lambda r: r["variants"]["nodes"][0].update(createdAt="2026-10-01T10:00:00")),
            "shopify record gid://shopify/ProductVariant/101: createdAt '2026-10-01T10:00:00' has",
        ),
    ],
)
def test_normalize_refuses_unmappable_records(provider, raw, message):
    with pytest.raises(SkippableRecordError) as caught:
        provider.normalize(raw)

    assert str(caught.value).startswith(message)
