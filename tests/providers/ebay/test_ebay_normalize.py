"""The eBay provider's normalize: recorded item summaries as whole rows, conditions, bad records."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from pipelines.errors import SkippableRecordError
from pipelines.lake.schema import BUSINESS_COLUMNS, CONDITIONS
from providers.ebay import EbayProvider
from providers.ebay.normalize import normalize_condition

FIXTURES = Path(__file__).parents[2] / "fixtures" / "ebay"


# --- normalize ----------------------------------------------------------------------------------


def recorded_items() -> list[dict[str, Any]]:
    page = json.loads((FIXTURES / "search_page.json").read_text())
    return [
        {**item, "__marketplace": "EBAY_US", "__query": "film camera"}
        for item in page["itemSummaries"]
    ]


ROW_DEFAULTS = dict.fromkeys(BUSINESS_COLUMNS)


def test_normalize_full_item_with_variations_and_marketing_price():
    (row,) = EbayProvider().normalize(recorded_items()[0])

    assert row == {
        **ROW_DEFAULTS,
        "source": "ebay",
        "source_id": "v1|335512345678|544712345678",
        "source_parent_id": "335512345678",
        "marketplace": "EBAY_US",
        "title": "Canon AE-1 Program 35mm SLR Film Camera w/ FD 50mm f/1.8 Lens - Tested",
        "category_path": ["Cameras & Photo", "Film Cameras"],
        "condition": "used",
        "availability": "in_stock",
        "price_amount": Decimal("189.99"),
        "list_price_amount": Decimal("229.99"),
        "currency": "USD",
        "url": "https://www.ebay.com/itm/335512345678?var=544712345678",
        "image_url": "https://i.ebayimg.com/images/g/7yUAAOSwq1Fh/s-l225.jpg",
        "additional_image_urls": [
            "https://i.ebayimg.com/images/g/QmcAAOSw3vBh/s-l225.jpg",
            "https://i.ebayimg.com/images/g/ZTkAAOSwl2Vh/s-l225.jpg",
        ],
        "tags": ["FIXED_PRICE", "BEST_OFFER"],
        "seller_name": "vintage_optics_co",
        "source_created_at": datetime(2026, 9, 14, 17, 2, 11, tzinfo=UTC),
    }
    assert list(row) == list(BUSINESS_COLUMNS)


def test_normalize_minimal_item_leaves_optional_fields_empty():
    (row,) = EbayProvider().normalize(recorded_items()[1])

    assert row == {
        **ROW_DEFAULTS,
        "source": "ebay",
        "source_id": "v1|126612345001|0",
        "marketplace": "EBAY_US",
        "title": "Zenit-E 35mm SLR Camera Helios-44-2 58mm f/2 Lens USSR",
        "condition": "used",
        "availability": "in_stock",
        "price_amount": Decimal("59.00"),
        "currency": "USD",
        "url": "https://www.ebay.com/itm/126612345001",
    }


def test_normalize_auction_uses_the_current_bid():
    (row,) = EbayProvider().normalize(recorded_items()[2])

    assert row == {
        **ROW_DEFAULTS,
        "source": "ebay",
        "source_id": "v1|126612345002|0",
        "marketplace": "EBAY_US",
        "title": "Vintage Brownie Hawkeye Flash Model Camera - Display Only",
        "category_path": ["Film Cameras"],
        "condition": "used",
        "availability": "in_stock",
        "price_amount": Decimal("18.50"),
        "currency": "USD",
        "url": "https://www.ebay.com/itm/126612345002",
        "tags": ["AUCTION"],
        "seller_name": "estate_lot_liquidators",
        "source_created_at": datetime(2026, 11, 18, 19, 15, tzinfo=UTC),
    }


def test_normalize_refurbished_out_of_stock_item_in_pounds():
    raw = {**recorded_items()[3], "__marketplace": "EBAY_GB", "__query": "keyboard"}

    (row,) = EbayProvider().normalize(raw)

    assert row == {
        **ROW_DEFAULTS,
        "source": "ebay",
        "source_id": "v1|395812345003|0",
        "marketplace": "EBAY_GB",
        "title": "Logitech G915 TKL Lightspeed Wireless RGB Mechanical Keyboard",
        "description": "Refurbished by Logitech & tested. UK layout",
        "category_path": [
            "Computers, Tablets & Network Hardware",
            "Keyboards, Mice & Pointers",
            "Keyboards",
        ],
        "condition": "refurbished",
        "availability": "out_of_stock",
        "price_amount": Decimal("129.99"),
        "list_price_amount": Decimal("189.99"),
        "currency": "GBP",
        "inventory_quantity": 0,
        "url": "https://www.ebay.co.uk/itm/395812345003",
        "image_url": "https://i.ebayimg.com/images/g/pX0AAOSwc2Zh/s-l225.jpg",
        "tags": ["FIXED_PRICE"],
        "seller_name": "logi_outlet_uk",
        "source_created_at": datetime(2026, 10, 2, 8, 30, tzinfo=UTC),
    }


@pytest.mark.parametrize(
    ("condition_id", "condition"),
    [
        ("1000", "new"),
        ("1500", "new"),
        ("1750", "new"),
        ("2000", "refurbished"),
        ("2010", "refurbished"),
        ("2020", "refurbished"),
        ("2030", "refurbished"),
        ("2500", "refurbished"),
        ("2750", "used"),
        ("2990", "used"),
        ("3000", "used"),
        ("3010", "used"),
        ("4000", "used"),
        ("5000", "used"),
        ("6000", "used"),
        ("7000", "used"),
        ("2040", "refurbished"),  # an id added later falls in its band
        ("9999", "unknown"),
        (None, "unknown"),
        ("NEW", "unknown"),
    ],
)
def test_condition_ids(condition_id, condition):
    assert normalize_condition(condition_id) == condition
    assert condition in CONDITIONS


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"itemId": None}, "ebay record <no itemId>: itemId is missing"),
        ({"title": None}, "ebay record v1|126612345001|0: title is missing"),
        (
            {"price": {"value": "12,99", "currency": "EUR"}},
            "ebay record v1|126612345001|0: price.value '12,99' is not a number",
        ),
    ],
)
def test_unmappable_records_are_skipped(change, message):
    raw = {**recorded_items()[1], **change}

    with pytest.raises(SkippableRecordError) as raised:
        EbayProvider().normalize(raw)

    assert str(raised.value) == message


def test_bad_but_mappable_values_reach_the_quality_gate():
    raw = {
        **recorded_items()[1],
        "title": "",
        "price": {"value": "0.00", "currency": "USD"},
        "image": {"imageUrl": "ftp://images.example/1.jpg"},
    }

    (row,) = EbayProvider().normalize(raw)

    assert (row["title"], row["price_amount"], row["image_url"]) == (
        "",
        Decimal("0.00"),
        "ftp://images.example/1.jpg",
    )
