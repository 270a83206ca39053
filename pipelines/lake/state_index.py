"""The dedup state's compact in-memory index: fixed-width hashes per key, in a hash table.

A key (``source`` and ``source_id`` joined by ``\\x1f``) is held as the md5 of its UTF-8
bytes (128 bits: at 5 million keys the chance that two collide is about 4e-26), with the first
16 bytes of its raw and content hashes and a small source code: 50 bytes a key in dense numpy
arrays, no Python object per key, plus an open-addressing table of entry numbers (int32, at
most 70% full) that finds a batch of keys in a few vectorised probes: a run costs time linear in
its rows, whatever the state holds.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterator

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

ENTRY = np.dtype([("key", "S16"), ("raw", "S16"), ("content", "S16"), ("src", "<u2")])
_VALUE = np.dtype([("raw", "S16"), ("content", "S16"), ("src", "<u2")])
SEP = "\x1f"
_HEX = np.zeros(256, np.uint8)
_HEX[np.frombuffer(b"0123456789abcdef", np.uint8)] = np.arange(16)
_HEX[np.frombuffer(b"ABCDEF", np.uint8)] = np.arange(10, 16)


def fixed16(column: pa.Array | pa.ChunkedArray) -> np.ndarray:
    """A binary column of 16-byte values as a numpy ``S16`` array (zeros for nulls)."""
    if isinstance(column, pa.ChunkedArray):
        column = column.combine_chunks()
    if len(column) == 0:
        return np.zeros(0, "S16")
    fixed = column.cast(pa.binary(16)) if column.type != pa.binary(16) else column
    fixed = fixed.fill_null(b"\0" * 16) if fixed.null_count else fixed
    data = np.frombuffer(fixed.buffers()[1], "S16")
    return data[fixed.offset : fixed.offset + len(fixed)].copy()


def hex16(column: pa.Array | pa.ChunkedArray) -> np.ndarray:
    """The first 16 bytes of each hex string (``raw_hash``) as ``S16``; zeros for a null or
    a string shorter than 32 characters (the empty hash of a deletion stub). Vectorised."""
    if isinstance(column, pa.ChunkedArray):
        column = column.combine_chunks()
    if pa.types.is_binary(column.type) or pa.types.is_fixed_size_binary(column.type):
        return fixed16(column)
    column = column.cast(pa.string())
    if len(column) == 0:
        return np.zeros(0, "S16")
    offsets = np.frombuffer(column.buffers()[1], np.int32)[column.offset :][: len(column) + 1]
    data = np.frombuffer(column.buffers()[2] or b"\0", np.uint8)
    lengths = np.diff(offsets)
    if not column.null_count and (lengths == 64).all():  # each a sha256 in hex: no gather
        nibbles = _HEX[data[offsets[0] : offsets[-1]].reshape(-1, 64)[:, :32]]
        return np.ascontiguousarray(nibbles[:, 0::2] << 4 | nibbles[:, 1::2]).view("S16").ravel()
    whole = (lengths >= 32) & np.asarray(column.is_valid())
    starts = np.where(whole, offsets[:-1], 0)[:, None] + np.arange(32)
    nibbles = _HEX[data[np.minimum(starts, len(data) - 1)]]
    packed = (nibbles[:, 0::2] << 4 | nibbles[:, 1::2]) * whole[:, None].astype(np.uint8)
    return np.ascontiguousarray(packed).view("S16").ravel()


def hash_keys(keys: list[str | None]) -> np.ndarray:
    """The key hashes of ``keys`` (``source\\x1fsource_id`` strings; zeros for None)."""
    md5 = hashlib.md5
    zero = bytes(16)
    digests = [md5(k.encode(), usedforsecurity=False).digest() if k is not None else zero
               for k in keys]  # fmt: skip
    return np.frombuffer(b"".join(digests), "S16").copy() if digests else np.zeros(0, "S16")


def source_key_hashes(source: str, source_ids: pa.Array) -> np.ndarray:
    """The key hash of each of ``source``'s ``source_ids`` (zeros for a null id)."""
    ids = source_ids.cast(pa.string())
    return hash_keys(pc.binary_join_element_wise(pa.repeat(source, len(ids)), ids, SEP).to_pylist())


def binary16(keys: np.ndarray) -> pa.Array:
    """``S16`` values (key hashes) as an Arrow ``binary(16)`` column: ``fixed16``'s inverse."""
    buffer = pa.py_buffer(np.ascontiguousarray(keys, "S16").tobytes())
    return pa.FixedSizeBinaryArray.from_buffers(pa.binary(16), len(keys), [None, buffer])


def nonzero16(keys: np.ndarray) -> np.ndarray:
    """Which key hashes are not all zeros (``hash_keys``' hash of a None: no key)."""
    return np.ascontiguousarray(keys, "S16").view(np.uint64).reshape(-1, 2).any(axis=1)


def hashed_columns(table: pa.Table, *hex_columns: str) -> list[np.ndarray]:
    """The key hash of every row of ``table`` (``source``, ``source_id``), then ``hex16`` of
    each column named, all as ``S16`` arrays."""
    keys = pc.binary_join_element_wise(table.column("source"), table.column("source_id"), SEP)
    return [hash_keys(keys.to_pylist()), *(hex16(table.column(c)) for c in hex_columns)]


def occurrences(keys: np.ndarray) -> list[np.ndarray]:
    """Row numbers in rounds: the first occurrence of every key, then the second, and so on."""
    order = np.argsort(keys, kind="stable")
    ordered = keys[order]
    starts = np.r_[True, ordered[1:] != ordered[:-1]] if len(keys) else np.zeros(0, bool)
    rank = np.arange(len(keys)) - np.maximum.accumulate(np.where(starts, np.arange(len(keys)), 0))
    if not len(keys) or rank.max() == 0:
        return [np.arange(len(keys))]
    return [np.sort(order[rank == r]) for r in range(int(rank.max()) + 1)]


def row_keys(table: pa.Table) -> list[str]:
    """The state key of every row: source and source_id joined."""
    return key_array(table).to_pylist()


def key_array(table: pa.Table) -> pa.Array:
    """``row_keys`` as one Arrow string array (compact: no Python object per key)."""
    keys = pc.binary_join_element_wise(table.column("source"), table.column("source_id"), SEP)
    return keys.combine_chunks() if isinstance(keys, pa.ChunkedArray) else keys


def key_hashes(table: pa.Table) -> np.ndarray:
    """The 16-byte key hash (``S16``) of every row of ``table`` (``source``, ``source_id``)."""
    return hashed_columns(table)[0]


def bucket_of(keys: np.ndarray) -> np.ndarray:
    """The bucket of each key hash: its first byte."""
    if not len(keys):
        return np.zeros(0, np.uint8)
    return np.ascontiguousarray(keys).view(np.uint8).reshape(-1, 16)[:, 0]


def bucket_range(keys: np.ndarray, bucket: int) -> tuple[int, int]:
    """Where ``bucket``'s keys are in the sorted ``keys``."""
    start = int(np.searchsorted(keys, np.array([bytes([bucket])], "S16"))[0])
    if bucket == 255:
        return start, len(keys)
    return start, int(np.searchsorted(keys, np.array([bytes([bucket + 1])], "S16"))[0])


def _grown(array: np.ndarray, used: int, size: int) -> np.ndarray:
    """A new array of ``size`` holding the first ``used`` items of ``array``."""
    grown = np.zeros(size, array.dtype)
    grown[:used] = array[:used]
    return grown


class HashIndex:
    """Entries (``ENTRY``) by key: dense arrays in insertion order and an open-addressing table
    of entry numbers (-1: empty), found by the low 64 bits of the key hash. Without
    ``values`` it holds the keys alone (a set: ``find`` and ``put``), 16 bytes a key less 34."""

    def __init__(self, values: bool = True) -> None:
        self.keys = np.zeros(0, "S16")
        self.values = np.zeros(0, _VALUE if values else np.dtype([]))
        self.count = 0
        self.table = np.full(8, -1, np.int32)

    def __len__(self) -> int:
        return self.count

    @property
    def nbytes(self) -> int:
        return self.keys.nbytes + self.values.nbytes + self.table.nbytes

    def _slots(self, keys: np.ndarray) -> np.ndarray:
        low = np.ascontiguousarray(keys).view(np.uint64).reshape(-1, 2)[:, 1]
        return (low & np.uint64(len(self.table) - 1)).astype(np.int64)

    def find(self, keys: np.ndarray) -> np.ndarray:
        """The entry number of each key, -1 where it is not held."""
        found = np.full(len(keys), -1, np.int64)
        slot, todo = self._slots(keys), np.arange(len(keys))
        mask = len(self.table) - 1
        while len(todo):
            held = self.table[slot[todo]]
            filled = held >= 0
            match = filled.copy()
            match[filled] = self.keys[held[filled]] == keys[todo[filled]]
            found[todo[match]] = held[match]
            todo = todo[filled & ~match]
            slot[todo] = (slot[todo] + 1) & mask
        return found

    def get(self, keys: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Whether each key is held, and its entry (zeros where it is not)."""
        where = self.find(keys)
        found = where >= 0
        out = np.zeros(len(keys), ENTRY)
        out["key"] = keys
        held = self.values[where[found]]
        for name in self.values.dtype.names:
            out[name][found] = held[name]
        return found, out

    def put(self, entries: np.ndarray) -> None:
        """Insert or replace ``entries`` (unique keys)."""
        where = self.find(entries["key"])
        held = where >= 0
        for name in self.values.dtype.names:
            self.values[name][where[held]] = entries[name][held]
        fresh = entries[~held]
        if not len(fresh):
            return
        start, self.count = self.count, self.count + len(fresh)
        if self.count > len(self.keys):
            size = max(self.count, len(self.keys) * 5 // 4, 1024)
            self.keys, self.values = (
                _grown(self.keys, start, size),
                _grown(self.values, start, size),
            )
        self.keys[start : self.count] = fresh["key"]
        for name in self.values.dtype.names:
            self.values[name][start : self.count] = fresh[name]
        if self.count * 10 > len(self.table) * 7:
            self._rehash(self.count)
        else:
            self._place(np.arange(start, self.count))

    def _place(self, numbers: np.ndarray) -> None:
        """Put entry ``numbers`` (keys not in the table) into free slots: each free slot wanted
        takes one of its claimants (the last written), the others probe on."""
        slot, todo = self._slots(self.keys[numbers]), np.arange(len(numbers))
        mask = len(self.table) - 1
        while len(todo):
            wanted = slot[todo]
            free = self.table[wanted] < 0
            self.table[wanted[free]] = numbers[todo[free]]
            won = free.copy()
            won[free] = self.table[wanted[free]] == numbers[todo[free]]
            todo = todo[~won]
            slot[todo] = (slot[todo] + 1) & mask

    def reserve(self, count: int) -> None:
        """Room for ``count`` entries without growing again (before a bulk insert)."""
        if count > len(self.keys):
            self.keys = _grown(self.keys, self.count, count)
            self.values = _grown(self.values, self.count, count)
        if count * 10 > len(self.table) * 7:
            self._rehash(count)

    def _rehash(self, count: int) -> None:
        """A table for ``count`` entries (at most 70% full), every entry placed again."""
        size = 8
        while count * 10 > size * 7:
            size *= 2
        self.table = np.full(size, -1, np.int32)
        self._place(np.arange(self.count))

    def drop(self, keys: np.ndarray) -> int:
        """Remove ``keys`` (those held); how many were."""
        where = self.find(keys)
        gone = where[where >= 0]
        if len(gone):
            keep = np.ones(self.count, bool)
            keep[gone] = False
            self.keys = self.keys[: self.count][keep]
            self.values = self.values[: self.count][keep]
            self.count = len(self.keys)
            self._rehash(self.count)
        return len(gone)

    def entries(self, numbers: np.ndarray | None = None) -> np.ndarray:
        """Entries ``numbers`` (all when None) as ``ENTRY``, sorted by key."""
        if numbers is None:
            numbers = np.arange(self.count)
        numbers = numbers[np.argsort(self.keys[numbers], kind="stable")]
        out = np.zeros(len(numbers), ENTRY)
        out["key"] = self.keys[numbers]
        values = self.values[numbers]
        for name in self.values.dtype.names:
            out[name] = values[name]
        return out

    def buckets(self, wanted: set[int]) -> Iterator[tuple[int, np.ndarray]]:
        """Each bucket of ``wanted`` (empty ones too) and its sorted entries, from one pass
        over the keys; one bucket's entries made at a time (all at once: 50 bytes a key)."""
        first = bucket_of(self.keys[: self.count])
        numbers = np.flatnonzero(np.isin(first, sorted(wanted)))
        numbers = numbers[np.argsort(first[numbers], kind="stable")]
        bounds = np.searchsorted(first[numbers], np.arange(257))
        for b in sorted(wanted):
            yield b, self.entries(numbers[bounds[b] : bounds[b + 1]])

    def bucket(self, bucket: int) -> np.ndarray:
        """The entries of ``bucket`` (keys starting with that byte), sorted."""
        return next(self.buckets({bucket}))[1]

    def where_source(self, code: int) -> np.ndarray:
        """Every entry of source ``code``, sorted."""
        return self.entries(np.flatnonzero(self.values["src"][: self.count] == code))
