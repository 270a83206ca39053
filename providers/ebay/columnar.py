"""eBay item summaries to canonical rows with Arrow compute: the batch form of ``normalize.py``.

A block of summaries is converted to Arrow once (an explicit schema of the fields read) and
every column is computed over the whole block. ``normalize_item`` stays the reference: a
summary this path does not map exactly as the reference would (no item id or title, a price,
timestamp, condition or group link outside the plain forms eBay sends, HTML entities in the
description, a category list whose leaf is not the first category, a value of an unexpected
type) is left to it, so both give the same rows (tests/providers/ebay/test_columnar.py).
"""

from __future__ import annotations

from typing import Any

import pyarrow as pa
import pyarrow.compute as pc

from providers.batch import (
    NormalizedBlock,
    group_sizes,
    holding,
    keep_in_lists,
    lists_of,
    money,
    present,
    records_in,
    split_block,
    text,
    utc_times,
)
from providers.ebay.normalize import CONDITION_BANDS, SOURCE
from providers.identifiers import PY_WHITESPACE

_TIME = r"^[0-9]{4}-[0-9]{2}-[0-9]{2}T([01][0-9]|2[0-3]):[0-5][0-9]:[0-5][0-9](\.[0-9]{0,6})?Z$"
_GROUP = r"^[^?#\[\]%\s]*\?item_group_id=[A-Za-z0-9._~-]+$"  # one plain query parameter
_SPACES = "[" + "".join(f"\\x{{{ord(c):x}}}" for c in PY_WHITESPACE) + "]+"
_NO_TEXT = pa.scalar(None, pa.string())
_NO_LIST = pa.scalar(None, pa.list_(pa.string()))

_TEXT = pa.string()
_AMOUNT = pa.struct([("value", _TEXT), ("currency", _TEXT)])
_ESTIMATE = pa.struct(
    [("estimatedAvailabilityStatus", _TEXT),
     ("estimatedAvailableQuantity", pa.decimal128(38, 0))]  # refuses floats and bools
)  # fmt: skip
RAW_SCHEMA = pa.schema(
    [
        ("itemId", _TEXT), ("title", _TEXT), ("price", _AMOUNT), ("currentBidPrice", _AMOUNT),
        ("marketingPrice", pa.struct([("originalPrice", _AMOUNT)])),
        ("estimatedAvailabilities", pa.list_(_ESTIMATE)), ("itemGroupHref", _TEXT),
        ("__marketplace", _TEXT), ("listingMarketplaceId", _TEXT), ("__gtin", _TEXT),
        ("shortDescription", _TEXT),
        ("categories", pa.list_(pa.struct([("categoryId", _TEXT), ("categoryName", _TEXT)]))),
        ("leafCategoryIds", pa.list_(_TEXT)), ("conditionId", _TEXT), ("itemWebUrl", _TEXT),
        ("image", pa.struct([("imageUrl", _TEXT)])),
        ("additionalImages", pa.list_(pa.struct([("imageUrl", _TEXT)]))),
        ("buyingOptions", pa.list_(_TEXT)), ("seller", pa.struct([("username", _TEXT)])),
        ("itemCreationDate", _TEXT),
    ]
)  # fmt: skip


def normalize_block(raws: list[dict[str, Any]]) -> NormalizedBlock:
    """Rows for the summaries of ``raws`` this path maps; the others are left to the reference."""
    table = _to_arrow(raws)
    if table is None:
        return split_block(raws, normalize_block)
    rows, bad = _rows(table)
    bad = pc.or_(bad, holding(raws, ("buyingOptions",), str))  # Arrow: a list of characters
    keep = pc.invert(bad)
    rows = rows.filter(keep).append_column(
        "__record", pc.filter(pa.array(range(len(raws)), pa.int64()), keep)
    )
    return NormalizedBlock(rows, pc.indices_nonzero(bad).to_pylist())


def _to_arrow(raws: list[dict[str, Any]]) -> pa.RecordBatch | None:
    try:
        table = pa.RecordBatch.from_pylist(raws, schema=RAW_SCHEMA)
        estimates = pc.list_flatten(table.column("estimatedAvailabilities"))
        pc.cast(pc.struct_field(estimates, "estimatedAvailableQuantity"), pa.int64())
    except (pa.ArrowInvalid, pa.ArrowTypeError, OverflowError, TypeError, ValueError):
        return None
    return table


def _rows(table: pa.RecordBatch) -> tuple[pa.Table, pa.Array]:
    """Every summary's row, and the summaries the reference must map.

    It is long because it is the whole column mapping of ``normalize_item``, a line a column.
    """
    count, column = len(table), table.column
    price, price_bad = _price(column("price"), column("currentBidPrice"))
    listed, listed_bad = _amount(pc.struct_field(column("marketingPrice"), "originalPrice"))
    created, created_bad = utc_times(column("itemCreationDate"), _TIME)
    parent, parent_bad = _group_id(column("itemGroupHref"))
    description, description_bad = _description(column("shortDescription"))
    categories, categories_bad = _category_path(column("categories"), column("leafCategoryIds"))
    condition, condition_bad = _condition(column("conditionId"))
    marketplace = column("__marketplace")
    images = column("additionalImages")
    image_urls = pc.struct_field(pc.list_flatten(images), "imageUrl")
    options = column("buyingOptions")
    rows = {
        "source": pa.repeat(SOURCE, count),
        "source_id": column("itemId"),
        "source_parent_id": parent,
        "marketplace": pc.if_else(
            present(marketplace), marketplace, column("listingMarketplaceId")
        ),
        "sku": pa.nulls(count, pa.string()),
        "gtin": column("__gtin"),
        "mpn": pa.nulls(count, pa.string()),
        "brand": pa.nulls(count, pa.string()),
        "title": pc.utf8_trim(column("title"), PY_WHITESPACE),
        "description": description,
        "product_type": pa.nulls(count, pa.string()),
        "category_path": categories,
        "condition": condition,
        "availability": _availability(column("estimatedAvailabilities")),
        "price_amount": price[0],
        "list_price_amount": listed[0],
        "currency": pc.coalesce(price[1], listed[1]),
        "inventory_quantity": _quantity(column("estimatedAvailabilities")),
        "url": text(column("itemWebUrl")),
        "image_url": text(pc.struct_field(column("image"), "imageUrl")),
        "additional_image_urls": keep_in_lists(images, image_urls, text(image_urls).is_valid()),
        "tags": keep_in_lists(options, pc.list_flatten(options), present(pc.list_flatten(options))),
        "status": pa.nulls(count, pa.string()),
        "seller_name": text(pc.struct_field(column("seller"), "username")),
        "source_created_at": created,
        "source_updated_at": pa.nulls(count, created.type),
    }
    bad = pc.or_(pc.invert(text(column("itemId")).is_valid()), column("title").is_null())
    for other in (price_bad, listed_bad, created_bad, parent_bad, description_bad,
                  categories_bad, condition_bad):  # fmt: skip
        bad = pc.or_(bad, other)
    return pa.table(rows), bad


def _price(price: pa.Array, bid: pa.Array) -> tuple[tuple[pa.Array, pa.Array], pa.Array]:
    """``price or currentBidPrice``: an empty ``price`` object is falsy, but so it seems is
    ``{"value": null}`` in Arrow, so a bid price behind one goes to the reference."""
    fields = (pc.struct_field(price, "value"), pc.struct_field(price, "currency"))
    blank = pc.and_(pc.and_(fields[0].is_null(), fields[1].is_null()), price.is_valid())
    unsure = pc.and_(blank, bid.is_valid())
    amount, bad = _amount(pc.if_else(price.is_null(), bid, price))
    return amount, pc.or_(bad, unsure)


def _amount(amount: pa.Array) -> tuple[tuple[pa.Array, pa.Array], pa.Array]:
    """``_money``: (value, currency) of a ``{"value", "currency"}`` object, and where the
    reference must read it (a value that is not a plain decimal, a currency not ASCII)."""
    value, currency = pc.struct_field(amount, "value"), pc.struct_field(amount, "currency")
    values, bad = money(value)
    code = pc.if_else(present(value), text(currency), _NO_TEXT)
    odd = pc.invert(pc.fill_null(pc.string_is_ascii(code), True))
    return (values, pc.ascii_upper(code)), pc.or_(bad, odd)


def _availability(estimates: pa.Array) -> pa.Array:
    """``out_of_stock`` when every status given says so, else ``in_stock``."""
    statuses = pc.struct_field(pc.list_flatten(estimates), "estimatedAvailabilityStatus")
    parents = pc.list_parent_indices(estimates)
    given = present(statuses)
    other = pc.and_(given, pc.not_equal(statuses, "OUT_OF_STOCK"))
    out = pc.and_(
        records_in(parents.filter(given), len(estimates)),
        pc.invert(records_in(parents.filter(other), len(estimates))),
    )
    return pc.if_else(out, "out_of_stock", "in_stock")


def _quantity(estimates: pa.Array) -> pa.Array:
    """The first estimate's ``estimatedAvailableQuantity``."""
    first = pc.list_slice(estimates, 0, 1)
    found = pc.struct_field(pc.list_flatten(first), "estimatedAvailableQuantity")
    present_at = records_in(pc.list_parent_indices(first), len(estimates))
    return pc.replace_with_mask(
        pa.nulls(len(estimates), pa.int64()), present_at, found.cast(pa.int64())
    )


def _group_id(href: pa.Array) -> tuple[pa.Array, pa.Array]:
    """``item_group_id`` of a plain link; one with no such parameter gives None."""
    ascii_ = pc.fill_null(pc.string_is_ascii(href), False)
    plain = pc.and_(ascii_, pc.fill_null(pc.match_substring_regex(href, _GROUP), False))
    value = pc.if_else(plain, pc.replace_substring_regex(href, r"^.*=", ""), _NO_TEXT)
    absent = pc.and_(ascii_, pc.invert(pc.match_substring_regex(href, r"item_group_id|[%\[\]]")))
    bad = pc.and_(href.is_valid(), pc.invert(pc.or_(plain, pc.fill_null(absent, False))))
    return value, bad


def _description(values: pa.Array) -> tuple[pa.Array, pa.Array]:
    """``_plain_text``: tags to spaces, whitespace runs to one space; entities: the reference."""
    stripped = text(values)
    untagged = pc.replace_substring_regex(stripped, r"<[^>]+>", " ")
    joined = pc.utf8_trim(pc.replace_substring_regex(untagged, _SPACES, " "), " ")
    plain = pc.if_else(pc.equal(joined, ""), _NO_TEXT, joined)
    return plain, pc.fill_null(pc.match_substring(stripped, "&"), False)


def _condition(ids: pa.Array) -> tuple[pa.Array, pa.Array]:
    """``normalize_condition`` of a plain number (its band), ``unknown`` when absent."""
    plain = pc.fill_null(pc.match_substring_regex(ids, r"^[0-9]{1,9}$"), False)
    number = pc.cast(pc.if_else(plain, ids, _NO_TEXT), pa.int64())
    condition = pa.repeat("unknown", len(ids))
    for band, name in CONDITION_BANDS:
        inside = pc.and_(pc.greater_equal(number, band.start), pc.less(number, band.stop))
        condition = pc.if_else(pc.fill_null(inside, False), name, condition)
    return condition, pc.and_(ids.is_valid(), pc.invert(plain))


def _category_path(categories: pa.Array, leaves: pa.Array) -> tuple[pa.Array, pa.Array]:
    """``_category_path`` where the first named category is the one leaf (or, without leaves,
    the only category): the ancestors, then the leaf. No leaf among the categories: None.
    The other cases (a leaf further down, several leaves) go to the reference."""
    count = len(categories)
    flat = pc.list_flatten(categories)
    names, ids = pc.struct_field(flat, "categoryName"), pc.struct_field(flat, "categoryId")
    named = text(names).is_valid()
    names, ids = names.filter(named), ids.filter(named)
    parents = pc.list_parent_indices(categories).filter(named)
    sizes = group_sizes(parents, count)
    starts = pc.subtract(pc.cumulative_sum(sizes), sizes)
    rank = pc.subtract(pa.array(range(len(names)), pa.int64()), pc.take(starts, parents))
    first = pc.equal(rank, 0)
    order = pc.sort_indices(
        pa.table({"p": parents, "r": pc.if_else(first, pc.take(sizes, parents), rank)}),
        [("p", "ascending"), ("r", "ascending")],
    )
    rotated = lists_of(names.take(order), parents, count)
    leaf_values = pc.list_flatten(leaves)
    given = present(leaf_values)
    leaf_parents = pc.list_parent_indices(leaves).filter(given)
    leaf_count = group_sizes(leaf_parents, count)
    leaf = _firsts(leaf_values.filter(given), leaf_parents, count)
    first_id = _firsts(ids, parents, count)
    keys = pc.binary_join_element_wise(pc.cast(parents, pa.string()), ids, "\x1f")
    leaf_keys = pc.binary_join_element_wise(
        pc.cast(pa.array(range(count)), pa.string()), leaf, "\x1f"
    )
    leaf_named = pc.fill_null(pc.is_in(leaf_keys, value_set=keys), False)
    only = pc.and_(pc.equal(leaf_count, 0), pc.equal(sizes, 1))
    at_top = pc.and_(pc.equal(leaf_count, 1), pc.fill_null(pc.equal(first_id, leaf), False))
    path = pc.if_else(pc.or_(only, at_top), rotated, _NO_LIST)
    none = pc.or_(pc.equal(leaf_count, 0), pc.invert(leaf_named))
    no_id = records_in(parents.filter(ids.is_null()), count)
    return path, pc.or_(pc.invert(pc.or_(pc.or_(only, at_top), none)), no_id)


def _firsts(values: pa.Array, parents: pa.Array, count: int) -> pa.Array:
    """The first of ``values`` per record (``parents`` ascending), null for none."""
    lists = lists_of(values, parents, count)
    first = pc.list_slice(lists, 0, 1)
    found = records_in(pc.list_parent_indices(first), count)
    return pc.replace_with_mask(pa.nulls(count, values.type), found, pc.list_flatten(first))
