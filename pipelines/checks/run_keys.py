"""The (source, source_id) keys one run has seen, for the ``duplicate_source_id`` rule."""

from __future__ import annotations

import numpy as np
import pyarrow as pa

from pipelines.lake.state_index import ENTRY, HashIndex, nonzero16


class RunKeys:
    """The (source, source_id) keys seen so far in one run, for ``duplicate_source_id``.

    Kept as their key hashes (``state_index.hash_keys`` of ``source\\x1fsource_id``: the key the
    dedup state holds a row by, so a caller that hashed a key for the state hands that hash
    here too) in a hash index (``state_index.HashIndex``, the dedup state's): a batch is a few
    vectorised probes, so a run costs time linear in its rows (an Arrow ``is_in`` against
    every key seen so far would cost, per batch, time linear in the run's keys: quadratic over
    a run), and memory is tens of bytes a key, no Python string.
    """

    def __init__(self) -> None:
        self._seen = HashIndex(values=False)
        self.expected = 0  # how many keys the run will likely see (``expect``), 0: unknown

    def expect(self, count: int) -> None:
        """The run will likely see about ``count`` keys (a run skipping unchanged raw: the
        keys the state holds). Until then the index grows by doubling, in a few steps,
        instead of ``HashIndex``'s steps of a quarter (each a copy and a rehash)."""
        self.expected = count

    def _room(self, more: int) -> None:
        need = len(self._seen) + more
        if len(self._seen.keys) < need <= self.expected:
            self._seen.reserve(min(max(need, 2 * len(self._seen.keys)), self.expected))

    def flag_repeats(self, keys: np.ndarray) -> pa.BooleanArray:
        """Flag every key hash already seen in an earlier batch or earlier in this one;
        remember all. No key (a zero hash: a blank source or source_id, another rule's
        concern) is never a repeat."""
        rows = np.flatnonzero(nonzero16(keys))
        hashes = keys[rows]
        _, first = np.unique(hashes, return_index=True)
        earlier = self._seen.find(hashes) >= 0
        repeat_here = np.ones(len(rows), bool)
        repeat_here[first] = False
        repeat = np.zeros(len(keys), bool)
        repeat[rows] = earlier | repeat_here
        self.add(hashes[first[~earlier[first]]])
        return pa.array(repeat)

    def add(self, keys: np.ndarray) -> None:
        """Remember key hashes known to be new: distinct, none seen yet, none zero."""
        fresh = np.zeros(len(keys), ENTRY)
        fresh["key"] = keys
        self._room(len(fresh))
        self._seen.put(fresh)

    def known(self, keys: np.ndarray) -> np.ndarray:
        """Which key hashes this run has seen already (nothing is remembered; no key never)."""
        return (self._seen.find(keys) >= 0) & nonzero16(keys)
