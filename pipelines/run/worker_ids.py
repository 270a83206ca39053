"""Whether two worker processes of a split provider staged rows of one id (``workers.py``).

Workers get blocks of lines by their place in the stream, so a repeated id can land in two of
them, where neither sees the other's rows: the duplicate-id rule and dedup's last-row-wins would
then judge otherwise than one process. Each worker sends the parent the 64-bit hashes of the
distinct ids of the rows it staged (``id_hashes``: 8 bytes an id, no Python object per id); the
parent sorts them together (``shared_hashes``). A hash two workers share is a repeated id or,
very rarely, two ids with one hash: only then are the ids behind those hashes compared
exactly, from the workers' staged files (``ids_cross``).

The ids: every id of a passing row (a blank one too: dedup keeps it as a key), and every
non-blank id of a quarantined or skipped row (the duplicate-id rule ignores blank ones).
"""

from __future__ import annotations

from collections.abc import Iterator
from functools import cache

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.ipc as ipc
import pyarrow.parquet as pq

from pipelines.lake.lake import StagedFile

_PRIME = 0x100000001B3  # the polynomial hash's base (FNV's 64-bit prime)
_MIX = (np.uint64(0xBF58476D1CE4E5B9), np.uint64(0x94D049BB133111EB))  # splitmix64's finalizer


def id_hashes(ids: pa.Array) -> np.ndarray:
    """A 64-bit hash (``uint64``) of each id's UTF-8 bytes; the ids must not be null.

    A polynomial hash, vectorised: the prefix sums of byte * ``_PRIME`` ** place give each id's
    sum, brought back to its own first byte by the inverse power (``_PRIME`` is odd, so it has
    one modulo 2**64); its length and a final mix spread it over the 64 bits."""
    ids = ids.cast(pa.binary())
    offsets = np.frombuffer(ids.buffers()[1], np.int32)[ids.offset : ids.offset + len(ids) + 1]
    offsets = offsets.astype(np.int64)
    data = np.frombuffer(ids.buffers()[2] or b"\0", np.uint8)[offsets[0] : offsets[-1]]
    offsets -= offsets[0]
    powers, inverses = _powers(len(data).bit_length())
    prefix = np.zeros(len(data) + 1, np.uint64)
    np.cumsum(data * powers[: len(data)], out=prefix[1:])
    sums = (prefix[offsets[1:]] - prefix[offsets[:-1]]) * inverses[offsets[:-1]]
    return _mixed(sums ^ (np.diff(offsets).astype(np.uint64) << np.uint64(56)))


@cache
def _powers(bits: int) -> tuple[np.ndarray, np.ndarray]:
    """``_PRIME`` ** n and its inverse ** n modulo 2**64, for n below 2 ** ``bits`` (cached: a
    worker's batches ask for a few sizes)."""
    size = 1 << bits
    tables = []
    for base in (_PRIME, pow(_PRIME, -1, 2**64)):
        steps = np.full(size, base, np.uint64)
        steps[0] = 1
        tables.append(np.cumprod(steps))
    return tables[0], tables[1]


def _mixed(values: np.ndarray) -> np.ndarray:
    values = values ^ (values >> np.uint64(30))
    values = values * _MIX[0]
    values = values ^ (values >> np.uint64(27))
    values = values * _MIX[1]
    return values ^ (values >> np.uint64(31))


def worker_hashes(files: list[StagedFile]) -> np.ndarray:
    """The sorted, distinct hashes of the ids one worker staged (the module's ids)."""
    chunks = [id_hashes(ids) for ids in _staged_ids(files)]
    return _distinct(np.concatenate([np.zeros(0, np.uint64), *chunks]))


def shared_hashes(shares: list[np.ndarray]) -> np.ndarray:
    """The hashes found in two or more of ``shares`` (each a worker's ``worker_hashes``)."""
    every = np.concatenate([np.zeros(0, np.uint64), *shares])
    every.sort()
    return _distinct(every[1:][every[1:] == every[:-1]])


def _distinct(hashes: np.ndarray) -> np.ndarray:
    """``hashes`` sorted, each once (a sort: ``np.unique``'s hash set is slower on these)."""
    hashes = np.sort(hashes)
    return hashes[np.r_[True, hashes[1:] != hashes[:-1]]] if len(hashes) else hashes


def ids_cross(staged: list[list[StagedFile]], shared: np.ndarray) -> bool:
    """Whether two workers staged rows of one id, given the hashes they share (exact)."""
    if not len(shared):
        return False
    wanted = pa.array(shared)
    shares = []
    for files in staged:
        found = [pa.array([], pa.string())]
        for ids in _staged_ids(files):
            found.append(ids.filter(pc.is_in(pa.array(id_hashes(ids)), wanted)))
        shares.append(pc.unique(pa.concat_arrays(found)))
    total = sum(len(ids) for ids in shares)
    return pc.count_distinct(pa.chunked_array(shares, pa.string())).as_py() < total


def _staged_ids(files: list[StagedFile]) -> Iterator[pa.Array]:
    """The ids of the module's rows in ``files``, a batch at a time."""
    for file in files:
        for ids in _source_ids(file):
            ids = ids.cast(pa.string())
            if file.zone == "candidates":
                yield ids.drop_null()
            else:
                blank = pc.equal(pc.utf8_trim_whitespace(ids), "").fill_null(True)
                yield ids.filter(pc.invert(blank))


def _source_ids(file: StagedFile) -> Iterator[pa.Array]:
    """The ``source_id`` column of a staged file: candidates (Arrow IPC, ``candidates.py``)
    or a Parquet file (quarantine, unchanged)."""
    if file.zone != "candidates":
        for batch in pq.ParquetFile(file.staged).iter_batches(columns=["source_id"]):
            yield batch.column(0)
        return
    with pa.OSFile(str(file.staged)) as source:
        schema = ipc.open_file(source).schema
        column = schema.get_field_index("source_id")
        options = ipc.IpcReadOptions(included_fields=[column])
        reader = ipc.open_file(source, options=options)
        for index in range(reader.num_record_batches):
            yield reader.get_batch(index).column(0)
