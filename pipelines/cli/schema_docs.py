"""The canonical tables described for readers: a Markdown table and a JSON Schema each.

Generated from ``PRODUCT_SCHEMA`` and ``COLUMN_DESCRIPTIONS`` (pipelines/lake/schema.py) and the
order tables (pipelines/lake/order_schema.py) by ``python -m pipelines.cli.docs``; a test fails
when the committed copies drift.
"""

from __future__ import annotations

from typing import Any

import pyarrow as pa

from pipelines.lake.order_schema import (
    FINANCIAL_STATUSES,
    FULFILLMENT_STATUSES,
    ORDER_DESCRIPTIONS,
    ORDER_LINE_DESCRIPTIONS,
    ORDER_LINES_SCHEMA,
    ORDER_SCHEMA_VERSION,
    ORDERS_SCHEMA,
)
from pipelines.lake.schema import (
    AVAILABILITIES,
    CHANGE_TYPES,
    COLUMN_DESCRIPTIONS,
    CONDITIONS,
    PRODUCT_SCHEMA,
    SCHEMA_VERSION,
)

SCHEMA_ID = "products.schema.json"
ENUMS = {
    "condition": CONDITIONS, "availability": AVAILABILITIES, "change_type": CHANGE_TYPES,
    "financial_status": FINANCIAL_STATUSES, "fulfillment_status": FULFILLMENT_STATUSES,
}  # fmt: skip
# The order tables: (JSON Schema file, title, schema, descriptions), by docs marker name.
ORDER_TABLES = {
    "orders-schema": ("orders.schema.json", "Order row", ORDERS_SCHEMA, ORDER_DESCRIPTIONS),
    "order-lines-schema": (
        "order_lines.schema.json", "Order line row", ORDER_LINES_SCHEMA, ORDER_LINE_DESCRIPTIONS,
    ),
}  # fmt: skip
# Decimal money travels as a string (no float rounding), as in the lake's canonical JSON.
_DECIMAL_PATTERN = r"^-?[0-9]{1,14}(\.[0-9]{1,4})?$"


def schema_markdown(
    schema: pa.Schema = PRODUCT_SCHEMA,
    descriptions: dict[str, str] = COLUMN_DESCRIPTIONS,
    version: int = SCHEMA_VERSION,
) -> str:
    """One row per column: name, Arrow type, nullable, description."""
    lines = [
        f"Schema version {version}, in table order. In the lake, `source` (and `dt`, "
        "the run's UTC date) live in the partition folder names, not inside the Parquet parts.",
        "",
        "| column | Arrow type | nullable | description |",
        "|---|---|---|---|",
    ]
    for f in schema:
        nullable = "yes" if f.nullable else "no"
        lines.append(f"| `{f.name}` | `{f.type}` | {nullable} | {descriptions[f.name]} |")
    return "\n".join(lines)


def _json_type(arrow_type: pa.DataType) -> dict[str, Any]:
    if pa.types.is_string(arrow_type):
        return {"type": "string"}
    if pa.types.is_decimal(arrow_type):
        return {"type": "string", "pattern": _DECIMAL_PATTERN}
    if pa.types.is_timestamp(arrow_type):
        return {"type": "string", "format": "date-time"}
    if pa.types.is_boolean(arrow_type):
        return {"type": "boolean"}
    if pa.types.is_integer(arrow_type):
        return {"type": "integer"}
    if pa.types.is_list(arrow_type):
        return {"type": "array", "items": _json_type(arrow_type.value_type)}
    raise TypeError(f"no JSON Schema mapping for Arrow type {arrow_type}")


def _column(field: pa.Field, description: str) -> dict[str, Any]:
    spec = _json_type(field.type)
    if field.name in ENUMS:
        spec["enum"] = list(ENUMS[field.name])
    if field.nullable:
        spec = {"anyOf": [spec, {"type": "null"}]}
    return {"description": description, "x-arrow-type": str(field.type), **spec}


def table_json_schema(
    schema_id: str, title: str, schema: pa.Schema, descriptions: dict[str, str], source: str
) -> dict[str, Any]:
    """A JSON Schema (2020-12) of one row, as JSON (money and times as strings)."""
    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "$id": schema_id,
        "title": title,
        "description": f"One row of the lake's normalized table; generated from {source} by "
        "python -m pipelines.cli.docs.",
        "type": "object",
        "properties": {f.name: _column(f, descriptions[f.name]) for f in schema},
        "required": [f.name for f in schema],
        "additionalProperties": False,
    }


def product_json_schema() -> dict[str, Any]:
    """The JSON Schema of one product row."""
    return table_json_schema(
        SCHEMA_ID, f"Product row (schema version {SCHEMA_VERSION})", PRODUCT_SCHEMA,
        COLUMN_DESCRIPTIONS, "pipelines/lake/schema.py",
    )  # fmt: skip


def order_docs() -> dict[str, tuple[str, str, dict[str, Any]]]:
    """Per docs marker: the JSON Schema file name, the Markdown table, the JSON Schema."""
    docs = {}
    for marker, (schema_id, title, schema, descriptions) in ORDER_TABLES.items():
        json_schema = table_json_schema(
            schema_id, f"{title} (order schema version {ORDER_SCHEMA_VERSION})", schema,
            descriptions, "pipelines/lake/order_schema.py",
        )  # fmt: skip
        markdown = schema_markdown(schema, descriptions, ORDER_SCHEMA_VERSION)
        docs[marker] = (schema_id, markdown, json_schema)
    return docs
