"""``run_pipeline.py export``: the lake's current catalog as files other tools read.

``--format csv`` writes ``products.csv``, ``xlsx`` the workbook ``products.xlsx``, ``gmc`` the
Google Merchant Center feed ``gmc-products.tsv`` and ``gmc-rejects.csv`` (items that cannot
qualify, with reasons); several at once, comma-separated. Reads only committed data
(docs/exports.md).
"""

from __future__ import annotations

import argparse
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING

from pipelines.cli.parser import _provider_list
from pipelines.errors import ConfigError

if TYPE_CHECKING:
    from pipelines.cli.main import CommandContext
    from pipelines.exports.catalog import Catalog

HELP = (
    "Export the lake's current catalog as CSV (csv), an Excel workbook (xlsx) or a Google "
    "Merchant Center feed with its rejects (gmc)."
)
FORMATS = ("csv", "xlsx", "gmc")


def _formats(text: str) -> tuple[str, ...]:
    names = tuple(dict.fromkeys(n.strip() for n in text.split(",") if n.strip()))
    unknown = [n for n in names if n not in FORMATS]
    if not names or unknown:
        raise argparse.ArgumentTypeError(
            f"expected csv, xlsx or gmc (comma-separated for several), got {text!r}"
        )
    return names


def configure(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--format", dest="formats", type=_formats, required=True, metavar="csv|xlsx|gmc",
        help="what to write: csv, xlsx, gmc, or several comma-separated (csv,gmc)",
    )  # fmt: skip
    parser.add_argument(
        "--output", type=Path, default=Path("exports"), metavar="DIR",
        help="folder for the files, created when missing (default: exports)",
    )  # fmt: skip
    parser.add_argument(
        "--providers", type=_provider_list, metavar="A,B",
        help="only these providers' products, comma-separated (default: all)",
    )  # fmt: skip
    parser.add_argument(
        "--offline", action="store_true", help="export the offline demo lake (<lake>/demo)"
    )


def writers() -> dict[str, Callable[[Catalog, Path], list[tuple[Path, int]]]]:
    """Each format's writer, imported when an export runs (pandas, pyarrow: not for --help)."""
    from pipelines.exports.merchant import write_merchant_feed
    from pipelines.exports.tables import write_csv
    from pipelines.exports.workbook import write_xlsx

    return {"csv": write_csv, "xlsx": write_xlsx, "gmc": write_merchant_feed}


def execute(args: argparse.Namespace, context: CommandContext) -> int:
    from pipelines.exports.catalog import read_catalog
    from pipelines.exports.workbook import require_openpyxl
    from pipelines.lake.lake import Lake
    from pipelines.run.options import RunOptions, lake_storage, select_providers

    if "xlsx" in args.formats:
        require_openpyxl()  # before anything is read or written
    if args.providers:
        select_providers(context.providers, args.providers)  # unknown names: one line, exit 2
    lake = Lake(lake_storage(context.config, RunOptions(offline=args.offline)))
    catalog = read_catalog(lake, args.providers, datetime.now(UTC))
    try:
        args.output.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise ConfigError(f"--output {args.output}: {exc.strerror or exc}") from None
    write = writers()
    for name in args.formats:
        for path, rows in write[name](catalog, args.output):
            print(f"{path}: {rows} row(s)")
    return 0
