"""Creators API items to canonical rows with Arrow compute: the batch form of ``normalize.py``.

A block of items is converted to Arrow once (an explicit schema of the fields read, the
browse-node ladder to ``LADDER`` levels) and every column is computed over the whole block.
``normalize_item`` stays the reference: an item this path does not map exactly as the
reference would (no ASIN or title, an amount that does not print as a plain decimal, text
that is not ASCII where the reference changes its case, a null where the reference would
print "None", a deeper ladder, a value of an unexpected type) is left to it, so both give the
same rows (tests/providers/amazon/test_columnar.py).
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from providers.amazon.normalize import AVAILABILITY, CONDITION, SOURCE
from providers.batch import (
    NormalizedBlock,
    holding,
    keep_in_lists,
    lists_of,
    money,
    present,
    records_in,
    split_block,
)
from providers.identifiers import PY_WHITESPACE

LADDER = 12  # browse-node levels read; an item with a deeper ladder goes to the reference
_TEXT = pa.string()
_NO_TEXT = pa.scalar(None, _TEXT)


def _shown(value: pa.DataType) -> pa.StructType:
    return pa.struct([("displayValue", value)])


def _node(depth: int) -> pa.StructType:
    ancestor = _node(depth - 1) if depth > 1 else pa.null()  # null: refuses a deeper node
    names = [("displayName", _TEXT), ("contextFreeName", _TEXT)]
    return pa.struct([*names, ("ancestor", ancestor)])


_VALUES = pa.struct([("displayValues", pa.list_(_TEXT))])
_URL = pa.struct([("url", _TEXT)])
IMAGE = pa.struct([(size, _URL) for size in ("large", "hiRes", "medium", "small")])
LISTING = pa.struct(
    [
        ("price", pa.struct([
            ("money", pa.struct([("amount", pa.float64()), ("currency", _TEXT)])),
            ("savingBasis", pa.struct([("money", pa.struct([("amount", pa.float64())]))]))])),
        ("condition", pa.struct([("value", _TEXT)])),
        ("availability", pa.struct([("type", _TEXT)])),
        ("merchantInfo", pa.struct([("name", _TEXT)])),
    ]
)  # fmt: skip
RAW_SCHEMA = pa.schema(
    [
        ("asin", _TEXT), ("parentASIN", _TEXT), ("__marketplace", _TEXT),
        ("detailPageURL", _TEXT),
        ("itemInfo", pa.struct([
            ("title", _shown(_TEXT)),
            ("externalIds", pa.struct([("eans", _VALUES), ("upcs", _VALUES)])),
            ("manufactureInfo", pa.struct([("itemPartNumber", _shown(_TEXT))])),
            ("byLineInfo", pa.struct([("brand", _shown(_TEXT))])),
            ("features", _VALUES),
            ("classifications", pa.struct([("productGroup", _shown(_TEXT))]))])),
        ("browseNodeInfo", pa.struct([("browseNodes", pa.list_(_node(LADDER)))])),
        ("images", pa.struct([("primary", IMAGE), ("variants", pa.list_(IMAGE))])),
        ("offersV2", pa.struct([("listings", pa.list_(LISTING))])),
    ]
)  # fmt: skip
_AMOUNTS = (("offersV2", "listings", 0, "price", "money", "amount"),
            ("offersV2", "listings", 0, "price", "savingBasis", "money", "amount"))  # fmt: skip


def normalize_block(raws: list[dict[str, Any]]) -> NormalizedBlock:
    """Rows for the items of ``raws`` this path maps; the others are left to the reference."""
    try:
        table = pa.RecordBatch.from_pylist(raws, schema=RAW_SCHEMA)
    except (pa.ArrowInvalid, pa.ArrowTypeError, OverflowError, TypeError, ValueError):
        return split_block(raws, normalize_block)
    rows, bad = _rows(table)
    for path in _AMOUNTS:  # Arrow reads true as 1.0; the reference refuses it
        bad = pc.or_(bad, holding(raws, path, bool))
    keep = pc.invert(bad)
    rows = rows.filter(keep).append_column(
        "__record", pc.filter(pa.array(range(len(raws)), pa.int64()), keep)
    )
    return NormalizedBlock(rows, pc.indices_nonzero(bad).to_pylist())


def _rows(table: pa.RecordBatch) -> tuple[pa.Table, pa.Array]:
    """Every item's row, and the items the reference must map.

    It is long because it is the whole column mapping of ``normalize_item``, a line a column.
    """
    count, column = len(table), table.column
    info = column("itemInfo")
    listing = _first(pc.struct_field(column("offersV2"), "listings"))
    price = pc.struct_field(listing, ["price", "money"])
    amount, amount_bad = _amount(pc.struct_field(price, "amount"))
    listed, listed_bad = _amount(
        pc.struct_field(listing, ["price", "savingBasis", "money", "amount"])
    )
    currency, currency_bad = _ascii(pc.struct_field(price, "currency"))
    gtin, gtin_bad = _gtin(pc.struct_field(info, "externalIds"))
    description, description_bad = _description(
        pc.struct_field(info, ["features", "displayValues"])
    )
    condition, condition_bad = _condition(pc.struct_field(listing, ["condition", "value"]))
    availability, availability_bad = _availability(
        pc.struct_field(listing, ["availability", "type"])
    )
    title = pc.struct_field(info, ["title", "displayValue"])
    variants = pc.struct_field(column("images"), "variants")
    variant_urls = _image_url(pc.list_flatten(variants))
    rows = {
        "source": pa.repeat(SOURCE, count),
        "source_id": column("asin"),
        "source_parent_id": column("parentASIN"),
        "marketplace": column("__marketplace"),
        "sku": pa.nulls(count, _TEXT),
        "gtin": gtin,
        "mpn": pc.struct_field(info, ["manufactureInfo", "itemPartNumber", "displayValue"]),
        "brand": pc.struct_field(info, ["byLineInfo", "brand", "displayValue"]),
        "title": pc.utf8_trim(title, PY_WHITESPACE),
        "description": description,
        "product_type": pc.struct_field(info, ["classifications", "productGroup", "displayValue"]),
        "category_path": _category_path(column("browseNodeInfo")),
        "condition": condition,
        "availability": availability,
        "price_amount": amount,
        "list_price_amount": listed,
        "currency": pc.if_else(present(currency), pc.ascii_upper(currency), _NO_TEXT),
        "inventory_quantity": pa.nulls(count, pa.int64()),
        "url": column("detailPageURL"),
        "image_url": _image_url(pc.struct_field(column("images"), "primary")),
        "additional_image_urls": keep_in_lists(variants, variant_urls, variant_urls.is_valid()),
        "tags": pa.nulls(count, pa.list_(_TEXT)),
        "status": pa.nulls(count, _TEXT),
        "seller_name": pc.struct_field(listing, ["merchantInfo", "name"]),
        "source_created_at": pa.nulls(count, pa.timestamp("us", tz="UTC")),
        "source_updated_at": pa.nulls(count, pa.timestamp("us", tz="UTC")),
    }
    bad = pc.or_(pc.invert(present(column("asin"))), title.is_null())
    for other in (amount_bad, listed_bad, currency_bad, gtin_bad, description_bad,
                  condition_bad, availability_bad):  # fmt: skip
        bad = pc.or_(bad, other)
    return pa.table(rows), bad


def _first(lists: pa.Array) -> pa.Array:
    """The first element of each list (null for a null or empty list)."""
    first = pc.list_slice(lists, 0, 1)
    at = pc.list_parent_indices(first)
    found = records_in(at, len(lists))
    positions = pa.array(np.arange(len(at)), pa.int64())
    index = pc.replace_with_mask(pa.nulls(len(lists), pa.int64()), found, positions)
    return pc.take(pc.list_flatten(first), index)


def _amount(values: pa.Array) -> tuple[pa.Array, pa.Array]:
    """``Decimal(str(amount))`` of a number that prints as a plain decimal (Arrow and Python
    both print the shortest form that reads back)."""
    return money(pc.cast(values, _TEXT))


def _ascii(values: pa.Array) -> tuple[pa.Array, pa.Array]:
    """The values, and where one is not ASCII (Python changes its case otherwise)."""
    return values, pc.invert(pc.fill_null(pc.string_is_ascii(values), True))


def _gtin(ids: pa.Array) -> tuple[pa.Array, pa.Array]:
    """The first EAN, else the first UPC; a null one would print as "None": the reference."""
    eans = pc.struct_field(ids, ["eans", "displayValues"])
    upcs = pc.struct_field(ids, ["upcs", "displayValues"])
    has_eans = pc.fill_null(pc.greater(pc.list_value_length(eans), 0), False)
    chosen = pc.if_else(has_eans, eans, upcs)
    given = pc.fill_null(pc.greater(pc.list_value_length(chosen), 0), False)
    first = pc.list_element(pc.if_else(given, chosen, pa.scalar([""], pa.list_(_TEXT))), 0)
    return pc.if_else(given, first, _NO_TEXT), pc.and_(given, first.is_null())


def _description(features: pa.Array) -> tuple[pa.Array, pa.Array]:
    """The stripped, non-blank bullets joined by newlines; a null bullet: the reference."""
    values = pc.list_flatten(features)
    stripped = pc.utf8_trim(values, PY_WHITESPACE)
    kept = keep_in_lists(features, stripped, pc.fill_null(pc.not_equal(stripped, ""), False))
    nulls = records_in(pc.list_parent_indices(features).filter(values.is_null()), len(features))
    return pc.binary_join(kept, "\n"), nulls


def _condition(values: pa.Array) -> tuple[pa.Array, pa.Array]:
    key = pc.ascii_lower(pc.utf8_trim(values, PY_WHITESPACE))
    return _lookup(key, CONDITION), _ascii(values)[1]


def _availability(values: pa.Array) -> tuple[pa.Array, pa.Array]:
    key = pc.replace_substring_regex(pc.ascii_upper(values), "[^A-Z]", "")
    return _lookup(key, AVAILABILITY), _ascii(values)[1]


def _lookup(keys: pa.Array, table: dict[str, str]) -> pa.Array:
    """``table.get(key, "unknown")``."""
    index = pc.index_in(keys, value_set=pa.array(list(table), _TEXT))
    return pc.fill_null(pc.take(pa.array(list(table.values()), _TEXT), index), "unknown")


def _image_url(images: pa.Array) -> pa.Array:
    """The first non-empty URL of the large, hiRes, medium and small renditions."""
    urls = [
        pc.struct_field(images, [size, "url"]) for size in ("large", "hiRes", "medium", "small")
    ]
    return pc.coalesce(*[pc.if_else(present(url), url, _NO_TEXT) for url in urls])


def _category_path(info: pa.Array) -> pa.Array:
    """The names of the first node and its ancestors, root first (a node's ``displayName`` or
    else its ``contextFreeName``; a node with neither adds nothing)."""
    count = len(info)
    first = pc.list_slice(pc.struct_field(info, "browseNodes"), 0, 1)
    node, parents = pc.list_flatten(first), pc.list_parent_indices(first)
    levels = []
    for _ in range(LADDER):
        shown, plain = (
            pc.struct_field(node, "displayName"),
            pc.struct_field(node, "contextFreeName"),
        )
        levels.append(pc.if_else(present(shown), shown, plain))
        if node.type.field("ancestor").type != pa.null():
            node = pc.struct_field(node, "ancestor")
    # Each item's names deepest level first: level j of item i sits at j * items + i.
    items = len(parents)
    order = (np.arange(LADDER - 1, -1, -1)[None, :] * items + np.arange(items)[:, None]).ravel()
    names = pc.take(pa.concat_arrays(levels), pa.array(order, pa.int64()))
    owners = pc.take(parents, pa.array(np.repeat(np.arange(items), LADDER), pa.int64()))
    named = present(names)
    return lists_of(names.filter(named), owners.filter(named), count)
