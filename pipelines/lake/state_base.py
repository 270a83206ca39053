"""The saved dedup state as a run reads it: bucket files looked up by key, and the logs.

A lookup of k keys bisects each key's bucket file (``state_files.read_entries``: mapped, so
only the pages bisected are read) and so costs O(k log n) whatever the state holds; a whole
bucket is read only for what needs every key (deletion detection, a compaction).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pyarrow as pa

from pipelines.lake import state_files
from pipelines.lake.state_files import STATE_DIR, StateUnreadableError
from pipelines.lake.state_index import ENTRY, bucket_of
from pipelines.lake.storage import LocalStorage, Storage


@dataclass
class BucketFiles:
    """The bucket files (``.bin`` and their ids) ``state.json`` names, opened when needed."""

    storage: Storage | None = None
    files: dict[int, str] = field(default_factory=dict)  # bucket -> its .bin in state/
    opened: dict[int, np.ndarray] = field(default_factory=dict, repr=False)

    def bucket(self, bucket: int) -> np.ndarray:
        """The sorted entries of ``bucket`` (mapped: not copied)."""
        if bucket not in self.files:
            return np.zeros(0, ENTRY)
        if bucket not in self.opened:
            assert self.storage is not None
            self.opened[bucket] = state_files.read_entries(self.storage, self.files[bucket])
        return self.opened[bucket]

    def close(self, buckets: list[int]) -> None:
        """Let go of the files of ``buckets`` (unmapped once no array refers to them)."""
        for bucket in buckets:
            self.opened.pop(bucket, None)

    def _unmap(self) -> None:
        """After a lookup, let go of mapped files (their pages are not held); the bytes read
        from an object store are kept for the next lookup."""
        if isinstance(self.storage, LocalStorage):
            self.close(list(self.opened))

    def positions(self, keys: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Where each key is in its bucket file (-1: not held), and each key's bucket."""
        buckets = bucket_of(keys)
        where = np.full(len(keys), -1, np.int64)
        for bucket, rows in _by_bucket(buckets):
            held = self.bucket(bucket)["key"]
            at = np.minimum(np.searchsorted(held, keys[rows]), max(len(held) - 1, 0))
            hit = (held[at] == keys[rows]) if len(held) else np.zeros(len(rows), bool)
            where[rows[hit]] = at[hit]
        return where, buckets

    def lookup(self, keys: np.ndarray) -> np.ndarray:
        """The held entries of ``keys`` (copied from the files, then unmapped: the pages read
        are not held)."""
        where, buckets = self.positions(keys)
        found = np.flatnonzero(where >= 0)
        parts = [self.bucket(b)[where[found[rows]]] for b, rows in _by_bucket(buckets[found])]
        self._unmap()
        return np.concatenate(parts) if parts else np.zeros(0, ENTRY)

    def ids(self, keys: np.ndarray) -> tuple[np.ndarray, pa.Array]:
        """Which of ``keys`` the files hold, and the ``source_id`` of those (in order)."""
        where, buckets = self.positions(keys)
        found = np.flatnonzero(where >= 0)
        parts, order = [], []
        for bucket, rows in _by_bucket(buckets[found]):
            assert self.storage is not None
            count = len(self.bucket(bucket))
            ids = state_files.read_ids(self.storage, self.files[bucket], count)
            parts.append(ids.take(pa.array(where[found[rows]], pa.int64())))
            order.append(rows)
        self._unmap()
        taken = pa.concat_arrays(parts) if parts else pa.array([], pa.string())
        inverse = np.empty(len(found), np.int64)
        inverse[np.concatenate(order or [np.zeros(0, np.int64)])] = np.arange(len(found))
        return where >= 0, taken.take(pa.array(inverse, pa.int64()))

    def ids_for(self, keys: np.ndarray, pool: tuple[np.ndarray, pa.Array]) -> pa.Array:
        """The ``source_id`` of each held key hash: from ``pool`` (keys sorted, their ids)
        when there, else from the key's bucket."""
        pool_keys, pool_ids = pool
        at = np.minimum(np.searchsorted(pool_keys, keys), max(len(pool_keys) - 1, 0))
        pooled = pool_keys[at] == keys if len(pool_keys) else np.zeros(len(keys), bool)
        held, ids = self.ids(keys[~pooled])
        if not held.all():
            where = self.storage.uri if self.storage is not None else "(memory)"
            raise StateUnreadableError(f"{where}/{STATE_DIR}", "a held key has no id")
        take = np.where(pooled, at, len(pool_keys) + np.cumsum(~pooled) - 1)
        return pa.concat_arrays([pool_ids, ids]).take(pa.array(take, pa.int64()))


def merged_pool(parts: list[tuple[np.ndarray, pa.Array]]) -> tuple[np.ndarray, pa.Array]:
    """Keys and their ids, from ``parts`` (emptied first: a low peak), sorted by key."""
    if not parts:
        return np.zeros(0, "S16"), pa.array([], pa.string())
    keys = np.concatenate([k for k, _ in parts])
    ids = pa.concat_arrays([i for _, i in parts])
    parts.clear()
    order = np.argsort(keys, kind="stable")
    return keys[order], ids.take(pa.array(order, pa.int64()))


class PoolByBucket:
    """The ids of keys added since the buckets were written, found a bucket at a time: each
    part is ordered by bucket once, so no sorted copy of them all is made."""

    def __init__(self, parts: list[tuple[np.ndarray, pa.Array]]) -> None:
        self.parts = []
        for keys, ids in parts:
            buckets = bucket_of(keys)
            order = np.argsort(buckets, kind="stable").astype(np.int32)
            bounds = np.searchsorted(buckets[order], np.arange(257))
            self.parts.append((keys, ids, order, bounds))

    def pool(self, bucket: int) -> tuple[np.ndarray, pa.Array]:
        """``bucket``'s keys, sorted, and their ids (as ``merged_pool``)."""
        found = []
        for keys, ids, order, bounds in self.parts:
            rows = order[bounds[bucket] : bounds[bucket + 1]]
            if len(rows):
                found.append((keys[rows], ids.take(pa.array(rows, pa.int32()))))
        return merged_pool(found)


def key_entries(keys: np.ndarray) -> np.ndarray:
    """``ENTRY`` records holding ``keys`` and nothing else."""
    entries = np.zeros(len(keys), ENTRY)
    entries["key"] = keys
    return entries


def _by_bucket(buckets: np.ndarray) -> list[tuple[int, np.ndarray]]:
    """Each bucket of ``buckets`` and the positions holding it."""
    order = np.argsort(buckets, kind="stable")
    bounds = np.searchsorted(buckets[order], np.arange(257))
    return [(b, order[bounds[b] : bounds[b + 1]]) for b in range(256) if bounds[b + 1] > bounds[b]]


@dataclass
class Logs:
    """What the logs say, folded in order: the last entry of each key, which are gone, and the
    ids they hold (of keys added since the buckets were written)."""

    entries: np.ndarray
    gone: np.ndarray
    id_keys: np.ndarray
    ids: pa.Array


def read_logs(storage: Storage, names: list[str]) -> Logs:
    """Every log of ``names`` (oldest first), folded: a later entry of a key wins."""
    parts = [state_files.read_log(storage, name) for name in names]
    entries = np.concatenate([entries for entries, _, _ in parts])
    gone = np.concatenate([gone for _, gone, _ in parts])
    ids = pa.concat_arrays([ids for _, _, ids in parts])
    _, first = np.unique(entries["key"][::-1], return_index=True)
    last = len(entries) - 1 - first  # sorted by key
    named = np.flatnonzero(ids.is_valid().to_numpy(zero_copy_only=False))
    return Logs(
        entries[last], gone[last], entries["key"][named], ids.take(pa.array(named, pa.int64()))
    )
