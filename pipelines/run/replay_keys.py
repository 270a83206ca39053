"""The key hashes a replay's key pass learnt, handed on with the lines to the early skip.

A replay reads every record's keys once to see whether ids repeat (``replay.py``); the early
skip (``skip.py``) needs the same keys, hashed as the dedup state holds them. Rather than read
every line's keys a second time, the key pass keeps each record's key hashes in a temporary
file (16 bytes a key: memory stays flat in the catalog) and the second pass hands each line on
as a ``KeyedLine`` carrying them. ``BlockRows`` uses them when every line of a block has them,
and reads the keys itself otherwise (a landed file, a line that crossed to a worker).
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from typing import IO

import numpy as np


class KeyedLine(bytes):
    """A landed line and the key hashes of its record (``key_hashes``: 16 bytes a key, none
    for a record that gives no row), as ``state_index.source_key_hashes`` makes them."""

    key_hashes: bytes


def carried_keys(lines: list[bytes]) -> tuple[np.ndarray, np.ndarray] | None:
    """The key hashes (``S16``) the ``lines`` carry and the line giving each; None unless
    every line carries them."""
    carried = [getattr(line, "key_hashes", None) for line in lines]
    if any(keys is None for keys in carried):
        return None
    counts = [len(keys) // 16 for keys in carried]  # type: ignore[arg-type]
    keys = np.frombuffer(b"".join(carried), "S16")  # type: ignore[arg-type]
    return keys, np.repeat(np.arange(len(lines), dtype=np.int64), counts)


class RecordKeys:
    """Every record's key hashes in record order, in a temporary file: written a block at a
    time (``add``), read back in the same order by ``keyed``."""

    def __init__(self, file: IO[bytes]) -> None:
        self._file = file  # a temporary file, opened and closed by the caller
        self._blocks: list[tuple[int, int]] = []  # records and keys of each block written

    def add(self, keys: np.ndarray, owners: np.ndarray, records: int) -> None:
        """The key hashes (``S16``) of a block of ``records`` records, ``owners`` the record
        (0 to ``records`` - 1) giving each."""
        order = np.argsort(owners, kind="stable")
        counts = np.bincount(owners, minlength=records).astype(np.uint32)
        self._file.write(counts.tobytes())
        self._file.write(np.ascontiguousarray(keys[order], "S16").tobytes())
        self._blocks.append((records, len(keys)))

    def keyed(self, lines: Iterable[bytes]) -> Iterator[KeyedLine]:
        """``lines`` (every record's, in the order added), each with its key hashes."""
        self._file.seek(0)
        stream = iter(lines)
        for records, count in self._blocks:
            ends = np.cumsum(np.frombuffer(self._file.read(4 * records), np.uint32)) * 16
            keys = self._file.read(16 * count)
            start = 0
            for end, line in zip(ends.tolist(), stream):  # ends first: no line read past it
                keyed = KeyedLine(line)
                keyed.key_hashes = keys[start:end]
                start = end
                yield keyed
