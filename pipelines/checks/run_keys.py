"""The (source, source_id) keys one run has seen, for the ``duplicate_source_id`` rule."""

from __future__ import annotations

import numpy as np
import pyarrow as pa


class RunKeys:
    """The (source, source_id) keys seen so far in one run, for ``duplicate_source_id``.

    Kept as a hash set: each key of a batch is one set lookup, so a run costs time linear in
    its rows (an Arrow ``is_in`` against every key seen so far would cost, per batch, time
    linear in the run's keys: quadratic over a run).
    """

    def __init__(self) -> None:
        self._seen: set[str] = set()

    def flag_repeats(self, keys: pa.Array) -> pa.BooleanArray:
        """Flag every key already seen in an earlier batch or earlier in this one; remember all.

        A null key (a blank source or source_id, another rule's concern) is never a repeat.
        """
        seen, add = self._seen, self._seen.add
        repeat = np.zeros(len(keys), dtype=bool)
        for i, key in enumerate(keys.to_pylist()):
            if key is None:
                continue
            if key in seen:
                repeat[i] = True
            else:
                add(key)
        return pa.array(repeat)

    def known(self, keys: pa.Array) -> np.ndarray:
        """Which ``keys`` this run has seen already (nothing is remembered)."""
        seen = self._seen
        return np.array([key is not None and key in seen for key in keys.to_pylist()], bool)
