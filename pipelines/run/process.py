"""The row-level stages of one provider: normalize + quality, then dedup.

``NormalizeStage`` turns landed raw lines into canonical rows (``block_normalize``), checks
them and stages the passing rows (candidates) and the rejected ones (quarantine).
``DedupStage`` reads the candidates back, keeps what is new or changed and
stages the normalized part. Records flow in bounded batches (``batch_size``
rows), so memory does not grow with the catalog; nothing here is visible to
readers until the runner commits.
"""

from __future__ import annotations

import gc
import logging
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa

from pipelines.checks.quality import QualityChecker, example_ids
from pipelines.checks.quality_config import QualityConfig
from pipelines.errors import SchemaDriftError
from pipelines.lake.dedup import DedupCounts, DedupState
from pipelines.lake.lake import PartWriter, StagedFile
from pipelines.lake.schema import PRODUCT_SCHEMA, SCHEMA_VERSION, TIMESTAMP, hash_lines
from pipelines.run.block_normalize import BlockRows, Normalizer
from pipelines.run.block_rows import RunContext
from pipelines.run.candidates import CandidateWriter, read_candidates
from pipelines.run.counts import ProviderCounts
from pipelines.run.skip import RawSkip, read_unchanged

log = logging.getLogger("pipeline.quality")

QUARANTINE_SCHEMA = PRODUCT_SCHEMA.append(pa.field("reasons", pa.list_(pa.string())))
GC_THRESHOLD = 100_000  # allocations between two young-generation collections (default 700)


class NormalizeStage:
    """Landed raw lines of one provider → candidate rows and quarantined rows (staged Parquet).

    Lines are gathered in blocks of ``batch_size``; each block's raw hashes are the sha256 of
    its lines, its rows come from ``BlockRows`` in record order, then the quality check.
    """

    def __init__(
        self,
        provider: Normalizer,
        run: RunContext,
        quality: QualityConfig,
        candidates: StagedFile,
        quarantine: StagedFile,
        unchanged: StagedFile | None = None,
        state: DedupState | None = None,
    ) -> None:
        self.provider, self.run = provider, run
        self.counts = ProviderCounts()
        self.checker = QualityChecker(quality)
        self.skip = None  # given the committed state: unchanged raw skipped (``skip.py``)
        if unchanged is not None and state is not None:
            self.skip = RawSkip(state, provider.name, self.checker, unchanged)
        self.rows = BlockRows(provider, run, self.counts, self.skip)
        self._block: list[bytes] = []
        self._ordinals: list[int] = []  # the lines' numbers in the whole stream, when given
        self._candidates = CandidateWriter(candidates, PRODUCT_SCHEMA)
        self._quarantine = PartWriter(quarantine, QUARANTINE_SCHEMA, run.row_group_size)

    def feed(self, lines: Iterable[bytes], ordinals: Iterator[int] | None = None) -> None:
        """Normalize and check a whole stream of landed lines (``read_lines``); ``ordinals``:
        each line's number in the provider's whole stream, when this stage gets a share of it.

        The cyclic garbage collector runs rarely meanwhile: a block's records become
        thousands of objects, and at the default threshold each new one would trigger a pass
        over them; records hold no reference cycles.
        """
        threshold = gc.get_threshold()
        gc.set_threshold(GC_THRESHOLD, *threshold[1:])
        try:
            for line in lines:
                self.add(line, next(ordinals) if ordinals is not None else None)
            self.flush()
        finally:
            gc.set_threshold(*threshold)

    def add(self, line: bytes, ordinal: int | None = None) -> None:
        """Gather one landed line; process the block when it is full."""
        self._block.append(line)
        if ordinal is not None:
            self._ordinals.append(ordinal)
        if len(self._block) >= self.run.batch_size:
            self.flush()

    def flush(self) -> None:
        """Normalize, type, check and stage the gathered records."""
        if not self._block:
            return
        lines, self._block = self._block, []
        first = self.counts.records + 1
        self.counts.records += len(lines)
        ordinals, self._ordinals = self._ordinals or list(range(first, first + len(lines))), []
        table = self.rows.rows(lines, hash_lines(lines), ordinals)
        self._stage(table.drop_columns(["__record"]))

    def _stage(self, table: pa.Table) -> None:
        """Check the typed rows of a block and stage them."""
        if table.num_rows == 0:
            return
        self.counts.fetched += table.num_rows
        result = self.checker.check(table)
        for rule, count in result.counts.items():
            self.counts.quality[rule] = self.counts.quality.get(rule, 0) + count
        self.counts.quarantined += result.rejected.num_rows
        if len(self.counts.rejected_examples) < 3:
            self.counts.rejected_examples += example_ids(result.rejected, 3)
        self._candidates.write(_check_schema(result.valid, PRODUCT_SCHEMA))
        self._quarantine.write(_check_schema(result.rejected, QUARANTINE_SCHEMA))

    def close(self) -> list[StagedFile]:
        """Finish the staged files (those that received rows); skipped rows count fetched."""
        skipped = self.skip.close() if self.skip is not None else None
        self.counts.fetched += skipped.rows if skipped is not None else 0
        staged = (self._candidates.close(), self._quarantine.close(), skipped)
        return [f for f in staged if f is not None]


class DedupStage:
    """Candidate rows of one provider → the rows to write (new, changed, deleted)."""

    def __init__(self, run: RunContext, state: DedupState, normalized: StagedFile) -> None:
        self.run, self.state = run, state
        self.counts = DedupCounts()
        self.deleted = 0
        self._seen: list[np.ndarray] = []  # every candidate row's key hash (16 bytes)
        self.deleted_keys: set[str] = set()
        self.preview: list[dict[str, Any]] = []
        self._writer = PartWriter(normalized, PRODUCT_SCHEMA, run.row_group_size)

    def feed_unchanged(self, skipped: StagedFile | None) -> int:
        """Count the rows normalize skipped (``skip.py``) unchanged and their keys seen; the
        number of them whose raw hash the state no longer holds (another run committed them
        since normalize), which must fail the provider."""
        if skipped is None:
            return 0
        moved = 0
        for keys, raw in read_unchanged(skipped, self.run.batch_size):
            held = self.state.raw_unchanged(keys, raw)
            self._seen.append(keys)
            self.counts.unchanged += int(held.sum())
            moved += int((~held).sum())
        return moved

    def feed(self, candidates: Path | None) -> None:
        """Classify every staged candidate row against the state."""
        if candidates is None or not candidates.exists():
            return
        for table in read_candidates(candidates, PRODUCT_SCHEMA, self.run.batch_size):
            fresh, counts = self.state.classify(table, seen=self._seen)
            self.counts.new += counts.new
            self.counts.changed += counts.changed
            self.counts.unchanged += counts.unchanged
            if len(self.preview) < 5:
                self.preview += fresh.slice(0, 5 - len(self.preview)).to_pylist()
            self._writer.write(_check_schema(fresh, PRODUCT_SCHEMA))

    def seen_keys(self) -> np.ndarray:
        """Every candidate row's key hash (``S16``, 16 bytes a key): what this pull saw of the
        provider's catalog, for ``DedupState.vanished``."""
        return np.concatenate(self._seen) if self._seen else np.zeros(0, "S16")

    def write_deleted(self, last_rows: pa.Table) -> None:
        """Write ``change_type=deleted`` rows: the last committed version of vanished products."""
        if last_rows.num_rows == 0:
            return
        count = last_rows.num_rows
        lineage = {
            "run_id": pa.array([self.run.run_id] * count, pa.string()),
            "fetched_at": pa.array([self.run.started_at] * count, TIMESTAMP),
            "change_type": pa.array(["deleted"] * count, pa.string()),
        }
        for name, values in lineage.items():
            last_rows = last_rows.set_column(last_rows.schema.get_field_index(name), name, values)
        self.deleted += count
        self._writer.write(_check_schema(last_rows, PRODUCT_SCHEMA))

    def close(self) -> StagedFile | None:
        return self._writer.close()


def deletion_stubs(source: str, source_ids: set[str]) -> pa.Table:
    """Minimal ``deleted`` rows for products whose last row this lake no longer holds."""
    rows = [
        {
            "source": source, "source_id": source_id, "title": "", "condition": "unknown",
            "availability": "unknown", "raw_hash": "", "content_hash": "", "schema_version":
            SCHEMA_VERSION, "run_id": "", "change_type": "deleted",
        }
        for source_id in sorted(source_ids)
    ]  # fmt: skip
    return pa.Table.from_pylist(rows, schema=PRODUCT_SCHEMA)  # lineage set by write_deleted


def _check_schema(table: pa.Table, schema: pa.Schema) -> pa.Table:
    """Refuse to write anything whose columns are not this ``schema_version``'s; cast the rest."""
    actual = {f.name: f.type for f in table.schema}
    expected = {f.name: f.type for f in schema}
    if actual != expected:
        differences = [
            f"{name}: expected {expected.get(name)}, got {actual.get(name)}"
            for name in dict.fromkeys([*expected, *actual])
            if expected.get(name) != actual.get(name)
        ]
        raise SchemaDriftError(
            f"rows do not match schema_version {SCHEMA_VERSION}: {'; '.join(differences)}"
        )
    return table.select(schema.names).cast(schema)
