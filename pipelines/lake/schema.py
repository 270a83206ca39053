"""The canonical product table: its Arrow schema, vocabularies and hashes.

One row per purchasable unit (a Shopify variant, an Amazon ASIN, an eBay
item). Bump ``SCHEMA_VERSION`` on any column change.

Versions: 1, the first; 2 adds ``gtin14`` (a derived column, after the business ones). Parts
written at version 1 still read: a reader given ``PRODUCT_SCHEMA`` sees their ``gtin14`` as
null (``schema_version`` in each row says which version wrote it).
"""

from __future__ import annotations

import hashlib
from decimal import Decimal
from typing import Any

import orjson
import pyarrow as pa

# The vocabularies live apart (plain data, no pyarrow); they are still read from here.
from pipelines.lake.vocabularies import AVAILABILITIES as AVAILABILITIES
from pipelines.lake.vocabularies import CHANGE_TYPES as CHANGE_TYPES
from pipelines.lake.vocabularies import CONDITIONS as CONDITIONS

SCHEMA_VERSION = 2
MONEY = pa.decimal128(18, 4)
TIMESTAMP = pa.timestamp("us", tz="UTC")


# The columns a provider's normalize() fills in, in table order.
BUSINESS_FIELDS: tuple[pa.Field, ...] = (
    pa.field("source", pa.string(), nullable=False),
    pa.field("source_id", pa.string(), nullable=False),
    pa.field("source_parent_id", pa.string()),
    pa.field("marketplace", pa.string()),
    pa.field("sku", pa.string()),
    pa.field("gtin", pa.string()),
    pa.field("mpn", pa.string()),
    pa.field("brand", pa.string()),
    pa.field("title", pa.string(), nullable=False),
    pa.field("description", pa.string()),
    pa.field("product_type", pa.string()),
    pa.field("category_path", pa.list_(pa.string())),
    pa.field("condition", pa.string(), nullable=False),
    pa.field("availability", pa.string(), nullable=False),
    pa.field("price_amount", MONEY),
    pa.field("list_price_amount", MONEY),
    pa.field("currency", pa.string()),
    pa.field("inventory_quantity", pa.int64()),
    pa.field("url", pa.string()),
    pa.field("image_url", pa.string()),
    pa.field("additional_image_urls", pa.list_(pa.string())),
    pa.field("tags", pa.list_(pa.string())),
    pa.field("status", pa.string()),
    pa.field("seller_name", pa.string()),
    pa.field("source_created_at", TIMESTAMP),
    pa.field("source_updated_at", TIMESTAMP),
)

# Columns the pipeline derives from the business columns (outside the content hash, since
# they change only when a business column does): gtin14 is ``gtin`` as a checked GTIN-14.
DERIVED_FIELDS: tuple[pa.Field, ...] = (pa.field("gtin14", pa.string()),)

# The columns the pipeline adds to every row.
LINEAGE_FIELDS: tuple[pa.Field, ...] = (
    pa.field("fetched_at", TIMESTAMP, nullable=False),
    pa.field("run_id", pa.string(), nullable=False),
    pa.field("raw_hash", pa.string(), nullable=False),
    pa.field("content_hash", pa.string(), nullable=False),
    pa.field("change_type", pa.string(), nullable=False),
    pa.field("schema_version", pa.int16(), nullable=False),
)

PRODUCT_SCHEMA = pa.schema(
    BUSINESS_FIELDS + DERIVED_FIELDS + LINEAGE_FIELDS,
    metadata={"schema_version": str(SCHEMA_VERSION)},
)
BUSINESS_COLUMNS = tuple(f.name for f in BUSINESS_FIELDS)
# Columns whose values are (nearly) all distinct within a row group, one per variant or product:
# Parquet parts store them without a dictionary, which would only be built and then dropped.
PER_ROW_COLUMNS = frozenset({
    "source_id", "source_parent_id", "sku", "gtin", "gtin14", "title", "url", "image_url",
    "raw_hash", "content_hash",
})  # fmt: skip

# One line per column for the generated reference (docs/lake.md, docs/schema/); a test
# requires a description for every column of PRODUCT_SCHEMA.
COLUMN_DESCRIPTIONS: dict[str, str] = {
    "source": "Provider name (`shopify`, `amazon`, `ebay`, …); also the `source=` partition",
    "source_id": "The provider's id of the purchasable unit (variant, ASIN, item id)",
    "source_parent_id": "The provider's id of the parent product, when there is one",
    "marketplace": "Shop domain, Amazon marketplace or eBay marketplace id",
    "sku": "Seller's stock keeping unit",
    "gtin": "Barcode as the API gave it (EAN, UPC, ISBN, GTIN)",
    "mpn": "Manufacturer part number",
    "brand": "Brand or vendor",
    "title": "Listing title",
    "description": "Listing description (plain text)",
    "product_type": "The provider's product type or category name",
    "category_path": "Category names, root first",
    "condition": "One of " + ", ".join(f"`{c}`" for c in CONDITIONS),
    "availability": "One of " + ", ".join(f"`{a}`" for a in AVAILABILITIES),
    "price_amount": "Selling price in `currency` (decimal(18,4): money is never float)",
    "list_price_amount": "List or compare-at price in `currency`",
    "currency": "ISO 4217 code",
    "inventory_quantity": "Units in stock, when the provider says",
    "url": "Product page",
    "image_url": "Main image",
    "additional_image_urls": "Other images",
    "tags": "The provider's tags or keywords",
    "status": "The provider's listing status (e.g. Shopify `ACTIVE`)",
    "seller_name": "Seller or merchant name",
    "source_created_at": "When the provider says the listing was created (UTC)",
    "source_updated_at": "When the provider says the listing last changed (UTC; not hashed)",
    "gtin14": "`gtin` as a checked GTIN-14 (padded, check digit verified), else null",
    "fetched_at": "When this run read the record (UTC)",
    "run_id": "The run that wrote the row",
    "raw_hash": "sha256 of the raw record's landed line (canonical JSON)",
    "content_hash": "sha256 of the business columns except `source_updated_at`",
    "change_type": "One of " + ", ".join(f"`{c}`" for c in CHANGE_TYPES),
    "schema_version": "The schema version that wrote the row",
}
REQUIRED_COLUMNS = tuple(f.name for f in BUSINESS_FIELDS if not f.nullable)


def _json_default(value: Any) -> Any:
    if isinstance(value, Decimal):
        return format(value.normalize(), "f")
    raise TypeError(f"cannot hash a {type(value).__name__}")


def canonical_json(value: Any) -> bytes:
    """Sorted-key, compact JSON: the same bytes for the same content."""
    return orjson.dumps(value, option=orjson.OPT_SORT_KEYS, default=_json_default)


def hash_raw(raw: dict[str, Any]) -> str:
    """sha256 (hex) of a raw record's canonical JSON."""
    return hashlib.sha256(canonical_json(raw)).hexdigest()


# ``raw_hash`` of a product row. 1: ``hash_raw`` of the record parsed again; 2: sha256 of the
# record's landed line, computed once where it is read (``hash_lines``). Lines are landed as
# canonical JSON (``RawWriter``), so for them both give the same value; a line landed before
# (keys in the API's order) gets another, re-learnt lazily by dedup (docs/lake.md).
RAW_HASH_VERSION = 2


def hash_lines(lines: list[bytes]) -> list[str]:
    """sha256 (hex) of each landed line."""
    sha256 = hashlib.sha256
    return [sha256(line).hexdigest() for line in lines]


# What ``content_hash`` covers: every business column except the source's own bookkeeping
# timestamp, so a product whose only upstream change is its ``updatedAt`` stays ``unchanged``.
# Bump ``CONTENT_HASH_VERSION`` whenever this set changes: the dedup state records the version
# its hashes were made with and recomputes older ones (pipelines/lake/state_repair.py).
NOT_HASHED_COLUMNS = ("source_updated_at",)
CONTENT_HASH_VERSION = 2  # 1: every business column, source_updated_at included
# The hashed columns in canonical_json's key order, so each row's dict is built already sorted.
_HASHED_SORTED = tuple(sorted(k for k in BUSINESS_COLUMNS if k not in NOT_HASHED_COLUMNS))


def hash_content(row: dict[str, Any]) -> str:
    """Fingerprint of a row's business values: tells a real change from a cosmetic one.

    ``source_updated_at`` is left out (``NOT_HASHED_COLUMNS``): it moves whenever the source
    touches a record, whether or not a value we keep changed.
    """
    get = row.get
    business = {k: get(k) for k in _HASHED_SORTED}  # built in key order: no sort per row
    return hashlib.sha256(orjson.dumps(business, default=_json_default)).hexdigest()
