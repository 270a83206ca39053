"""The lake: raw landing files, Parquet parts, manifests, in a folder or an S3 prefix.

Layout (see DESIGN.md)::

    raw/dt=YYYY-MM-DD/source=S/<run_id>.jsonl.zst
    normalized/dt=YYYY-MM-DD/source=S/part-<run_id>-N.parquet
    quarantine/dt=YYYY-MM-DD/source=S/part-<run_id>-N.parquet
    _manifests/<run_id>.json        commit marker, written last

``dt`` and ``source`` live in the folder names only (hive partitioning): the Parquet parts do
not store them, so pandas, Spark and pyarrow's partition discovery read the lake without a
clash between a file column and a partition column. Every reader here gets them back from the
path (``Lake.parts``).

A run writes its files in its local work folder; ``commit`` puts them in place (a rename in a
local lake, an upload under the final name in an object store) and then writes the manifest,
in one atomic write. A run that dies before its manifest leaves files that ``recover``
moves to ``_trash/`` at the next commit (never a file a manifest or the state claims, nor one of
a live run); readers that trust manifests (``committed_files``) never see them, and in a local
lake nothing half-written carries a ``.parquet`` name at any time.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.fs as pafs
import pyarrow.parquet as pq
import zstandard

from pipelines.errors import LakeDamagedError
from pipelines.lake.manifest import MANIFEST_DIR, Manifest, manifest_path, parse_manifest
from pipelines.lake.schema import PER_ROW_COLUMNS, PRODUCT_SCHEMA
from pipelines.lake.storage import LocalStorage, S3Storage, Storage, open_storage
from pipelines.lake.trash import move_to_trash, purge_trash
from pipelines.net import strict_json

if TYPE_CHECKING:  # pyarrow.dataset imports pandas (1-2 s): imported where it is used
    import pyarrow.dataset as ds

TMP_SUFFIX = ".tmp"
ZONES = ("raw", "normalized", "quarantine")
PARTITIONED_ZONES = ("normalized", "quarantine")  # Parquet zones whose parts omit PARTITIONING
PARTITIONING = pa.schema([pa.field("dt", pa.string()), pa.field("source", pa.string())])
_RUN_FILE = re.compile(r"^(?:part-)?(?P<run_id>\d{8}T\d{6}Z-[0-9a-f]{6})")


def partition_dir(zone: str, dt: str, source: str) -> str:
    """``zone/dt=…/source=…`` (hive partitioning), lake-relative."""
    return f"{zone}/dt={dt}/source={source}"


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


@dataclass
class StagedFile:
    """A file a run wrote in its work folder, waiting for the commit to put it at ``path``.

    ``path`` is lake-relative (``normalized/dt=…/source=…/part-<run_id>-0.parquet``).
    """

    staged: Path
    path: str
    zone: str
    source: str
    rows: int = 0

    def to_dict(self) -> dict[str, Any]:
        return {**self.__dict__, "staged": str(self.staged)}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> StagedFile:
        return cls(**{**data, "staged": Path(data["staged"])})


class RawWriter:
    """Streams raw records, one canonical JSON object per line (keys sorted, compact), into a
    zstd file: a line's sha256 is the record's raw hash (``hash_raw``)."""

    def __init__(self, file: StagedFile) -> None:
        self.file = file
        file.staged.parent.mkdir(parents=True, exist_ok=True)
        self._handle = file.staged.open("wb")
        self._stream = zstandard.ZstdCompressor(level=3).stream_writer(self._handle)

    def write(self, record: dict[str, Any]) -> None:
        # strict_json writes a NaN or 1e999 back as sent, where orjson alone writes null.
        self._stream.write(strict_json.dumps(record, canonical=True) + b"\n")
        self.file.rows += 1

    def close(self) -> StagedFile:
        self._stream.close()
        return self.file


def read_raw(path: Path) -> Iterator[dict[str, Any]]:
    """Raw records of one landing file (``.jsonl.zst`` or plain ``.jsonl``); a record with a
    non-finite number comes back as a ``strict_json.InvalidNumberRecord``."""
    return map(strict_json.loads_record, read_lines(path))


def read_lines(path: Path) -> Iterator[bytes]:
    """The records of one landing file as their lines: the bytes landed, without the line's
    surrounding whitespace; blank lines skipped. A file zstd cannot read: ``LakeDamagedError``."""
    try:
        yield from _read_lines(path)
    except zstandard.ZstdError as exc:
        raise LakeDamagedError(f"{path}: damaged zstd data ({exc})") from None


def _read_lines(path: Path) -> Iterator[bytes]:
    with path.open("rb") as handle:
        if path.name.endswith(".zst"):
            reader = zstandard.ZstdDecompressor().stream_reader(handle)
            stream: Iterable[bytes] = _lines(reader)
        else:
            stream = handle
        for line in stream:
            if stripped := line.strip():
                yield stripped


def _lines(reader: Any) -> Iterator[bytes]:
    pending = b""
    while chunk := reader.read(1 << 20):
        pending += chunk
        *lines, pending = pending.split(b"\n")
        yield from lines
    if pending:
        yield pending


def stored_schema(schema: pa.Schema) -> pa.Schema:
    """``schema`` without the partition columns, which the folder names carry."""
    return pa.schema([f for f in schema if f.name not in PARTITIONING.names])


class PartWriter:
    """Writes one Parquet file in row groups of ``row_group_size`` rows, buffering in between.

    In a partitioned zone the ``source`` column is checked against the file's partition and
    left out of the file; staged work files (candidates) keep every column.
    """

    def __init__(self, file: StagedFile, schema: pa.Schema, row_group_size: int) -> None:
        self.partitioned = file.zone in PARTITIONED_ZONES
        self.schema = stored_schema(schema) if self.partitioned else schema
        self.file, self.row_group_size = file, row_group_size
        self._pending: list[pa.Table] = []
        self._pending_rows = 0
        self._writer: pq.ParquetWriter | None = None

    def write(self, table: pa.Table) -> None:
        """Buffer ``table``; flush a row group each time ``row_group_size`` rows are waiting."""
        if table.num_rows == 0:
            return
        if self.partitioned:
            self._check_source(table)
        self._pending.append(table.select(self.schema.names))
        self._pending_rows += table.num_rows
        if self._pending_rows >= self.row_group_size:
            self._flush()

    def _check_source(self, table: pa.Table) -> None:
        """A row of another source would be read back as this folder's: refuse it."""
        sources = set(pc.unique(table.column("source")).to_pylist())
        if sources != {self.file.source}:
            others = ", ".join(sorted(map(str, sources - {self.file.source})))
            where = f"the partition of source {self.file.source}"
            raise ValueError(f"{self.file.path}: rows of source {others} in {where}")

    def _flush(self, last: bool = False) -> None:
        if not self._pending_rows:
            return
        if self._writer is None:
            self.file.staged.parent.mkdir(parents=True, exist_ok=True)
            dictionary = [name for name in self.schema.names if name not in PER_ROW_COLUMNS]
            self._writer = pq.ParquetWriter(self.file.staged, self.schema, compression="zstd",
                                            use_dictionary=dictionary)  # fmt: skip
        table = pa.concat_tables(self._pending)  # whole row groups; the rest at the close
        rows = table.num_rows if last else table.num_rows - table.num_rows % self.row_group_size
        self._writer.write_table(table.slice(0, rows), row_group_size=self.row_group_size)
        self.file.rows += rows
        self._pending, self._pending_rows = [table.slice(rows)], table.num_rows - rows

    def close(self) -> StagedFile | None:
        """Finish the file; None when no row was written."""
        self._flush(last=True)
        return self.abort()

    def abort(self) -> StagedFile | None:
        """Close the file without writing what is buffered."""
        if self._writer is None:
            return None
        self._writer.close()
        return self.file


class Lake:
    """One lake (a local folder or an S3 prefix): commits runs, lists what was committed,
    cleans up what was not."""

    def __init__(self, root: Path | str | Storage) -> None:
        self.storage = root if isinstance(root, LocalStorage | S3Storage) else open_storage(root)

    @property
    def uri(self) -> str:
        return self.storage.uri

    @property
    def filesystem(self) -> pafs.FileSystem:
        return self.storage.filesystem

    def raw_file(self, work: Path, dt: str, source: str, run_id: str) -> StagedFile:
        """Where a run stages, then commits, one provider's raw landing file."""
        path = f"{partition_dir('raw', dt, source)}/{run_id}.jsonl.zst"
        return StagedFile(work / "raw" / f"{source}.jsonl.zst", path, "raw", source)

    def part_file(self, work: Path, zone: str, dt: str, source: str, run_id: str) -> StagedFile:
        """Where a run stages, then commits, one provider's Parquet part of ``zone``."""
        path = f"{partition_dir(zone, dt, source)}/part-{run_id}-0.parquet"
        return StagedFile(work / zone / f"{source}.parquet", path, zone, source)

    def commit(self, manifest: Manifest, staged: list[StagedFile],
               before_manifest: Callable[[], None] = lambda: None) -> None:  # fmt: skip
        """Put the staged files in place, then write the manifest (the commit point).

        Local lakes rename; object stores upload under the final name, which carries the
        run id, so a commit killed half-way and redone overwrites only its own files. A
        local file already in place (a commit resumed after a kill) is taken as moved.
        ``before_manifest`` runs last before the manifest (the lock's re-check).
        """
        remote = self.storage.remote
        for item in staged:
            if item.staged.exists():
                self.storage.put_file(item.staged, item.path)
            local = item.staged if remote else self.storage.location(item.path)
            manifest.files.append(
                {
                    "path": item.path,
                    "zone": item.zone,
                    "source": item.source,
                    "rows": item.rows,
                    "bytes": local.stat().st_size,
                    "sha256": _sha256(local),
                }
            )
        before_manifest()
        self.storage.write_bytes(manifest_path(manifest.run_id), manifest.to_json())
        if remote:
            self.discard(staged)  # uploaded and committed: the local copies are spare

    @staticmethod
    def discard(staged: Iterable[StagedFile]) -> None:
        """Remove staged files of a provider or run that will not be committed."""
        for item in staged:
            item.staged.unlink(missing_ok=True)

    def manifest_ids(self) -> list[str]:
        """Run ids of every committed manifest, oldest first."""
        names = self.storage.list_files(MANIFEST_DIR)
        return [n.rsplit("/", 1)[1][:-5] for n in names if n.endswith(".json")]

    def read_manifest(self, run_id: str) -> dict[str, Any] | None:
        """Run ``run_id``'s manifest; None when it has none; ``LakeDamagedError`` when corrupt."""
        rel = manifest_path(run_id)
        data = self.storage.read_bytes(rel)
        return None if data is None else parse_manifest(f"{self.uri}/{rel}", data)

    def manifests(self) -> list[dict[str, Any]]:
        """Every committed manifest, oldest run first."""
        return [m for m in map(self.read_manifest, self.manifest_ids()) if m is not None]

    def committed_files(
        self, zone: str, manifests: list[dict[str, Any]] | None = None
    ) -> list[Any]:
        """Files of ``zone`` named in a manifest: the only ones a reader should trust.

        Paths for ``self.filesystem``: a ``Path`` in a local lake, ``bucket/key`` in S3.
        Manifests are read first and the files they name are listed, so a file written by a
        run still in progress never appears, however the listing and the run interleave.
        ``manifests`` (``self.manifests()`` read once) lets several zones agree on one moment.
        """
        return [
            self.storage.location(f["path"])
            for manifest in (self.manifests() if manifests is None else manifests)
            for f in manifest["files"]
            if f["zone"] == zone
        ]

    def committed_uris(self, zone: str) -> list[str]:
        """``committed_files`` as URIs other tools open (``s3://bucket/key`` or a local path)."""
        remote = self.storage.remote
        return [f"s3://{f}" if remote else str(f) for f in self.committed_files(zone)]

    def dataset(self, zone: str = "normalized", schema: pa.Schema | None = None,
                manifests: list[dict[str, Any]] | None = None) -> ds.Dataset:  # fmt: skip
        """The committed files of ``zone`` as one pyarrow dataset, ``dt`` and ``source`` (strings)
        read from the path.

        DuckDB queries it by name (``con.sql("SELECT … FROM dataset")``), pandas and polars
        take ``dataset.to_table()``. A lake without parts yet gives an empty dataset (the
        canonical columns for ``normalized``). ``manifests`` as for ``committed_files``.
        """
        files = self.committed_files(zone, manifests)
        if not files and schema is None:
            schema = pa.unify_schemas([PRODUCT_SCHEMA, PARTITIONING] if zone == "normalized"
                                      else [PARTITIONING])  # fmt: skip
        return self.parts(zone, files, schema)

    def parts(self, zone: str, files: Iterable[Any], schema: pa.Schema | None = None) -> ds.Dataset:
        """``files`` of ``zone`` (``committed_files`` locations) as one dataset, with ``dt`` and
        ``source`` from their folders.

        Parts written before the partition columns left the files still hold ``source``; its
        value there is the folder's, so both kinds read the same. ``schema`` (for instance the
        canonical one, without ``dt``) picks and types the columns; by default every column of
        the oldest and newest files plus ``dt`` and ``source``.
        """
        import pyarrow.dataset as ds

        paths = [str(f) for f in files]
        if schema is None and paths:
            # The oldest part and the newest: older parts read a later version's columns as null.
            found = [
                stored_schema(ds.dataset(path, format="parquet", filesystem=self.filesystem).schema)
                for path in dict.fromkeys((paths[0], paths[-1]))
            ]
            schema = pa.unify_schemas([*found, PARTITIONING])
        partitioning = ds.partitioning(PARTITIONING, flavor="hive")
        return ds.dataset(
            paths, schema=schema, format="parquet", filesystem=self.filesystem,
            partitioning=partitioning, partition_base_dir=str(self.storage.location(zone)),
        )  # fmt: skip

    def latest_rows(self, source: str, source_ids: set[str], schema: pa.Schema) -> pa.Table:
        """The last committed row of each of ``source_ids`` that this lake still holds.

        A lake restored from state alone (a CI runner) may lack old parts: those are skipped.
        """
        present = set(self.storage.list_files("normalized"))
        files = [
            self.storage.location(f["path"])
            for manifest in self.manifests()
            for f in manifest["files"]
            if f["zone"] == "normalized" and f["source"] == source and f["path"] in present
        ]
        if not files or not source_ids:
            return schema.empty_table()
        wanted = pa.array(sorted(source_ids), pa.string())
        dataset = self.parts("normalized", files, schema)
        table = dataset.to_table(filter=pc.field("source_id").isin(wanted))
        table = table.sort_by([("source_id", "ascending"), ("run_id", "descending")])
        ids = table.column("source_id").to_pylist()
        first = [i for i, source_id in enumerate(ids) if i == 0 or ids[i - 1] != source_id]
        return table.take(pa.array(first, pa.int64()))

    def recover(self, keep: set[str], retention_days: float) -> list[str]:
        """Move leftovers of dead runs that never committed to ``_trash/``; return them.

        A file stays when a manifest or ``keep`` (the state's applied runs, the run being
        resumed, the runs whose lease is live) claims its run. Called under the commit lock,
        so no other run is between its uploads and its manifest. Trash older than
        ``retention_days`` is deleted.
        """
        claimed = set(self.manifest_ids()) | keep
        moved = []
        for zone in ZONES:
            for rel in self.storage.list_files(zone):
                name = rel.rsplit("/", 1)[-1]
                match = _RUN_FILE.match(name)
                orphan = match is not None and match["run_id"] not in claimed
                if name.endswith(TMP_SUFFIX) or orphan:
                    moved.append(rel)
        moved += [n for n in self.storage.list_files(MANIFEST_DIR) if n.endswith(TMP_SUFFIX)]
        move_to_trash(self.storage, moved)
        purge_trash(self.storage, retention_days)
        return moved


def list_committed(lake_uri: str, zone: str = "normalized", **storage: str) -> list[str]:
    """URIs of the committed files of ``zone`` in the lake at ``lake_uri`` (for readers).

    ``storage`` takes ``open_storage``'s ``endpoint_url`` and ``region``.
    """
    return Lake(open_storage(lake_uri, **storage)).committed_uris(zone)
