"""Dedup state: the current raw and content hash of every (source, source_id).

A row whose raw record is byte-for-byte the one we hold is unchanged (raw
hash); a row whose business columns are the same is unchanged too, its new raw
hash remembered (a cosmetic change upstream); anything else is new or changed.

In memory the state is a compact hash index of fixed-width hashes (``state_index.py``, about
60 bytes a key); on disk it is one Parquet file per key-hash bucket and ``state/state.json``
naming them and the runs the state includes (``state_files.py``). A bucket is read when a key
of it is first looked up, and a save writes only the buckets that changed, then
``state.json``: a run that touches k keys reads and writes at most k buckets. The state is
written last, after the manifest, and the next run first folds in any committed manifest the
state does not include yet, so a run killed between its manifest and its state loses and
duplicates nothing. In an object-store lake it lives in the lake too, so the lake alone is the
pipeline's memory.
"""

from __future__ import annotations

import secrets
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa

from pipelines.lake import state_files
from pipelines.lake.schema import CONTENT_HASH_VERSION
from pipelines.lake.state_files import LEGACY_PRODUCTS, META_PATH, STATE_DIR, StateUnreadableError
from pipelines.lake.state_index import (
    ENTRY,
    SEP,
    HashIndex,
    bucket_of,
    bucket_range,
    fixed16,
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


@dataclass
class DedupCounts:
    new: int = 0
    changed: int = 0
    unchanged: int = 0


@dataclass(eq=False)
class DedupState:
    """The state: key hash -> raw hash[:16], content hash[:16], source (``HashIndex``).

    ``classify`` updates the state as it goes, so memory holds one entry per
    product and nothing more; a provider whose rows are not committed is put
    back with ``rollback``. Buckets are read from ``storage`` when first needed;
    ``source_id`` strings stay in the files, apart from those of keys added since the last save.
    """

    applied_runs: set[str] = field(default_factory=set)
    extra: dict[str, Any] = field(default_factory=dict)
    hash_version: int = CONTENT_HASH_VERSION  # the content-hash definition of the hashes
    storage: Storage | None = None  # where the files of ``files`` are
    files: dict[int, str] = field(default_factory=dict)  # bucket -> its file in state/
    counts: dict[str, int] = field(default_factory=dict)  # keys held per source
    # called with the error when a bucket file is unreadable; returns the state rebuilt
    recover: Callable[[StateUnreadableError], DedupState] | None = None
    index: HashIndex = field(default_factory=HashIndex, repr=False)
    loaded: set[int] = field(default_factory=set)
    dirty: set[int] = field(default_factory=set)
    codes: dict[str, int] = field(default_factory=dict)  # source -> code in the index
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
        self._load(np.unique(bucket_of(keys)))
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
        self._load(np.unique(bucket_of(keys)))
        found, entries = self.index.get(keys)
        return found & (entries["raw"] == raw) & nonzero16(keys) & nonzero16(raw)

    def rollback(self, root: Path | Storage, source: str) -> None:
        """Put ``source``'s entries back as the lake at ``root`` last committed them."""
        committed = load_state(root)
        committed._load(sorted(self.loaded))
        code = self.codes.get(source)
        if code is not None:  # the index holds the buckets read, the only ones that changed
            self._drop(self.index.where_source(code)["key"])
        theirs = committed.codes.get(source)
        if theirs is None:
            return
        entries = committed.index.where_source(theirs)
        if len(entries):
            ids = committed.ids_for(entries["key"])
            codes = np.full(len(entries), self._code(source), np.uint16)
            self._put(entries["key"], entries["raw"], entries["content"], codes, ids,
                      ~self.index.get(entries["key"])[0])  # fmt: skip

    def apply_table(self, table: pa.Table) -> None:
        """Fold committed rows (source, source_id, raw_hash, content_hash) into the state:
        the last row of a key wins; one without hashes (a deletion stub) removes it."""
        keys, raw, content = hashed_columns(table, "raw_hash", "content_hash")
        _, first = np.unique(keys[::-1], return_index=True)
        last = np.sort(len(keys) - 1 - first)
        empty = raw[last] == b""
        self._drop(keys[last[empty]])
        rows = last[~empty]
        self._load(np.unique(bucket_of(keys[rows])))
        found = self.index.get(keys[rows])[0]
        codes = state_files.source_codes(table.column("source"), self.codes)
        self._put(keys[rows], raw[rows], content[rows], codes[rows],
                  table.column("source_id").take(rows), ~found)  # fmt: skip

    def keys_of(self, source: str) -> set[str]:
        """Every key the state holds for ``source`` (reads all of the state's buckets)."""
        self._load(ALL_BUCKETS)
        code = self.codes.get(source)
        if code is None:
            return set()
        ids = self.ids_for(self.index.where_source(code)["key"]).to_pylist()
        return {source + SEP + source_id for source_id in ids}

    def vanished(self, source: str, seen: np.ndarray) -> set[str]:
        """The keys held for ``source`` whose hash is not in ``seen`` (``S16`` key hashes):
        the products a complete pull did not see."""
        self._load(ALL_BUCKETS)
        code = self.codes.get(source)
        if code is None:
            return set()
        held = self.index.where_source(code)["key"]
        gone = held[~np.isin(held, seen)]
        return {source + SEP + source_id for source_id in self.ids_for(gone).to_pylist()}

    def forget(self, keys: Iterable[str]) -> None:
        """Drop deleted products from the state."""
        keys = list(keys)
        if keys:
            self._drop(hash_keys(keys))

    def set_content(self, keys: np.ndarray, content: np.ndarray) -> int:
        """Give the held ones of ``keys`` (unique) the content hash ``content``; how many."""
        self._load(np.unique(bucket_of(keys)))
        found, held = self.index.get(keys)
        held = held[found]
        held["content"] = content[found]
        self.index.put(held)
        self.dirty.update(np.unique(bucket_of(held["key"])).tolist())
        return int(found.sum())

    @staticmethod
    def source_id(key: str) -> str:
        return key.split(SEP, 1)[1]

    def sources(self) -> dict[str, int]:
        """How many keys the state holds per source."""
        return {source: count for source, count in self.counts.items() if count}

    def to_dict(self) -> dict[str, bytes]:
        """key -> raw hash[:16] + content hash[:16], every key (Python objects: for tests)."""
        self._load(ALL_BUCKETS)
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
        """The ``source_id`` of each held key hash: from its bucket file or, when added since
        the last save, from memory (``pending``: ``pending_pool()``, made once for many calls)."""
        pending_keys, pending_ids = pending or self.pending_pool()
        pool_keys, pool_ids = [], []
        for bucket in np.unique(bucket_of(keys)).tolist():
            start, stop = bucket_range(pending_keys, bucket)
            pool_keys.append(pending_keys[start:stop])
            pool_ids.append(pending_ids.slice(start, stop - start))
            if bucket in self.files:
                table = self._read(bucket, ids=True)
                pool_keys.append(fixed16(table.column("key_hash")))
                pool_ids.append(table.column("source_id").combine_chunks())
        pool = np.concatenate(pool_keys or [np.zeros(0, "S16")])
        order = np.argsort(pool, kind="stable")
        pos = np.minimum(np.searchsorted(pool[order], keys), max(len(pool) - 1, 0))
        if len(keys) and (not len(pool) or (pool[order][pos] != keys).any()):
            raise StateUnreadableError(f"{self._where()}/{STATE_DIR}", "a held key has no id")
        ids = pa.concat_arrays(pool_ids) if pool_ids else pa.array([], pa.string())
        return ids.take(pa.array(order[pos], pa.int64()))

    def pending_pool(self) -> tuple[np.ndarray, pa.Array]:
        """The keys added since the last save, sorted, and their ids."""
        if not self.pending_ids:
            return np.zeros(0, "S16"), pa.array([], pa.string())
        keys = np.concatenate([k for k, _ in self.pending_ids])
        ids = pa.concat_arrays([i for _, i in self.pending_ids])
        order, self.pending_ids = np.argsort(keys, kind="stable"), []  # the parts freed first
        self.pending_ids = [(keys[order], ids.take(pa.array(order, pa.int64())))]
        return self.pending_ids[0]

    def _where(self) -> str:
        return self.storage.uri if self.storage is not None else "(memory)"

    def _code(self, source: str) -> int:
        return self.codes.setdefault(source, len(self.codes))

    def _entries(self, bucket: int) -> np.ndarray:
        return state_files.entries_of(self._read(bucket), self.codes)

    def _read(self, bucket: int, ids: bool = False) -> pa.Table:
        assert self.storage is not None
        return state_files.read_bucket(self.storage, self.files[bucket], ids)

    def _load(self, buckets: Iterable[int]) -> None:
        """Read the buckets of ``buckets`` not in memory yet (all at once: one merge)."""
        wanted = sorted(int(b) for b in buckets if int(b) not in self.loaded)
        stored = [b for b in wanted if b in self.files]
        if stored:  # about the keys the buckets hold (they hold about as many each)
            self.index.reserve(len(self.index) + len(self) * len(stored) // len(self.files))
        try:
            for start in range(0, len(stored), 32):  # 32 at a time: a low peak of memory
                parts = [self._entries(b) for b in stored[start:][:32]]
                self.index.put(np.concatenate(parts))
        except StateUnreadableError as exc:
            if self.recover is None:
                raise
            self._adopt(self.recover(exc))
            return
        self.loaded.update(wanted)

    def _adopt(self, rebuilt: DedupState) -> None:
        """Take every bucket not read yet from ``rebuilt`` (made from the manifests)."""
        ordered = sorted(rebuilt.codes.items(), key=lambda item: item[1])
        lookup = np.array([self._code(name) for name, _ in ordered] or [0], np.uint16)
        unread = {b for b in ALL_BUCKETS if b not in self.loaded}
        for _, entries in rebuilt.index.buckets(unread):
            entries["src"] = lookup[entries["src"]]
            self.index.put(entries)
        self.pending_ids += rebuilt.pending_ids
        self.files = {b: name for b, name in self.files.items() if b in self.loaded}
        self.loaded.update(ALL_BUCKETS)
        self.dirty.update(ALL_BUCKETS)
        entries = self.index.entries()
        counts = np.bincount(entries["src"], minlength=len(self.codes))
        self.counts = {name: int(counts[code]) for name, code in self.codes.items()}

    def _put(self, keys: np.ndarray, raw: np.ndarray, content: np.ndarray, codes: np.ndarray,
             ids: pa.Array | pa.ChunkedArray, new: np.ndarray) -> None:  # fmt: skip
        """Insert or replace entries (unique keys, their buckets loaded); ``new`` marks those
        the state did not hold, whose ids are kept until the next save."""
        entries = np.zeros(len(keys), ENTRY)
        entries["key"], entries["raw"], entries["content"], entries["src"] = (
            keys, raw, content, codes,
        )  # fmt: skip
        self.index.put(entries)
        self.dirty.update(np.unique(bucket_of(keys)).tolist())
        if new.any():
            where = np.flatnonzero(new)
            taken = ids.take(pa.array(where, pa.int64()))
            taken = taken.combine_chunks() if isinstance(taken, pa.ChunkedArray) else taken
            self.pending_ids.append((keys[where], taken.cast(pa.string())))
            self._count(codes[where], +1)

    def _drop(self, keys: np.ndarray) -> None:
        """Remove the held ones of ``keys``."""
        if not len(keys):
            return
        self._load(np.unique(bucket_of(keys)))
        found, held = self.index.get(keys)
        self.index.drop(keys[found])
        self.dirty.update(np.unique(bucket_of(keys[found])).tolist())
        self._count(held["src"][found], -1)

    def _count(self, codes: np.ndarray, sign: int) -> None:
        names = {code: name for name, code in self.codes.items()}
        for code, number in zip(*np.unique(codes, return_counts=True), strict=True):
            name = names[int(code)]
            self.counts[name] = self.counts.get(name, 0) + sign * int(number)


def _storage(root: Path | Storage) -> Storage:
    return LocalStorage(root) if isinstance(root, Path) else root


def load_state(root: Path | Storage) -> DedupState:
    """The state of the lake at ``root`` (empty for a new lake); buckets are read when needed.

    Raises ``StateUnreadableError`` naming the file when ``state.json`` (or the single file of
    a state written before buckets) is corrupt or missing.
    """
    storage = _storage(root)
    meta = read_state_meta(storage)
    state = DedupState(storage=storage)
    if meta is None:
        return state
    state.applied_runs = set(meta["applied_runs"])
    state.extra = meta.get("extra", {})
    state.hash_version = meta.get("content_hash_version", 1)
    if state_files.is_single_file(meta):  # from before buckets: read whole, buckets next save
        state.loaded.update(ALL_BUCKETS)
        state.apply_table(state_files.read_single_file(storage, meta))
        return state
    state.files = state_files.bucket_files(meta)
    state.counts = {str(k): int(v) for k, v in meta.get("sources", {}).items()}
    return state


def read_state_meta(root: Path | Storage) -> dict[str, Any] | None:
    """``state/state.json`` (applied runs, provider watermarks), None for a new lake.

    Raises ``StateUnreadableError`` when it is not the JSON object the pipeline wrote.
    """
    return state_files.read_meta(_storage(root))


def save_state(root: Path | Storage, state: DedupState) -> None:
    """Write the changed buckets (new files), then ``state.json`` naming them: the switch.

    Files the previous ``state.json`` named and this one does not stay until the next save.
    """
    storage = _storage(root)
    same = state.storage is not None and state.storage.uri == storage.uri
    if not same:
        state._load(ALL_BUCKETS)  # another lake: write every bucket there
        state.dirty.update(ALL_BUCKETS)
    token = secrets.token_hex(6)
    names = [name for name, _ in sorted(state.codes.items(), key=lambda item: item[1])]
    files, replaced = dict(state.files) if same else {}, []
    pending = state.pending_pool()
    for bucket, entries in state.index.buckets(state.dirty):
        if bucket in files:
            replaced.append(files.pop(bucket))
        if len(entries):
            files[bucket] = f"b{bucket:02x}-{token}.parquet"
            ids = state.ids_for(entries["key"], pending)
            state_files.write_bucket(storage, files[bucket], entries, ids, names)
    meta = {"applied_runs": sorted(state.applied_runs), "keys": len(state), "extra": state.extra,
            "content_hash_version": state.hash_version, "sources": state.sources(),
            "buckets": {f"{b:02x}": name for b, name in sorted(files.items())},
            "previous": replaced}  # fmt: skip
    state_files.write_meta(storage, meta, set(files.values()) | set(replaced))
    state.storage, state.files = storage, files
    state.dirty.clear()
    state.pending_ids.clear()
