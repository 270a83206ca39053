"""The current catalog: the latest committed row of each product, deleted ones left out.

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
from pipelines.lake.lake import PARTITIONING, Lake
from pipelines.lake.schema import BUSINESS_COLUMNS, PRODUCT_SCHEMA

# What an export carries of each row: the business columns, the checked GTIN-14, and when
# and by which run the row was read. The hashes, change type and schema version are the
# lake's bookkeeping.
EXPORT_COLUMNS = (*BUSINESS_COLUMNS, "gtin14", "fetched_at", "run_id")
_ORDER = [("source", "ascending"), ("source_id", "ascending"),
          ("fetched_at", "descending"), ("run_id", "descending")]  # fmt: skip


@dataclass(frozen=True)
class Catalog:
    """The current rows (``EXPORT_COLUMNS``, sorted by source and source_id) and where they
    come from."""

    table: pa.Table
    lake_uri: str
    last_run_id: str | None  # the lake's newest committed run
    exported_at: datetime  # UTC

    def providers(self) -> list[str]:
        """The providers with rows, in name order."""
        return sorted(set(self.table.column("source").to_pylist()))

    def rows_of(self, source: str) -> pa.Table:
        return self.table.filter(pc.equal(self.table.column("source"), source))


def read_catalog(lake: Lake, providers: Sequence[str] | None, now: datetime) -> Catalog:
    """The current catalog of ``lake``, of ``providers`` only when given."""
    _check_whole(lake)
    dataset = lake.dataset("normalized", pa.unify_schemas([PRODUCT_SCHEMA, PARTITIONING]))
    wanted = pc.field("source").isin(pa.array(list(providers), pa.string())) if providers else None
    table = latest_rows(dataset.to_table(columns=[*EXPORT_COLUMNS, "change_type"], filter=wanted))
    ids = lake.manifest_ids()
    return Catalog(table.select(EXPORT_COLUMNS), lake.uri, ids[-1] if ids else None, now)


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
