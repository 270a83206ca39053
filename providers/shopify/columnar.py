"""Shopify product nodes to canonical rows with Arrow compute: the batch form of ``normalize.py``.

A block of product nodes is converted to Arrow once (an explicit schema of the fields read),
the variants are flattened with ``list_flatten``/``list_parent_indices`` and every column is
computed over the whole block. ``normalize_product`` stays the reference: a record this path
does not map exactly as the reference would (a missing id, a price or timestamp outside the
plain forms Shopify sends, a value of an unexpected type) is left to it, so both give the
same rows (tests/providers/shopify/test_columnar.py)
"""

from __future__ import annotations

from typing import Any

import pyarrow as pa
import pyarrow.compute as pc

from providers.batch import NormalizedBlock, case, money, present, split_block, text, utc_times
from providers.identifiers import PY_WHITESPACE
from providers.shopify.normalize import DEFAULT_VARIANT_TITLE, SOURCE

_TIME = r"^[0-9]{4}-[0-9]{2}-[0-9]{2}T([01][0-9]|2[0-3]):[0-5][0-9]:[0-5][0-9]Z$"

_TEXT = pa.string()
_VARIANT_GID = "gid://shopify/ProductVariant/"


def _schema(quantity: pa.DataType) -> pa.Schema:
    """The fields read of a product node, ``inventoryQuantity`` typed ``quantity``."""
    variant = pa.struct(
        [
            ("id", _TEXT), ("title", _TEXT), ("sku", _TEXT), ("barcode", _TEXT),
            ("price", _TEXT), ("compareAtPrice", _TEXT), ("inventoryQuantity", quantity),
            ("availableForSale", pa.bool_()), ("createdAt", _TEXT), ("updatedAt", _TEXT),
        ]
    )  # fmt: skip
    return pa.schema(
        [
            ("id", _TEXT), ("title", _TEXT), ("vendor", _TEXT), ("description", _TEXT),
            ("productType", _TEXT), ("status", _TEXT), ("tags", pa.list_(_TEXT)),
            ("createdAt", _TEXT), ("updatedAt", _TEXT), ("onlineStoreUrl", _TEXT),
            ("featuredMedia", pa.struct(
                [("preview", pa.struct([("image", pa.struct([("url", _TEXT)]))]))])),
            ("variants", pa.struct([("nodes", pa.list_(variant))])),
            ("__shop", pa.struct([("currencyCode", _TEXT), ("myshopifyDomain", _TEXT)])),
        ]
    )  # fmt: skip


# From Python objects: decimal refuses floats and bools where int64 would take them.
RAW_SCHEMA = _schema(pa.decimal128(38, 0))
# From landed JSON lines (pyarrow.json refuses 3.0, 1e2, true and numbers past int64 there).
JSON_SCHEMA = _schema(pa.int64())
# Only the variant ids (``variant_ids``).
KEY_SCHEMA = pa.schema([("variants", pa.struct([("nodes", pa.list_(pa.struct([("id", _TEXT)])))]))])


def normalize_block(raws: list[dict[str, Any]]) -> NormalizedBlock:
    """Rows for the records of ``raws`` this path maps; the others are left to the reference."""
    table = _to_arrow(raws)
    if table is None:
        return split_block(raws, normalize_block)
    return normalize_table(table)


def normalize_table(table: pa.Table | pa.RecordBatch) -> NormalizedBlock:
    """Rows for the product nodes of ``table`` (``RAW_SCHEMA`` or ``JSON_SCHEMA``) this path
    maps; the indices of the others, left to the reference."""
    table = _one_batch(table)
    if not len(table):
        return NormalizedBlock(None, [])
    rows, parent, bad_rows = _rows(table)
    bad = _bad_products(table, parent, bad_rows)
    keep = pc.invert(pc.take(bad, parent))
    rows = rows.filter(keep).append_column("__record", pc.filter(parent, keep))
    rest = pc.indices_nonzero(bad).to_pylist()
    return NormalizedBlock(rows, rest)


def variant_ids(table: pa.Table) -> tuple[pa.Array, pa.Array]:
    """Every product node's variant ids (``raw_keys``) and the index of the node giving each."""
    nodes = pc.struct_field(_one_batch(table).column("variants"), "nodes")
    ids = pc.struct_field(pc.list_flatten(nodes), "id")
    return ids, pc.list_parent_indices(nodes).cast(pa.int64())


def _one_batch(table: pa.Table | pa.RecordBatch) -> pa.RecordBatch:
    """``table`` as one record batch (the column functions here take arrays, not chunks)."""
    if isinstance(table, pa.RecordBatch):
        return table
    batches = table.combine_chunks().to_batches()
    return batches[0] if batches else pa.RecordBatch.from_pylist([], schema=table.schema)


def _to_arrow(raws: list[dict[str, Any]]) -> pa.RecordBatch | None:
    try:
        table = pa.RecordBatch.from_pylist(raws, schema=RAW_SCHEMA)
        nodes = pc.struct_field(table.column("variants"), "nodes")
        pc.cast(pc.list_flatten(nodes).field("inventoryQuantity"), pa.int64())  # fits int64
    except (pa.ArrowInvalid, pa.ArrowTypeError, OverflowError, TypeError, ValueError):
        return None
    return table


def _rows(table: pa.RecordBatch) -> tuple[pa.Table, pa.Array, pa.Array]:
    """Every variant's row, the index of its product, and the rows the reference must map.

    Long because it is the whole column mapping of ``normalize_product``, one line a column.
    """
    nodes = pc.struct_field(table.column("variants"), "nodes")
    parent = pc.list_parent_indices(nodes)
    variant = pc.list_flatten(nodes)
    product = _product_columns(table).take(parent)
    several = pc.greater(pc.take(pc.list_value_length(nodes), parent), 1)
    field = variant.field
    price, price_bad = money(field("price"))
    listed, listed_bad = money(field("compareAtPrice"))
    created, created_bad = _time(field("createdAt"), product.column("createdAt"))
    updated, updated_bad = _time(field("updatedAt"), product.column("updatedAt"))
    quantity = pc.cast(field("inventoryQuantity"), pa.int64())
    bad = pc.or_kleene(pc.or_kleene(price_bad, listed_bad), pc.or_kleene(created_bad, updated_bad))
    bad = pc.or_(pc.fill_null(bad, True), pc.invert(present(field("id"))))
    bad = pc.or_(bad, variant.is_null())
    rows = {
        "source": pa.repeat(SOURCE, len(variant)),
        "source_id": field("id"),
        "source_parent_id": product.column("source_parent_id"),
        "marketplace": product.column("marketplace"),
        "sku": text(field("sku")),
        "gtin": text(field("barcode")),
        "mpn": pa.nulls(len(variant), pa.string()),
        "brand": product.column("brand"),
        "title": _title(product.column("title"), field("title")),
        "description": product.column("description"),
        "product_type": product.column("product_type"),
        "category_path": pa.nulls(len(variant), pa.list_(pa.string())),
        "condition": pa.repeat("new", len(variant)),
        "availability": _availability(field("availableForSale"), quantity),
        "price_amount": price,
        "list_price_amount": listed,
        "currency": product.column("currency"),
        "inventory_quantity": quantity,
        "url": _url(product.column("url"), product.column("variant_url"), field("id"), several),
        "image_url": product.column("image_url"),
        "additional_image_urls": pa.nulls(len(variant), pa.list_(pa.string())),
        "tags": product.column("tags"),
        "status": product.column("status"),
        "seller_name": pa.nulls(len(variant), pa.string()),
        "source_created_at": created,
        "source_updated_at": updated,
    }
    return pa.table(rows), parent, bad


def _product_columns(table: pa.RecordBatch) -> pa.Table:
    """What a variant's row takes of its product node, worked out once per product."""
    shop = table.column("__shop")
    url = text(table.column("onlineStoreUrl"))
    separator = pc.if_else(pc.match_substring(url, "?"), "&", "?")
    columns = {
        "source_parent_id": table.column("id"),
        "marketplace": text(pc.struct_field(shop, "myshopifyDomain")),
        "brand": text(table.column("vendor")),
        "title": pc.utf8_trim(table.column("title"), PY_WHITESPACE),
        "description": text(table.column("description")),
        "product_type": text(table.column("productType")),
        "currency": case(pc.struct_field(shop, "currencyCode"), pc.utf8_upper),
        "url": url,
        "variant_url": pc.binary_join_element_wise(url, separator, "variant=", ""),
        "image_url": text(_image(table.column("featuredMedia"))),
        "tags": _tags(table.column("tags")),
        "status": case(table.column("status"), pc.utf8_lower),
        "createdAt": table.column("createdAt"),
        "updatedAt": table.column("updatedAt"),
    }
    return pa.table(columns)


def _bad_products(table: pa.RecordBatch, parent: pa.Array, bad_rows: pa.Array) -> pa.Array:
    """Products the reference must map: no id, no title, no variants, odd tags, or a bad row."""
    nodes = pc.struct_field(table.column("variants"), "nodes")
    tags = table.column("tags")
    bad = pc.or_(pc.invert(present(table.column("id"))), table.column("title").is_null())
    bad = pc.or_(bad, pc.less(pc.fill_null(pc.list_value_length(nodes), 0), 1))
    null_tags = pc.list_parent_indices(tags).filter(pc.list_flatten(tags).is_null())
    odd = pc.is_in(pa.array(range(len(table)), pa.int64()), value_set=null_tags.cast(pa.int64()))
    for column in ("status",):
        text = table.column(column)
        odd = pc.or_(odd, pc.invert(pc.fill_null(pc.string_is_ascii(text), True)))
    currency = pc.struct_field(table.column("__shop"), "currencyCode")
    odd = pc.or_(odd, pc.invert(pc.fill_null(pc.string_is_ascii(currency), True)))
    rows_bad = pc.unique(pc.filter(parent, bad_rows)).cast(pa.int64())
    bad_by_row = pc.is_in(pa.array(range(len(table)), pa.int64()), value_set=rows_bad)
    return pc.or_(pc.or_(bad, odd), bad_by_row)


def _tags(tags: pa.Array) -> pa.Array:
    """``[str(tag) for tag in raw.get("tags") or []]`` (a null tag goes to the reference)."""
    return pc.if_else(tags.is_null(), pa.scalar([], pa.list_(pa.string())), tags)


def _title(title: Any, variant: pa.Array) -> pa.Array:
    """The product's title (stripped), then `` - `` and the variant's unless that is plain."""
    option = pc.utf8_trim(pc.fill_null(variant, ""), PY_WHITESPACE)
    plain = pc.or_(pc.or_(pc.equal(title, ""), pc.equal(option, "")),
                   pc.equal(option, DEFAULT_VARIANT_TITLE))  # fmt: skip
    return pc.if_else(plain, title, pc.binary_join_element_wise(title, option, " - "))


def _availability(available: pa.Array, quantity: pa.Array) -> pa.Array:
    backorder = pc.fill_null(pc.less_equal(quantity, 0), False)
    sellable = pc.if_else(backorder, "backorder", "in_stock")
    known = pc.if_else(pc.fill_null(available, False), sellable, "out_of_stock")
    return pc.if_else(available.is_null(), "unknown", known)


def _time(variant: pa.Array, product: Any) -> tuple[pa.Array, pa.Array]:
    """``variant or product`` as UTC timestamps, and where the reference must parse it."""
    return utc_times(pc.if_else(present(variant), variant, product), _TIME)


def _url(url: Any, variant_url: Any, variant_id: pa.Array, several: pa.Array) -> pa.Array:
    """The product's URL; with several variants, ``variant_url`` and the id's number."""
    pointed = pc.binary_join_element_wise(variant_url, _id_number(variant_id), "")
    return pc.if_else(pc.fill_null(several, False), pointed, url)


def _id_number(ids: pa.Array) -> pa.Array:
    """What follows the last ``/`` of each id: a slice when every id is a variant gid."""
    tail = pc.utf8_slice_codeunits(ids, len(_VARIANT_GID))
    plain = pc.and_(pc.starts_with(ids, _VARIANT_GID), pc.invert(pc.match_substring(tail, "/")))
    if pc.all(pc.fill_null(plain, True)).as_py():
        return tail
    return pc.replace_substring_regex(ids, r"(?s)^.*/", "")


def _image(media: Any) -> pa.Array:

    return pc.struct_field(media, ["preview", "image", "url"])
