"""Dedup state: the current raw and content hash of every (source, source_id).

A row whose raw record is byte-for-byte the one we hold is unchanged (raw
hash); a row whose business columns are the same is unchanged too, its new raw
hash remembered (a cosmetic change upstream); anything else is new or changed.

The state lives in ``state/products-<token>.parquet`` (hashes cut to 16 bytes) with
``state/state.json`` naming that file and the runs it includes. It is written last, after the
manifest, and the next run first folds in any committed manifest the state does not include
yet, so a run killed between its manifest and its state loses and duplicates nothing. In an
object-store lake it lives in the lake too, so the lake alone is the pipeline's memory.
"""

from __future__ import annotations

import json
import secrets
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from pipelines.errors import PipelineError
from pipelines.lake.schema import CONTENT_HASH_VERSION
from pipelines.lake.storage import LocalStorage, Storage

STATE_DIR = "state"
META_PATH = f"{STATE_DIR}/state.json"
LEGACY_PRODUCTS = "products.parquet"  # the name before state.json named its Parquet file
STATE_SCHEMA = pa.schema(
    [
        ("source", pa.string()),
        ("source_id", pa.string()),
        ("raw_hash", pa.binary(16)),  # first 16 bytes of the sha256
        ("content_hash", pa.binary(16)),
    ]
)
_SEP = "\x1f"


class StateUnreadableError(PipelineError):
    """``state/state.json`` or the Parquet file it names cannot be read; ``path`` names it."""

    def __init__(self, path: str, cause: str) -> None:
        super().__init__(f"{path} is unreadable ({cause})")
        self.path = path


@dataclass
class DedupCounts:
    new: int = 0
    changed: int = 0
    unchanged: int = 0


@dataclass
class DedupState:
    """In-memory view of the state: key -> 32 bytes (raw hash[:16] + content hash[:16]).

    ``classify`` updates the state as it goes, so memory holds one entry per
    product and nothing more; a provider whose rows are not committed is put
    back with ``rollback``.
    """

    hashes: dict[str, bytes] = field(default_factory=dict)
    applied_runs: set[str] = field(default_factory=set)
    extra: dict[str, Any] = field(default_factory=dict)
    hash_version: int = CONTENT_HASH_VERSION  # the content-hash definition of ``hashes``

    @staticmethod
    def _pack(raw_hash: str, content_hash: str) -> bytes:
        return bytes.fromhex(raw_hash[:32]) + bytes.fromhex(content_hash[:32])

    def classify(self, table: pa.Table) -> tuple[pa.Table, DedupCounts]:
        """Split a batch into the rows to write (with ``change_type``) and count the rest.

        The state takes the batch's hashes at once, cosmetic raw-hash changes included.
        """
        keys = row_keys(table)
        raw = table.column("raw_hash").to_pylist()
        content = table.column("content_hash").to_pylist()
        counts = DedupCounts()
        keep, change_types = [], []
        for i, key in enumerate(keys):
            packed = self._pack(raw[i], content[i])
            held = self.hashes.get(key)
            if held is not None and held[:16] == packed[:16]:
                counts.unchanged += 1  # the very same raw record
                continue
            self.hashes[key] = packed
            if held is not None and held[16:] == packed[16:]:
                counts.unchanged += 1  # a cosmetic upstream change: remember the new raw hash
                continue
            keep.append(i)
            change_types.append("new" if held is None else "changed")
        counts.new = change_types.count("new")
        counts.changed = len(change_types) - counts.new
        rows = table.take(pa.array(keep, pa.int64()))
        index = rows.schema.get_field_index("change_type")
        rows = rows.set_column(index, "change_type", pa.array(change_types, pa.string()))
        return rows, counts

    def raw_unchanged(self, source: str, source_ids: pa.Array, raw_hashes: pa.Array) -> np.ndarray:
        """Per pair of ``source_ids`` and ``raw_hashes`` (hex, as the ``raw_hash`` column): does
        the state hold that key with that raw hash. A null id or hash is never unchanged."""
        keys = pc.binary_join_element_wise(source, source_ids.cast(pa.string()), _SEP).to_pylist()
        get = self.hashes.get
        found = np.zeros(len(keys), dtype=bool)
        for i, (key, raw_hash) in enumerate(zip(keys, raw_hashes.to_pylist(), strict=True)):
            held = None if key is None or raw_hash is None else get(key)
            found[i] = held is not None and held[:16] == bytes.fromhex(raw_hash[:32])
        return found

    def rollback(self, root: Path | Storage, source: str) -> None:
        """Put ``source``'s entries back as the lake at ``root`` last committed them."""
        self.forget(self.keys_of(source))
        committed = load_state(root).hashes
        prefix = source + _SEP
        self.hashes.update((k, v) for k, v in committed.items() if k.startswith(prefix))

    def apply_table(self, table: pa.Table) -> None:
        """Fold committed rows (source, source_id, raw_hash, content_hash) into the state."""
        raw = table.column("raw_hash").to_pylist()
        content = table.column("content_hash").to_pylist()
        self.hashes.update(
            (key, self._pack(raw[i], content[i])) for i, key in enumerate(row_keys(table))
        )

    def keys_of(self, source: str) -> set[str]:
        """Every key the state holds for ``source``."""
        prefix = source + _SEP
        return {key for key in self.hashes if key.startswith(prefix)}

    def forget(self, keys: Iterable[str]) -> None:
        """Drop deleted products from the state."""
        for key in keys:
            self.hashes.pop(key, None)

    @staticmethod
    def source_id(key: str) -> str:
        return key.split(_SEP, 1)[1]

    def sources(self) -> dict[str, int]:
        """How many keys the state holds per source."""
        counts: dict[str, int] = {}
        for key in self.hashes:
            source = key.split(_SEP, 1)[0]
            counts[source] = counts.get(source, 0) + 1
        return counts


def row_keys(table: pa.Table) -> list[str]:
    """The state key of every row: source and source_id joined."""
    return key_array(table).to_pylist()


def key_array(table: pa.Table) -> pa.Array:
    """``row_keys`` as one Arrow string array (compact: no Python object per key)."""
    keys = pc.binary_join_element_wise(table.column("source"), table.column("source_id"), _SEP)
    return keys.combine_chunks() if isinstance(keys, pa.ChunkedArray) else keys


def _storage(root: Path | Storage) -> Storage:
    return LocalStorage(root) if isinstance(root, Path) else root


def load_state(root: Path | Storage) -> DedupState:
    """Read the state of the lake at ``root`` (empty for a new lake).

    Raises ``StateUnreadableError`` naming the file when either file is corrupt or missing.
    """
    storage = _storage(root)
    meta = read_state_meta(storage)
    if meta is None:
        return DedupState()
    rel = f"{STATE_DIR}/{meta.get('products', LEGACY_PRODUCTS)}"
    try:
        table = pq.read_table(str(storage.location(rel)), filesystem=storage.filesystem)
        packed = _concat_fixed(table.column("raw_hash"), table.column("content_hash"))
    except (OSError, ValueError, KeyError, pa.ArrowException) as exc:
        raise StateUnreadableError(f"{storage.uri}/{rel}", _cause(exc)) from None
    state = DedupState(
        applied_runs=set(meta["applied_runs"]),
        extra=meta.get("extra", {}),
        hash_version=meta.get("content_hash_version", 1),
    )
    state.hashes = dict(zip(row_keys(table), packed.to_pylist()))
    return state


def read_state_meta(root: Path | Storage) -> dict[str, Any] | None:
    """``state/state.json`` (applied runs, provider watermarks), None for a new lake.

    Raises ``StateUnreadableError`` when it is not the JSON object the pipeline wrote.
    """
    storage = _storage(root)
    data = storage.read_bytes(META_PATH)
    if data is None:
        return None
    try:
        meta = json.loads(data)
    except ValueError as exc:
        raise StateUnreadableError(f"{storage.uri}/{META_PATH}", _cause(exc)) from None
    if not isinstance(meta, dict) or not isinstance(meta.get("applied_runs"), list):
        raise StateUnreadableError(f"{storage.uri}/{META_PATH}", "no applied_runs list")
    return meta


def _cause(exc: Exception) -> str:
    text = str(exc).strip().splitlines()
    return f"{type(exc).__name__}: {text[0][:120]}" if text else type(exc).__name__


def save_state(root: Path | Storage, state: DedupState) -> None:
    """Write the state atomically: a new Parquet file, then the JSON that names it.

    ``state.json`` is the switch (one atomic write); older Parquet files go after it.
    """
    storage = _storage(root)
    keys = pa.array(list(state.hashes), pa.string())
    parts = pc.split_pattern(keys, _SEP, max_splits=1)
    packed = np.frombuffer(b"".join(state.hashes.values()), np.uint8).reshape(-1, 32)
    table = pa.table(
        [pc.list_element(parts, 0), pc.list_element(parts, 1),
         _fixed(packed[:, :16]), _fixed(packed[:, 16:])],
        schema=STATE_SCHEMA,
    )  # fmt: skip
    name = f"products-{secrets.token_hex(6)}.parquet"
    if not storage.remote:
        storage.location(STATE_DIR).mkdir(parents=True, exist_ok=True)
    where = str(storage.location(f"{STATE_DIR}/{name}"))
    pq.write_table(table, where, compression="zstd", filesystem=storage.filesystem)
    meta = {"applied_runs": sorted(state.applied_runs), "keys": len(keys), "extra": state.extra,
            "products": name, "content_hash_version": state.hash_version}  # fmt: skip
    storage.write_bytes(META_PATH, json.dumps(meta, indent=2).encode())
    stale = [p for p in storage.list_files(STATE_DIR) if p.endswith(".parquet")]
    storage.delete(p for p in stale if p != f"{STATE_DIR}/{name}")


def _fixed(matrix: np.ndarray) -> pa.FixedSizeBinaryArray:
    """Rows of a uint8 matrix as a fixed-size binary array, without a Python loop."""
    width = matrix.shape[1]
    buffer = pa.py_buffer(np.ascontiguousarray(matrix).tobytes())
    return pa.FixedSizeBinaryArray.from_buffers(pa.binary(width), len(matrix), [None, buffer])


def _concat_fixed(left: pa.ChunkedArray, right: pa.ChunkedArray) -> pa.FixedSizeBinaryArray:
    """Row-wise concatenation of two fixed-size binary columns."""

    def matrix(column: pa.ChunkedArray) -> np.ndarray:
        array = column.combine_chunks()
        width = array.type.byte_width
        data = np.frombuffer(array.buffers()[1], np.uint8)
        return data[array.offset * width : (array.offset + len(array)) * width].reshape(-1, width)

    return _fixed(np.hstack([matrix(left), matrix(right)]))
