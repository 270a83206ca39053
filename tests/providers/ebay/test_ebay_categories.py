"""eBay's ``categories`` as search answers carry them, and an item listed twice on one page.

The shapes are those of eBay's published ``item_summary/search`` samples: the leaf category
first, then its ancestors from the root down; an item listed in two categories has two
``leafCategoryIds`` and the ancestors of both trees in the one list.
"""

from __future__ import annotations

import logging

import pytest

from providers.ebay import EbayProvider
from providers.ebay.normalize import normalize_item
from tests.fakes.ebay import make_item
from tests.providers.ebay.helpers import CAMERA, fetch_all

LAPTOP = {  # one leaf, three levels
    "leafCategoryIds": ["177"],
    "categories": [
        {"categoryId": "177", "categoryName": "PC Laptops & Netbooks"},
        {"categoryId": "58058", "categoryName": "Computers/Tablets & Networking"},
        {"categoryId": "175672", "categoryName": "Laptops & Netbooks"},
    ],
}
TWO_LEAVES = {  # listed in two categories of two trees, ancestors mixed in one list
    "leafCategoryIds": ["15230", "4638"],
    "categories": [
        {"categoryId": "15230", "categoryName": "Film Cameras"},
        {"categoryId": "625", "categoryName": "Cameras & Photo"},
        {"categoryId": "4638", "categoryName": "Vintage Cameras"},
        {"categoryId": "1", "categoryName": "Collectibles"},
        {"categoryId": "69323", "categoryName": "Film Photography"},
        {"categoryId": "33704", "categoryName": "Photographic Images"},
    ],
}


def category_path(shape: dict) -> list[str] | None:
    raw = {**make_item(1), **shape, "__marketplace": "EBAY_US", "__query": "q"}
    return normalize_item(raw)[0]["category_path"]


def test_one_leaf_gives_its_root_first_path() -> None:
    assert category_path(LAPTOP) == [
        "Computers/Tablets & Networking", "Laptops & Netbooks", "PC Laptops & Netbooks",
    ]  # fmt: skip


def test_two_leaves_give_the_primary_leaf_only_never_a_mix_of_trees() -> None:
    assert category_path(TWO_LEAVES) == ["Film Cameras"]


@pytest.mark.parametrize(
    ("shape", "path"),
    [
        ({"categories": [{"categoryId": "1", "categoryName": "Collectibles"}]}, ["Collectibles"]),
        ({"categories": LAPTOP["categories"]}, None),  # no leaf named: the order proves nothing
        ({**LAPTOP, "leafCategoryIds": ["999"]}, None),  # the leaf is not in the list
        ({**LAPTOP, "categories": LAPTOP["categories"][::-1]}, ["PC Laptops & Netbooks"]),
        ({"leafCategoryIds": ["177"]}, None),
    ],
)
def test_what_the_payload_cannot_prove_is_left_out(shape: dict, path: list[str] | None) -> None:
    assert category_path(shape) == path


def test_an_item_listed_twice_on_one_page_is_landed_once_and_counted(
    fake, fetch_context, caplog: pytest.LogCaptureFixture
) -> None:
    items = [make_item(n) for n in range(5)]
    items.insert(3, make_item(1))  # the same item again, same page
    fake.add_search(items, q="film camera")
    provider = EbayProvider()
    ctx = fetch_context(provider, fake.env(), CAMERA)

    with caplog.at_level(logging.WARNING):
        records = list(provider.fetch(ctx))

    assert [r["itemId"] for r in records] == [make_item(n)["itemId"] for n in range(5)]
    assert ctx.stats.duplicates == 1
    assert any("lists item v1|100000000001|0 twice" in r.getMessage() for r in caplog.records)


def test_an_item_found_by_two_queries_is_landed_once_and_counted(fake, fetch_context) -> None:
    fake.add_search(total=3, q="film camera")
    fake.add_search(total=3, q="camera")
    options = {**CAMERA, "queries": [{"q": "film camera"}, {"q": "camera"}]}
    provider = EbayProvider()
    ctx = fetch_context(provider, fake.env(), options)
    records = fetch_all(lambda *a, **k: ctx, None, None, provider)
    assert len(records) == 3
    assert ctx.stats.duplicates == 3
