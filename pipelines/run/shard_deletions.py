"""Deletions of providers split across shards, decided once every shard of the run is in.

A shard's share of a split provider is never its whole catalog, so no shard writes that
provider's ``deleted`` rows. Each shard that pulled its share completely keeps the keys it saw
(``pipelines/lake/seen_keys.py``); the run's final step then marks deleted every product the
dedup state holds for the provider that no shard saw, in one commit of its own (a manifest
named after the joined run, the state updated after it, under the commit lock), with the same
deletion guard as a complete pull (``pipeline.max_delete_share``).

Nothing is decided for a provider when a shard is missing (it left no run record), when any
shard that ran the provider did not end ``ok`` or did not commit, or when its share was not
pulled whole (``--limit``, a spent budget): each case says why. Running it again writes nothing:
the state has forgotten the deleted products, and a commit killed between its manifest and its
state is finished from the manifest.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import numpy as np

from pipelines.lake.dedup import DedupState, key_array
from pipelines.lake.lake import Lake, Manifest, StagedFile
from pipelines.lake.schema import PRODUCT_SCHEMA
from pipelines.lake.seen_keys import read_seen, seen_providers
from pipelines.lake.state_repair import load_or_rebuild_state
from pipelines.lake.state_save import save_state
from pipelines.run.process import DedupStage, RunContext, deletion_stubs
from pipelines.run.write import deletion_guard


def split_plan(
    lake: Lake,
    records: Sequence[Mapping[str, Any]],
    missing: Sequence[str],
    gated: Collection[str] = (),
) -> tuple[dict[str, list[str]], dict[str, str]]:
    """For each provider split across the shards: the shard runs whose seen keys decide its
    deletions, or (second mapping) why none are decided (``gated``: the providers the whole
    run's quality gate failed, which an unsharded run would not have committed either)."""
    seen = {r["run_id"]: seen_providers(lake.storage, r["run_id"]) for r in records}
    counts: dict[str, int] = {}
    for record in records:
        for name in record["providers"]:
            counts[name] = counts.get(name, 0) + 1
    split = sorted({n for n, c in counts.items() if c > 1} | set().union(*seen.values()))
    decided: dict[str, list[str]] = {}
    notes: dict[str, str] = {}
    for name in split:
        if missing:
            shards = ", ".join(missing)
            notes[name] = (f"no deletions for {name}: shard {shards} left no run record, so "
                           "what it would have seen cannot be told from what is gone")  # fmt: skip
            continue
        if name in gated:
            notes[name] = f"no deletions for {name}: the whole run failed its quality gate"
            continue
        problem = next(filter(None, (_share_problem(lake, r, name, seen) for r in records)), None)
        if problem:
            notes[name] = f"no deletions for {name}: {problem}"
        else:
            decided[name] = [r["run_id"] for r in records if name in r["providers"]]
    return decided, notes


def _share_problem(
    lake: Lake, record: Mapping[str, Any], name: str, seen: Mapping[str, set[str]]
) -> str | None:
    """Why shard ``record``'s share of ``name`` cannot count towards its deletions, or None."""
    entry = record["providers"].get(name)
    if entry is None:
        return None
    shard = record.get("shard", "?")
    if entry.get("status") != "ok":
        return f"shard {shard} ended {entry.get('status')}"
    manifest = lake.read_manifest(record["run_id"])
    if manifest is None or (manifest["counts"].get(name) or {}).get("status") != "ok":
        return f"shard {shard} did not commit it"
    if name not in seen[record["run_id"]]:
        return f"shard {shard} did not pull its share whole (a --limit or a spent budget)"
    return None


JOIN_REMEDY = (
    "start the workflow by hand with its allow_mass_delete input checked (it reaches every "
    "shard and the join, gha-finalize --allow-mass-delete): re-running this join alone decides "
    "nothing, its shards' keys are gone"
)


@dataclass
class SplitDeletions:
    """The deletion commit of a joined run (``join_id``), decided from its shards' keys."""

    lake: Lake
    join_id: str
    started_at: datetime
    work: Path  # where the deletion rows are staged before the commit
    max_delete_share: float
    row_group_size: int = 131_072
    guard: Callable[[], None] = lambda: None  # the commit lock's re-check
    allow_mass_delete: bool = False  # gha-finalize --allow-mass-delete

    def apply(self, decided: Mapping[str, list[str]]) -> dict[str, dict[str, Any]]:
        """Write the deletions of ``decided`` (provider -> shard run ids) once; per provider,
        how many rows were written, or why none (``mass_delete``: the guard refused)."""
        state, _ = load_or_rebuild_state(self.lake.storage)
        manifest = self.lake.read_manifest(self.join_id)
        if manifest is not None:  # written before: finish the state if a kill interrupted it
            if self.join_id not in state.applied_runs:
                self._save(state, self._committed_keys(manifest))
            return {
                name: {**counts, "already": True} for name, counts in manifest["counts"].items()
            }
        results, staged, vanished = {}, [], set()
        for name, run_ids in decided.items():
            result, file, gone = self._provider(state, name, run_ids)
            results[name] = result
            staged += [file] if file else []
            vanished |= gone
        if vanished:
            manifest = Manifest(self.join_id, self.started_at.date().isoformat(), counts=results)
            self.lake.commit(manifest, staged, before_manifest=self.guard)
            self._save(state, vanished)
        return results

    def _provider(
        self, state: DedupState, name: str, run_ids: list[str]
    ) -> tuple[dict[str, Any], StagedFile | None, set[str]]:
        seen = np.concatenate([read_seen(self.lake.storage, run_id, name) for run_id in run_ids])
        held = state.sources().get(name, 0)
        vanished = state.vanished(name, seen)
        refused = (
            None
            if self.allow_mass_delete
            else deletion_guard(name, len(vanished), held, self.max_delete_share, JOIN_REMEDY)
        )
        if refused:
            return (
                {"status": "failed", "error": refused["error"], "mass_delete": refused},
                None,
                set(),
            )
        if not vanished:
            return {"status": "ok", "deleted": 0}, None, set()
        context = RunContext(self.join_id, self.started_at, 10_000, self.row_group_size)
        part = self.lake.part_file(self.work, "normalized", self.started_at.date().isoformat(),
                                   name, self.join_id)  # fmt: skip
        stage = DedupStage(context, state, part)
        ids = {state.source_id(key) for key in vanished}
        last_rows = self.lake.latest_rows(name, ids, PRODUCT_SCHEMA)
        stage.write_deleted(last_rows)
        stage.write_deleted(deletion_stubs(name, ids - set(last_rows["source_id"].to_pylist())))
        return {"status": "ok", "deleted": stage.deleted}, stage.close(), vanished

    def _committed_keys(self, manifest: Mapping[str, Any]) -> set[str]:
        files = [self.lake.storage.location(f["path"]) for f in manifest["files"]
                 if f["zone"] == "normalized"]  # fmt: skip
        table = self.lake.parts("normalized", files, PRODUCT_SCHEMA).to_table(
            columns=["source", "source_id"]
        )
        return set(key_array(table).to_pylist())

    def _save(self, state: DedupState, vanished: set[str]) -> None:
        state.forget(vanished)
        state.applied_runs.add(self.join_id)
        self.guard()
        save_state(self.lake.storage, state)
