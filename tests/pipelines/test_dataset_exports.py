"""``export`` of every dataset: the offline demo's orders and order lines as CSV and workbooks,
beside the products, with ``--datasets`` picking them (default: what the lake holds)."""

from __future__ import annotations

import csv
import json
import shutil
from decimal import Decimal
from pathlib import Path

import openpyxl
import pytest

from pipelines.exports.catalog import export_columns
from pipelines.lake.datasets import DATASETS
from pipelines.lake.lake import read_raw
from tests.pipelines.test_cli import cli

ORDERS, LINES = DATASETS["orders"].tables


@pytest.fixture(scope="module")
def landed(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A demo lake with Shopify's products and orders, and a second, products-only lake."""
    root = tmp_path_factory.mktemp("landed")
    result = cli("--offline", "--providers", "shopify", "--datasets", "products,orders", cwd=root)
    assert result.returncode == 0, result.stderr
    products_only = root / "products_only"
    products_only.mkdir()
    result = cli("--offline", "--providers", "shopify", cwd=products_only)
    assert result.returncode == 0, result.stderr
    return root


@pytest.fixture
def lake(landed: Path, tmp_path: Path) -> Path:
    shutil.copytree(landed / "data", tmp_path / "data")
    return tmp_path


def export(root: Path, *args: str):
    return cli("export", "--offline", "--output", str(root / "out"), *args, cwd=root)


def rows(path: Path) -> list[dict[str, str]]:
    with path.open(encoding="utf-8", newline="") as handle:
        return list(csv.DictReader(handle))


def test_csv_exports_every_dataset_the_lake_holds(lake: Path) -> None:
    result = export(lake, "--format", "csv")

    assert result.returncode == 0, result.stderr
    out = lake / "out"
    assert f"{out}/orders.csv: 6 row(s)" in result.stdout
    assert f"{out}/order_lines.csv: 9 row(s)" in result.stdout
    assert (out / "products.csv").exists()
    orders = rows(out / "orders.csv")
    assert tuple(orders[0]) == export_columns(ORDERS)
    assert "content_hash" not in orders[0]  # the lake's bookkeeping stays out
    first = next(o for o in orders if o["order_number"] == "#1001")
    assert (first["total_amount"], first["currency"]) == ("256.8200", "CAD")
    assert first["taxes_included"] == "false"
    assert first["created_at"] == "2026-09-20T14:05:00Z"
    lines = rows(out / "order_lines.csv")
    assert tuple(lines[0]) == export_columns(LINES)
    assert {line["order_id"] for line in lines} == {o["source_id"] for o in orders}


def test_the_export_holds_each_order_as_last_committed(lake: Path) -> None:
    landed = next((lake / "data/demo/orders/raw").rglob("*.jsonl.zst"))
    first = next(iter(read_raw(landed)))
    later = lake / "later/orders/raw/dt=2099-12-31/source=shopify/20991231T235959Z-abcdef.jsonl"
    later.parent.mkdir(parents=True)
    later.write_text(json.dumps({**first, "displayFinancialStatus": "REFUNDED"}) + "\n")
    replay = cli("--offline", "--datasets", "orders", "--replay", str(later), cwd=lake)
    assert replay.returncode == 0, replay.stderr

    result = export(lake, "--format", "csv", "--datasets", "orders")

    assert result.returncode == 0, result.stderr
    orders = rows(lake / "out/orders.csv")
    assert len(orders) == 6  # one row per order: the changed one once, as it is now
    statuses = {o["source_id"]: o["financial_status"] for o in orders}
    assert statuses[first["id"]] == "refunded"
    assert not (lake / "out/products.csv").exists()  # only the dataset asked for


def test_workbooks_per_table_with_typed_cells(lake: Path) -> None:
    result = export(lake, "--format", "xlsx", "--datasets", "orders")

    assert result.returncode == 0, result.stderr
    book = openpyxl.load_workbook(lake / "out/orders.xlsx")
    assert book.sheetnames == ["Summary", "shopify"]
    sheet = book["shopify"]
    headers = [c.value for c in sheet[1]]
    assert headers[:5] == ["source", "source_id", "order_number", "marketplace", "created_at (UTC)"]
    total = sheet.cell(2, headers.index("total_amount") + 1).value
    assert isinstance(total, Decimal | float)
    assert openpyxl.load_workbook(lake / "out/order_lines.xlsx")["shopify"].max_row == 10


def test_a_products_lake_exports_products_alone(landed: Path) -> None:
    root = landed / "products_only"

    result = export(root, "--format", "csv")

    assert result.returncode == 0, result.stderr
    assert sorted(p.name for p in (root / "out").iterdir()) == ["products.csv"]


def test_merchant_center_feed_needs_products(lake: Path) -> None:
    refused = export(lake, "--format", "csv,gmc", "--datasets", "orders")
    assert refused.returncode == 2
    assert "--format gmc: lists products; add products to --datasets" in refused.stderr
    assert not (lake / "out").exists()  # nothing written

    both = export(lake, "--format", "gmc")  # the default datasets: products and orders

    assert both.returncode == 0, both.stderr
    assert sorted(p.name for p in (lake / "out").iterdir()) == [
        "gmc-products.tsv",
        "gmc-rejects.csv",
    ]
