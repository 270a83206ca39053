"""The offline demo with orders: both datasets land, and docs/orders.md's revenue query runs."""

from __future__ import annotations

import re
from pathlib import Path

import duckdb

from tests.pipelines.test_cli import cli
from tests.written_files import readable

DOCS = Path(__file__).resolve().parents[2] / "docs" / "orders.md"


def revenue_query() -> str:
    """The ``sql`` block of docs/orders.md under "Revenue by product"."""
    text = DOCS.read_text(encoding="utf-8").split("## Revenue by product", 1)[1]
    return re.search(r"```sql\n(.*?)```", text, re.S).group(1)


def test_offline_demo_pulls_orders_and_the_join_works(tmp_path: Path) -> None:
    result = cli("--offline", "--providers", "shopify", "--datasets", "products,orders",
                 cwd=tmp_path)  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert (
        "orders.shopify: ok, 6 records (0 quarantined, 0 dropped); order_lines 9 new 0 changed; "
        "orders 6 new 0 changed" in result.stdout
    )
    lake = tmp_path / "data" / "demo"
    assert (lake / "normalized").is_dir()  # products where they always were
    query = revenue_query().replace("'data/", f"'{lake}/")
    rows = duckdb.sql(query).fetchall()
    assert rows[0][:2] == ("shopify", "Muskoka Down Parka - M")
    assert sum(row[3] for row in rows) > 0
    assert {row[5] for row in rows} == {"CAD"}


def test_offline_demo_shows_ebay_orders_joined_to_ebay_listings(tmp_path: Path) -> None:
    result = cli("--offline", "--providers", "ebay", "--datasets", "products,orders",
                 cwd=tmp_path)  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert (
        "orders.ebay: ok, 4 records (0 quarantined, 0 dropped); order_lines 4 new 0 changed; "
        "orders 4 new 0 changed" in result.stdout
    )
    query = revenue_query().replace("'data/", f"'{tmp_path / 'data' / 'demo'}/")
    rows = duckdb.sql(query).fetchall()
    assert len(rows) == 4  # every recorded line joins a recorded listing
    assert {row[0] for row in rows} == {"ebay"}
    assert {row[5] for row in rows} == {"USD", "GBP", "EUR"}
    raw = (tmp_path / "data" / "demo" / "orders" / "raw").rglob("*.jsonl.zst")
    assert all("demo.buyer" not in readable(path) for path in raw)
