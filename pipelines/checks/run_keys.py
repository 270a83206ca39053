"""The (source, source_id) keys one run has seen, for the ``duplicate_source_id`` rule."""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc


class RunKeys:
    """The (source, source_id) keys seen so far in one run, for ``duplicate_source_id``.

    Kept as one Arrow array of distinct keys; each batch is looked up with ``is_in``,
    which hashes the keys seen so far: linear in the run's distinct keys per batch.
    """

    def __init__(self) -> None:
        self._seen = pa.array([], pa.string())

    def flag_repeats(self, keys: pa.Array) -> pa.BooleanArray:
        """Flag every key already seen in an earlier batch or earlier in this one; remember all."""
        earlier = pc.is_in(keys, value_set=self._seen).to_numpy(zero_copy_only=False)
        codes = pc.dictionary_encode(keys).indices.fill_null(-1).to_numpy(zero_copy_only=False)
        repeat = np.ones(len(keys), dtype=bool)
        repeat[np.unique(codes, return_index=True)[1]] = False
        repeat[codes == -1] = False
        new = pc.unique(pc.filter(keys, pa.array(~earlier & (codes != -1))))
        self._seen = pa.concat_arrays([self._seen, new])
        return pa.array(earlier | repeat)
