"""Dedup state: the current raw and content hash of every (source, source_id).

A row whose raw record is byte-for-byte the one we hold is unchanged (raw
hash); a row whose business columns are the same is unchanged too, its new raw
hash remembered (a cosmetic change upstream); anything else is new or changed.

In memory the state is a compact hash index of fixed-width hashes (``state_index.py``, about
60 bytes a key) holding the keys a run looked up or changed; on disk it is a base of sorted
key-hash buckets and the logs of the saves since, named by ``state/state.json``
(``state_files.py``). A lookup bisects the keys' bucket files, and a save writes one log of
the keys it changed (``state_save.py``), folded into the buckets it touched when the logs grow
past a share of the state: a run that touches k keys reads and writes O(k). The state is
written last, after the manifest, and the next run first folds in any committed manifest the
state does not include yet, so a run killed between its manifest and its state loses and
duplicates nothing. In an object-store lake it lives in the lake too, so the lake alone is the
pipeline's memory.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa

from pipelines.lake import state_files
from pipelines.lake.schema import CONTENT_HASH_VERSION
from pipelines.lake.state_base import BucketFiles, Logs, key_entries, merged_pool, read_logs
from pipelines.lake.state_files import LEGACY_PRODUCTS, META_PATH, STATE_DIR, StateUnreadableError
from pipelines.lake.state_index import (
    ENTRY,
    SEP,
    HashIndex,
    bucket_of,
    hash_keys,
    hashed_columns,
    key_array,
    key_hashes,
    nonzero16,
    occurrences,
    row_keys,
)
from pipelines.lake.storage import LocalStorage, Storage

__all__ = ["LEGACY_PRODUCTS", "META_PATH", "STATE_DIR", "StateUnreadableError", "key_array",
           "key_hashes", "row_keys"]  # fmt: skip
ALL_BUCKETS = range(256)
LOG_SHARE = 0.1  # the logs are folded into the buckets past this share of the state's keys
WHOLE_SHARE = 0.125  # a run looking up more of the state's keys than this reads it whole


@dataclass
class DedupCounts:
    new: int = 0
    changed: int = 0
    unchanged: int = 0


@dataclass(eq=False)
class DedupState:
    """The state: key hash -> raw hash[:16], content hash[:16], source (``HashIndex``).

    ``classify`` updates the state as it goes, so memory holds one entry per key looked up and
    nothing more; a provider whose rows are not committed is put back with ``rollback``. The
    index holds the logs' entries, the bucket entries looked up, and the run's changes; keys
    removed since the buckets were written are in ``gone``. ``source_id`` strings stay in the
    files, apart from those of keys added since the buckets were written.
    """

    applied_runs: set[str] = field(default_factory=set)
    extra: dict[str, Any] = field(default_factory=dict)
    hash_version: int = CONTENT_HASH_VERSION  # the content-hash definition of the hashes
    storage: Storage | None = None  # where the files of ``base`` are
    base: BucketFiles = field(default_factory=BucketFiles)
    logs: list[dict[str, Any]] = field(default_factory=list)  # state.json's logs
    counts: dict[str, int] = field(default_factory=dict)  # keys held per source
    # called with the error when a bucket file is unreadable; returns the state rebuilt
    recover: Callable[[StateUnreadableError], DedupState] | None = None
    index: HashIndex = field(default_factory=HashIndex, repr=False)
    gone: HashIndex = field(default_factory=lambda: HashIndex(values=False), repr=False)
    loaded: set[int] = field(default_factory=lambda: set(ALL_BUCKETS))  # read whole
    dirty: set[int] = field(default_factory=set)  # buckets changed since the buckets were written
    changed: list[np.ndarray] | None = field(default_factory=list)  # keys since the last save
    replaced: list[str] = field(default_factory=list)  # files of before the next save replaces
    codes: dict[str, int] = field(default_factory=dict)  # source -> code in the index
    looked_up: int = 0  # keys looked up in the bucket files
    pending_ids: list[tuple[np.ndarray, pa.Array]] = field(default_factory=list, repr=False)

    def __len__(self) -> int:
        return sum(self.counts.values())

    def classify(
        self, table: pa.Table, seen: list[np.ndarray] | None = None
    ) -> tuple[pa.Table, DedupCounts]:
        """Split a batch into the rows to write (with ``change_type``) and count the rest.

        The state takes the batch's hashes at once, cosmetic raw-hash changes included; a key
        repeated in the batch is taken occurrence by occurrence, as if row by row. The rows' key
        hashes are appended to ``seen`` when given (deletion detection).
        """
        keys, raw, content = hashed_columns(table, "raw_hash", "content_hash")
        if seen is not None:
            seen.append(keys)
        codes = state_files.source_codes(table.column("source"), self.codes)
        self._load(keys)
        kept = np.zeros(len(keys), bool)
        changed = np.zeros(len(keys), bool)
        for rows in occurrences(keys):
            found, held = self.index.get(keys[rows])
            same_raw = found & (held["raw"] == raw[rows])
            cosmetic = found & ~same_raw & (held["content"] == content[rows])
            fresh = ~same_raw & ~cosmetic
            kept[rows[fresh]] = True
            changed[rows[fresh & found]] = True
            moved = rows[~same_raw]
            self._put(keys[moved], raw[moved], content[moved], codes[moved],
                      table.column("source_id").take(moved), ~found[~same_raw])  # fmt: skip
        take = np.flatnonzero(kept)
        counts = DedupCounts(changed=int(changed.sum()), unchanged=len(keys) - len(take))
        counts.new = len(take) - counts.changed
        rows = table.take(pa.array(take, pa.int64()))
        types = np.where(changed[take], "changed", "new").astype(object)
        index = rows.schema.get_field_index("change_type")
        rows = rows.set_column(index, "change_type", pa.array(types, pa.string()))
        return rows, counts

    def raw_unchanged(self, keys: np.ndarray, raw: np.ndarray) -> np.ndarray:
        """Per key hash and raw hash (both ``S16``: ``source_key_hashes``, ``hex16``): does the
        state hold that key with that raw hash. No key or raw hash (zeros) is never unchanged."""
        self._load(keys)
        found, entries = self.index.get(keys)
        return found & (entries["raw"] == raw) & nonzero16(keys) & nonzero16(raw)

    def rollback(self, root: Path | Storage, source: str) -> None:
        """Put ``source``'s entries back as the lake at ``root`` last committed them."""
        code = self.codes.get(source)
        if code is None:  # the index holds every key the run changed
            return
        keys = self.index.where_source(code)["key"]
        committed = load_state(root)
        committed._load(keys)
        found, entries = committed.index.get(keys)
        self._drop(keys)
        entries = entries[found]
        if len(entries):
            ids = committed.ids_for(entries["key"])
            codes = np.full(len(entries), self._code(source), np.uint16)
            self._put(entries["key"], entries["raw"], entries["content"], codes, ids,
                      np.ones(len(entries), bool))  # fmt: skip

    def apply_table(self, table: pa.Table) -> None:
        """Fold committed rows (source, source_id, raw_hash, content_hash) into the state:
        the last row of a key wins; one without hashes (a deletion stub) removes it."""
        keys, raw, content = hashed_columns(table, "raw_hash", "content_hash")
        _, first = np.unique(keys[::-1], return_index=True)
        last = np.sort(len(keys) - 1 - first)
        empty = raw[last] == b""
        self._drop(keys[last[empty]])
        rows = last[~empty]
        self._load(keys[rows])
        found = self.index.get(keys[rows])[0]
        codes = state_files.source_codes(table.column("source"), self.codes)
        self._put(keys[rows], raw[rows], content[rows], codes[rows],
                  table.column("source_id").take(rows), ~found)  # fmt: skip

    def keys_of(self, source: str) -> set[str]:
        """Every key the state holds for ``source`` (reads all of the state's buckets)."""
        self.load_buckets(ALL_BUCKETS)
        code = self.codes.get(source)
        if code is None:
            return set()
        ids = self.ids_for(self.index.where_source(code)["key"]).to_pylist()
        return {source + SEP + source_id for source_id in ids}

    def vanished(self, source: str, seen: np.ndarray) -> set[str]:
        """The keys held for ``source`` whose hash is not in ``seen`` (``S16`` key hashes):
        the products a complete pull did not see."""
        self.load_buckets(ALL_BUCKETS)
        code = self.codes.get(source)
        if code is None:
            return set()
        held = self.index.where_source(code)["key"]
        gone = held[~np.isin(held, seen)]
        return {source + SEP + source_id for source_id in self.ids_for(gone).to_pylist()}

    def forget(self, keys: Iterable[str]) -> None:
        """Drop deleted products from the state."""
        self._drop(np.unique(hash_keys(list(keys))))

    def set_content(self, keys: np.ndarray, content: np.ndarray) -> int:
        """Give the held ones of ``keys`` (unique) the content hash ``content``; how many."""
        self._load(keys)
        found, held = self.index.get(keys)
        held = held[found]
        held["content"] = content[found]
        self.index.put(held)
        self._touch(held["key"])
        return int(found.sum())

    @staticmethod
    def source_id(key: str) -> str:
        return key.split(SEP, 1)[1]

    def sources(self) -> dict[str, int]:
        """How many keys the state holds per source."""
        return {source: count for source, count in self.counts.items() if count}

    def to_dict(self) -> dict[str, bytes]:
        """key -> raw hash[:16] + content hash[:16], every key (Python objects: for tests)."""
        self.load_buckets(ALL_BUCKETS)
        names = {code: name for name, code in self.codes.items()}
        entries = self.index.entries()
        ids = self.ids_for(entries["key"]).to_pylist()
        return {
            names[int(e["src"])] + SEP + i: bytes(e["raw"]).ljust(16, b"\0")
            + bytes(e["content"]).ljust(16, b"\0")
            for e, i in zip(entries, ids, strict=True)
        }

    def ids_for(self, keys: np.ndarray, pending: tuple[np.ndarray, pa.Array] | None = None
                ) -> pa.Array:  # fmt: skip
        """The ``source_id`` of each held key hash: from memory when added since the buckets
        were written (``pending``: ``pending_pool()``, made once for many calls), else from
        its bucket's ids file."""
        if not len(keys):  # no pool made for no key
            return pa.array([], pa.string())
        return self.base.ids_for(keys, pending or self.pending_pool())

    def pending_pool(self) -> tuple[np.ndarray, pa.Array]:
        """The keys added since the buckets were written, sorted, and their ids."""
        self.pending_ids = [merged_pool(self.pending_ids)]
        return self.pending_ids[0]

    def fold(self, logs: Logs) -> None:
        """Take the logs read at load: their entries, removals, ids and buckets."""
        self.index.put(logs.entries[~logs.gone])
        self.gone.put(key_entries(logs.entries["key"][logs.gone]))
        self.pending_ids.append((logs.id_keys, logs.ids))
        self.dirty.update(np.unique(bucket_of(logs.entries["key"])).tolist())

    def _code(self, source: str) -> int:
        return self.codes.setdefault(source, len(self.codes))

    def _load(self, keys: np.ndarray) -> None:
        """Bring the held ones of ``keys`` into the index from their bucket files (those of
        buckets not read whole, neither in the index nor removed). Once the run has looked up
        more than ``WHOLE_SHARE`` of the state's keys, every bucket is read whole instead."""
        if len(self.loaded) == len(ALL_BUCKETS) or not len(keys):
            return
        self.looked_up += len(keys)
        if self.looked_up > len(self) * WHOLE_SHARE:  # cheaper than bisecting for each key
            self.load_buckets(ALL_BUCKETS)
            return
        todo = np.unique(keys)
        todo = todo[~np.isin(bucket_of(todo), sorted(self.loaded)) & ~self._known(todo)]
        try:
            self.index.put(self.base.lookup(todo))
        except StateUnreadableError as exc:
            self._recover(exc)

    def _known(self, keys: np.ndarray) -> np.ndarray:
        """Which of ``keys`` the index holds or the state removed since its buckets."""
        return (self.index.find(keys) >= 0) | (self.gone.find(keys) >= 0)

    def load_buckets(self, buckets: Iterable[int]) -> None:
        """Read whole the buckets of ``buckets`` not read yet (32 at a time: a low peak); their
        files are unmapped after."""
        wanted = sorted(int(b) for b in buckets if int(b) not in self.loaded)
        stored = [b for b in wanted if b in self.base.files]
        self.base.close(stored)  # the pages lookups read: not held with the index's growth
        if stored:  # about the keys the buckets hold (they hold about as many each)
            self.index.reserve(len(self.index) + len(self) * len(stored) // len(self.base.files))
        try:
            for start in range(0, len(stored), 32):
                chunk = stored[start : start + 32]
                entries = np.concatenate([self.base.bucket(b) for b in chunk])
                self.base.close(chunk)
                self.index.put(entries[~self._known(entries["key"])])
        except StateUnreadableError as exc:
            self._recover(exc)
            return
        self.loaded.update(wanted)

    def _recover(self, exc: StateUnreadableError) -> None:
        if self.recover is None:
            raise exc
        self._adopt(self.recover(exc))

    def _adopt(self, rebuilt: DedupState) -> None:
        """Take every key of the buckets not read whole from ``rebuilt`` (made from the
        manifests) that the index neither holds nor removed; every bucket is written again."""
        ordered = sorted(rebuilt.codes.items(), key=lambda item: item[1])
        lookup = np.array([self._code(name) for name, _ in ordered] or [0], np.uint16)
        unread = {b for b in ALL_BUCKETS if b not in self.loaded}
        for _, entries in rebuilt.index.buckets(unread):
            entries["src"] = lookup[entries["src"]]
            self.index.put(entries[~self._known(entries["key"])])
        self.pending_ids += rebuilt.pending_ids
        self.loaded.update(ALL_BUCKETS)
        self.dirty.update(ALL_BUCKETS)
        self.changed = None
        entries = self.index.entries()
        counts = np.bincount(entries["src"], minlength=len(self.codes))
        self.counts = {name: int(counts[code]) for name, code in self.codes.items()}

    def _touch(self, keys: np.ndarray) -> None:
        """Note ``keys`` changed: their buckets are dirty, the keys go into the next log (unless
        the changes outgrow a log: then the dirty buckets are written whole)."""
        self.dirty.update(np.unique(bucket_of(keys)).tolist())
        if self.changed is not None:
            self.changed.append(keys.copy())
            if sum(map(len, self.changed)) > max(len(self), 1) * LOG_SHARE:
                self.changed = None

    def _put(self, keys: np.ndarray, raw: np.ndarray, content: np.ndarray, codes: np.ndarray,
             ids: pa.Array | pa.ChunkedArray, new: np.ndarray) -> None:  # fmt: skip
        """Insert or replace entries (unique keys, looked up); ``new`` marks those the state did
        not hold, whose ids are kept until the buckets are written."""
        entries = np.zeros(len(keys), ENTRY)
        entries["key"], entries["raw"], entries["content"], entries["src"] = (
            keys, raw, content, codes,
        )  # fmt: skip
        self.index.put(entries)
        if new.any():
            where = np.flatnonzero(new)
            taken = ids.take(pa.array(where, pa.int64()))
            taken = taken.combine_chunks() if isinstance(taken, pa.ChunkedArray) else taken
            self.pending_ids.append((keys[where], taken.cast(pa.string())))
            self._count(codes[where], +1)
        self._touch(keys)

    def _drop(self, keys: np.ndarray) -> None:
        """Remove the held ones of ``keys`` (unique)."""
        if not len(keys):
            return
        self._load(keys)
        found, held = self.index.get(keys)
        self.index.drop(keys[found])
        self.gone.put(key_entries(keys[found]))
        self._touch(keys[found])
        self._count(held["src"][found], -1)

    def _count(self, codes: np.ndarray, sign: int) -> None:
        names = {code: name for name, code in self.codes.items()}
        for code, number in zip(*np.unique(codes, return_counts=True), strict=True):
            name = names[int(code)]
            self.counts[name] = self.counts.get(name, 0) + sign * int(number)


def as_storage(root: Path | Storage) -> Storage:
    return LocalStorage(root) if isinstance(root, Path) else root


def load_state(root: Path | Storage) -> DedupState:
    """The state of the lake at ``root`` (empty for a new lake): its logs read, its buckets
    read when looked up. A state of a layout of before is read whole (the next save writes
    the current one).

    Raises ``StateUnreadableError`` naming the file when ``state.json``, a log or a file of a
    layout of before is corrupt or missing.
    """
    storage = as_storage(root)
    meta = read_state_meta(storage)
    state = DedupState(storage=storage, base=BucketFiles(storage))
    if meta is None:
        return state
    state.applied_runs = set(meta["applied_runs"])
    state.extra = meta.get("extra", {})
    state.hash_version = meta.get("content_hash_version", 1)
    if not state_files.is_current(meta):
        for keys, raw, content, sources, ids in state_files.read_before(storage, meta):
            codes = state_files.source_codes(sources, state.codes)
            state._put(keys, raw, content, codes, ids, np.ones(len(keys), bool))
        state.changed, state.replaced = None, sorted(state_files.stored_names(meta))
        return state
    state.codes = {str(name): code for code, name in enumerate(meta.get("source_codes", []))}
    state.counts = {str(k): int(v) for k, v in meta.get("sources", {}).items()}
    state.base.files = state_files.bucket_files(meta)
    state.loaded = {b for b in ALL_BUCKETS if b not in state.base.files}
    state.logs = list(meta.get("logs", []))
    if state.logs:
        state.fold(read_logs(storage, state_files.log_files(meta)))
    return state


def read_state_meta(root: Path | Storage) -> dict[str, Any] | None:
    """``state/state.json`` (applied runs, provider watermarks), None for a new lake.

    Raises ``StateUnreadableError`` when it is not the JSON object the pipeline wrote.
    """
    return state_files.read_meta(as_storage(root))
