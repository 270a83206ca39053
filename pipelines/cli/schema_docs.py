"""The canonical product table described for readers: a Markdown table and a JSON Schema.

Both are generated from ``PRODUCT_SCHEMA`` and ``COLUMN_DESCRIPTIONS`` (pipelines/lake/schema.py)
by ``python -m pipelines.cli.docs``; a test fails when the committed copies drift.
"""

from __future__ import annotations

from typing import Any

import pyarrow as pa

from pipelines.lake.schema import (
    AVAILABILITIES,
    CHANGE_TYPES,
    COLUMN_DESCRIPTIONS,
    CONDITIONS,
    PRODUCT_SCHEMA,
    SCHEMA_VERSION,
)

SCHEMA_ID = "products.schema.json"
ENUMS = {"condition": CONDITIONS, "availability": AVAILABILITIES, "change_type": CHANGE_TYPES}
# Decimal money travels as a string (no float rounding), as in the lake's canonical JSON.
_DECIMAL_PATTERN = r"^-?[0-9]{1,14}(\.[0-9]{1,4})?$"


def schema_markdown() -> str:
    """One row per column: name, Arrow type, nullable, description."""
    lines = [
        f"Schema version {SCHEMA_VERSION}, in table order. In the lake, `source` (and `dt`, "
        "the run's UTC date) live in the partition folder names, not inside the Parquet parts.",
        "",
        "| column | Arrow type | nullable | description |",
        "|---|---|---|---|",
    ]
    for f in PRODUCT_SCHEMA:
        nullable = "yes" if f.nullable else "no"
        lines.append(f"| `{f.name}` | `{f.type}` | {nullable} | {COLUMN_DESCRIPTIONS[f.name]} |")
    return "\n".join(lines)


def _json_type(arrow_type: pa.DataType) -> dict[str, Any]:
    if pa.types.is_string(arrow_type):
        return {"type": "string"}
    if pa.types.is_decimal(arrow_type):
        return {"type": "string", "pattern": _DECIMAL_PATTERN}
    if pa.types.is_timestamp(arrow_type):
        return {"type": "string", "format": "date-time"}
    if pa.types.is_integer(arrow_type):
        return {"type": "integer"}
    if pa.types.is_list(arrow_type):
        return {"type": "array", "items": _json_type(arrow_type.value_type)}
    raise TypeError(f"no JSON Schema mapping for Arrow type {arrow_type}")


def _column(field: pa.Field) -> dict[str, Any]:
    spec = _json_type(field.type)
    if field.name in ENUMS:
        spec["enum"] = list(ENUMS[field.name])
    if field.nullable:
        spec = {"anyOf": [spec, {"type": "null"}]}
    return {"description": COLUMN_DESCRIPTIONS[field.name], "x-arrow-type": str(field.type),
            **spec}  # fmt: skip


def product_json_schema() -> dict[str, Any]:
    """A JSON Schema (2020-12) of one product row, as JSON (money and times as strings)."""
    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "$id": SCHEMA_ID,
        "title": f"Product row (schema version {SCHEMA_VERSION})",
        "description": "One row of the lake's normalized table; generated from "
        "pipelines/lake/schema.py by python -m pipelines.cli.docs.",
        "type": "object",
        "properties": {f.name: _column(f) for f in PRODUCT_SCHEMA},
        "required": [f.name for f in PRODUCT_SCHEMA],
        "additionalProperties": False,
    }
