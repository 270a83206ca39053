"""The dedup state's compact in-memory index: fixed-width hashes per key, sorted by key hash.

A key (``source`` and ``source_id`` joined by ``\\x1f``) is held as the md5 of its UTF-8
bytes (128 bits: at 5 million keys the chance that two collide is about 4e-26), with the first
16 bytes of its raw and content hashes and a small source code: 50 bytes a key, no Python object
per key. Entries live in two sorted levels: a large one and a small one that takes inserts and
is merged into the large one when it reaches a quarter of it, so a batch of inserts costs what
the small level holds, and the merges add up to a few copies of the whole.
"""

from __future__ import annotations

import os
import threading

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

ENTRY = np.dtype([("key", "S16"), ("raw", "S16"), ("content", "S16"), ("src", "<u2")])
SEP = "\x1f"
_MIN_SMALL = 65_536
_duck: dict[int, object] = {}
_duck_lock = threading.Lock()


def _connection() -> object:
    """One DuckDB connection per process (a forked worker makes its own)."""
    import duckdb  # only the write path needs it

    with _duck_lock:
        if os.getpid() not in _duck:
            _duck.clear()
            _duck[os.getpid()] = duckdb.connect(config={"threads": 1})
        return _duck[os.getpid()]


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


def hashed_columns(table: pa.Table, *hex_columns: str) -> list[np.ndarray]:
    """The key hash of every row of ``table`` (``source``, ``source_id``), then the first 16
    bytes of each hex column named (an empty hash gives zeros; a binary column is taken as
    it is), all as ``S16`` arrays."""
    cursor = _connection().cursor()
    hexes = ", ".join(_as_bytes(c, table.schema.field(c).type) for c in hex_columns)
    sql = f"SELECT unhex(md5(source || chr(31) || source_id)) AS k{', ' + hexes if hexes else ''}"
    rows = table.select(["source", "source_id", *hex_columns])
    cursor.register("rows", rows)
    try:
        result = cursor.sql(f"{sql} FROM rows").to_arrow_table()
    finally:
        cursor.close()
    return [_padded(result.column(i)) for i in range(result.num_columns)]


def _as_bytes(column: str, kind: pa.DataType) -> str:
    """The SQL that makes 16 bytes of a hex column (a binary one is taken as it is)."""
    if pa.types.is_binary(kind) or pa.types.is_fixed_size_binary(kind):
        return f'"{column}"'
    return f'unhex(left(coalesce("{column}", \'\'), 32)) AS "{column}"'


def _padded(column: pa.ChunkedArray) -> np.ndarray:
    """``fixed16`` of a binary column whose values may be shorter than 16 bytes (empty)."""
    lengths = pc.binary_length(column)
    if len(column) and pc.min(lengths).as_py() == 16:
        return fixed16(column)
    return np.array([value or b"" for value in column.to_pylist()], "S16")  # rare: empty hashes


def hash_keys(keys: list[str]) -> np.ndarray:
    """The key hashes of ``keys`` (``source\\x1fsource_id`` strings)."""
    parts = [key.split(SEP, 1) for key in keys]
    table = pa.table(
        {"source": [p[0] for p in parts], "source_id": [p[1] if len(p) > 1 else "" for p in parts]}
    )
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


class HashIndex:
    """Entries (``ENTRY``) sorted by key, in a large and a small level; keys are unique."""

    def __init__(self) -> None:
        self.large = np.zeros(0, ENTRY)
        self.small = np.zeros(0, ENTRY)

    def __len__(self) -> int:
        return len(self.large) + len(self.small)

    @property
    def nbytes(self) -> int:
        return self.large.nbytes + self.small.nbytes

    @staticmethod
    def _find(level: np.ndarray, keys: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Position of each key in ``level`` and whether it is there."""
        pos = np.searchsorted(level["key"], keys)
        inside = pos < len(level)
        found = np.zeros(len(keys), bool)
        found[inside] = level["key"][pos[inside]] == keys[inside]
        return pos, found

    def get(self, keys: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Whether each key is held, and its entry (zeros where it is not)."""
        out = np.zeros(len(keys), ENTRY)
        found = np.zeros(len(keys), bool)
        for level in (self.large, self.small):
            pos, hit = self._find(level, keys)
            out[hit] = level[pos[hit]]
            found |= hit
        return found, out

    def put(self, entries: np.ndarray) -> None:
        """Insert or replace ``entries`` (unique keys)."""
        rest = entries
        for level in (self.large, self.small):
            pos, hit = self._find(level, rest["key"])
            level[pos[hit]] = rest[hit]
            rest = rest[~hit]
        if len(rest):
            rest = rest[np.argsort(rest["key"], kind="stable")]
            where = np.searchsorted(self.small["key"], rest["key"])
            self.small = np.insert(self.small, where, rest)
        if len(self.small) > _MIN_SMALL + len(self.large) // 4:
            self.merge()

    def add_sorted(self, entries: np.ndarray) -> None:
        """Insert sorted ``entries`` whose keys are not held (whole buckets read from files):
        into an empty index as they are, without a copy."""
        if len(self):
            self.put(entries)
        else:
            self.large = entries

    def merge(self) -> None:
        """Fold the small level into the large one."""
        positions = np.searchsorted(self.large["key"], self.small["key"])
        self.large = np.insert(self.large, positions, self.small)
        self.small = np.zeros(0, ENTRY)

    def drop(self, keys: np.ndarray) -> int:
        """Remove ``keys`` (those held); how many were."""
        removed = 0
        for name in ("large", "small"):
            level = getattr(self, name)
            pos, hit = self._find(level, keys)
            if hit.any():
                keep = np.ones(len(level), bool)
                keep[pos[hit]] = False
                setattr(self, name, level[keep])
                removed += int(hit.sum())
        return removed

    def bucket(self, bucket: int) -> np.ndarray:
        """The entries of ``bucket`` (keys starting with that byte), sorted."""
        parts = []
        for level in (self.large, self.small):
            start, stop = bucket_range(level["key"], bucket)
            parts.append(level[start:stop])
        both = np.concatenate(parts)
        return both[np.argsort(both["key"], kind="stable")]

    def where_source(self, code: int) -> np.ndarray:
        """Every entry of source ``code``."""
        return np.concatenate([level[level["src"] == code] for level in (self.large, self.small)])
