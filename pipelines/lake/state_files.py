"""The dedup state's files in ``state/``: ``state.json``, a base of key-hash buckets, and logs.

``state.json`` (``"format": 2``) names the file of each non-empty bucket (``buckets``), the
logs written since (``logs``, oldest first, with their key counts), the source of each source
code (``source_codes``), counts the keys per source, and lists the files its last save
replaced (``previous``: kept one more save, so a reader that read the older ``state.json``
still finds them). A bucket holds every key whose hash starts with its byte (256 buckets):
``b<xx>-<token>.bin`` is an 8-byte header (``DSB2``, the count) and the entries as fixed-width
records (``ENTRY``: key hash, raw hash, content hash, 16 bytes each, and the source code)
sorted by key hash, so a lookup reads only the records it bisects (the file is mapped, not
read); ``b<xx>-<token>.ids.parquet`` holds their ``source_id`` strings in the same order. A
log (``log-<token>.parquet``) holds the entries one save changed, added or removed (``gone``),
with the ``source_id`` of those added (null for the others: their id is in a bucket).

Before this layout a bucket was one Parquet file, ``b<xx>-<token>.parquet``, with ``key_hash``,
``source``, ``source_id``, ``raw_hash`` and ``content_hash``, and
before buckets the state was one file, ``products-<token>.parquet`` (``products`` in
``state.json``, ``read_single_file``). Both are read whole and the next save writes buckets.
"""

from __future__ import annotations

import json
import mmap
import struct
from collections.abc import Iterator
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from pipelines.errors import PipelineError
from pipelines.lake.state_index import ENTRY, binary16, fixed16, hashed_columns
from pipelines.lake.storage import LocalStorage, Storage

STATE_DIR = "state"
META_PATH = f"{STATE_DIR}/state.json"
LEGACY_PRODUCTS = "products.parquet"  # the name before state.json named its Parquet file
FORMAT = 2  # binary buckets and logs; a state.json without "format" is of before
HEADER = struct.Struct("<4sQ")  # magic, entry count
MAGIC = b"DSB2"
LOG_SCHEMA = pa.schema(
    [
        ("key_hash", pa.binary(16)),  # md5 of "source\x1fsource_id"
        ("src", pa.uint16()),  # the source's code (state.json's source_codes)
        ("raw_hash", pa.binary(16)),  # first 16 bytes of the sha256
        ("content_hash", pa.binary(16)),
        ("gone", pa.bool_()),  # removed from the state
        ("source_id", pa.string()),  # of an added key; null when a bucket holds it
    ]
)


class StateUnreadableError(PipelineError):
    """``state/state.json`` or a file it names cannot be read; ``path`` names it."""

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
    logs = meta.get("logs", [])
    if not isinstance(logs, list) or not all(isinstance(v, dict) for v in logs):
        raise StateUnreadableError(f"{storage.uri}/{META_PATH}", "logs is not a list")
    return meta


def bucket_files(meta: dict[str, Any]) -> dict[int, str]:
    """Bucket number -> file name (in ``state/``) of a bucketed ``state.json``."""
    return {int(key, 16): name for key, name in meta.get("buckets", {}).items()}


def log_files(meta: dict[str, Any]) -> list[str]:
    """The logs ``state.json`` names, oldest first."""
    return [str(log["name"]) for log in meta.get("logs", [])]


def stored_names(meta: dict[str, Any]) -> set[str]:
    """Every file (in ``state/``) that ``state.json`` reads: buckets, their ids, logs."""
    names = set(bucket_files(meta).values()) | set(log_files(meta))
    if meta.get("format") == FORMAT:
        names |= {ids_name(name) for name in bucket_files(meta).values()}
    return names


def is_single_file(meta: dict[str, Any]) -> bool:
    """Whether ``state.json`` names the state of before buckets (one Parquet file)."""
    return "buckets" not in meta


def is_current(meta: dict[str, Any]) -> bool:
    """Whether ``state.json`` names binary buckets and logs (else a layout of before)."""
    return meta.get("format") == FORMAT


def ids_name(name: str) -> str:
    """The file of the ``source_id`` strings of bucket file ``name`` (``.bin``)."""
    return name.removesuffix(".bin") + ".ids.parquet"


def _read(storage: Storage, rel: str, columns: list[str] | None) -> pa.Table:
    try:
        data = storage.read_bytes(rel)
        if data is None:
            raise FileNotFoundError(f"{rel} is missing")
        return pq.ParquetFile(pa.BufferReader(data)).read(columns=columns, use_threads=False)
    except (OSError, ValueError, KeyError, pa.ArrowException) as exc:
        raise StateUnreadableError(f"{storage.uri}/{rel}", cause_of(exc)) from None


def read_entries(storage: Storage, name: str) -> np.ndarray:
    """A bucket file's entries (sorted ``ENTRY``): mapped from a local lake (pages read as a
    lookup touches them), read whole from an object store."""
    rel = f"{STATE_DIR}/{name}"
    try:
        if isinstance(storage, LocalStorage):
            with open(storage.location(rel), "rb") as handle:
                data: Any = mmap.mmap(handle.fileno(), 0, access=mmap.ACCESS_READ)
        else:
            data = storage.read_bytes(rel)
            if data is None:
                raise FileNotFoundError(f"{rel} is missing")
        magic, count = HEADER.unpack_from(data)
        if magic != MAGIC or len(data) != HEADER.size + count * ENTRY.itemsize:
            raise ValueError(f"not a bucket of {count} entries")
        return np.frombuffer(data, ENTRY, count, HEADER.size)
    except (OSError, ValueError, struct.error) as exc:
        raise StateUnreadableError(f"{storage.uri}/{rel}", cause_of(exc)) from None


def write_entries(storage: Storage, name: str, entries: np.ndarray) -> None:
    """Write a bucket file: the header, then ``entries`` (sorted ``ENTRY``)."""
    body = np.ascontiguousarray(entries, ENTRY).tobytes()
    storage.write_bytes(f"{STATE_DIR}/{name}", HEADER.pack(MAGIC, len(entries)) + body)


def read_ids(storage: Storage, name: str, count: int) -> pa.Array:
    """The ``source_id`` strings of bucket file ``name`` (``count`` entries), in its order."""
    rel = f"{STATE_DIR}/{ids_name(name)}"
    table = _read(storage, rel, ["source_id"])
    if table.num_rows != count:
        raise StateUnreadableError(f"{storage.uri}/{rel}", f"{table.num_rows} ids, not {count}")
    return table.column("source_id").combine_chunks()


def write_ids(storage: Storage, name: str, ids: pa.Array) -> None:
    _write_parquet(storage, ids_name(name), pa.table({"source_id": ids.cast(pa.string())}))


def _write_parquet(storage: Storage, name: str, table: pa.Table) -> None:
    sink = pa.BufferOutputStream()
    # hashes do not compress and need no statistics: the cheapest file to write and read
    pq.write_table(table, sink, compression="zstd", compression_level=1, use_dictionary=False,
                   write_statistics=False)  # fmt: skip
    storage.write_bytes(f"{STATE_DIR}/{name}", sink.getvalue().to_pybytes())


def write_log(
    storage: Storage, name: str, entries: np.ndarray, gone: np.ndarray, ids: pa.Array
) -> None:
    """Write a log: ``entries`` (``ENTRY``), which are ``gone``, and ``ids`` (null: held)."""
    table = pa.table(
        [binary16(entries["key"]), pa.array(entries["src"], pa.uint16()),
         binary16(entries["raw"]), binary16(entries["content"]), pa.array(gone, pa.bool_()),
         ids.cast(pa.string())],
        schema=LOG_SCHEMA,
    )  # fmt: skip
    _write_parquet(storage, name, table)


def read_log(storage: Storage, name: str) -> tuple[np.ndarray, np.ndarray, pa.Array]:
    """A log's entries (``ENTRY``), which are gone, and their ids (null: in a bucket)."""
    table = _read(storage, f"{STATE_DIR}/{name}", None)
    entries = np.zeros(table.num_rows, ENTRY)
    entries["key"] = fixed16(table.column("key_hash"))
    entries["raw"] = fixed16(table.column("raw_hash"))
    entries["content"] = fixed16(table.column("content_hash"))
    entries["src"] = table.column("src").to_numpy()
    gone = table.column("gone").to_numpy(zero_copy_only=False)
    return entries, gone, table.column("source_id").combine_chunks()


def read_before(storage: Storage, meta: dict[str, Any]) -> Iterator[list[Any]]:
    """The state of a layout of before, a part at a time (its Parquet buckets, or its single
    file): key hashes, raw and content hashes (``S16``), ``source`` and ``source_id``."""
    if is_single_file(meta):
        table = read_single_file(storage, meta)
        keys = hashed_columns(table)[0]
        yield [keys, *_hashes(table), table.column("source"), table.column("source_id")]
        return
    for name in bucket_files(meta).values():
        table = _read(storage, f"{STATE_DIR}/{name}", None)
        keys = fixed16(table.column("key_hash"))
        yield [keys, *_hashes(table), table.column("source"), table.column("source_id")]


def _hashes(table: pa.Table) -> list[np.ndarray]:
    return [fixed16(table.column("raw_hash")), fixed16(table.column("content_hash"))]


def read_single_file(storage: Storage, meta: dict[str, Any]) -> pa.Table:
    """The whole state of a lake written before buckets: source, source_id, raw_hash,
    content_hash (16 bytes each)."""
    rel = f"{STATE_DIR}/{meta.get('products', LEGACY_PRODUCTS)}"
    table = _read(storage, rel, ["source", "source_id", "raw_hash", "content_hash"])
    for name in ("raw_hash", "content_hash"):
        if table.schema.field(name).type != pa.binary(16):
            raise StateUnreadableError(f"{storage.uri}/{rel}", f"{name} is not 16 bytes")
    return table


def source_codes(column: pa.Array | pa.ChunkedArray, codes: dict[str, int]) -> np.ndarray:
    """The code of each source name, numbering new names as they come."""
    if isinstance(column, pa.ChunkedArray):
        column = column.combine_chunks()
    encoded = column.dictionary_encode()
    for name in encoded.dictionary.to_pylist():
        codes.setdefault(name, len(codes))
    lookup = np.array([codes[n] for n in encoded.dictionary.to_pylist()] or [0], np.uint16)
    return lookup[encoded.indices.to_numpy(zero_copy_only=False)]


def write_meta(storage: Storage, meta: dict[str, Any], keep: set[str]) -> None:
    """Write ``state.json`` (the switch), then delete the state files neither it nor ``keep``
    names."""
    storage.write_bytes(META_PATH, json.dumps(meta, indent=2).encode())
    stale = [p for p in storage.list_files(STATE_DIR) if p.endswith((".parquet", ".bin"))]
    storage.delete(p for p in stale if p.rsplit("/", 1)[-1] not in keep)
