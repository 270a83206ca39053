"""The cross-marketplace GTIN query of docs/lake.md, run as written on a lake built by a real run.

One run pulls from the three fake APIs: the same item is a Shopify variant (barcode in UPC-A
form), an Amazon item (EAN-13 form, with the leading zero) and an eBay listing found by a
``gtin`` search (GTIN-14 form). The query groups them under one ``gtin14`` with the spread of
their prices; an invalid barcode leaves ``gtin14`` null and is counted as a warning.
"""

from __future__ import annotations

import re
from decimal import Decimal
from pathlib import Path

import duckdb
import pytest
from pytest_httpserver import HTTPServer

from pipelines.config import load_config
from pipelines.lake.lake import Lake
from pipelines.run.options import RunOptions
from pipelines.run.runner import Runner
from providers.amazon import AmazonProvider
from providers.ebay import EbayProvider
from providers.shopify import ShopifyProvider
from tests.fakes.amazon import FakeCreatorsApi, make_item, make_listing
from tests.fakes.ebay import FakeEbay
from tests.fakes.ebay import make_item as make_ebay_item
from tests.fakes.shopify import FakeShopify, make_product, make_variant

LAKE_DOC = Path(__file__).parents[2] / "docs" / "lake.md"
UPC_A = "036000291452"
GTIN14 = "00036000291452"

PIPELINE_TOML = f"""
[providers.shopify]
bulk = "never"

[providers.amazon]
asins = ["B0GTIN0001", "B0GTIN0002"]
throttling_seconds = 0.0

[providers.ebay]
queries = [{{gtin = "{GTIN14}"}}]
"""


def documented_query() -> str:
    """The SQL block of docs/lake.md's "The same product across marketplaces" section."""
    text = LAKE_DOC.read_text()
    section = text[text.index("### The same product across marketplaces") :]
    match = re.search(r"```sql\n(.*?)```", section, re.DOTALL)
    assert match, "the docs/lake.md section has no SQL block"
    return match[1]


def shopify_products() -> list[dict]:
    good = make_variant(1, 1, barcode=UPC_A, price="21.50")
    bad = make_variant(2, 1, barcode="4006381333932")  # wrong check digit
    return [
        {**make_product(1), "variants": {"nodes": [good]}},
        {**make_product(2), "variants": {"nodes": [bad]}},
    ]


def amazon_catalog() -> list[dict]:
    same = make_item(
        "B0GTIN0001", "The item", ean="0" + UPC_A, listing=make_listing(18.25)
    )  # EAN-13 form of the UPC-A
    other = make_item("B0GTIN0002", "Another", ean="4006381333931", listing=make_listing(9.0))
    return [same, other]


@pytest.fixture
def lake(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, http_server: HTTPServer) -> Lake:
    monkeypatch.chdir(tmp_path)
    (tmp_path / "pipeline.toml").write_text(PIPELINE_TOML)
    registry = {p.name: p for p in (ShopifyProvider(), AmazonProvider(), EbayProvider())}
    config = load_config(tmp_path / "pipeline.toml", registry)
    listing = {**make_ebay_item(7), "price": {"value": "24.00", "currency": "USD"}}
    with (
        FakeShopify(shopify_products(), currency="USD") as shop,
        FakeCreatorsApi(amazon_catalog(), server=http_server) as amazon,
        FakeEbay() as ebay,
    ):
        ebay.add_search([listing], gtin=GTIN14)
        env = {**shop.env(), **amazon.env(), **ebay.env()}
        record = Runner(config, registry, env, RunOptions(no_cache=True)).run().record
    assert {name: e["status"] for name, e in record["providers"].items()} == dict.fromkeys(
        registry, "ok"
    )
    assert record["providers"]["shopify"]["quality"] == {"gtin_check_digit": 1}
    assert record["providers"]["shopify"]["quarantined"] == 0  # a warning keeps the row
    return Lake(tmp_path / "data")


def test_gtin14_is_filled_for_every_provider(lake: Lake) -> None:
    rows = lake.dataset("normalized").to_table(columns=["source", "gtin", "gtin14"]).to_pylist()

    assert sorted((r["source"], r["gtin"], r["gtin14"]) for r in rows) == [
        ("amazon", "0" + UPC_A, GTIN14),
        ("amazon", "4006381333931", "04006381333931"),
        ("ebay", GTIN14, GTIN14),
        ("shopify", UPC_A, GTIN14),
        ("shopify", "4006381333932", None),
    ]


def test_the_documented_query_lists_one_gtin_across_providers_with_its_price_spread(
    lake: Lake,
) -> None:
    products = lake.dataset("normalized")  # noqa: F841 (DuckDB reads it by name)

    result = duckdb.sql(documented_query()).fetchall()

    assert result == [
        (
            GTIN14,
            "USD",
            3,
            "amazon, ebay, shopify",
            3,
            Decimal("18.25"),
            Decimal("24.00"),
            Decimal("5.75"),
            "amazon",
        )
    ]
