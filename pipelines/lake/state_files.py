"""The dedup state's files: ``state/state.json`` and one Parquet file per key-hash bucket.

A bucket holds every key whose hash starts with its byte (256 buckets), sorted by key hash, with
columns ``key_hash`` (16 bytes), ``source``, ``source_id``, ``raw_hash`` and ``content_hash``
(16 bytes each). ``state.json`` names the file of each non-empty bucket (``buckets``), counts
the keys per source, and lists the files its last save replaced (``previous``: kept one more
save, so a reader that read the older ``state.json`` still finds them). Before this layout the
state was one file, ``products-<token>.parquet`` (``products`` in ``state.json``), without
``key_hash``: ``read_single_file`` reads it, and the next save writes buckets.
"""

from __future__ import annotations

import json
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from pipelines.errors import PipelineError
from pipelines.lake.state_index import ENTRY, fixed16
from pipelines.lake.storage import Storage

STATE_DIR = "state"
META_PATH = f"{STATE_DIR}/state.json"
LEGACY_PRODUCTS = "products.parquet"  # the name before state.json named its Parquet file
BUCKET_SCHEMA = pa.schema(
    [
        ("key_hash", pa.binary(16)),  # md5 of "source\x1fsource_id"
        ("source", pa.string()),
        ("source_id", pa.string()),
        ("raw_hash", pa.binary(16)),  # first 16 bytes of the sha256
        ("content_hash", pa.binary(16)),
    ]
)


class StateUnreadableError(PipelineError):
    """``state/state.json`` or a Parquet file it names cannot be read; ``path`` names it."""

    def __init__(self, path: str, cause: str) -> None:
        super().__init__(f"{path} is unreadable ({cause})")
        self.path = path


def cause_of(exc: Exception) -> str:
    text = str(exc).strip().splitlines()
    return f"{type(exc).__name__}: {text[0][:120]}" if text else type(exc).__name__


def read_meta(storage: Storage) -> dict[str, Any] | None:
    """``state/state.json``, None for a new lake; ``StateUnreadableError`` when it is not the
    JSON object the pipeline wrote."""
    data = storage.read_bytes(META_PATH)
    if data is None:
        return None
    try:
        meta = json.loads(data)
    except ValueError as exc:
        raise StateUnreadableError(f"{storage.uri}/{META_PATH}", cause_of(exc)) from None
    if not isinstance(meta, dict) or not isinstance(meta.get("applied_runs"), list):
        raise StateUnreadableError(f"{storage.uri}/{META_PATH}", "no applied_runs list")
    buckets = meta.get("buckets", {})
    if not isinstance(buckets, dict) or not all(isinstance(v, str) for v in buckets.values()):
        raise StateUnreadableError(f"{storage.uri}/{META_PATH}", "buckets is not a name map")
    return meta


def bucket_files(meta: dict[str, Any]) -> dict[int, str]:
    """Bucket number -> file name (in ``state/``) of a bucketed ``state.json``."""
    return {int(key, 16): name for key, name in meta.get("buckets", {}).items()}


def is_single_file(meta: dict[str, Any]) -> bool:
    """Whether ``state.json`` names the state of before buckets (one Parquet file)."""
    return "buckets" not in meta


def _read(storage: Storage, rel: str, columns: list[str] | None) -> pa.Table:
    try:
        data = storage.read_bytes(rel)
        if data is None:
            raise FileNotFoundError(f"{rel} is missing")
        return pq.ParquetFile(pa.BufferReader(data)).read(columns=columns, use_threads=False)
    except (OSError, ValueError, KeyError, pa.ArrowException) as exc:
        raise StateUnreadableError(f"{storage.uri}/{rel}", cause_of(exc)) from None


def read_bucket(storage: Storage, name: str, ids: bool = False) -> pa.Table:
    """A bucket file's hash columns, or (``ids``) only ``key_hash`` and ``source_id``."""
    columns = (
        ["key_hash", "source_id"] if ids else ["key_hash", "source", "raw_hash", "content_hash"]
    )
    return _read(storage, f"{STATE_DIR}/{name}", columns)


def read_single_file(storage: Storage, meta: dict[str, Any]) -> pa.Table:
    """The whole state of a lake written before buckets: source, source_id, raw_hash,
    content_hash (16 bytes each)."""
    rel = f"{STATE_DIR}/{meta.get('products', LEGACY_PRODUCTS)}"
    table = _read(storage, rel, ["source", "source_id", "raw_hash", "content_hash"])
    for name in ("raw_hash", "content_hash"):
        if table.schema.field(name).type != pa.binary(16):
            raise StateUnreadableError(f"{storage.uri}/{rel}", f"{name} is not 16 bytes")
    return table


def entries_of(table: pa.Table, codes: dict[str, int]) -> np.ndarray:
    """A bucket table as index entries, sources numbered by ``codes`` (new ones added)."""
    entries = np.zeros(table.num_rows, ENTRY)
    entries["key"] = fixed16(table.column("key_hash"))
    entries["raw"] = fixed16(table.column("raw_hash"))
    entries["content"] = fixed16(table.column("content_hash"))
    entries["src"] = source_codes(table.column("source"), codes)
    return entries


def source_codes(column: pa.Array | pa.ChunkedArray, codes: dict[str, int]) -> np.ndarray:
    """The code of each source name, numbering new names as they come."""
    if isinstance(column, pa.ChunkedArray):
        column = column.combine_chunks()
    encoded = column.dictionary_encode()
    for name in encoded.dictionary.to_pylist():
        codes.setdefault(name, len(codes))
    lookup = np.array([codes[n] for n in encoded.dictionary.to_pylist()] or [0], np.uint16)
    return lookup[encoded.indices.to_numpy(zero_copy_only=False)]


def write_bucket(
    storage: Storage, name: str, entries: np.ndarray, ids: pa.Array, names: list[str]
) -> None:
    """Write one bucket's entries (sorted) with their source ids; ``names[code]`` = source."""
    table = pa.table(
        [
            _binary16(entries["key"]),
            pa.array(np.array(names, object)[entries["src"]], pa.string()),
            ids,
            _binary16(entries["raw"]),
            _binary16(entries["content"]),
        ],
        schema=BUCKET_SCHEMA,
    )
    sink = pa.BufferOutputStream()
    # hashes do not compress and need no statistics: the cheapest file to write and read
    pq.write_table(table, sink, compression="zstd", compression_level=1,
                   use_dictionary=["source"], write_statistics=False)  # fmt: skip
    storage.write_bytes(f"{STATE_DIR}/{name}", sink.getvalue().to_pybytes())


def _binary16(values: np.ndarray) -> pa.FixedSizeBinaryArray:
    buffer = pa.py_buffer(np.ascontiguousarray(values).tobytes())
    return pa.FixedSizeBinaryArray.from_buffers(pa.binary(16), len(values), [None, buffer])


def write_meta(storage: Storage, meta: dict[str, Any], keep: set[str]) -> None:
    """Write ``state.json`` (the switch), then delete the state files neither it nor ``keep``
    names."""
    storage.write_bytes(META_PATH, json.dumps(meta, indent=2).encode())
    stale = [p for p in storage.list_files(STATE_DIR) if p.endswith(".parquet")]
    storage.delete(p for p in stale if p.rsplit("/", 1)[-1] not in keep)
