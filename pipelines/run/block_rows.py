"""A batch normalizer's rows made whole: hashes, ``gtin14`` and lineage, column by column."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

import pyarrow as pa

from pipelines.lake.row_hash import content_hashes
from pipelines.lake.schema import (
    BUSINESS_COLUMNS,
    PRODUCT_SCHEMA,
    SCHEMA_VERSION,
    TIMESTAMP,
)
from providers.identifiers import gtin14_array

# A block's rows while they are put back in record order: ``__record`` is the record's index.
BLOCK_SCHEMA = PRODUCT_SCHEMA.append(pa.field("__record", pa.int64()))


@dataclass(frozen=True)
class RunContext:
    """What every provider's processing shares within one run."""

    run_id: str
    started_at: datetime
    batch_size: int
    row_group_size: int


def typed_rows(
    rows: pa.Table, raw_hashes: list[str], positions: list[int], run: RunContext
) -> pa.Table:
    """``rows`` (business columns and ``__record``, an index into ``raw_hashes`` and
    ``positions``) in ``BLOCK_SCHEMA``, with the values the per-record path adds row by row;
    ``__record`` becomes ``positions[__record]``, the record's place in its block."""
    records = rows.column("__record").combine_chunks().cast(pa.int64())
    count = rows.num_rows
    columns = {name: rows.column(name) for name in BUSINESS_COLUMNS}
    columns["gtin14"] = gtin14_array(rows.column("gtin").combine_chunks())
    columns["fetched_at"] = pa.repeat(pa.scalar(run.started_at, TIMESTAMP), count)
    columns["run_id"] = pa.repeat(run.run_id, count)
    columns["raw_hash"] = pa.array(raw_hashes, pa.string()).take(records)
    columns["content_hash"] = content_hashes(rows)
    columns["change_type"] = pa.repeat("new", count)
    columns["schema_version"] = pa.repeat(pa.scalar(SCHEMA_VERSION, pa.int16()), count)
    columns["__record"] = pa.array(positions, pa.int64()).take(records)
    return pa.table(columns, schema=BLOCK_SCHEMA)
