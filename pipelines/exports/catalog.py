"""The current rows of a table: the latest committed row of each key, deleted ones left out.

Any table of any dataset (``pipelines/lake/datasets.py``): the products' current catalog, the
current orders and order lines alike.

Only committed data counts: the files the manifests name (``Lake.dataset``), never a file a
run is still writing. The latest row of a ``(source, source_id)`` is the one of the latest
``fetched_at`` (then ``run_id``), as in docs/lake.md. A lake that lacks a part its manifests
name (a GitHub Actions runner holds the state and manifests of earlier runs, not their data)
cannot give the whole catalog: ``read_catalog`` refuses it rather than export a part of it.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from pipelines.errors import ConfigError
from pipelines.lake.datasets import DATASETS, PRODUCTS, Table
from pipelines.lake.lake import PARTITIONING, Lake

# What an export carries of each row: every column but the lake's bookkeeping (the hashes,
# the change type and the schema version). Products: the business columns, the checked
# GTIN-14, and when and by which run the row was read.
BOOKKEEPING = ("raw_hash", "content_hash", "change_type", "schema_version")


def export_columns(table: Table) -> tuple[str, ...]:
    return tuple(name for name in table.schema.names if name not in BOOKKEEPING)


EXPORT_COLUMNS = export_columns(DATASETS[PRODUCTS].home)
_ORDER = [("source", "ascending"), ("source_id", "ascending"),
          ("fetched_at", "descending"), ("run_id", "descending")]  # fmt: skip


@dataclass(frozen=True)
class Catalog:
    """The current rows of the table ``name`` (its ``columns``, sorted by source and
    source_id) and where they come from."""

    table: pa.Table
    lake_uri: str
    last_run_id: str | None  # the table's newest committed run
    exported_at: datetime  # UTC
    name: str = PRODUCTS
    columns: tuple[str, ...] = EXPORT_COLUMNS

    def providers(self) -> list[str]:
        """The providers with rows, in name order."""
        return sorted(set(self.table.column("source").to_pylist()))

    def rows_of(self, source: str) -> pa.Table:
        return self.table.filter(pc.equal(self.table.column("source"), source))


def read_catalog(
    lake: Lake, providers: Sequence[str] | None, now: datetime, table: Table | None = None
) -> Catalog:
    """The current rows of ``table`` (default: the products) in the lake at ``lake``'s root,
    of ``providers`` only when given."""
    table = table or DATASETS[PRODUCTS].home
    lake = Lake(table.storage(lake.storage))
    _check_whole(lake)
    columns = export_columns(table)
    dataset = lake.dataset("normalized", pa.unify_schemas([table.schema, PARTITIONING]))
    wanted = pc.field("source").isin(pa.array(list(providers), pa.string())) if providers else None
    rows = latest_rows(dataset.to_table(columns=[*columns, "change_type"], filter=wanted))
    ids = lake.manifest_ids()
    last = ids[-1] if ids else None
    return Catalog(rows.select(columns), lake.uri, last, now, table.name, columns)


def latest_rows(table: pa.Table) -> pa.Table:
    """The latest row of each ``(source, source_id)`` of a change log, ``deleted`` ones out."""
    if table.num_rows == 0:
        return table
    table = table.sort_by(_ORDER)
    key = pc.binary_join_element_wise(table["source"], table["source_id"], "\x1f")
    values = key.to_numpy(zero_copy_only=False)
    first = np.ones(len(values), dtype=bool)
    first[1:] = values[1:] != values[:-1]
    table = table.filter(pa.array(first))
    return table.filter(pc.not_equal(table["change_type"], "deleted"))


def _check_whole(lake: Lake) -> None:
    present = set(lake.storage.list_files("normalized"))
    missing = [
        f["path"]
        for manifest in lake.manifests()
        for f in manifest["files"]
        if f["zone"] == "normalized" and f["path"] not in present
    ]
    if missing:
        raise ConfigError(
            f"export: {lake.uri} lacks {len(missing)} committed part(s), first {missing[0]}, "
            "so its current catalog cannot be read whole; export from the whole lake (an "
            "object-store lake, or a local one merged with download-artifacts)"
        )
