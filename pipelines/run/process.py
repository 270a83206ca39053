"""The row-level stages of one provider: normalize + quality, then dedup.

``NormalizeStage`` turns raw records into canonical rows, checks them and
stages the passing rows (candidates) and the rejected ones (quarantine).
``DedupStage`` reads the candidates back, keeps what is new or changed and
stages the normalized part. Records flow in bounded batches (``batch_size``
rows), so memory does not grow with the catalog; nothing here is visible to
readers until the runner commits.
"""

from __future__ import annotations

import gc
import logging
from collections.abc import Iterable
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any, Protocol

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from pipelines.checks.quality import QualityChecker, example_ids
from pipelines.checks.quality_config import QualityConfig
from pipelines.errors import SchemaDriftError, SkippableRecordError
from pipelines.lake.dedup import DedupCounts, DedupState
from pipelines.lake.lake import PartWriter, StagedFile
from pipelines.lake.schema import (
    PRODUCT_SCHEMA,
    SCHEMA_VERSION,
    TIMESTAMP,
    hash_content,
    hash_raw,
)
from pipelines.net.secrets import mask
from pipelines.net.strict_json import InvalidNumberRecord
from pipelines.run.block_rows import BLOCK_SCHEMA as _BLOCK_SCHEMA
from pipelines.run.block_rows import RunContext, typed_rows
from providers.batch import NormalizedBlock
from providers.identifiers import gtin14

log = logging.getLogger("pipeline.quality")

QUARANTINE_SCHEMA = PRODUCT_SCHEMA.append(pa.field("reasons", pa.list_(pa.string())))
MAX_LOGGED_ERRORS = 20
GC_THRESHOLD = 100_000  # allocations between two young-generation collections (default 700)
EXAMPLES_PER_CAUSE = 3
DRIFT_MIN_RECORDS = 10


@dataclass
class ProviderCounts:
    """What happened to one provider's records in this run (its run-log entry)."""

    records: int = 0
    fetched: int = 0
    new: int = 0
    changed: int = 0
    unchanged: int = 0
    quarantined: int = 0
    dropped: int = 0
    deleted: int = 0
    dropped_reasons: dict[str, int] = field(default_factory=dict)
    quality: dict[str, int] = field(default_factory=dict)
    rejected_examples: list[str] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    drop_causes: dict[tuple[str, str], int] = field(default_factory=dict)

    @property
    def written(self) -> int:
        return self.new + self.changed + self.deleted

    def drop(self, reason: str, message: str) -> None:
        """Count a record that could not become a row; keep a few example messages per cause.

        The cause is the message without its record id ("<provider> <id>: <cause>"),
        so a thousand records broken the same way keep three examples, not a thousand.
        """
        self.dropped += 1
        self.fetched += 1
        self.dropped_reasons[reason] = self.dropped_reasons.get(reason, 0) + 1
        cause = (reason, message.split(": ", 1)[-1])
        seen = self.drop_causes[cause] = self.drop_causes.get(cause, 0) + 1
        if seen <= EXAMPLES_PER_CAUSE and len(self.errors) < MAX_LOGGED_ERRORS:
            self.errors.append(mask(message))

    def drift(self) -> list[dict[str, Any]]:
        """Causes shared by many dropped records: an upstream field that changed or vanished."""
        threshold = max(DRIFT_MIN_RECORDS, 1)
        return [
            {"reason": reason, "cause": mask(cause), "records": count}
            for (reason, cause), count in self.drop_causes.items()
            if count >= threshold or (self.records and count == self.records)
        ]

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready counts (for the checkpoint)."""
        data = {k: v for k, v in self.__dict__.items() if k != "drop_causes"}
        data["drop_causes"] = [[r, c, n] for (r, c), n in self.drop_causes.items()]
        data["drift"] = self.drift()
        return data

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> ProviderCounts:
        names = {f.name for f in fields(cls)}
        causes = {(r, c): n for r, c, n in data.get("drop_causes", [])}
        kept = {k: v for k, v in data.items() if k in names and k != "drop_causes"}
        return cls(**kept, drop_causes=causes)

    def reconciles(self) -> bool:
        """fetched = new + changed + unchanged + quarantined + dropped."""
        accounted = self.new + self.changed + self.unchanged + self.quarantined + self.dropped
        return self.fetched == accounted


class Normalizer(Protocol):
    """What the row stage needs of a provider: its name and its pure ``normalize``.

    A provider may also have ``normalize_batch`` (``providers.base.Provider``); the stage
    uses it when present and ``normalize`` for what it leaves.
    """

    name: str

    def normalize(self, raw: dict[str, Any]) -> list[dict[str, Any]]: ...


class NormalizeStage:
    """Raw records of one provider → candidate rows and quarantined rows (staged Parquet).

    Records are gathered in blocks of ``batch_size``; each block goes to the provider's batch
    normalizer, the records it leaves to ``normalize`` one by one, and the rows of both are
    put back in record order before the quality check.
    """

    def __init__(
        self,
        provider: Normalizer,
        run: RunContext,
        quality: QualityConfig,
        candidates: StagedFile,
        quarantine: StagedFile,
    ) -> None:
        self.provider, self.run = provider, run
        self.counts = ProviderCounts()
        self.checker = QualityChecker(quality)
        self._block: list[dict[str, Any]] = []
        self._ordinals: list[int] = []  # each gathered record's number in the stream
        self._candidates = PartWriter(candidates, PRODUCT_SCHEMA, run.row_group_size)
        self._quarantine = PartWriter(quarantine, QUARANTINE_SCHEMA, run.row_group_size)

    def feed(self, records: Iterable[dict[str, Any]]) -> None:
        """Normalize and check a whole stream of raw records.

        The cyclic garbage collector runs rarely meanwhile: a block holds thousands of
        parsed records, and at the default threshold each new one would trigger a pass over
        them (most of the parse time); records hold no reference cycles.
        """
        threshold = gc.get_threshold()
        gc.set_threshold(GC_THRESHOLD, *threshold[1:])
        try:
            for raw in records:
                self.add(raw)
            self.flush()
        finally:
            gc.set_threshold(*threshold)

    def add(self, raw: dict[str, Any]) -> None:
        """Gather one raw record; process the block when it is full."""
        self.counts.records += 1
        self._block.append(raw)
        self._ordinals.append(self.counts.records)
        if len(self._block) >= self.run.batch_size:
            self.flush()

    def flush(self) -> None:
        """Normalize, type, check and stage the gathered records."""
        if not self._block:
            return
        block, ordinals = self._block, self._ordinals
        self._block, self._ordinals = [], []
        invalid = [i for i, raw in enumerate(block) if isinstance(raw, InvalidNumberRecord)]
        valid = [i for i, raw in enumerate(block) if not isinstance(raw, InvalidNumberRecord)]
        result = self._batch([block[i] for i in valid])
        rest = sorted(invalid + [valid[i] for i in result.rest])
        tables = [self._reference(block, ordinals, rest)]
        if result.rows is not None and result.rows.num_rows:
            tables.append(typed_rows(result.rows, [block[i] for i in valid], valid, self.run))
        table = pa.concat_tables([t for t in tables if t.num_rows] or tables[:1])
        if len(tables) == 2 and tables[0].num_rows:  # both paths gave rows: back in record order
            table = table.take(pc.sort_indices(table.column("__record")))  # a stable sort
        self._stage(table.drop_columns(["__record"]))

    def _batch(self, raws: list[dict[str, Any]]) -> NormalizedBlock:
        normalize_batch = getattr(self.provider, "normalize_batch", None)
        if normalize_batch is None or not raws:
            return NormalizedBlock(None, list(range(len(raws))))
        return normalize_batch(raws)

    def _reference(self, block: list[dict[str, Any]], ordinals: list[int], rest: list[int]
                   ) -> pa.Table:  # fmt: skip
        """The rows ``normalize`` gives for the records at ``rest``, one record at a time."""
        rows: list[dict[str, Any]] = []
        for index in rest:
            for row in self._normalize_one(block[index], ordinals[index]):
                row["__record"] = index
                rows.append(row)
        return self._to_table(rows)

    def _normalize_one(self, raw: dict[str, Any], ordinal: int) -> list[dict[str, Any]]:
        if isinstance(raw, InvalidNumberRecord):
            where = ", ".join(raw.problems[:3])
            self.counts.drop(
                "invalid_json_number",
                f"{self.provider.name} record {ordinal}: number not allowed in JSON ({where})",
            )
            return []
        try:
            rows = self.provider.normalize(raw)
        except SkippableRecordError as exc:
            self.counts.drop("unmappable_record", str(exc))
            return []
        except (KeyError, TypeError, ValueError, AttributeError) as exc:
            self.counts.drop("normalizer_error", f"{self.provider.name} record {ordinal}: {exc!r}")
            return []
        raw_hash = hash_raw(raw)
        for row in rows:
            row["content_hash"] = hash_content(row)
            row["raw_hash"] = raw_hash
            row["gtin14"] = gtin14(row.get("gtin"))
        return rows

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

    def _to_table(self, rows: list[dict[str, Any]]) -> pa.Table:
        lineage = {
            "fetched_at": self.run.started_at,
            "run_id": self.run.run_id,
            "change_type": "new",
            "schema_version": SCHEMA_VERSION,
        }
        for row in rows:
            row.update(lineage)
        try:
            return pa.Table.from_pylist(rows, schema=_BLOCK_SCHEMA)
        except (pa.ArrowInvalid, pa.ArrowTypeError, OverflowError):
            return self._to_table_row_by_row(rows)

    def _to_table_row_by_row(self, rows: list[dict[str, Any]]) -> pa.Table:
        """Find the rows a column type rejects, drop them with a reason, keep the rest."""
        good = []
        for row in rows:
            try:
                pa.Table.from_pylist([row], schema=_BLOCK_SCHEMA)
            except (pa.ArrowInvalid, pa.ArrowTypeError, OverflowError):
                problem = _type_problem(row)
                self.counts.drop(
                    "wrong_type", f"{self.provider.name} {row.get('source_id')}: {problem}"
                )
                continue
            good.append(row)
        return pa.Table.from_pylist(good, schema=_BLOCK_SCHEMA)

    def close(self) -> list[StagedFile]:
        """Finish the staged files (those that received rows)."""
        return [f for f in (self._candidates.close(), self._quarantine.close()) if f is not None]


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

    def feed(self, candidates: Path | None) -> None:
        """Classify every staged candidate row against the state."""
        if candidates is None or not candidates.exists():
            return
        for batch in pq.ParquetFile(candidates).iter_batches(batch_size=self.run.batch_size):
            table = pa.Table.from_batches([batch], schema=PRODUCT_SCHEMA)
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


def _type_problem(row: dict[str, Any]) -> str:
    """Which column of ``row`` its canonical type rejects, and why (no record-specific values)."""
    for schema_field in PRODUCT_SCHEMA:
        value = row.get(schema_field.name)
        try:
            pa.array([value], schema_field.type)
        except (pa.ArrowInvalid, pa.ArrowTypeError, OverflowError):
            got = type(value).__name__
            return f"column {schema_field.name}: expected {schema_field.type}, got {got}"
    return "row does not fit the canonical schema"


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
