"""What a run wrote, as searchable text: the leak and buyer-data canary tests grep it."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

import pyarrow.parquet as pq
import zstandard

ZSTD_MAGIC = b"\x28\xb5\x2f\xfd"


def readable(path: Path) -> str:
    """A file's content as text: zstd (raw landing files, cached answers) decompressed, a
    Parquet part's rows beside its bytes, a SQLite file dumped."""
    data = path.read_bytes()
    if data[:4] == ZSTD_MAGIC:
        with path.open("rb") as handle:
            data = zstandard.ZstdDecompressor().stream_reader(handle).read()
    elif path.suffix == ".parquet":
        rows = json.dumps(pq.read_table(path).to_pylist(), default=str)
        return rows + "\n" + data.decode("utf-8", "replace")
    elif path.suffix == ".sqlite":
        with sqlite3.connect(path) as db:
            dump = "\n".join(db.iterdump())
        db.close()
        return dump
    return data.decode("utf-8", "replace")


def files_holding(folder: Path, needles: list[str]) -> dict[str, list[str]]:
    """Every file under ``folder`` that holds one of ``needles``, with the ones it holds."""
    hits: dict[str, list[str]] = {}
    for path in sorted(p for p in folder.rglob("*") if p.is_file()):
        text = readable(path)
        found = [needle for needle in needles if needle in text]
        if found:
            hits[str(path.relative_to(folder))] = found
    return hits
