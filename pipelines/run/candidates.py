"""The candidates a normalize step hands to the write step, staged as an Arrow IPC file.

The two are separate steps (the quality gate of every provider sits between them, and a
scheduler may run them in separate processes or resume between them), so the rows are staged.
They are a work file, never committed: Arrow IPC with LZ4 frames costs about half of a zstd
Parquet round trip (measured in docs/lake.md) and reads back as the very batches written.
A Parquet candidates file staged by an earlier version (a run resumed across an upgrade) still
reads.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pyarrow as pa
import pyarrow.ipc as ipc
import pyarrow.parquet as pq

from pipelines.lake.lake import StagedFile

_PARQUET_MAGIC = b"PAR1"


class CandidateWriter:
    """Streams candidate rows into ``file`` (opened at the first rows)."""

    def __init__(self, file: StagedFile, schema: pa.Schema) -> None:
        self.file = StagedFile(file.staged.with_suffix(".arrow"), file.path, file.zone, file.source)
        self.schema = schema
        self._sink: pa.NativeFile | None = None
        self._writer: ipc.RecordBatchFileWriter | None = None

    def write(self, table: pa.Table) -> None:
        if table.num_rows == 0:
            return
        if self._writer is None:
            self.file.staged.parent.mkdir(parents=True, exist_ok=True)
            self._sink = pa.OSFile(str(self.file.staged), "wb")
            options = ipc.IpcWriteOptions(compression="lz4")
            self._writer = ipc.new_file(self._sink, self.schema, options=options)
        self._writer.write_table(table)
        self.file.rows += table.num_rows

    def close(self) -> StagedFile | None:
        """Finish the file; None when no row was written."""
        if self._writer is None:
            return None
        self._writer.close()
        self._sink.close()
        return self.file


def read_candidates(path: Path, schema: pa.Schema, batch_size: int) -> Iterator[pa.Table]:
    """The staged candidate rows, in the batches written (Parquet: ``batch_size`` rows)."""
    with path.open("rb") as handle:
        parquet = handle.read(4) == _PARQUET_MAGIC
    if parquet:
        for batch in pq.ParquetFile(path).iter_batches(batch_size=batch_size):
            yield pa.Table.from_batches([batch], schema=schema)
        return
    with pa.OSFile(str(path)) as source:  # not mapped: read pages would stay in RSS
        reader = ipc.open_file(source)
        for index in range(reader.num_record_batches):
            yield pa.Table.from_batches([reader.get_batch(index)], schema=schema)
