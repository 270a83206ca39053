"""The write step: dedup every passing provider against the state, then commit the run.

Order of the commit, in any lake: the parts are put in place, then the manifest (the commit
point), then the state (written last; it names the runs it includes). The next commit first
checks every manifest against the state (a lost or corrupt one stops it: ``repair``), moves
what dead runs left uncommitted to ``_trash/`` and folds in any committed manifest the state
lacks, so a run killed anywhere loses and duplicates nothing. The runner holds the lake's
commit lock around all of it (``pipelines/lake/lock.py``): two runs or shards never interleave
their commits, and each dedups against the state the other saved.

With ``table_format = "delta"``, the committed rows then go to the Delta tables
(``pipelines/lake/delta.py``): three transactions, each made once per run even when a resumed
run gets here again (the run's work folder remembers which were made, and each call gets
the run id).
"""

from __future__ import annotations

import json
import logging
import shutil
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import pyarrow as pa

from pipelines.lake.dedup import DedupState
from pipelines.lake.integrity import check_manifests, verify_run
from pipelines.lake.lake import Lake, Manifest, StagedFile
from pipelines.lake.schema import PRODUCT_SCHEMA
from pipelines.lake.seen_keys import expire_seen, write_seen
from pipelines.lake.state_repair import load_or_rebuild_state
from pipelines.lake.state_save import save_state
from pipelines.lake.trash import TRASH_DIR
from pipelines.run.checkpoint import Checkpoint
from pipelines.run.process import DedupStage, ProviderCounts, RunContext, deletion_stubs
from pipelines.run.skip import passes_whole, record_fingerprint

log = logging.getLogger("pipeline.write")
STATE_COLUMNS = ["source", "source_id", "raw_hash", "content_hash"]
DELTA_CALLS = ("append_changes", "merge_current", "update_history")


@dataclass
class WriteStep:
    """One run's write step; ``guard`` raises when the run may no longer write (lost lock)."""

    checkpoint: Checkpoint
    lake: Lake
    run: RunContext
    dry_run: bool
    history: Callable[[], list[dict[str, Any]]]
    mode: str
    table_format: str = "parquet"
    guard: Callable[[], None] = lambda: None
    previews: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    max_delete_share: float = 0.5
    allow_mass_delete: bool = False
    trash_retention_days: float = 7.0
    live_runs: Callable[[], set[str]] = set
    whole: set[str] = field(default_factory=set)  # providers whose held keys all pass (skip.py)

    @property
    def run_id(self) -> str:
        return self.run.run_id

    @property
    def dt(self) -> str:
        return self.checkpoint.created_at[:10]

    def execute(self) -> dict[str, Any]:
        """Dedup every passing provider, then commit: parts, manifest, state (and Delta)."""
        pa.default_memory_pool().release_unused()  # what normalize freed (in this process)
        state, repaired = load_or_rebuild_state(self.lake.storage)
        if not self.dry_run:
            self.recover(state, repaired)
        if self.run_id in state.applied_runs:
            return self.already_committed()
        outputs: dict[str, Any] = {}
        committed: list[StagedFile] = []
        for name in self.checkpoint.providers:
            if self.passing(name):
                outputs[name], staged = self.dedup_provider(name, state)
                committed += staged
        if not self.dry_run:
            self.commit(outputs, committed, state)
            self.sync_delta()
        return outputs

    def passing(self, name: str) -> bool:
        normalized = self.checkpoint.outputs(f"normalize.{name}")
        quality = self.checkpoint.outputs("quality").get(name, {})
        return normalized.get("status") == "ok" and not quality.get("status")

    def dedup_provider(self, name: str, state: DedupState) -> tuple[dict, list[StagedFile]]:
        work = self.checkpoint.work
        normalized = self.checkpoint.outputs(f"normalize.{name}")
        staged = [StagedFile.from_dict(f) for f in normalized["staged"]]
        part = self.lake.part_file(work, "normalized", self.dt, name, self.run_id)
        stage = DedupStage(self.run, state, part)
        complete = bool(self.checkpoint.outputs(f"extract.{name}").get("complete"))
        if passes_whole(state, name, normalized.get("raw_skip"), complete):
            self.whole.add(name)
        for candidates in (f.staged for f in staged if f.zone == "candidates"):
            stage.feed(candidates)  # one file, or one per worker (pipelines/run/workers.py)
        if sum(stage.feed_unchanged(f) for f in staged if f.zone == "unchanged"):
            Lake.discard([f for f in [stage.close()] if f])
            state.rollback(self.lake.storage, name)
            return {"status": "failed", "error": _moved_error(name)}, []
        extract = self.checkpoint.outputs(f"extract.{name}")
        if extract.get("share_complete") and not self.dry_run:
            write_seen(self.lake.storage, self.run_id, name, stage.seen_keys())
        if extract.get("complete"):
            refused = self.write_deletions(name, stage, state)
            if refused:
                Lake.discard([f for f in [stage.close()] if f])
                state.rollback(self.lake.storage, name)
                return {"status": "failed", "error": refused["error"],
                        "mass_delete": refused}, []  # fmt: skip
        self.previews[name] = stage.preview
        result = {"status": "ok", **asdict(stage.counts), "deleted": stage.deleted}
        result["warnings"] = self.vanished_warning(name, normalized["counts"]["fetched"])
        counts = ProviderCounts.from_dict(normalized["counts"])
        counts.new, counts.changed, counts.unchanged = (
            stage.counts.new, stage.counts.changed, stage.counts.unchanged,
        )  # fmt: skip
        written = stage.close()
        files = [f for f in staged if f.zone == "quarantine"] + ([written] if written else [])
        if "raw" in extract:
            files.append(StagedFile.from_dict(extract["raw"]))
        if not counts.reconciles():
            state.rollback(self.lake.storage, name)
            Lake.discard(files)
            return {"status": "failed", "error": _reconcile_error(name, counts)}, []
        result["deleted_keys"] = sorted(stage.deleted_keys)
        return result, files

    def write_deletions(self, name: str, stage: DedupStage, state: DedupState
                        ) -> dict[str, Any] | None:  # fmt: skip
        """After a complete pull: a ``deleted`` row for each held product that did not come back.

        A pull that would delete all of the held catalog, or more than ``max_delete_share`` of
        it, writes nothing and returns why (the deletion guard), unless mass deletes are allowed.
        """
        held = state.sources().get(name, 0)
        vanished = state.vanished(name, stage.seen_keys())
        refused = self.deletion_guard(name, len(vanished), held)
        if refused:
            return refused
        stage.deleted_keys = vanished
        if vanished:
            ids = {state.source_id(key) for key in vanished}
            last_rows = self.lake.latest_rows(name, ids, PRODUCT_SCHEMA)
            stage.write_deleted(last_rows)
            stage.write_deleted(deletion_stubs(name, ids - set(last_rows["source_id"].to_pylist())))
            log.info("%s: %d product(s) disappeared since the last pull", name, len(vanished))
        return None

    def deletion_guard(self, name: str, vanished: int, held: int) -> dict[str, Any] | None:
        """The reason a complete pull may not delete ``vanished`` of ``held`` products, or None."""
        if self.allow_mass_delete:
            return None
        return deletion_guard(name, vanished, held, self.max_delete_share)

    def vanished_warning(self, name: str, fetched: int) -> list[str]:
        """Zero rows from a provider that returned rows before is a warning by itself."""
        if fetched:
            return []
        earlier = [
            run["providers"][name].get("fetched", 0)
            for run in self.history()
            if run.get("mode") == self.mode and name in run.get("providers", {})
        ]
        if not any(earlier):
            return []
        message = f"{name}: fetched 0 rows, but earlier runs fetched up to {max(earlier)}"
        log.warning("%s", message)
        return [message]

    def commit(self, outputs: dict[str, Any], staged: list[StagedFile], state: DedupState) -> None:
        """Manifest first, then the state (with the providers' next watermarks)."""
        deleted = {name: result.pop("deleted_keys", []) for name, result in outputs.items()}
        manifest = Manifest(self.run_id, self.dt, counts=outputs)
        self.lake.commit(manifest, staged, before_manifest=self.guard)
        for name, result in outputs.items():
            if result.get("status") != "ok":
                continue
            state.forget(deleted[name])
            mark = self.checkpoint.outputs(f"normalize.{name}").get("raw_skip")
            record_fingerprint(state, name, mark, name in self.whole)
            next_state = self.checkpoint.outputs(f"extract.{name}").get("next_state")
            if next_state:
                state.extra.setdefault("providers", {})[name] = next_state
        state.applied_runs.add(self.run_id)
        self.guard()
        pa.default_memory_pool().release_unused()  # what dedup freed, before the state's peak
        save_state(self.lake.storage, state)
        for zone in ("candidates", "unchanged"):
            shutil.rmtree(self.checkpoint.work / zone, ignore_errors=True)

    def already_committed(self) -> dict[str, Any]:
        """The run's manifest exists (killed after committing): take its counts."""
        if not self.dry_run:
            self.sync_delta()
        return self.lake.read_manifest(self.run_id)["counts"]

    def recover(self, state: DedupState, repaired: bool = False) -> None:
        """Check the manifests against the state, move dead runs' uncommitted files to
        ``_trash/``, and fold in committed manifests the state lacks; save the state when that
        or a repair (``state_repair.py``) changed it."""
        check_manifests(self.lake, state.applied_runs)
        keep = state.applied_runs | {self.run_id} | self.live_runs()
        removed = self.lake.recover(keep, self.trash_retention_days)
        expire_seen(self.lake.storage, self.trash_retention_days)  # keys no join consumed
        if removed:
            log.warning("moved %d uncommitted file(s) left by an interrupted run to %s/",
                        len(removed), TRASH_DIR)  # fmt: skip
        changed = bool(removed) or repaired
        for run_id in self.lake.manifest_ids():
            if run_id in state.applied_runs:
                continue
            state.apply_table(committed_rows(self.lake, run_id, STATE_COLUMNS))
            state.applied_runs.add(run_id)
            log.warning("state caught up with committed run %s", run_id)
            changed = True
        if changed:
            self.guard()
            save_state(self.lake.storage, state)

    def sync_delta(self) -> None:
        """Hand the run's committed rows to the Delta tables, each call once per run."""
        if self.table_format == "delta":
            sync_delta_tables(self.lake, self.run_id, self.checkpoint.work / "delta.json")


def sync_delta_tables(lake: Lake, run_id: str, progress: Path) -> None:
    """Hand run ``run_id``'s committed rows (a run's, or a joined run's deletions) to the Delta
    tables: three calls, each made once (``progress`` lists those done; the tables also refuse
    a run id twice)."""
    from pipelines.lake.delta import DeltaTables  # optional: only delta lakes import deltalake

    done = set(json.loads(progress.read_text())) if progress.exists() else set()
    if done >= set(DELTA_CALLS):
        return
    verify_run(lake, run_id, "normalized")  # Delta gets only what was committed
    table = committed_rows(lake, run_id)
    if table.num_rows == 0:
        return  # nothing changed: no empty transactions
    storage = lake.storage
    uri = storage.uri if storage.remote else str(Path(storage.uri).resolve())
    tables = DeltaTables(uri, storage.storage_options())
    for call in DELTA_CALLS:
        if call not in done:
            getattr(tables, call)(table, run_id)
            done.add(call)
            progress.parent.mkdir(parents=True, exist_ok=True)
            progress.write_text(json.dumps(sorted(done)))
    log.info("delta: %d row(s) of run %s applied", table.num_rows, run_id)


def committed_rows(
    lake: Lake, run_id: str, columns: list[str] | None = None, schema: pa.Schema = PRODUCT_SCHEMA
) -> pa.Table:
    """The normalized rows run ``run_id`` committed (new, changed, deleted), ``source`` taken
    from the partition folders (the Delta tables and the PostgreSQL sink read them); ``schema``
    is the lake table's (an order table's lake holds its own)."""
    manifest = lake.read_manifest(run_id)
    storage = lake.storage
    files = [storage.location(f["path"]) for f in manifest["files"] if f["zone"] == "normalized"]
    if not files:
        return schema.empty_table().select(columns or schema.names)
    return lake.parts("normalized", files, schema).to_table(columns=columns)


RUN_AGAIN = "run again with --allow-mass-delete"


def deletion_guard(
    name: str, vanished: int, held: int, max_share: float, remedy: str = RUN_AGAIN
) -> dict[str, Any] | None:
    """The reason a complete pull may not delete ``vanished`` of ``held`` products, or None:
    all of them, or more than ``max_share`` (``pipeline.max_delete_share``); ``remedy`` says
    how to let it through."""
    if not vanished or not held:
        return None
    share = vanished / held
    if vanished < held and share <= max_share:
        return None
    error = (
        f"{name}: the complete pull would mark {vanished} of {held} held products deleted "
        f"({share:.0%}, more than pipeline.max_delete_share {max_share:.0%}); "
        f"nothing of it was written. If the catalog really shrank, {remedy}"
    )
    log.error("%s", error)
    return {"error": error, "would_delete": vanished, "held": held}


def _moved_error(name: str) -> str:
    return (
        f"{name}: rows counted unchanged at normalize changed in the lake since (another run "
        "committed them); nothing of this provider is committed, run again"
    )


def _reconcile_error(name: str, counts: ProviderCounts) -> str:
    return (
        f"{name}: counts do not reconcile: fetched {counts.fetched} != new {counts.new} + "
        f"changed {counts.changed} + unchanged {counts.unchanged} + quarantined "
        f"{counts.quarantined} + dropped {counts.dropped}"
    )
