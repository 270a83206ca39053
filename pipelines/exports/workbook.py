"""The Excel export: ``<table>.xlsx`` (``products.xlsx``, ``orders.xlsx``, …), a summary sheet
and one sheet per provider.

Cells are typed: prices are numbers (the stored decimal, shown with 2 to 4 places), stock
counts whole numbers, timestamps Excel dates. Excel has no time zones, so timestamps are
written in UTC and their headers say ``(UTC)``. Lists are JSON arrays. Text is made inert
(``cells.inert``), and characters XML 1.0 forbids (control characters other than tab and
line ends) are dropped, since a workbook cannot hold them. Each sheet's header row is frozen
and carries an autofilter. openpyxl is an optional dependency (``# extra: export`` in
requirements.txt): without it, ``require_openpyxl`` says so in one line.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

from pipelines.exports.catalog import Catalog
from pipelines.exports.cells import inert, list_text
from pipelines.net.extras import require

SUMMARY = "Summary"
MONEY_FORMAT = "#,##0.00##"
DATETIME_FORMAT = "yyyy-mm-dd hh:mm:ss"
_ILLEGAL_XML = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f]")
_SHEET_NAME_BAD = re.compile(r"[\[\]:*?/\\]")


def require_openpyxl() -> Any:
    """The openpyxl module, or a ``ConfigError`` naming the extra that brings it."""
    require("export", "--format xlsx")
    import openpyxl

    return openpyxl


def write_xlsx(catalog: Catalog, folder: Path) -> list[tuple[Path, int]]:
    """Write ``<folder>/<table>.xlsx``; return it with its rows."""
    openpyxl = require_openpyxl()
    book = openpyxl.Workbook()
    summary = book.active
    summary.title = SUMMARY
    _write_summary(summary, catalog)
    headers = [_header(name) for name in catalog.columns]
    for source in catalog.providers():
        sheet = book.create_sheet(sheet_name(source))
        rows = catalog.rows_of(source).to_pylist()
        _write_table(sheet, headers, ([row[c] for c in catalog.columns] for row in rows))
    path = folder / f"{catalog.name}.xlsx"
    book.save(path)
    return [(path, catalog.table.num_rows)]


def sheet_name(source: str) -> str:
    """A provider's sheet: Excel's forbidden characters replaced, at most 31 characters, and
    never the summary's name."""
    name = _SHEET_NAME_BAD.sub("_", source)[:31] or "_"
    return f"{name[:30]}_" if name.lower() == SUMMARY.lower() else name


def _header(column: str) -> str:
    return f"{column} (UTC)" if column.endswith("_at") else column


def _write_summary(sheet: Any, catalog: Catalog) -> None:
    """Rows, newest run and newest read per provider; then the lake, its newest committed
    run and when the export was made."""
    table = [
        [source, rows.num_rows, max(rows.column("run_id").to_pylist()),
         max(rows.column("fetched_at").to_pylist())]
        for source in catalog.providers()
        for rows in [catalog.rows_of(source)]
    ]  # fmt: skip
    headers = ["provider", "rows", "newest run_id", "newest fetched_at (UTC)"]
    _write_table(sheet, headers, table)
    sheet.append([])
    for label, value in (
        ("lake", catalog.lake_uri),
        ("lake's newest committed run", catalog.last_run_id),
        ("exported at (UTC)", catalog.exported_at),
    ):
        sheet.append([_cell(sheet, label), _cell(sheet, value)])


def _write_table(sheet: Any, headers: Sequence[str], rows: Iterable[Sequence[Any]]) -> None:
    sheet.append(headers)
    for row in rows:
        sheet.append([_cell(sheet, value) for value in row])
    sheet.freeze_panes = "A2"
    sheet.auto_filter.ref = f"A1:{sheet.cell(1, len(headers)).column_letter}{sheet.max_row}"


def _cell(sheet: Any, value: Any) -> Any:
    """A typed cell for ``value`` (openpyxl's ``Cell``), or None for an empty one."""
    from openpyxl.cell.cell import Cell

    if value is None:
        return None
    if isinstance(value, datetime):
        cell = Cell(sheet, value=value.astimezone(UTC).replace(tzinfo=None))
        cell.number_format = DATETIME_FORMAT
        return cell
    if isinstance(value, Decimal):
        cell = Cell(sheet, value=value)
        cell.number_format = MONEY_FORMAT
        return cell
    if isinstance(value, list):
        value = list_text(value)
    if isinstance(value, str):
        cell = Cell(sheet, value=inert(_ILLEGAL_XML.sub("", value)))
        cell.data_type = "s"  # text, never a formula
        return cell
    return Cell(sheet, value=value)
