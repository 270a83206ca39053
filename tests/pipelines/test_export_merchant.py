"""``export --format gmc``: the Merchant Center feed read back and held to the specification's
rules, and every row that cannot qualify listed in the rejects with its reasons."""

from __future__ import annotations

import csv
import re
from collections import Counter
from decimal import Decimal
from pathlib import Path

import pytest

from pipelines.exports.merchant import FEED_COLUMNS, money
from pipelines.exports.merchant_rules import gtin_problem
from providers.identifiers import gtin14
from tests.pipelines.export_helpers import commit, product
from tests.pipelines.test_exports import export

RUN = "20261205T100000Z-dddddd"
GOOD_GTIN = "4006381333931"  # EAN-13, check digit 1
PARENT = "gid://shopify/Product/1"

# source_id -> (changes to a qualifying row, the reasons expected in the rejects)
REJECTED = {
    "no-link": ({"url": None}, ["link is missing"]),
    "no-image": ({"image_url": None}, ["image_link is missing"]),
    "no-price": ({"price_amount": None}, ["price is missing"]),
    "no-description": ({"description": "  "}, ["description is missing"]),
    "long-title": ({"title": "T" * 151}, ["title has 151 characters (at most 150)"]),
    "long-description": ({"description": "d" * 5001},
                         ["description has 5001 characters (at most 5000)"]),
    "i" * 51: ({}, ["id has 51 characters (at most 50)"]),
    "long-brand": ({"brand": "B" * 71}, ["brand has 71 characters (at most 70)"]),
    "ftp-link": ({"url": "ftp://shop.example/p"}, ["link is not an http(s) URL"]),
    "bad-check-digit": ({"gtin": "4006381333932"},
                        ["gtin 4006381333932 is not 8, 12, 13 or 14 digits with a correct GS1 "
                         "check digit"]),
    "restricted-gtin": ({"gtin": "2000000000008"},
                        ["gtin 2000000000008 is in a restricted or coupon range (prefix 02, 04, "
                         "05, 2, 98 or 99)"]),
    "unknown-stock": ({"availability": "unknown"},
                      ["availability unknown is not one of in_stock, out_of_stock, preorder, "
                       "backorder"]),
    "preorder": ({"availability": "preorder"},
                 ["availability preorder needs an availability_date, which the lake does not "
                  "hold"]),
    "unknown-condition": ({"condition": "unknown"},
                          ["condition unknown is not one of new, refurbished, used"]),
    "no-currency": ({"currency": None}, ["price 12.50 is not a number and a currency code"]),
    "free": ({"price_amount": Decimal("0")}, ["price 0.00 USD is not above 0"]),
}  # fmt: skip


@pytest.fixture
def feed(workdir: Path) -> tuple[list[dict[str, str]], dict[str, str]]:
    """The feed (rows as dicts) and the rejects (source_id -> reasons) of a lake holding
    qualifying products and one product per way of failing."""
    rows = [
        product("shopify", "v1", source_parent_id=PARENT, gtin=GOOD_GTIN, mpn="M-1"),
        product("shopify", "v2", source_parent_id=PARENT, title="Tab\there,\r\nnew line",
                description="Line one\nline two\tcolumn\x0bend"),
        product("shopify", "lonely", source_parent_id="gid://shopify/Product/2",
                list_price_amount=Decimal("20.0000"), condition="refurbished"),
        product("shopify", "orphan", source_parent_id="gid://shopify/Product/3"),
        product("shopify", "orphan-sibling", source_parent_id="gid://shopify/Product/3", url=None),
        product("amazon", "precise", price_amount=Decimal("12.3456"), gtin="0-12345-67890-5",
                condition="used", availability="out_of_stock"),
        product("ebay", "precise", title="Same id as an Amazon product"),
        *[product("ebay", source_id, **changes) for source_id, (changes, _) in REJECTED.items()],
    ]  # fmt: skip
    commit(workdir / "data", RUN, rows)
    assert export(workdir / "data", "--format", "gmc") == 0
    out = workdir / "data/out"
    with (out / "gmc-products.tsv").open(encoding="utf-8", newline="") as handle:
        table = list(csv.reader(handle, delimiter="\t", quoting=csv.QUOTE_NONE))
    assert tuple(table[0]) == FEED_COLUMNS
    assert all(len(line) == len(FEED_COLUMNS) for line in table)  # no stray tab anywhere
    with (out / "gmc-rejects.csv").open(encoding="utf-8", newline="") as handle:
        rejects = {r["source_id"]: r["reasons"] for r in csv.DictReader(handle)}
    return [dict(zip(FEED_COLUMNS, line, strict=True)) for line in table[1:]], rejects


def check_spec_rules(items: list[dict[str, str]]) -> None:
    """Every rule of the product data specification the feed uses, on every item."""
    limits = {"id": 50, "title": 150, "description": 5000, "link": 2000, "image_link": 2000,
              "brand": 70, "mpn": 70, "item_group_id": 50}  # fmt: skip
    price = re.compile(r"(\d+\.\d{2,}) ([A-Z]{3})")
    for item in items:
        for name in ("id", "title", "description", "link", "image_link", "availability", "price"):
            assert item[name], (item["id"], name)
        for name, limit in limits.items():
            assert len(item[name]) <= limit, (item["id"], name)
        assert all(v == v.strip() and not re.search(r"[\x00-\x1f]", v) for v in item.values())
        assert re.match(r"https?://", item["link"])
        assert re.match(r"https?://", item["image_link"])
        assert item["availability"] in ("in_stock", "out_of_stock")  # others need a date
        assert item["condition"] in ("new", "refurbished", "used")
        amount, currency = price.fullmatch(item["price"]).groups()
        assert Decimal(amount) > 0
        if item["sale_price"]:
            sale, sale_currency = price.fullmatch(item["sale_price"]).groups()
            assert sale_currency == currency
            assert 0 < Decimal(sale) < Decimal(amount)
        if item["gtin"]:
            assert item["gtin"].isdigit()
            assert gtin14(item["gtin"]) is not None
            assert not gtin14(item["gtin"])[1:].startswith(("02", "04", "05", "2", "98", "99"))
    assert len({item["id"] for item in items}) == len(items)
    groups = Counter(item["item_group_id"] for item in items if item["item_group_id"])
    assert all(count > 1 for count in groups.values())  # only variants carry a group


def test_the_feed_meets_the_specification(feed) -> None:
    items, _ = feed
    check_spec_rules(items)
    assert [item["id"] for item in items] == ["precise", "lonely", "orphan", "v1", "v2"]


def test_items_map_prices_variants_and_text(feed) -> None:
    items = {item["id"]: item for item in feed[0]}
    assert items["precise"]["price"] == "12.3456 USD"  # never rounded
    assert (items["lonely"]["price"], items["lonely"]["sale_price"]) == ("20.00 USD", "12.50 USD")
    assert items["v1"]["item_group_id"] == items["v2"]["item_group_id"] == PARENT
    assert items["lonely"]["item_group_id"] == ""  # a product without variants
    assert items["orphan"]["item_group_id"] == ""  # its only sibling was rejected
    assert (items["v1"]["gtin"], items["precise"]["gtin"]) == (GOOD_GTIN, "012345678905")
    assert items["v2"]["title"] == "Tab here, new line"
    assert items["v2"]["description"] == "Line one line two column end"
    assert (items["v1"]["link"], items["v1"]["mpn"]) == ("https://shop.example/p/v1", "M-1")


def test_rows_that_cannot_qualify_are_listed_with_reasons(feed) -> None:
    _, rejects = feed
    expected = {source_id: "; ".join(reasons) for source_id, (_, reasons) in REJECTED.items()}
    expected["orphan-sibling"] = "link is missing"
    expected["precise"] = "id precise is also the id of amazon precise"  # ids are unique
    assert rejects == expected


@pytest.mark.parametrize(
    ("value", "ok"),
    [
        ("4006381333931", True), ("9031-1017", True), ("0362 8281 8705", True),
        ("10614141000415", True), ("4006381333932", False), ("12345", False),
        ("0000000000000", False), ("2000000000008", False), ("0400000000009", False),
        ("9800000000008", False), ("412345678907", False), ("212345678907", False),
    ],
)  # fmt: skip
def test_gtin_rules(value: str, ok: bool) -> None:
    assert (gtin_problem(value) is None) == ok, gtin_problem(value)


def test_money_keeps_every_place_and_shows_at_least_two() -> None:
    assert money(Decimal("12.3400"), "EUR") == "12.34 EUR"
    assert money(Decimal("7"), "USD") == "7.00 USD"
    assert money(Decimal("1.2345"), "JPY") == "1.2345 JPY"


def test_rejects_are_a_csv_whose_text_cannot_run_as_a_formula(workdir: Path) -> None:
    commit(workdir / "data", RUN, [product("ebay", "x", title="=1+1", url=None)])
    assert export(workdir / "data", "--format", "gmc") == 0
    with (workdir / "data/out/gmc-rejects.csv").open(encoding="utf-8", newline="") as handle:
        [reject] = list(csv.DictReader(handle))
    assert reject == {"source": "ebay", "source_id": "x", "title": "'=1+1",
                      "reasons": "link is missing"}  # fmt: skip
