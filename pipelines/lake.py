"""The lake on disk: raw landing files, Parquet parts, manifests.

Layout (see DESIGN.md)::

    raw/dt=YYYY-MM-DD/source=S/<run_id>.jsonl.zst
    normalized/dt=YYYY-MM-DD/source=S/part-<run_id>-N.parquet
    quarantine/dt=YYYY-MM-DD/source=S/part-<run_id>-N.parquet
    _manifests/<run_id>.json        commit marker, written last

Every file is first written under a ``.tmp`` name that no reader's glob
matches; ``commit`` renames the run's files into place and then writes the
manifest. A run that dies before its manifest leaves files that ``recover``
removes at the start of the next run, so a reader that trusts manifests (or
globs ``*.parquet`` between runs) never sees half a run.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import orjson
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.dataset as ds
import pyarrow.parquet as pq
import zstandard

TMP_SUFFIX = ".tmp"
MANIFEST_DIR = "_manifests"
_RUN_FILE = re.compile(r"^(?:part-)?(?P<run_id>\d{8}T\d{6}Z-[0-9a-f]{6})")


def partition_dir(root: Path, zone: str, dt: str, source: str) -> Path:
    """``root/zone/dt=…/source=…`` (hive partitioning)."""
    return root / zone / f"dt={dt}" / f"source={source}"


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


@dataclass
class StagedFile:
    """A file a run wrote in its work folder, waiting for the commit to move it into the lake."""

    staged: Path
    final: Path
    zone: str
    source: str
    rows: int = 0

    def to_dict(self) -> dict[str, Any]:
        return {**self.__dict__, "staged": str(self.staged), "final": str(self.final)}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> StagedFile:
        return cls(**{**data, "staged": Path(data["staged"]), "final": Path(data["final"])})


class RawWriter:
    """Streams raw records, one JSON object per line, into a zstd file."""

    def __init__(self, file: StagedFile) -> None:
        self.file = file
        file.staged.parent.mkdir(parents=True, exist_ok=True)
        self._handle = file.staged.open("wb")
        self._stream = zstandard.ZstdCompressor(level=3).stream_writer(self._handle)

    def write(self, record: dict[str, Any]) -> None:
        self._stream.write(orjson.dumps(record) + b"\n")
        self.file.rows += 1

    def close(self) -> StagedFile:
        self._stream.close()
        return self.file


def read_raw(path: Path) -> Iterator[dict[str, Any]]:
    """Raw records of one landing file (``.jsonl.zst`` or plain ``.jsonl``)."""
    with path.open("rb") as handle:
        if path.name.endswith(".zst"):
            reader = zstandard.ZstdDecompressor().stream_reader(handle)
            stream: Iterable[bytes] = _lines(reader)
        else:
            stream = handle
        for line in stream:
            if line.strip():
                yield orjson.loads(line)


def _lines(reader: Any) -> Iterator[bytes]:
    pending = b""
    while chunk := reader.read(1 << 20):
        pending += chunk
        *lines, pending = pending.split(b"\n")
        yield from lines
    if pending:
        yield pending


class PartWriter:
    """Writes one Parquet file in row groups of ``row_group_size`` rows, buffering in between."""

    def __init__(self, file: StagedFile, schema: pa.Schema, row_group_size: int) -> None:
        self.file, self.schema, self.row_group_size = file, schema, row_group_size
        self._pending: list[pa.Table] = []
        self._pending_rows = 0
        self._writer: pq.ParquetWriter | None = None

    def write(self, table: pa.Table) -> None:
        """Buffer ``table``; flush a row group each time ``row_group_size`` rows are waiting."""
        if table.num_rows == 0:
            return
        self._pending.append(table)
        self._pending_rows += table.num_rows
        if self._pending_rows >= self.row_group_size:
            self._flush()

    def _flush(self) -> None:
        if not self._pending_rows:
            return
        if self._writer is None:
            self.file.staged.parent.mkdir(parents=True, exist_ok=True)
            self._writer = pq.ParquetWriter(
                self.file.staged, self.schema, compression="zstd", use_dictionary=True
            )
        table = pa.concat_tables(self._pending)
        self._writer.write_table(table, row_group_size=self.row_group_size)
        self.file.rows += table.num_rows
        self._pending, self._pending_rows = [], 0

    def close(self) -> StagedFile | None:
        """Finish the file; None when no row was written."""
        self._flush()
        return self.abort()

    def abort(self) -> StagedFile | None:
        """Close the file without writing what is buffered."""
        if self._writer is None:
            return None
        self._writer.close()
        return self.file


@dataclass
class Manifest:
    """What one run committed: its files (with rows and checksums) and its counts."""

    run_id: str
    dt: str
    files: list[dict[str, Any]] = field(default_factory=list)
    counts: dict[str, Any] = field(default_factory=dict)

    def to_json(self) -> bytes:
        return json.dumps(self.__dict__, indent=2, sort_keys=True).encode()


class Lake:
    """One lake root: commits runs, lists what was committed, cleans up what was not."""

    def __init__(self, root: Path) -> None:
        self.root = root

    def manifest_path(self, run_id: str) -> Path:
        return self.root / MANIFEST_DIR / f"{run_id}.json"

    def raw_file(self, work: Path, dt: str, source: str, run_id: str) -> StagedFile:
        """Where a run stages, then commits, one provider's raw landing file."""
        final = partition_dir(self.root, "raw", dt, source) / f"{run_id}.jsonl.zst"
        return StagedFile(work / "raw" / f"{source}.jsonl.zst", final, "raw", source)

    def part_file(self, work: Path, zone: str, dt: str, source: str, run_id: str) -> StagedFile:
        """Where a run stages, then commits, one provider's Parquet part of ``zone``."""
        final = partition_dir(self.root, zone, dt, source) / f"part-{run_id}-0.parquet"
        return StagedFile(work / zone / f"{source}.parquet", final, zone, source)

    def commit(self, manifest: Manifest, staged: list[StagedFile]) -> Path:
        """Move the staged files into place, then write the manifest (the commit point).

        A file already in place (a commit resumed after a kill) is taken as moved.
        """
        for item in staged:
            item.final.parent.mkdir(parents=True, exist_ok=True)
            if item.staged.exists():
                os.replace(item.staged, item.final)
            manifest.files.append(
                {
                    "path": item.final.relative_to(self.root).as_posix(),
                    "zone": item.zone,
                    "source": item.source,
                    "rows": item.rows,
                    "bytes": item.final.stat().st_size,
                    "sha256": _sha256(item.final),
                }
            )
        path = self.manifest_path(manifest.run_id)
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(path.name + TMP_SUFFIX)
        tmp.write_bytes(manifest.to_json())
        os.replace(tmp, path)
        return path

    @staticmethod
    def discard(staged: Iterable[StagedFile]) -> None:
        """Remove staged files of a provider or run that will not be committed."""
        for item in staged:
            item.staged.unlink(missing_ok=True)

    def manifests(self) -> list[dict[str, Any]]:
        """Every committed manifest, oldest run first."""
        directory = self.root / MANIFEST_DIR
        if not directory.is_dir():
            return []
        return [json.loads(p.read_text()) for p in sorted(directory.glob("*.json"))]

    def committed_files(self, zone: str) -> list[Path]:
        """Files of ``zone`` named in a manifest: the only ones a reader should trust."""
        return [
            self.root / f["path"]
            for manifest in self.manifests()
            for f in manifest["files"]
            if f["zone"] == zone
        ]

    def latest_rows(self, source: str, source_ids: set[str], schema: pa.Schema) -> pa.Table:
        """The last committed row of each of ``source_ids`` that this lake still holds.

        A lake restored from state alone (a CI runner) may lack old parts: those are skipped.
        """
        files = [
            p
            for p in self.committed_files("normalized")
            if f"source={source}" in p.parts and p.exists()
        ]
        if not files or not source_ids:
            return schema.empty_table()
        wanted = pa.array(sorted(source_ids), pa.string())
        table = ds.dataset(files, schema=schema, format="parquet").to_table(
            filter=pc.field("source_id").isin(wanted)
        )
        table = table.sort_by([("source_id", "ascending"), ("run_id", "descending")])
        ids = table.column("source_id").to_pylist()
        first = [i for i, source_id in enumerate(ids) if i == 0 or ids[i - 1] != source_id]
        return table.take(pa.array(first, pa.int64()))

    def recover(self, keep_run: str | None = None) -> list[Path]:
        """Delete leftovers of runs that died before their manifest; return what was removed.

        ``keep_run``'s files stay: that run is being resumed and will commit them.
        """
        committed = {p.stem for p in (self.root / MANIFEST_DIR).glob("*.json")}
        if keep_run:
            committed.add(keep_run)
        removed = []
        for zone in ("raw", "normalized", "quarantine"):
            for path in (self.root / zone).glob("dt=*/source=*/*"):
                match = _RUN_FILE.match(path.name)
                orphan = match is not None and match["run_id"] not in committed
                if path.name.endswith(TMP_SUFFIX) or orphan:
                    path.unlink()
                    removed.append(path)
        for tmp in (self.root / MANIFEST_DIR).glob("*" + TMP_SUFFIX):
            tmp.unlink()
            removed.append(tmp)
        return removed
