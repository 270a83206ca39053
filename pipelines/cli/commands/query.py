"""``run_pipeline.py query "SELECT …"``: SQL over the lake with DuckDB, through ready views.

The views (``products_changes``, ``products_current``, ``quarantine``, ``runs``;
``pipelines/lake/views.py``) read only committed files. The DuckDB it runs in is in memory and
locked down, and only one ``SELECT`` (or ``EXPLAIN``) statement is taken: nothing is written,
no other file is read. A statement DuckDB rejects is one line (DuckDB's message), exit 2.
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import TYPE_CHECKING

from pipelines.errors import ConfigError

if TYPE_CHECKING:
    from pipelines.cli.main import CommandContext

HELP = (
    "Run one SELECT over the lake with DuckDB (views: products_changes, products_current, "
    "quarantine, runs); "
    "print a table, CSV, JSON or write Parquet."
)
FORMATS = ("table", "csv", "json", "parquet")


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
    import duckdb

    from pipelines.cli.query_sql import one_line, read_statement, write_result
    from pipelines.lake.views import connect, snapshot
    from pipelines.run.options import RunOptions, lake_storage

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
