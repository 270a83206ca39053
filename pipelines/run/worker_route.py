"""Which worker process normalizes each landed line of a split provider (``workers.py``).

A line goes to the worker of a stable hash (CRC-32) of its record's smallest row id, so every
record of a product, and every record repeating an id, lands in the same worker. The ids are
learnt without normalizing: for a provider with a ``raw_table()``, a block of lines is read
with its keys-only schema (``key_schema``, ``keys``) in Arrow; the lines that read refuses, and
every line of a provider with only ``raw_keys``, are parsed and given to ``raw_keys``. A record
with no id (or one ``raw_keys`` cannot read) goes to worker 0: normalize drops and counts it
wherever it goes.
"""

from __future__ import annotations

import zlib
from typing import Any

import numpy as np
import pyarrow as pa

from pipelines.net.strict_json import loads_record
from pipelines.run.raw_arrow import arrow_records


def splittable(provider: Any, first: bytes) -> bool:
    """Whether the provider names its records' ids without normalizing them: it reads them
    in Arrow (``raw_table``), or its ``raw_keys`` tells them for the stream's ``first`` line
    (None: it cannot, the default)."""
    if getattr(provider, "raw_table", None) is not None:
        return True
    raw_keys = getattr(provider, "raw_keys", None)
    try:
        return raw_keys is not None and raw_keys(loads_record(first)) is not None
    except Exception:  # one broken record: the provider does name ids
        return True


class Router:
    """Routes blocks of one provider's landed lines to ``workers`` processes."""

    def __init__(self, provider: Any, workers: int) -> None:
        self.provider, self.workers = provider, workers
        raw_table = getattr(provider, "raw_table", None)
        self.spec = raw_table() if raw_table is not None else None

    def route(self, lines: list[bytes]) -> np.ndarray:
        """The worker of each of ``lines`` (an index array, one per line)."""
        targets = np.zeros(len(lines), np.int64)
        rest = range(len(lines))
        if self.spec is not None:
            table, read, rest = arrow_records(lines, self.spec.key_schema)
            if table is not None:
                self._arrow(table, np.asarray(read, np.int64), targets)
        for index in rest:
            targets[index] = self.worker(self._raw_keys(lines[index]))
        return targets

    def _arrow(self, table: pa.Table, read: np.ndarray, targets: np.ndarray) -> None:
        """Set the worker of the lines read in Arrow (``read``: their places in the block)."""
        ids, owners = self.spec.keys(table)
        pairs = pa.table({"owner": pa.array(owners).cast(pa.int64()), "id": ids.cast(pa.string())})
        pairs = pairs.filter(pairs["id"].is_valid())
        smallest = pairs.group_by("owner").aggregate([("id", "min")])
        owners_read = read[smallest["owner"].to_numpy()]
        for where, key in zip(owners_read, smallest["id_min"].to_pylist(), strict=True):
            targets[where] = self.worker([key])

    def _raw_keys(self, line: bytes) -> list[str] | None:
        try:
            return self.provider.raw_keys(loads_record(line))
        except Exception:  # a line normalize refuses: it drops and counts it, wherever it goes
            return None

    def worker(self, keys: list[str] | None) -> int:
        """The worker of a record whose row ids are ``keys`` (0 when it has none)."""
        if not keys:
            return 0
        smallest = min(str(key) for key in keys)
        return zlib.crc32(smallest.encode("utf-8", "surrogatepass")) % self.workers
