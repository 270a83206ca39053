"""The Amazon provider's normalize: recorded items as whole rows, vocabularies, bad records."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest

from pipelines.errors import SkippableRecordError
from pipelines.lake.schema import AVAILABILITIES, BUSINESS_COLUMNS, CONDITIONS
from providers.amazon import AmazonProvider
from tests.fakes.amazon import make_item, make_listing
from tests.providers.amazon.helpers import fixture_items

# --- normalize -----------------------------------------------------------------------------------


def test_normalize_recorded_items_as_whole_rows(provider: AmazonProvider) -> None:
    """Long on purpose: every column of the four recorded items is spelled out, so that any
    change to the mapping shows up as one readable diff of whole rows."""
    records = [{**item, "__marketplace": "www.amazon.com"} for item in fixture_items()]
    base = dict.fromkeys(BUSINESS_COLUMNS)
    base.update(source="amazon", marketplace="www.amazon.com")
    image = "https://m.media-amazon.com/images/I/{}._SL500_.jpg"
    url = "https://www.amazon.com/dp/{}?tag=offlinedemo-20&linkCode=ogi&th=1&psc=1"

    rows = [row for record in records for row in provider.normalize(record)]

    assert rows == [
        {
            **base,
            "source_id": "B01Z6VWB6J",
            "source_parent_id": "B0J986Q7GY",
            "gtin": "1643940093290",
            "mpn": "910-006556",
            "brand": "Logitech",
            "title": "Logitech MX Master 3S Wireless Performance Mouse, Ergo, 8K DPI, Quiet "
            "Clicks, USB-C, Graphite",
            "description": "8K DPI optical sensor tracks on glass.\n"
            "Quiet clicks, 90% less click noise.",
            "product_type": "Personal Computer",
            "category_path": [
                "Electronics",
                "Computers & Accessories",
                "Accessories & Peripherals",
                "Keyboards, Mice & Accessories",
                "Mice",
            ],
            "condition": "new",
            "availability": "in_stock",
            "price_amount": Decimal("89.99"),
            "list_price_amount": Decimal("99.99"),
            "currency": "USD",
            "url": url.format("B01Z6VWB6J"),
            "image_url": image.format("74u4yd4mkvH"),
            "additional_image_urls": [
                image.format("eufm6tzrTr3"),
                image.format("vTDpQfE8wCT"),
                image.format("sioDsMDnhNC"),
            ],
            "seller_name": "Amazon.com",
        },
        {
            **base,
            "source_id": "B05VYXT1SC",
            "gtin": "6016926566968",
            "mpn": "WH1000XM4/B",
            "brand": "Sony",
            "title": "Sony WH-1000XM4 Wireless Noise Canceling Headphones, Black (Used - Very "
            "Good)",
            "description": "Used item inspected by Amazon.",
            "product_type": "Wireless",
            "category_path": [
                "Electronics",
                "Headphones, Earbuds & Accessories",
                "Headphones",
                "Earbud Headphones",
            ],
            "condition": "used",
            "availability": "in_stock",
            "price_amount": Decimal("168.0"),
            "currency": "USD",
            "url": url.format("B05VYXT1SC"),
            "image_url": image.format("VaFaSDJ4zOT"),
            "seller_name": "Amazon Resale",
        },
        {
            **base,
            "source_id": "B02NGJC0P9",
            "mpn": "53933",
            "brand": "Technivorm",
            "title": "Moccamaster KBGV Select 10-Cup Coffee Maker",
            "product_type": "Kitchen",
            "category_path": [
                "Home & Kitchen",
                "Kitchen & Dining",
                "Coffee, Tea & Espresso",
                "Coffee Makers",
            ],
            "condition": "unknown",
            "availability": "unknown",
            "url": url.format("B02NGJC0P9"),
            "image_url": image.format("PBQ9FDANs6R"),
        },
        {
            **base,
            "source_id": "B0TD9UZXTY",
            "title": "Python Crash Course, 3rd Edition: A Hands-On, Project-Based Introduction "
            "to Programming",
            "product_type": "Book",
            "category_path": ["Books", "Computers & Technology", "Programming", "Python"],
            "condition": "new",
            "availability": "preorder",
            "price_amount": Decimal("27.99"),
            "list_price_amount": Decimal("39.99"),
            "currency": "USD",
            "url": url.format("B0TD9UZXTY"),
            "image_url": image.format("dxkeRHTrfkS"),
            "seller_name": "Amazon.com",
        },
    ]
    for row in rows:
        assert tuple(row) == BUSINESS_COLUMNS
        assert row["condition"] in CONDITIONS
        assert row["availability"] in AVAILABILITIES


@pytest.mark.parametrize(
    ("amazon_type", "expected"),
    [
        ("IN_STOCK", "in_stock"),
        ("IN_STOCK_SCARCE", "in_stock"),
        ("OUT_OF_STOCK", "out_of_stock"),
        ("UNAVAILABLE", "out_of_stock"),
        ("PREORDER", "preorder"),
        ("AVAILABLE_DATE", "backorder"),
        ("LEADTIME", "backorder"),
        ("BACKORDER", "backorder"),
        ("OutOfStock", "out_of_stock"),
        ("UNKNOWN", "unknown"),
        ("SOMETHING_NEW", "unknown"),
    ],
)
def test_availability_vocabulary(provider: AmazonProvider, amazon_type: str, expected: str) -> None:
    item = make_item("B0TEST0001", "Hub", listing=make_listing(9.99, availability=amazon_type))

    [row] = provider.normalize(item)

    assert row["availability"] == expected


@pytest.mark.parametrize(
    ("condition", "expected"),
    [("New", "new"), ("Used", "used"), ("Collectible", "used"), ("Refurbished", "refurbished")],
)
def test_condition_vocabulary(provider: AmazonProvider, condition: str, expected: str) -> None:
    item = make_item("B0TEST0001", "Hub", listing=make_listing(9.99, condition=condition))

    assert provider.normalize(item)[0]["condition"] == expected


def test_upc_is_the_gtin_when_there_is_no_ean(provider: AmazonProvider) -> None:
    item = make_item("B0TEST0001", "Cable", upc="841667174051")

    assert provider.normalize(item)[0]["gtin"] == "841667174051"


def test_empty_title_is_kept_for_the_quality_gate(provider: AmazonProvider) -> None:
    assert provider.normalize(make_item("B0TEST0001", "  "))[0]["title"] == ""


@pytest.mark.parametrize(
    ("item", "message"),
    [
        ({"itemInfo": {"title": {"displayValue": "Hub"}}}, "asin is missing"),
        ({"asin": "B0TEST0001", "itemInfo": {}}, "amazon record B0TEST0001: itemInfo.title"),
    ],
)
def test_unmappable_records_are_skippable(
    provider: AmazonProvider, item: dict[str, Any], message: str
) -> None:
    with pytest.raises(SkippableRecordError, match=message):
        provider.normalize(item)
