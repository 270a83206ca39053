"""What a provider's batch normalizer returns (``Provider.normalize_batch``)."""

from __future__ import annotations

from dataclasses import dataclass

import pyarrow as pa
import pyarrow.compute as pc


@dataclass
class NormalizedBlock:
    """What ``normalize_batch`` made of a block of raw records.

    ``rows``: the canonical business columns (``pipelines.lake.schema.BUSINESS_FIELDS``) of
    the records it mapped, in record order, plus ``__record`` (int64, the record's index in
    the block); None when it mapped none. ``rest``: the indices of the records it left to
    ``normalize``, the reference (a record it cannot map exactly as ``normalize`` would,
    including every record ``normalize`` refuses), in ascending order.
    """

    rows: pa.Table | None
    rest: list[int]

    def join(self, other: NormalizedBlock, offset: int) -> NormalizedBlock:
        """This block followed by ``other``, whose records start at ``offset``."""
        tables = [] if self.rows is None else [self.rows]
        if other.rows is not None:
            shifted = pc.add(other.rows.column("__record"), offset)
            index = other.rows.schema.get_field_index("__record")
            tables.append(other.rows.set_column(index, "__record", shifted))
        rows = pa.concat_tables(tables) if tables else None
        return NormalizedBlock(rows, self.rest + [offset + i for i in other.rest])
