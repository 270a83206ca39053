"""The canonical order tables: ``orders`` (one row per order) and ``order_lines`` (one per line).

Versioned like the product table (``ORDER_SCHEMA_VERSION``; bump it on any column change).
Money is decimal(18,4) with an ISO 4217 ``currency``; timestamps are UTC. Statuses use one
vocabulary for every provider (``FINANCIAL_STATUSES``, ``FULFILLMENT_STATUSES``). Nothing
here can hold a buyer's name, email, phone or street: the only buyer columns are the
shipping country and region, and ``buyer_key``, a keyed hash that exists only when the
operator set the secret (docs/orders.md).
"""

from __future__ import annotations

import hashlib
from typing import Any

import pyarrow as pa

from pipelines.lake.schema import LINEAGE_FIELDS, MONEY, TIMESTAMP, canonical_json
from pipelines.lake.volumes import Volume

ORDER_SCHEMA_VERSION = 1

FINANCIAL_STATUSES = (
    "pending", "authorized", "paid", "partially_paid", "partially_refunded", "refunded",
    "voided", "expired", "unknown",
)  # fmt: skip
FULFILLMENT_STATUSES = (
    "unfulfilled", "partially_fulfilled", "fulfilled", "in_progress", "on_hold", "scheduled",
    "restocked", "unknown",
)  # fmt: skip

ORDER_FIELDS: tuple[pa.Field, ...] = (
    pa.field("source", pa.string(), nullable=False),
    pa.field("source_id", pa.string(), nullable=False),
    pa.field("order_number", pa.string()),
    pa.field("marketplace", pa.string()),
    pa.field("created_at", TIMESTAMP),
    pa.field("source_updated_at", TIMESTAMP),
    pa.field("closed_at", TIMESTAMP),
    pa.field("cancelled_at", TIMESTAMP),
    pa.field("financial_status", pa.string(), nullable=False),
    pa.field("fulfillment_status", pa.string(), nullable=False),
    pa.field("currency", pa.string(), nullable=False),
    pa.field("taxes_included", pa.bool_()),
    pa.field("subtotal_amount", MONEY),
    pa.field("shipping_amount", MONEY),
    pa.field("tax_amount", MONEY),
    pa.field("discount_amount", MONEY),
    pa.field("total_amount", MONEY),
    pa.field("refunded_amount", MONEY),
    pa.field("line_count", pa.int32()),
    pa.field("ship_country", pa.string()),
    pa.field("ship_region", pa.string()),
    pa.field("buyer_key", pa.string()),
)

ORDER_LINE_FIELDS: tuple[pa.Field, ...] = (
    pa.field("source", pa.string(), nullable=False),
    pa.field("source_id", pa.string(), nullable=False),
    pa.field("order_id", pa.string(), nullable=False),
    pa.field("product_id", pa.string()),
    pa.field("variant_id", pa.string()),
    pa.field("sku", pa.string()),
    pa.field("gtin", pa.string()),
    pa.field("quantity", pa.int64(), nullable=False),
    pa.field("currency", pa.string(), nullable=False),
    pa.field("unit_price_amount", MONEY),
    pa.field("discount_amount", MONEY),
    pa.field("tax_amount", MONEY),
    pa.field("line_total_amount", MONEY),
    pa.field("refunded_quantity", pa.int64()),
    pa.field("source_updated_at", TIMESTAMP),
)


def _table(fields: tuple[pa.Field, ...]) -> pa.Schema:
    metadata = {"schema_version": str(ORDER_SCHEMA_VERSION)}
    return pa.schema(fields + LINEAGE_FIELDS, metadata=metadata)


ORDERS_SCHEMA = _table(ORDER_FIELDS)
ORDER_LINES_SCHEMA = _table(ORDER_LINE_FIELDS)

_MONEY_NOTE = "in `currency` (decimal(18,4))"
LINEAGE_DESCRIPTIONS: dict[str, str] = {
    "fetched_at": "When this run read the record (UTC)",
    "run_id": "The run that wrote the row",
    "raw_hash": "sha256 of the redacted raw record's canonical JSON",
    "content_hash": "sha256 of the business columns except `source_updated_at`",
    "change_type": "`new` or `changed`",
    "schema_version": "The order schema version that wrote the row",
}
ORDER_DESCRIPTIONS: dict[str, str] = {
    "source": "Provider name; also the `source=` partition",
    "source_id": "The provider's order id",
    "order_number": "The order's name or number as the seller sees it (e.g. `#1001`)",
    "marketplace": "Shop domain or marketplace id",
    "created_at": "When the order was placed (UTC)",
    "source_updated_at": "When the provider last changed the order (UTC; not hashed)",
    "closed_at": "When the order was closed (UTC), else null",
    "cancelled_at": "When the order was cancelled (UTC), else null",
    "financial_status": "One of " + ", ".join(f"`{s}`" for s in FINANCIAL_STATUSES),
    "fulfillment_status": "One of " + ", ".join(f"`{s}`" for s in FULFILLMENT_STATUSES),
    "currency": "ISO 4217 code of every amount of the order and its lines",
    "taxes_included": "True when the line prices include tax (the tax is not added on top)",
    "subtotal_amount": f"Lines before discounts {_MONEY_NOTE}",
    "shipping_amount": f"Shipping charged {_MONEY_NOTE}",
    "tax_amount": f"Tax {_MONEY_NOTE}",
    "discount_amount": f"Discounts, order and line level together, {_MONEY_NOTE}",
    "total_amount": f"What the buyer was charged when the order was placed {_MONEY_NOTE}",
    "refunded_amount": f"Refunded so far {_MONEY_NOTE}",
    "line_count": "Number of lines",
    "ship_country": "Shipping country, ISO 3166-1 alpha-2 (the only location kept)",
    "ship_region": "Shipping region or province code",
    "buyer_key": "HMAC-SHA256 of the provider's customer id with the operator's secret; "
    "null without the secret",
    **LINEAGE_DESCRIPTIONS,
}
ORDER_LINE_DESCRIPTIONS: dict[str, str] = {
    "source": "Provider name; also the `source=` partition",
    "source_id": "The provider's line id",
    "order_id": "The order's `source_id`",
    "product_id": "The product's id (joins `products.source_parent_id`)",
    "variant_id": "The variant's id (joins `products.source_id` on `source`)",
    "sku": "Seller's stock keeping unit",
    "gtin": "Barcode, when the provider gives one",
    "quantity": "Units ordered",
    "currency": "ISO 4217 code (the order's)",
    "unit_price_amount": f"Price of one unit before discounts {_MONEY_NOTE}",
    "discount_amount": f"Discounts allocated to the line {_MONEY_NOTE}",
    "tax_amount": f"Tax of the line {_MONEY_NOTE}",
    "line_total_amount": f"unit price × quantity − discounts {_MONEY_NOTE}",
    "refunded_quantity": "Units refunded or removed since",
    "source_updated_at": "When the provider last changed the order (UTC; not hashed)",
    **LINEAGE_DESCRIPTIONS,
}

_NOT_HASHED = {"source_updated_at"}
_ORDER_HASHED = tuple(sorted(f.name for f in ORDER_FIELDS if f.name not in _NOT_HASHED))
_LINE_HASHED = tuple(sorted(f.name for f in ORDER_LINE_FIELDS if f.name not in _NOT_HASHED))


def hash_business(row: dict[str, Any], columns: tuple[str, ...]) -> str:
    """sha256 of ``columns`` of ``row`` (sorted names): a status or refund change moves it."""
    return hashlib.sha256(canonical_json({k: row.get(k) for k in columns})).hexdigest()


def hash_order(row: dict[str, Any]) -> str:
    return hash_business(row, _ORDER_HASHED)


def hash_order_line(row: dict[str, Any]) -> str:
    return hash_business(row, _LINE_HASHED)


# What the volume anomaly detector watches (docs/quality.md#orders): the orders each pull
# fetched, per run, and the revenue of the orders placed each UTC day, per currency.
ORDER_VOLUMES = (
    Volume("orders_fetched", counter="records"),
    Volume("revenue", table="orders", amount="total_amount", day="created_at", by="currency"),
)
