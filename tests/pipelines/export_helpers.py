"""Lakes for the export tests: product rows committed through the lake's own writer."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import pyarrow as pa

from pipelines.lake.lake import Lake, PartWriter
from pipelines.lake.manifest import Manifest
from pipelines.lake.schema import PRODUCT_SCHEMA, SCHEMA_VERSION

DT = "2026-12-05"


def product(source: str, source_id: str, **values: Any) -> dict[str, Any]:
    """A canonical row that qualifies everywhere, ``values`` replacing its columns."""
    row: dict[str, Any] = dict.fromkeys(PRODUCT_SCHEMA.names)
    row |= {
        "source": source, "source_id": source_id, "title": f"Product {source_id}",
        "description": f"About {source_id}.", "condition": "new", "availability": "in_stock",
        "price_amount": Decimal("12.5000"), "currency": "USD", "brand": "Acme",
        "url": f"https://shop.example/p/{source_id}", "image_url": "https://img.example/1.jpg",
        "inventory_quantity": 3, "tags": ["a", "b"],
        "source_updated_at": datetime(2026, 12, 4, 9, 30, tzinfo=UTC),
        "fetched_at": datetime(2026, 12, 5, 10, 0, tzinfo=UTC), "run_id": "r",
        "raw_hash": "0" * 64, "content_hash": "0" * 64, "change_type": "new",
        "schema_version": SCHEMA_VERSION,
    }  # fmt: skip
    return row | values


def commit(root: Path, run_id: str, rows: list[dict[str, Any]], manifest: bool = True) -> None:
    """Write ``rows`` as ``run_id``'s normalized parts and commit them (or, with
    ``manifest=False``, leave them in place uncommitted, as a killed run would)."""
    lake = Lake(root)
    fetched = datetime.strptime(run_id[:16], "%Y%m%dT%H%M%SZ").replace(tzinfo=UTC)
    staged = []
    for source in dict.fromkeys(row["source"] for row in rows):
        group = [row | {"run_id": run_id, "fetched_at": fetched} for row in rows
                 if row["source"] == source]  # fmt: skip
        file = lake.part_file(root / "_work" / run_id, "normalized", DT, source, run_id)
        writer = PartWriter(file, PRODUCT_SCHEMA, 1000)
        writer.write(pa.Table.from_pylist(group, PRODUCT_SCHEMA))
        staged.append(writer.close())
    if manifest:
        lake.commit(Manifest(run_id, DT), staged)
    else:
        for item in staged:
            lake.storage.put_file(item.staged, item.path)
