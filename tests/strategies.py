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


# --- raw Shopify product nodes (the API's shape), mostly plain, now and then odd ----------------


def mostly(plain: st.SearchStrategy[Any], odd: st.SearchStrategy[Any]) -> st.SearchStrategy[Any]:
    """``plain`` 29 times in 30, else ``odd``: about half the records have no odd field."""
    return st.integers(0, 29).flatmap(lambda n: odd if n == 0 else plain)


# Text with the characters the two normalize paths must treat alike: Unicode spaces at the
# ends, quotes, backslashes and control characters (JSON escapes), non-ASCII letters.
tricky_text = st.text(
    st.sampled_from(
        [*"aZ09 -?&/", "\t", "\n", "\x1c", "\x85", "\u2003", '"', "\\", "\x01", "é", "İ"]
    ),
    max_size=12,
)
shopify_prices = mostly(
    st.one_of(st.none(), st.decimals(0, 10**6, places=2).map(str), st.sampled_from(["20", "0.10"])),
    st.one_of(st.just(""), st.sampled_from(["1e3", "-5.00", "12.34567", "abc", " 7 ", "NaN"]),
              st.integers(0, 100), st.floats(0, 100, allow_nan=False)),
)  # fmt: skip
shopify_times = mostly(
    st.one_of(st.none(), timestamps.map(lambda t: t.strftime("%Y-%m-%dT%H:%M:%SZ"))),
    st.sampled_from(["", "2026-02-30T00:00:00Z", "2026-01-01T24:00:00Z", "2026-01-01T00:00:00",
                     "2026-01-01T00:00:00+02:00", "2026-01-01T00:00:00.5Z", "yesterday"]),
)  # fmt: skip
ids = st.text(ID_CHARS + "/", min_size=1, max_size=12)


@st.composite
def shopify_variants(draw: st.DrawFn) -> dict[str, Any] | None:
    """A variant node, now and then missing or with a field of an odd form or type."""
    if draw(st.integers(0, 40)) == 0:
        return None
    return {
        "id": draw(mostly(ids, st.sampled_from([None, ""]))),
        "title": draw(optional(st.one_of(tricky_text, st.just("Default Title")))),
        "sku": draw(optional(tricky_text)),
        "barcode": draw(optional(st.one_of(gtins(), tricky_text))),
        "price": draw(shopify_prices),
        "compareAtPrice": draw(shopify_prices),
        "inventoryQuantity": draw(
            mostly(optional(st.integers(-5, 10**6)), st.sampled_from([True, 2.0, 2**63, "3"]))
        ),
        "availableForSale": draw(mostly(optional(st.booleans()), st.just("yes"))),
        "createdAt": draw(shopify_times),
        "updatedAt": draw(shopify_times),
    }


@st.composite
def shopify_nodes(draw: st.DrawFn) -> dict[str, Any]:
    """A product node with ``__shop``, as a run lands it (now and then broken)."""
    media = draw(st.one_of(st.none(), st.just({}), http_urls().map(
        lambda url: {"preview": {"image": {"url": url}}})))  # fmt: skip
    return {
        "id": draw(mostly(ids, st.sampled_from([None, "", 7]))),
        "title": draw(mostly(tricky_text, st.sampled_from([None, 5]))),
        "handle": "h",
        "vendor": draw(optional(tricky_text)),
        "description": draw(optional(tricky_text)),
        "productType": draw(optional(tricky_text)),
        "status": draw(mostly(st.sampled_from([None, "ACTIVE", "DRAFT", ""]), st.just("İ"))),
        "tags": draw(optional(st.lists(mostly(tricky_text, st.none()), max_size=3))),
        "createdAt": draw(shopify_times),
        "updatedAt": draw(shopify_times),
        "onlineStoreUrl": draw(st.one_of(st.none(), http_urls(), st.just("https://s.io/p?x=1"))),
        "featuredMedia": media,
        "variants": draw(
            mostly(
                st.lists(shopify_variants(), min_size=1, max_size=4).map(lambda n: {"nodes": n}),
                st.sampled_from([None, {}, {"nodes": []}, []]),
            )
        ),
        "__shop": draw(
            st.one_of(
                st.none(),
                st.just({"currencyCode": "cad", "myshopifyDomain": " maple.myshopify.com "}),
            )
        ),
    }
