"""The keys a shard's pull saw of a provider split across shards, kept until the run is joined.

A shard holds only part of a split provider's work, so it cannot tell a product that vanished
from one another shard fetched. When its share was pulled completely, the shard's write step
stores the hash of every key it saw (16 bytes, as the dedup state keys them: ``key_hash``) in
``_shards/<run_id>/seen-<provider>.parquet``, before its manifest; the run's final step
(``gha-finalize``) then decides the deletions from the union of every shard's keys and removes
the files (also when the deletion guard refused them). Keys no join consumed (a shard that
failed and was never re-run, sharding without a join) expire: every commit's recovery and
every join delete the folders of runs older than ``pipeline.trash_retention_days``
(``expire_seen``; a run id starts with its UTC start time).
"""

from __future__ import annotations

import time
from datetime import UTC, datetime

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from pipelines.lake.state_index import binary16, fixed16, hash_keys
from pipelines.lake.storage import Storage

SEEN_DIR = "_shards"


def seen_path(run_id: str, provider: str) -> str:
    return f"{SEEN_DIR}/{run_id}/seen-{provider}.parquet"


def write_seen(storage: Storage, run_id: str, provider: str, keys: np.ndarray) -> None:
    """Store the key hashes (``S16``) run ``run_id`` saw of ``provider`` (replacing what a
    retry left)."""
    sink = pa.BufferOutputStream()
    pq.write_table(pa.table({"key_hash": binary16(keys)}), sink, compression="zstd")
    storage.write_bytes(seen_path(run_id, provider), sink.getvalue().to_pybytes())


def read_seen(storage: Storage, run_id: str, provider: str) -> np.ndarray | None:
    """The key hashes run ``run_id`` saw of ``provider``; None when it stored none. A file of
    before key hashes (a ``key`` column of strings) is hashed as it is read."""
    data = storage.read_bytes(seen_path(run_id, provider))
    if data is None:
        return None
    table = pq.read_table(pa.BufferReader(data))
    if "key" in table.column_names:
        return hash_keys(table.column("key").to_pylist())
    return fixed16(table.column("key_hash"))


def seen_providers(storage: Storage, run_id: str) -> set[str]:
    """The providers run ``run_id`` stored seen keys of."""
    names = (rel.rsplit("/", 1)[-1] for rel in storage.list_files(f"{SEEN_DIR}/{run_id}"))
    return {n[len("seen-") : -len(".parquet")] for n in names if n.startswith("seen-")}


def forget_seen(storage: Storage, run_ids: list[str]) -> None:
    """Remove the seen keys of ``run_ids`` (their run was joined)."""
    storage.delete(rel for run_id in run_ids for rel in storage.list_files(f"{SEEN_DIR}/{run_id}"))


def expire_seen(storage: Storage, retention_days: float, now: float | None = None) -> list[str]:
    """Delete the seen keys of runs that started more than ``retention_days`` ago; return them.
    A folder whose name does not start like a run id is not ours: it stays."""
    cutoff = (time.time() if now is None else now) - retention_days * 86400
    expired = []
    for rel in storage.list_files(SEEN_DIR):
        run_id = rel.split("/")[1]
        try:
            started = datetime.strptime(run_id[:16], "%Y%m%dT%H%M%SZ").replace(tzinfo=UTC)
        except ValueError:
            continue
        if started.timestamp() < cutoff:
            expired.append(rel)
    storage.delete(expired)
    return expired
