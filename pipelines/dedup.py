"""Dedup state: the current raw and content hash of every (source, source_id).

A row whose raw record is byte-for-byte the one we hold is unchanged (raw
hash); a row whose business columns are the same is unchanged too, its new raw
hash remembered (a cosmetic change upstream); anything else is new or changed.

The state lives in ``state/products.parquet`` with ``state/state.json``
naming the runs it includes. It is written last, after the manifest, and the
next run first folds in any committed manifest the state does not include yet,
so a run killed between its manifest and its state loses and duplicates
nothing.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

STATE_DIR = "state"
STATE_SCHEMA = pa.schema(
    [
        ("source", pa.string()),
        ("source_id", pa.string()),
        ("raw_hash", pa.string()),
        ("content_hash", pa.string()),
    ]
)
_SEP = "\x1f"


@dataclass
class DedupCounts:
    new: int = 0
    changed: int = 0
    unchanged: int = 0


@dataclass
class DedupState:
    """In-memory view of the state: key -> 32 bytes (raw hash[:16] + content hash[:16])."""

    hashes: dict[str, bytes] = field(default_factory=dict)
    applied_runs: set[str] = field(default_factory=set)
    extra: dict[str, Any] = field(default_factory=dict)

    @staticmethod
    def _pack(raw_hash: str, content_hash: str) -> bytes:
        return bytes.fromhex(raw_hash[:32]) + bytes.fromhex(content_hash[:32])

    def classify(self, table: pa.Table) -> tuple[pa.Table, DedupCounts, list[tuple[str, bytes]]]:
        """Split a batch into the rows to write (with ``change_type``) and count the rest.

        Returns the rows to write, the counts, and the hash updates to apply once
        the run is committed (including cosmetic raw-hash changes).
        """
        keys = row_keys(table)
        raw = table.column("raw_hash").to_pylist()
        content = table.column("content_hash").to_pylist()
        counts = DedupCounts()
        keep, change_types, updates = [], [], []
        for i, key in enumerate(keys):
            packed = self._pack(raw[i], content[i])
            held = self.hashes.get(key)
            if held is not None and held[:16] == packed[:16]:
                counts.unchanged += 1  # the very same raw record
                continue
            updates.append((key, packed))
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
        return rows, counts, updates

    def apply(self, updates: Iterable[tuple[str, bytes]]) -> None:
        self.hashes.update(updates)

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
    return pc.binary_join_element_wise(
        table.column("source"), table.column("source_id"), _SEP
    ).to_pylist()


def load_state(root: Path) -> DedupState:
    """Read the state of the lake at ``root`` (empty for a new lake)."""
    directory = root / STATE_DIR
    meta_path = directory / "state.json"
    if not meta_path.exists():
        return DedupState()
    meta = json.loads(meta_path.read_text())
    table = pq.read_table(directory / "products.parquet")
    state = DedupState(applied_runs=set(meta["applied_runs"]), extra=meta.get("extra", {}))
    keys = row_keys(table)
    packed = zip(table.column("raw_hash").to_pylist(), table.column("content_hash").to_pylist())
    state.hashes = {k: bytes.fromhex(r) + bytes.fromhex(c) for k, (r, c) in zip(keys, packed)}
    return state


def save_state(root: Path, state: DedupState) -> None:
    """Write the state atomically: the Parquet file first, then the JSON that names it."""
    directory = root / STATE_DIR
    directory.mkdir(parents=True, exist_ok=True)
    sources, ids, raw, content = [], [], [], []
    for key, packed in state.hashes.items():
        source, source_id = key.split(_SEP, 1)
        sources.append(source)
        ids.append(source_id)
        raw.append(packed[:16].hex())
        content.append(packed[16:].hex())
    table = pa.table([sources, ids, raw, content], schema=STATE_SCHEMA)
    tmp = directory / "products.parquet.tmp"
    pq.write_table(table, tmp, compression="zstd")
    os.replace(tmp, directory / "products.parquet")
    meta = {"applied_runs": sorted(state.applied_runs), "keys": len(ids), "extra": state.extra}
    tmp_meta = directory / "state.json.tmp"
    tmp_meta.write_text(json.dumps(meta, indent=2))
    os.replace(tmp_meta, directory / "state.json")
