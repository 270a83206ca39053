"""Hypothesis strategies of raw eBay item summaries and Amazon Creators API items (wire form,
as a run lands them): mostly plain, now and then odd, for the batch-normalizer tests."""

from __future__ import annotations

from typing import Any

from hypothesis import strategies as st

from tests.strategies import ID_CHARS, gtins, http_urls, mostly, optional, timestamps, tricky_text

# --- raw eBay item summaries (Browse API), mostly plain, now and then odd -----------------------

EBAY_GROUP = "https://api.ebay.com/buy/browse/v1/item/get_items_by_item_group?item_group_id="
html_text = st.text(st.sampled_from([*"aZ9 <>/&;b", "\n", "\u2003", "\x85", "é"]), max_size=16)
ebay_amounts = mostly(
    st.one_of(st.none(), st.fixed_dictionaries({
        "value": st.decimals(0, 10**6, places=2).map(str),
        "currency": optional(st.sampled_from(["USD", " usd ", "eur", ""]))})),
    st.sampled_from([{}, {"value": None}, {"value": ""}, {"value": "abc"}, {"value": "1e3"},
                     {"value": 12.5}, {"convertedFromValue": "3"}, {"value": "1", "currency": "ß"},
                     {"value": "NaN"}, "12"]),
)  # fmt: skip
ebay_times = mostly(
    st.one_of(st.none(), st.tuples(timestamps, st.sampled_from(["", ".000", ".5", ".123456"])).map(
        lambda t: t[0].strftime("%Y-%m-%dT%H:%M:%S") + t[1] + "Z")),
    st.sampled_from(["", "2026-02-30T00:00:00Z", "2026-01-01T00:00:00", "2026-01-01", "now",
                     "2026-01-01T00:00:00.1234567Z", "2026-01-01T00:00:00+02:00", 5]),
)  # fmt: skip
ebay_estimates = st.lists(
    optional(st.fixed_dictionaries({
        "estimatedAvailabilityStatus": optional(
            st.sampled_from(["IN_STOCK", "LIMITED_STOCK", "OUT_OF_STOCK", "", "SOON"])),
        "estimatedAvailableQuantity": mostly(
            optional(st.integers(0, 100)), st.sampled_from([True, 2.0, 2**63, "3"])),
    })), max_size=3,
)  # fmt: skip
category_ids = st.sampled_from(["1", "2", "3", "9"])


@st.composite
def ebay_categories(draw: st.DrawFn) -> dict[str, Any]:
    """``categories`` and ``leafCategoryIds``: mostly a leaf and its ancestors, as eBay has them."""
    names = st.one_of(tricky_text, st.sampled_from(["Laptops", "Computers", " "]))
    categories = draw(st.lists(optional(st.fixed_dictionaries({
        "categoryId": mostly(category_ids, st.just(None)), "categoryName": optional(names)})),
        max_size=4))  # fmt: skip
    first = next((c["categoryId"] for c in categories if c), None)
    leaves = st.lists(optional(st.one_of(category_ids, st.just(""))), max_size=3)
    return {
        "categories": draw(mostly(st.just(categories), st.sampled_from([None, [], "x"]))),
        "leafCategoryIds": draw(st.one_of(st.just([first]), optional(leaves))),
    }


@st.composite
def ebay_summaries(draw: st.DrawFn) -> dict[str, Any]:
    """An item summary with ``__marketplace``, as a run lands it (now and then broken)."""
    href = st.one_of(
        st.none(), st.text("0123456789", min_size=1, max_size=6).map(EBAY_GROUP.__add__)
    )
    images = st.fixed_dictionaries({"imageUrl": optional(st.one_of(http_urls(), tricky_text))})
    return {
        "itemId": draw(
            mostly(
                st.text(ID_CHARS + "|", min_size=1, max_size=12),
                st.sampled_from([None, "", " ", 7]),
            )
        ),
        "title": draw(mostly(tricky_text, st.sampled_from([None, 5]))),
        "price": draw(ebay_amounts),
        "currentBidPrice": draw(st.one_of(st.none(), ebay_amounts)),
        "marketingPrice": draw(optional(st.fixed_dictionaries({"originalPrice": ebay_amounts}))),
        "estimatedAvailabilities": draw(mostly(optional(ebay_estimates), st.just({}))),
        "itemGroupHref": draw(
            mostly(
                href,
                st.sampled_from(
                    [
                        EBAY_GROUP,
                        EBAY_GROUP + "1&item_group_id=2",
                        "https://x.io/a?b=1&item_group_id=5",
                        "https://x.io/a",
                        "http://[x/?item_group_id=1",
                        "https://x.io/?item%5Fgroup%5Fid=3",
                        EBAY_GROUP + "a+b",
                        "",
                        "é",
                    ]
                ),
            )
        ),
        "__marketplace": draw(optional(st.sampled_from(["EBAY_US", ""]))),
        "listingMarketplaceId": draw(optional(st.sampled_from(["EBAY_GB", ""]))),
        "__gtin": draw(optional(gtins())),
        "shortDescription": draw(optional(html_text)),
        **draw(ebay_categories()),
        "conditionId": draw(
            mostly(
                optional(
                    st.one_of(
                        st.sampled_from(["1000", "1500", "2010", "2750", "3000", "7000"]),
                        st.integers(0, 9000).map(str),
                    )
                ),
                st.sampled_from(
                    ["", " 3000", "abc", "+1000", "3_000", "\u0661\u0660\u0660\u0660", 3000]
                ),
            )
        ),
        "itemWebUrl": draw(optional(st.one_of(http_urls(), tricky_text))),
        "image": draw(st.one_of(st.none(), st.just({}), images)),
        "additionalImages": draw(optional(st.lists(optional(images), max_size=3))),
        "buyingOptions": draw(
            mostly(
                optional(
                    st.lists(optional(st.sampled_from(["FIXED_PRICE", "AUCTION", ""])), max_size=3)
                ),
                st.just("AUCTION"),
            )
        ),
        "seller": draw(
            st.one_of(st.none(), st.fixed_dictionaries({"username": optional(tricky_text)}))
        ),
        "itemCreationDate": draw(ebay_times),
    }


# --- raw Amazon Creators API items ----------------------------------------------------------

amazon_amounts = mostly(
    optional(st.one_of(st.decimals(0, 10**5, places=2).map(float), st.integers(0, 1000))),
    st.sampled_from([True, -0.0, 1e-05, 1e16, float("nan"), float("inf"), "12.5", 123456.78901]),
)
display_lists = st.one_of(
    st.none(),
    st.fixed_dictionaries({"displayValues": mostly(
        st.lists(st.one_of(gtins(), tricky_text), max_size=3),
        st.sampled_from([[None], "0012345678905", []]))}),
)  # fmt: skip


def _shown(strategy: st.SearchStrategy[Any]) -> st.SearchStrategy[Any]:
    return st.one_of(st.none(), st.fixed_dictionaries({"displayValue": strategy}))


def _ladder(depth: int) -> st.SearchStrategy[Any]:
    names = optional(st.one_of(tricky_text, st.just("")))
    node = {"displayName": names, "contextFreeName": names, "id": st.just("1")}
    if depth:
        node["ancestor"] = st.one_of(st.none(), _ladder(depth - 1))
    return st.fixed_dictionaries(node)


def _image() -> st.SearchStrategy[Any]:
    url = st.one_of(st.none(), st.just({}), st.fixed_dictionaries({"url": optional(
        st.one_of(http_urls(), st.just("")))}))  # fmt: skip
    sizes = ("large", "hiRes", "medium", "small")
    return st.fixed_dictionaries({}, optional=dict.fromkeys(sizes, url))


@st.composite
def amazon_listings(draw: st.DrawFn) -> dict[str, Any] | None:
    if draw(st.integers(0, 20)) == 0:
        return None
    money = st.fixed_dictionaries({"amount": amazon_amounts, "currency": mostly(
        optional(st.sampled_from(["USD", "eur", ""])), st.just("ß"))})  # fmt: skip
    return {
        "price": draw(
            optional(
                st.fixed_dictionaries(
                    {
                        "money": optional(money),
                        "savingBasis": optional(
                            st.fixed_dictionaries(
                                {"money": st.fixed_dictionaries({"amount": amazon_amounts})}
                            )
                        ),
                    }
                )
            )
        ),
        "condition": {
            "value": draw(
                mostly(
                    optional(
                        st.sampled_from(["New", "Used", " collectible ", "Refurbished", "", "Odd"])
                    ),
                    st.sampled_from(["İ", "NEW\u212a"]),
                )
            )
        },
        "availability": {
            "type": draw(
                mostly(
                    optional(
                        st.sampled_from(
                            ["IN_STOCK", "OutOfStock", "PREORDER", "LEADTIME", "UNKNOWN", "", "Now"]
                        )
                    ),
                    st.sampled_from(["ın_stock", "INßTOCK"]),
                )
            )
        },
        "merchantInfo": draw(optional(st.fixed_dictionaries({"name": optional(tricky_text)}))),
    }


@st.composite
def amazon_items(draw: st.DrawFn) -> dict[str, Any]:
    """An item with ``__marketplace``, as a run lands it (now and then broken)."""
    info = st.fixed_dictionaries({
        "title": mostly(st.fixed_dictionaries({"displayValue": tricky_text}),
                        st.sampled_from([None, {}, {"displayValue": 5}])),
        "externalIds": st.one_of(st.none(), st.fixed_dictionaries(
            {}, optional={"eans": display_lists, "upcs": display_lists})),
        "manufactureInfo": optional(st.fixed_dictionaries({"itemPartNumber": _shown(tricky_text)})),
        "byLineInfo": optional(st.fixed_dictionaries({"brand": _shown(tricky_text)})),
        "features": display_lists,
        "classifications": optional(st.fixed_dictionaries({"productGroup": _shown(tricky_text)})),
    })  # fmt: skip
    nodes = st.lists(optional(_ladder(draw(st.integers(0, 3)))), max_size=2)
    return {
        "asin": draw(
            mostly(st.text(ID_CHARS, min_size=1, max_size=10), st.sampled_from([None, "", 7]))
        ),
        "parentASIN": draw(optional(st.text(ID_CHARS, min_size=1, max_size=10))),
        "__marketplace": draw(optional(st.just("www.amazon.com"))),
        "detailPageURL": draw(optional(http_urls())),
        "itemInfo": draw(mostly(info, st.sampled_from([None, "x"]))),
        "browseNodeInfo": draw(optional(st.fixed_dictionaries({"browseNodes": nodes}))),
        "images": draw(
            optional(
                st.fixed_dictionaries(
                    {"primary": st.one_of(st.none(), _image())},
                    optional={"variants": st.lists(optional(_image()), max_size=3)},
                )
            )
        ),
        "offersV2": draw(
            optional(st.fixed_dictionaries({"listings": st.lists(amazon_listings(), max_size=2)}))
        ),
    }
