"""The step of one provider and one dataset beyond products (``dataset.<dataset>.<provider>``).

Fetch and land the raw records in the dataset's home lake (redacted when it holds buyer data,
``pipelines/net/pii.py``), normalize and check them (``dataset_rows.py``), gate the share of
records rejected as the products' quality step does (``[quality] reject_threshold``: over it,
the pull ends ``quality_failed`` and commits nothing), then, holding the
lake's commit lock, dedup each table against its own state and commit it: the child tables
first, the home table last, with the provider's watermark in its state. A table lake already
holding this run's commit is left as it is, so a step run again after a kill duplicates
nothing. A ``--replay`` run normalizes the dataset's raw files again instead of fetching
(``dataset_replay.py``); it lands no raw file and moves no watermark. Products keep their own
steps (``steps.py``); this one is the same for every other dataset.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator, Sequence
from contextlib import AbstractContextManager
from dataclasses import asdict, dataclass, field
from itertools import islice
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq

from pipelines.checks.datasets import dataset_gate_verdict
from pipelines.checks.quality_config import DEFAULT_REJECT_THRESHOLD
from pipelines.lake.datasets import PRODUCTS, Table
from pipelines.lake.dedup import DedupCounts, DedupState
from pipelines.lake.lake import Lake, Manifest, PartWriter, StagedFile, read_raw
from pipelines.lake.state_repair import load_or_rebuild_state
from pipelines.lake.state_save import save_state
from pipelines.lake.volumes import DaySums
from pipelines.run.dataset_replay import dataset_replay_records
from pipelines.run.dataset_rows import DatasetRows
from pipelines.run.extract import Extractor
from pipelines.run.options import RunOptions
from pipelines.run.process import RunContext
from pipelines.run.shard import Shard
from providers.base import Provider

log = logging.getLogger("pipeline.datasets")
STATE_COLUMNS = ["source", "source_id", "raw_hash", "content_hash"]
Guard = Callable[[], None]


@dataclass
class DatasetStep:
    """One run's pull of ``extractor.dataset`` from one provider, fetch to commit."""

    extractor: Extractor
    run: RunContext
    dry_run: bool
    lock: Callable[[], AbstractContextManager[Any]]
    live_runs: Callable[[], set[str]] = set
    trash_retention_days: float = 7.0
    reject_threshold: float = DEFAULT_REJECT_THRESHOLD  # [quality]: the gate, per dataset
    work: Path = Path(".")  # this step's work folder (set by ``execute``)
    # the daily volumes of the new rows (set by ``execute``)
    sums: DaySums = field(default_factory=lambda: DaySums(()))

    def execute(self, provider: Provider, work: Path, dt: str) -> dict[str, Any]:
        """The step's outputs: the extract's status, the counts per table, the stats."""
        dataset = self.extractor.dataset
        work = self.work = work / dataset.name
        self.sums = DaySums(dataset.volumes)
        extract = self.extractor.extract(provider, work, dt)
        if extract.get("status") != "ok" or not {"raw", "replay_files"} & extract.keys():
            said = {k: extract[k] for k in ("reason", "error") if k in extract}
            return {"status": extract.get("status", "skipped"), **said}
        rows = DatasetRows(provider, dataset, self.run, self.extractor.lake, work)
        rows.feed(self._records(provider, extract))
        staged = rows.close()
        if "raw" in extract:
            staged[dataset.home.name].append(StagedFile.from_dict(extract["raw"]))
        counts = rows.counts
        gate = dataset_gate_verdict(dataset.name, provider.name, counts.records,
                                    counts.quarantined, counts.reasons,
                                    self.reject_threshold)  # fmt: skip
        if gate:  # as a provider's products over the gate: none of its rows are committed
            log.error("%s", gate)
            return {"status": "quality_failed", "error": gate, **asdict(counts),
                    "stats": extract.get("stats", {})}  # fmt: skip
        next_state = extract.get("next_state") or {}
        for table in reversed(dataset.tables):  # the home table, with the watermark, last
            files = staged[table.name]
            state = next_state if table is dataset.home else {}
            if self.dry_run:
                counts.tables[table.name] = self.commit_table(table, provider.name, files, dt)
                continue
            with self.lock() as lock:
                counts.tables[table.name] = self.commit_table(
                    table, provider.name, files, dt, lock.check, state
                )
        log.info("%s %s: %d records, %d quarantined, %d dropped", provider.name, dataset.name,
                 counts.records, counts.quarantined, counts.dropped)  # fmt: skip
        volumes = self.sums.to_dict()
        return {"status": "ok", **asdict(counts), "stats": extract.get("stats", {}),
                **({"volumes": volumes} if volumes else {})}  # fmt: skip

    def _records(self, provider: Provider, extract: dict[str, Any]) -> Iterator[dict[str, Any]]:
        """The landed raw records, or a ``--replay``'s (``dataset_replay.py``)."""
        if "raw" in extract:
            return read_raw(StagedFile.from_dict(extract["raw"]).staged)
        files = [Path(f) for f in extract["replay_files"]]
        options = self.extractor.options
        records = dataset_replay_records(provider, self.extractor.dataset, files, options.offline)
        return islice(records, options.limit)

    def commit_table(self, table: Table, source: str, files: list[StagedFile], dt: str,
                     guard: Guard | None = None, next_state: dict[str, Any] | None = None,
                     ) -> dict[str, int]:  # fmt: skip
        """Dedup ``table``'s candidates against its state and commit (not without ``guard``:
        a dry run); the counts of new, changed and unchanged rows."""
        lake = Lake(table.storage(self.extractor.lake.storage))
        state = self._state(table, lake, guard is not None)
        # The providers of one run share its manifest, each commit adding its files to it;
        # a provider already in it is a step run again after its commit.
        prior = lake.read_manifest(self.run.run_id) or {}
        if self.run.run_id in state.applied_runs and source in prior.get("counts", {}):
            Lake.discard(files)
            return {"committed_before": 1}
        candidates = next((f for f in files if f.zone == "candidates"), None)
        part = lake.part_file(self.work / table.name, "normalized", dt, source, self.run.run_id)
        written, dedup = self._dedup(table, state, candidates, part)
        kept = [f for f in files if f.zone != "candidates"] + ([written] if written else [])
        if guard is None:
            Lake.discard(kept)
            return asdict(dedup)
        counts = {**prior.get("counts", {}), source: asdict(dedup)}
        manifest = Manifest(self.run.run_id, dt, list(prior.get("files", [])), counts)
        lake.commit(manifest, kept, before_manifest=guard)
        state.applied_runs.add(self.run.run_id)
        if next_state:
            state.extra.setdefault("providers", {})[source] = next_state
        guard()
        save_state(lake.storage, state)
        return asdict(dedup)

    def _state(self, table: Table, lake: Lake, commit: bool) -> DedupState:
        """The table's state (rebuilt from its manifests when unreadable, as the products'
        is: ``state_repair.py``), after moving dead runs' leftovers to ``_trash/`` and folding
        in a commit the state missed (a run killed between its manifest and its state)."""
        state, _ = load_or_rebuild_state(lake.storage, table)
        if not commit:
            return state
        keep = state.applied_runs | {self.run.run_id} | self.live_runs()
        lake.recover(keep, self.trash_retention_days)
        for run_id in lake.manifest_ids():
            if run_id in state.applied_runs:
                continue
            files = (lake.read_manifest(run_id) or {}).get("files", [])
            paths = [lake.storage.location(f["path"]) for f in files if f["zone"] == "normalized"]
            if paths:
                state.apply_table(lake.parts("normalized", paths).to_table(columns=STATE_COLUMNS))
            state.applied_runs.add(run_id)
        return state

    def _dedup(self, table: Table, state: DedupState, candidates: StagedFile | None,
               part: StagedFile) -> tuple[StagedFile | None, DedupCounts]:  # fmt: skip
        """Keep the new and changed rows of the candidates: by content, not by timestamp."""
        schema = table.schema
        total = DedupCounts()
        writer = PartWriter(part, schema, self.run.row_group_size)
        if candidates is not None and candidates.staged.exists():
            parquet = pq.ParquetFile(candidates.staged)
            for batch in parquet.iter_batches(batch_size=self.run.batch_size):
                rows = pa.Table.from_batches([batch]).select(schema.names).cast(schema)
                fresh, counts = state.classify(rows)
                total.new += counts.new
                total.changed += counts.changed
                total.unchanged += counts.unchanged
                self.sums.add(table.name, fresh)
                writer.write(fresh.cast(schema))
            Lake.discard([candidates])
        return writer.close(), total


def planned_pulls(
    providers: Sequence[Provider], options: RunOptions, shard: Shard | None = None
) -> list[str]:
    """``<dataset>.<provider>`` for each dataset beyond products ``options`` asks for and each
    of ``providers`` offering it (in a ``--replay`` run, one without raw files is skipped). In
    a sharded run a pull is a unit of its own, in exactly one shard, whichever shards hold the
    provider's product lists."""
    pulls = [f"{d}.{p.name}" for d in options.datasets if d != PRODUCTS for p in providers
             if d in p.datasets]  # fmt: skip
    return [pull for pull in pulls if shard is None or shard.owns(pull)]
