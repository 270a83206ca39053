"""The row stage of a dataset beyond products: raw records → checked rows, staged per table.

Each raw record becomes rows of the dataset's tables (``Provider.normalize_dataset``), each
row gets its lineage and hashes, and the record's rows are judged together by the dataset's
rules (``pipelines/checks/datasets.py``): they are staged as candidates, or all go to their
tables' quarantine with the reasons. A record that cannot be mapped or typed is dropped with
its reason. Records flow in batches of ``batch_size``.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pyarrow as pa

from pipelines.checks.datasets import RECORD_RULES
from pipelines.errors import SkippableRecordError
from pipelines.lake.datasets import Dataset, Table
from pipelines.lake.lake import Lake, PartWriter, StagedFile
from pipelines.lake.schema import hash_raw
from pipelines.net.secrets import mask
from pipelines.run.process import RunContext
from providers.base import Provider

MAX_ERRORS = 20


@dataclass
class DatasetCounts:
    """What happened to one provider's records of one dataset (its run-log entry)."""

    records: int = 0
    dropped: int = 0
    quarantined: int = 0  # records whose rows went to quarantine
    reasons: dict[str, int] = field(default_factory=dict)
    errors: list[str] = field(default_factory=list)
    tables: dict[str, dict[str, int]] = field(default_factory=dict)

    def count(self, reason: str, message: str | None = None) -> None:
        self.reasons[reason] = self.reasons.get(reason, 0) + 1
        if message and len(self.errors) < MAX_ERRORS:
            self.errors.append(mask(message))


class DatasetRows:
    """One provider's raw records of ``dataset`` → staged candidates and quarantine per table."""

    def __init__(
        self, provider: Provider, dataset: Dataset, run: RunContext, lake: Lake, work: Path
    ) -> None:
        self.provider, self.dataset, self.run = provider, dataset, run
        self.counts = DatasetCounts()
        self.rules = RECORD_RULES.get(dataset.name, lambda rows: [])
        self._pending: list[tuple[dict[str, list[dict]], list[str]]] = []
        self.candidates: dict[str, PartWriter] = {}
        self.quarantine: dict[str, PartWriter] = {}
        dt = run.started_at.date().isoformat()
        for table in dataset.tables:
            staged = work / table.name
            home = Lake(table.storage(lake.storage))
            cand = home.part_file(staged, "candidates", dt, provider.name, run.run_id)
            quar = home.part_file(staged, "quarantine", dt, provider.name, run.run_id)
            self.candidates[table.name] = PartWriter(cand, table.schema, run.row_group_size)
            self.quarantine[table.name] = PartWriter(
                quar, table.quarantine_schema, run.row_group_size
            )

    def feed(self, records: Iterable[dict[str, Any]]) -> None:
        for raw in records:
            self.add(raw)
        self.flush()

    def add(self, raw: dict[str, Any]) -> None:
        """Normalize one record, stamp its rows and judge them; flush a full batch."""
        self.counts.records += 1
        name = self.provider.name
        try:
            rows = self.provider.normalize_dataset(self.dataset.name, raw)
        except SkippableRecordError as exc:
            self.counts.dropped += 1
            self.counts.count("unmappable_record", str(exc))
            return
        except (KeyError, TypeError, ValueError, AttributeError) as exc:
            self.counts.dropped += 1
            self.counts.count("normalizer_error", f"{name} record {self.counts.records}: {exc!r}")
            return
        raw_hash = hash_raw(raw)
        for table in self.dataset.tables:
            for row in rows.get(table.name, []):
                row["content_hash"] = table.hash_content(row)
                row["raw_hash"] = raw_hash
        reasons = self.rules(rows)
        self._pending.append((rows, reasons))
        if len(self._pending) >= self.run.batch_size:
            self.flush()

    def flush(self) -> None:
        """Type the pending records' rows and stage them (candidates or quarantine)."""
        pending, self._pending = self._pending, []
        if not pending:
            return
        for table in self.dataset.tables:
            lineage = _lineage(self.run, table)
            good = [
                {**r, **lineage}
                for rows, why in pending if not why for r in rows.get(table.name, [])
            ]  # fmt: skip
            bad = [
                {**r, **lineage, "reasons": why}
                for rows, why in pending if why for r in rows.get(table.name, [])
            ]  # fmt: skip
            self.candidates[table.name].write(self._typed(good, table.schema, table))
            self.quarantine[table.name].write(self._typed(bad, table.quarantine_schema, table))
        for _, why in pending:
            if why:
                self.counts.quarantined += 1
                for reason in why:
                    self.counts.count(reason)

    def _typed(self, rows: list[dict], schema: pa.Schema, table: Table) -> pa.Table:
        try:
            return pa.Table.from_pylist(rows, schema=schema)
        except (pa.ArrowInvalid, pa.ArrowTypeError, OverflowError):
            kept = []
            for row in rows:
                try:
                    pa.Table.from_pylist([row], schema=schema)
                    kept.append(row)
                except (pa.ArrowInvalid, pa.ArrowTypeError, OverflowError) as exc:
                    where = f"{self.provider.name} {table.name} {row.get('source_id')}"
                    self.counts.count("wrong_type", f"{where}: {str(exc)[:120]}")
            return pa.Table.from_pylist(kept, schema=schema)

    def close(self) -> dict[str, list[StagedFile]]:
        """The staged files of each table (candidates first), those that received rows."""
        staged = {}
        for table in self.dataset.tables:
            files = (self.candidates[table.name].close(), self.quarantine[table.name].close())
            staged[table.name] = [f for f in files if f is not None]
        return staged


def _lineage(run: RunContext, table: Table) -> dict[str, Any]:
    """The columns the pipeline adds to each row (``change_type`` set again by dedup)."""
    return {
        "fetched_at": run.started_at,
        "run_id": run.run_id,
        "change_type": "new",
        "schema_version": int(table.schema.metadata[b"schema_version"]),
    }
