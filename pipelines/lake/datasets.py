"""The datasets a lake holds, and where each of their tables lives.

A dataset is what one provider pull returns (``products``; ``orders`` with its lines). Each of
its tables is a lake of its own (``pipelines/lake/lake.py``: raw, normalized, quarantine,
manifests, dedup state): the product table is the lake's root, as it always was, and every
other table sits in a folder named after it (``orders/``, ``order_lines/``). Existing product
lakes therefore read and write unchanged. A dataset's raw records land, redacted when the
dataset holds buyer data (``pipelines/net/pii.py``), in its first table's lake, so a raw file's
place tells its dataset (``raw_dataset``).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import PurePath
from typing import Any

import pyarrow as pa

from pipelines.errors import ConfigError
from pipelines.lake.dedup import STATE_DIR
from pipelines.lake.manifest import MANIFEST_DIR
from pipelines.lake.order_schema import (
    ORDER_DESCRIPTIONS,
    ORDER_LINE_DESCRIPTIONS,
    ORDER_LINES_SCHEMA,
    ORDER_VOLUMES,
    ORDERS_SCHEMA,
    hash_order,
    hash_order_line,
)
from pipelines.lake.schema import COLUMN_DESCRIPTIONS, PRODUCT_SCHEMA, hash_content
from pipelines.lake.storage import Storage
from pipelines.lake.volumes import Volume

PRODUCTS = "products"


@dataclass(frozen=True)
class Table:
    """One table of a dataset: its schema, column docs, content hash and lake folder."""

    name: str
    schema: pa.Schema
    descriptions: dict[str, str]
    hash_content: Callable[[dict[str, Any]], str]
    folder: str  # "" for the lake's root

    def storage(self, root: Storage) -> Storage:
        """Where this table's lake is, under the lake at ``root``."""
        return root.child(self.folder) if self.folder else root

    @property
    def quarantine_schema(self) -> pa.Schema:
        return self.schema.append(pa.field("reasons", pa.list_(pa.string())))


@dataclass(frozen=True)
class Dataset:
    """A dataset: its tables (the first one holds the raw records), whether it holds
    buyer data (then raw records are scrubbed and API answers are never cached) and the
    volumes the anomaly detector watches (products: the run's own counters instead)."""

    name: str
    tables: tuple[Table, ...]
    personal_data: bool = False
    volumes: tuple[Volume, ...] = ()

    @property
    def home(self) -> Table:
        return self.tables[0]


DATASETS: dict[str, Dataset] = {
    PRODUCTS: Dataset(
        PRODUCTS, (Table("products", PRODUCT_SCHEMA, COLUMN_DESCRIPTIONS, hash_content, ""),)
    ),
    "orders": Dataset(
        "orders",
        (
            Table("orders", ORDERS_SCHEMA, ORDER_DESCRIPTIONS, hash_order, "orders"),
            Table(
                "order_lines",
                ORDER_LINES_SCHEMA,
                ORDER_LINE_DESCRIPTIONS,
                hash_order_line,
                "order_lines",
            ),
        ),
        personal_data=True,
        volumes=ORDER_VOLUMES,
    ),
}


def parse_datasets(names: Any, where: str) -> tuple[str, ...]:
    """Dataset names from ``--datasets`` or ``[pipeline] datasets``; an unknown one is a
    ``ConfigError`` naming ``where``."""
    if isinstance(names, str):
        names = [n.strip() for n in names.split(",") if n.strip()]
    if not isinstance(names, list | tuple) or not names:
        raise ConfigError(f"{where}: expected dataset names, e.g. products,orders")
    unknown = [n for n in names if n not in DATASETS]
    if unknown:
        raise ConfigError(
            f"{where}: no such dataset {', '.join(map(str, unknown))} "
            f"(known: {', '.join(DATASETS)})"
        )
    return tuple(dict.fromkeys(names))


def raw_dataset(path: PurePath) -> str:
    """The dataset of a raw landing file: the dataset whose first table's folder holds its
    ``raw/dt=…/source=…/`` folders (``orders/raw/…``), else products (``raw/…`` at the root)."""
    parts = path.parts
    for at in range(len(parts) - 1, 2, -1):
        if parts[at].startswith("source=") and parts[at - 2] == "raw":
            folder = parts[at - 3]
            break
    else:
        return PRODUCTS
    found = [d.name for d in DATASETS.values() if d.home.folder and d.home.folder == folder]
    return found[0] if found else PRODUCTS


def present_tables(root: Storage) -> list[Table]:
    """Every table of the lake at ``root`` that holds a commit or a state (products, always)."""
    return [
        table
        for dataset in DATASETS.values()
        for table in dataset.tables
        if not table.folder
        or any(table.storage(root).list_files(zone) for zone in (MANIFEST_DIR, STATE_DIR))
    ]
