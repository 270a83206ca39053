"""``run_pipeline.py query "SELECT …"``: SQL over the lake with DuckDB, through ready views.

The views (``products_changes``, ``products_current``, ``quarantine``, ``runs``;
``pipelines/lake/views.py``) read only committed files. The DuckDB it runs in is in memory and
locked down, and only one ``SELECT`` (or ``EXPLAIN``) statement is taken: nothing is written,
no other file is read. A statement DuckDB rejects is one line (DuckDB's message), exit 2.
"""

from __future__ import annotations

import argparse
import csv
import io
import json
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

import duckdb
import pyarrow as pa
import pyarrow.parquet as pq

from pipelines.cli.tables import format_table
from pipelines.errors import ConfigError
from pipelines.lake.views import connect, plain, plain_rows, snapshot
from pipelines.net.markup import plain_text
from pipelines.run.options import RunOptions, lake_storage

if TYPE_CHECKING:
    from pipelines.cli.main import CommandContext

HELP = (
    "Run one SELECT over the lake with DuckDB (views: products_changes, products_current, "
    "quarantine, runs); "
    "print a table, CSV, JSON or write Parquet."
)
FORMATS = ("table", "csv", "json", "parquet")
READ_ONLY = (duckdb.StatementType.SELECT, duckdb.StatementType.EXPLAIN)
CELL_LIMIT = 60  # characters of one cell in --format table


def configure(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("sql", nargs="?", metavar="SQL", help="the SELECT statement to run")
    parser.add_argument(
        "--file", type=Path, metavar="PATH", help="read the statement from this file instead"
    )
    parser.add_argument(
        "--format",
        choices=FORMATS,
        default="table",
        help="table (default), csv or json on stdout, or parquet (needs --output)",
    )
    parser.add_argument(
        "--output", type=Path, metavar="PATH", help="write the result to PATH instead of stdout"
    )
    parser.add_argument(
        "--offline",
        action="store_true",
        help="query the offline demo lake (<lake>/demo) and its run log (<log_dir>/demo)",
    )


def execute(args: argparse.Namespace, context: CommandContext) -> int:
    sql = read_statement(args.sql, args.file)
    if args.format == "parquet" and args.output is None:
        raise ConfigError(
            "--format parquet: needs --output PATH (Parquet is not written to a terminal)"
        )
    storage = lake_storage(context.config, RunOptions(offline=args.offline))
    con = connect(snapshot(storage, context.config.run_log_dir(args.offline)))
    try:
        result = con.sql(sql).to_arrow_table()
    except duckdb.Error as exc:
        raise ConfigError(f"query: {one_line(exc)}") from None
    finally:
        con.close()
    write_result(result, args.format, args.output)
    return 0


def read_statement(sql: str | None, file: Path | None) -> str:
    """The one read-only statement given on the command line or in ``--file``."""
    if (sql is None) == (file is None):
        raise ConfigError("query: give the SQL statement or --file PATH (one of them)")
    if file is not None:
        try:
            sql = file.read_text()
        except (OSError, UnicodeDecodeError) as exc:
            raise ConfigError(f"--file: cannot read {file} ({exc})") from None
    assert sql is not None
    check_read_only(sql)
    return sql


def check_read_only(sql: str) -> None:
    """One SELECT or EXPLAIN statement, else a ``ConfigError`` naming what was given."""
    try:
        statements = duckdb.extract_statements(sql)
    except duckdb.Error as exc:
        raise ConfigError(f"query: {one_line(exc)}") from None
    if len(statements) != 1:
        raise ConfigError(f"query: give exactly one statement, got {len(statements)}")
    kind = statements[0].type
    if kind not in READ_ONLY:
        raise ConfigError(f"query: only SELECT statements read the lake, got {kind.name}")


def one_line(exc: Exception) -> str:
    return " ".join(str(exc).split())


def write_result(table: pa.Table, fmt: str, output: Path | None) -> None:
    """The result on stdout, or in ``output`` (``ConfigError`` when it cannot be written)."""
    try:
        if fmt == "parquet":
            assert output is not None
            pq.write_table(table, output, compression="zstd")
            return
        text = {"table": as_table, "csv": as_csv, "json": as_json}[fmt](table)
        if output is None:
            sys.stdout.write(text)
        else:
            output.write_text(text, encoding="utf-8")
    except OSError as exc:
        reason = exc.strerror or one_line(exc)
        raise ConfigError(f"--output: cannot write {output} ({reason})") from None


def as_table(table: pa.Table) -> str:
    """Aligned plain text; provider text made one inert line per cell, long cells cut."""
    rows = [[_cell(v) for v in row.values()] for row in table.to_pylist()]
    count = f"({table.num_rows} row{'s' if table.num_rows != 1 else ''})"
    return f"{format_table(table.column_names, rows)}\n{count}\n"


def _cell(value: Any) -> str:
    if value is None:
        return ""
    value = plain(value)
    text = json.dumps(value, ensure_ascii=False) if isinstance(value, list | dict) else value
    return plain_text(text, CELL_LIMIT)


def as_csv(table: pa.Table) -> str:
    """RFC 4180 CSV with a header; lists as JSON, null as an empty field."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(table.column_names)
    for row in plain_rows(table):
        writer.writerow(_csv_value(v) for v in row.values())
    return buffer.getvalue()


def _csv_value(value: Any) -> Any:
    if isinstance(value, list | dict):
        return json.dumps(value, ensure_ascii=False)
    return "" if value is None else value


def as_json(table: pa.Table) -> str:
    """A JSON array of objects; decimals as strings (money stays exact), times in ISO 8601."""
    return json.dumps(plain_rows(table), ensure_ascii=False, indent=1) + "\n"
