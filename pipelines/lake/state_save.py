"""Saving the dedup state: one log of the keys a run changed, or its buckets compacted.

A save whose changes, with the logs already written, stay under ``LOG_SHARE`` of the state's
keys (and under ``MAX_LOGS`` logs) writes one log (``state_files.write_log``: the changed,
added and removed entries, and the ids of those added), then ``state.json`` listing it: O(k)
bytes for k keys changed. Else it compacts: every bucket the logs or the run touched is read
whole and written again with its ids, and ``state.json`` names the new files and no log. Either
way ``state.json`` is written last (the switch) and the files it stops naming stay one more
save (``previous``), so a crash at any point leaves the state of before readable.
"""

from __future__ import annotations

import secrets
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa

from pipelines.lake import state_files
from pipelines.lake.dedup import ALL_BUCKETS, LOG_SHARE, DedupState, as_storage
from pipelines.lake.state_base import BucketFiles, PoolByBucket
from pipelines.lake.state_index import HashIndex
from pipelines.lake.storage import Storage

MAX_LOGS = 16  # each load reads every log: past this many, compact


def save_state(root: Path | Storage, state: DedupState) -> None:
    """Write a log or the compacted buckets (new files), then ``state.json`` naming them."""
    storage = as_storage(root)
    same = state.storage is not None and state.storage.uri == storage.uri
    if not same:  # another lake: every bucket written there
        state.load_buckets(ALL_BUCKETS)
        state.dirty.update(ALL_BUCKETS)
        state.changed, state.replaced = None, []
    changed = np.unique(np.concatenate(state.changed)) if state.changed else np.zeros(0, "S16")
    logged = sum(int(log["keys"]) for log in state.logs)
    if (
        state.changed is None
        or logged + len(changed) > len(state) * LOG_SHARE
        or len(state.logs) >= MAX_LOGS
    ):
        files, replaced = _compact(storage, state, same)
        logs: list[dict[str, Any]] = []
    else:
        files, replaced = dict(state.base.files), []
        logs = [*state.logs, _append_log(storage, state, changed)] if len(changed) else state.logs
    names = [name for name, _ in sorted(state.codes.items(), key=lambda item: item[1])]
    meta = {"format": state_files.FORMAT, "applied_runs": sorted(state.applied_runs),
            "keys": len(state), "extra": state.extra,
            "content_hash_version": state.hash_version, "sources": state.sources(),
            "source_codes": names, "buckets": {f"{b:02x}": n for b, n in sorted(files.items())},
            "logs": logs, "previous": replaced}  # fmt: skip
    state_files.write_meta(storage, meta, state_files.stored_names(meta) | set(replaced))
    state.storage, state.logs, state.changed, state.replaced = storage, logs, [], []
    if state.base.storage is not storage or state.base.files != files:
        state.base = BucketFiles(storage, files)


def _append_log(storage: Storage, state: DedupState, keys: np.ndarray) -> dict[str, Any]:
    """Write a log of ``keys`` (unique, sorted): their entries, which are gone, and the ids
    of those added since the buckets were written; its ``state.json`` entry."""
    found, entries = state.index.get(keys)
    pool_keys, pool_ids = state.pending_pool()
    at = np.minimum(np.searchsorted(pool_keys, keys), max(len(pool_keys) - 1, 0))
    pooled = found & (pool_keys[at] == keys) if len(pool_keys) else np.zeros(len(keys), bool)
    ids = pool_ids.take(pa.array(at, pa.int64(), mask=~pooled)) if len(pool_keys) else None
    name = f"log-{secrets.token_hex(6)}.parquet"
    state_files.write_log(storage, name, entries, ~found,
                          ids if ids is not None else pa.nulls(len(keys), pa.string()))  # fmt: skip
    return {"name": name, "keys": len(keys)}


def _compact(storage: Storage, state: DedupState, same: bool) -> tuple[dict[int, str], list[str]]:
    """Write every dirty bucket whole (the base's entries, the logs' and the run's); the
    bucket files and what they replace (the dirty buckets' files of before, the logs)."""
    state.load_buckets(state.dirty)
    token = secrets.token_hex(6)
    files = dict(state.base.files) if same else {}
    replaced = [*state.replaced, *state_files.log_files({"logs": state.logs})]
    pending = PoolByBucket(state.pending_ids)
    for bucket, entries in state.index.buckets(state.dirty):
        if bucket in files:
            old = files.pop(bucket)
            replaced += [old, state_files.ids_name(old)]
        if len(entries):
            files[bucket] = f"b{bucket:02x}-{token}.bin"
            state_files.write_ids(
                storage, files[bucket], state.ids_for(entries["key"], pending.pool(bucket))
            )
            state_files.write_entries(storage, files[bucket], entries)
    state.dirty.clear()
    state.pending_ids.clear()
    state.gone = HashIndex(values=False)
    return files, replaced
