"""The (source, source_id) keys one run has seen, for the ``duplicate_source_id`` rule."""

from __future__ import annotations

import numpy as np
import pyarrow as pa

from pipelines.lake.state_index import ENTRY, HashIndex, hash_keys


class RunKeys:
    """The (source, source_id) keys seen so far in one run, for ``duplicate_source_id``.

    Kept as 16-byte key hashes in a hash index (``state_index.HashIndex``, the dedup state's):
    a batch is a few vectorised probes, so a run costs time linear in its rows (an Arrow
    ``is_in`` against every key seen so far would cost, per batch, time linear in the run's
    keys: quadratic over a run), and memory is tens of bytes a key, no Python string.
    """

    def __init__(self) -> None:
        self._seen = HashIndex(values=False)

    def flag_repeats(self, keys: pa.Array) -> pa.BooleanArray:
        """Flag every key already seen in an earlier batch or earlier in this one; remember all.

        A null key (a blank source or source_id, another rule's concern) is never a repeat.
        """
        rows = np.flatnonzero(np.asarray(keys.is_valid()))
        hashes = hash_keys(keys.filter(keys.is_valid()).to_pylist())
        _, first = np.unique(hashes, return_index=True)
        earlier = self._seen.find(hashes) >= 0
        repeat_here = np.ones(len(rows), bool)
        repeat_here[first] = False
        repeat = np.zeros(len(keys), bool)
        repeat[rows] = earlier | repeat_here
        fresh = np.zeros(int((~earlier[first]).sum()), ENTRY)
        fresh["key"] = hashes[first[~earlier[first]]]
        self._seen.put(fresh)
        return pa.array(repeat)

    def known(self, keys: pa.Array) -> np.ndarray:
        """Which ``keys`` this run has seen already (nothing is remembered; a null key never)."""
        known = np.zeros(len(keys), bool)
        rows = np.flatnonzero(np.asarray(keys.is_valid()))
        hashes = hash_keys(keys.filter(keys.is_valid()).to_pylist())
        known[rows] = self._seen.find(hashes) >= 0
        return known
