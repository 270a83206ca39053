"""Hypothesis strategies and builders for canonical product rows (business columns only)."""

from __future__ import annotations

import string
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import pyarrow as pa
from hypothesis import strategies as st

from pipelines.checks.currencies import ISO_4217_CODES
from pipelines.lake.schema import AVAILABILITIES, BUSINESS_FIELDS, CONDITIONS
from providers.identifiers import gs1_check_digit

BUSINESS_SCHEMA = pa.schema(BUSINESS_FIELDS)
SOURCES = ("shopify", "amazon", "ebay")

BASE_ROW: dict[str, Any] = {
    "source": "shopify",
    "source_id": "gid://shopify/ProductVariant/1",
    "source_parent_id": "gid://shopify/Product/1",
    "marketplace": "demo.myshopify.com",
    "sku": "SKU-1",
    "gtin": "0012345678905",
    "mpn": None,
    "brand": "Acme",
    "title": "Acme anvil, 10 kg",
    "description": "A heavy anvil.",
    "product_type": "Tools",
    "category_path": ["Tools", "Anvils"],
    "condition": "new",
    "availability": "in_stock",
    "price_amount": Decimal("99.9900"),
    "list_price_amount": Decimal("129.0000"),
    "currency": "USD",
    "inventory_quantity": 3,
    "url": "https://demo.myshopify.com/products/anvil",
    "image_url": "https://cdn.shopify.com/anvil.jpg",
    "additional_image_urls": ["https://cdn.shopify.com/anvil-2.jpg"],
    "tags": ["heavy"],
    "status": "ACTIVE",
    "seller_name": None,
    "source_created_at": datetime(2024, 1, 2, 3, 4, 5, tzinfo=UTC),
    "source_updated_at": None,
}


def product_row(**overrides: Any) -> dict[str, Any]:
    """A valid business row, with some columns replaced."""
    unknown = set(overrides) - set(BASE_ROW)
    assert not unknown, f"not business columns: {unknown}"
    return {**BASE_ROW, **overrides}


def product_table(rows: list[dict[str, Any]]) -> pa.Table:
    """Rows to a table with the canonical business schema (nullability is not enforced)."""
    return pa.Table.from_pylist(rows, schema=BUSINESS_SCHEMA)


def optional(strategy: st.SearchStrategy[Any]) -> st.SearchStrategy[Any]:
    return st.none() | strategy


HOST_CHARS = string.ascii_lowercase + string.digits
ID_CHARS = string.ascii_letters + string.digits + "-"
PATH_CHARS = ID_CHARS + "_/."
short_text = st.text(max_size=20)
money = st.decimals(
    min_value=Decimal("0.0001"), max_value=Decimal("1000000"), places=4, allow_nan=False
)
timestamps = st.datetimes(
    min_value=datetime(2000, 1, 1), max_value=datetime(2100, 1, 1), timezones=st.just(UTC)
)


@st.composite
def http_urls(draw: st.DrawFn) -> str:
    scheme = draw(st.sampled_from(["http", "https", "HTTPS"]))
    host = draw(st.text(HOST_CHARS, min_size=1, max_size=12))
    tld = draw(st.sampled_from(["com", "io", "co.uk", "example"]))
    path = draw(st.text(PATH_CHARS, max_size=20))
    return f"{scheme}://{host}.{tld}/{path}"


@st.composite
def prices(draw: st.DrawFn) -> tuple[Decimal | None, Decimal | None]:
    """(price_amount, list_price_amount) with list >= price whenever both are present."""
    price = draw(optional(money))
    if price is None:
        return None, draw(optional(money))
    markup = draw(optional(st.decimals(min_value=0, max_value=1000, places=4, allow_nan=False)))
    return price, None if markup is None else price + markup


@st.composite
def gtins(draw: st.DrawFn) -> str:
    """A GTIN-8, -12, -13 or -14 with a valid GS1 check digit."""
    length = draw(st.sampled_from((8, 12, 13, 14)))
    body = draw(st.text(string.digits, min_size=length - 1, max_size=length - 1))
    if not body.strip("0"):
        body = body[:-1] + "1"
    return body + str(gs1_check_digit(body))


@st.composite
def product_rows(draw: st.DrawFn, sources: tuple[str, ...] = SOURCES) -> dict[str, Any]:
    """A business row that passes every quality rule (source_id is not unique: set it)."""
    price, list_price = draw(prices())
    first = draw(st.characters(categories=("L", "N")))
    return {
        "source": draw(st.sampled_from(sources)),
        "source_id": draw(st.text(ID_CHARS, min_size=1, max_size=16)),
        "source_parent_id": draw(optional(short_text)),
        "marketplace": draw(optional(short_text)),
        "sku": draw(optional(short_text)),
        "gtin": draw(optional(gtins())),
        "mpn": draw(optional(short_text)),
        "brand": draw(optional(short_text)),
        "title": first + draw(st.text(max_size=60)),
        "description": draw(optional(st.text(max_size=200))),
        "product_type": draw(optional(short_text)),
        "category_path": draw(optional(st.lists(short_text, max_size=3))),
        "condition": draw(st.sampled_from(CONDITIONS)),
        "availability": draw(st.sampled_from(AVAILABILITIES)),
        "price_amount": price,
        "list_price_amount": list_price,
        "currency": draw(optional(st.sampled_from(sorted(ISO_4217_CODES)))),
        "inventory_quantity": draw(optional(st.integers(-10, 10**6))),
        "url": draw(optional(http_urls())),
        "image_url": draw(optional(http_urls())),
        "additional_image_urls": draw(optional(st.lists(http_urls(), max_size=3))),
        "tags": draw(optional(st.lists(short_text, max_size=3))),
        "status": draw(optional(short_text)),
        "seller_name": draw(optional(short_text)),
        "source_created_at": draw(optional(timestamps)),
        "source_updated_at": draw(optional(timestamps)),
    }
