"""``run_pipeline.py export``: the lake's current rows as files other tools read.

``--format csv`` writes one CSV per table (``products.csv``, ``orders.csv``,
``order_lines.csv``), ``xlsx`` one workbook per table (``products.xlsx``, …), ``gmc`` the
Google Merchant Center feed ``gmc-products.tsv`` and ``gmc-rejects.csv`` (items that cannot
qualify, with reasons; products only); several at once, comma-separated. ``--datasets`` picks
the datasets (default: every dataset the lake holds). Reads only committed data
(docs/exports.md).
"""

from __future__ import annotations

import argparse
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING

from pipelines.cli.parser import _dataset_list, _provider_list
from pipelines.errors import ConfigError

if TYPE_CHECKING:
    from pipelines.cli.main import CommandContext
    from pipelines.exports.catalog import Catalog
    from pipelines.lake.lake import Lake

PRODUCTS = "products"

HELP = (
    "Export the lake's current catalog, orders and order lines as CSV (csv), Excel workbooks "
    "(xlsx) or a Google Merchant Center feed with its rejects (gmc, products only)."
)
FORMATS = ("csv", "xlsx", "gmc")
PRODUCTS_ONLY = ("gmc",)  # a Merchant Center feed lists products


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
        help="only these providers' rows, comma-separated (default: all)",
    )  # fmt: skip
    parser.add_argument(
        "--datasets", type=_dataset_list, metavar="A,B",
        help="the datasets to export, comma-separated: products, orders (default: every "
        "dataset the lake holds)",
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
    from pipelines.exports.workbook import require_openpyxl
    from pipelines.lake.lake import Lake
    from pipelines.run.options import RunOptions, lake_storage, select_providers

    if "xlsx" in args.formats:
        require_openpyxl()  # before anything is read or written
    if args.providers:
        select_providers(context.providers, args.providers)  # unknown names: one line, exit 2
    lake = Lake(lake_storage(context.config, RunOptions(offline=args.offline)))
    catalogs = _catalogs(args, lake)
    try:
        args.output.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise ConfigError(f"--output {args.output}: {exc.strerror or exc}") from None
    write = writers()
    for name in args.formats:
        for catalog in catalogs:
            if name in PRODUCTS_ONLY and catalog.name != PRODUCTS:
                continue
            for path, rows in write[name](catalog, args.output):
                print(f"{path}: {rows} row(s)")
    return 0


def _catalogs(args: argparse.Namespace, lake: Lake) -> list[Catalog]:
    """The current rows of every table of the datasets asked for (by default those the lake
    holds), every one read before anything is written."""
    from pipelines.exports.catalog import read_catalog
    from pipelines.lake.datasets import DATASETS, present_tables

    present = {table.name for table in present_tables(lake.storage)}
    held = [d for d, dataset in DATASETS.items() if any(t.name in present for t in dataset.tables)]
    datasets = args.datasets or tuple(held)
    only = [f for f in args.formats if f in PRODUCTS_ONLY]
    if only and PRODUCTS not in datasets:
        raise ConfigError(f"--format {only[0]}: lists products; add products to --datasets")
    now = datetime.now(UTC)
    tables = [table for d in datasets for table in DATASETS[d].tables]
    return [read_catalog(lake, args.providers, now, table) for table in tables]
