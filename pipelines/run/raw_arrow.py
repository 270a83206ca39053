"""Landed raw lines straight into Arrow with a provider's explicit schema (``RawTable``).

``pyarrow.json`` reads a block of lines at once, with no Python object per record. It refuses
a block holding any value the schema cannot represent exactly (a number where text is read,
``3.0`` or ``true`` where an integer is, a key given twice, a line that is not an object, a
non-finite number); the block is then halved until the lines it refuses stand alone, and those
go to the dict path and the reference ``normalize``: nothing is lost or changed.
"""

from __future__ import annotations

import io

import pyarrow as pa
import pyarrow.json as pa_json

_MIN_BLOCK = 1 << 20  # pyarrow.json's block size: the whole block, at least this


def arrow_records(
    lines: list[bytes], schema: pa.Schema
) -> tuple[pa.Table | None, list[int], list[int]]:
    """The table of the ``lines`` the schema reads exactly, the indices of those lines (in
    order, one per table row), and the indices of the lines it refuses."""
    tables: list[pa.Table] = []
    read: list[int] = []
    refused: list[int] = []
    _read(lines, 0, schema, tables, read, refused)
    table = pa.concat_tables(tables) if tables else None
    return table, read, refused


def _read(lines: list[bytes], start: int, schema: pa.Schema, tables: list[pa.Table],
          read: list[int], refused: list[int]) -> None:  # fmt: skip
    if not lines:
        return
    table = _parse(lines, schema)
    if table is not None and table.num_rows == len(lines):
        tables.append(table)
        read += range(start, start + len(lines))
    elif len(lines) == 1:
        refused.append(start)
    else:
        middle = len(lines) // 2
        _read(lines[:middle], start, schema, tables, read, refused)
        _read(lines[middle:], start + middle, schema, tables, read, refused)


def _parse(lines: list[bytes], schema: pa.Schema) -> pa.Table | None:
    data = b"\n".join(lines)
    options = pa_json.ParseOptions(explicit_schema=schema, unexpected_field_behavior="ignore")
    reading = pa_json.ReadOptions(use_threads=False, block_size=max(_MIN_BLOCK, len(data) + 1))
    try:
        return pa_json.read_json(io.BytesIO(data), read_options=reading, parse_options=options)
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
        return None
