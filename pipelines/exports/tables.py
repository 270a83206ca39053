"""The CSV export: one file per table (``products.csv``, ``orders.csv``, ``order_lines.csv``),
every provider's current rows.

RFC 4180 as Python's ``csv`` module writes it (comma, ``"`` quoting where needed, CRLF
line ends), UTF-8, one header row of column names. Prices keep their stored places
(``12.5000``), timestamps are ISO 8601 UTC with ``Z``, lists are JSON arrays, null is an empty
cell, and text cells are made inert (``cells.inert``).
"""

from __future__ import annotations

import csv
from pathlib import Path

from pipelines.exports.catalog import Catalog
from pipelines.exports.cells import text_cell


def write_csv(catalog: Catalog, folder: Path) -> list[tuple[Path, int]]:
    """Write ``<folder>/<table>.csv``; return it with its rows."""
    path = folder / f"{catalog.name}.csv"
    with path.open("w", encoding="utf-8", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(catalog.columns)
        for batch in catalog.table.to_batches(max_chunksize=5000):
            writer.writerows([text_cell(v) for v in row.values()] for row in batch.to_pylist())
    return [(path, catalog.table.num_rows)]
