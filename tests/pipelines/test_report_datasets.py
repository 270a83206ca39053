"""The run report's datasets table and the datasets' volume verdicts, Markdown and HTML."""

from __future__ import annotations

from typing import Any

from pipelines.checks.report import render_html, render_markdown
from pipelines.checks.report_datasets import DATASET_HEADERS, dataset_rows
from tests.pipelines.test_report import NOW, parse, record, table_cells

ORDERS = {
    "status": "ok", "records": 6, "quarantined": 1, "dropped": 2,
    "tables": {"order_lines": {"new": 9, "changed": 0, "unchanged": 3},
               "orders": {"new": 5, "changed": 1, "unchanged": 0}},
}  # fmt: skip
REVENUE = {"dataset": "orders", "provider": "shopify", "metric": "revenue_CAD",
           "day": "2026-11-20", "value": 40.0, "median": 1000.0, "z": -9.6, "verdict": "alert",
           "warn_lower": 700.0, "warn_upper": 1300.0, "alert_lower": 500.0,
           "alert_upper": 1500.0}  # fmt: skip


def with_orders(**entry: Any) -> dict[str, Any]:
    current = record(NOW, 100)
    current["datasets"] = {"orders.shopify": {**ORDERS, **entry}}
    return current


def test_a_row_per_table_with_the_pull_counts_on_its_first() -> None:
    assert dataset_rows(with_orders()) == [
        ["orders", "shopify", "ok", "6", "1", "2", "order_lines", "9", "0", "3"],
        ["", "", "", "", "", "", "orders", "5", "1", "0"],
    ]
    failed = with_orders(status="failed", tables={}, records=None)
    assert dataset_rows(failed) == [["orders", "shopify", "failed", "", "1", "2", "", "", "", ""]]
    assert dataset_rows(record(NOW, 100)) == []


def test_markdown_shows_the_datasets_and_their_verdicts() -> None:
    anomaly = {"worst": "alert", "verdicts": [REVENUE]}
    text = render_markdown(with_orders(), [], anomaly)
    lines = text.splitlines()
    start = lines.index("## Datasets")
    assert table_cells(lines[start + 2]) == list(DATASET_HEADERS)
    assert table_cells(lines[start + 4])[:7] == ["orders", "shopify", "ok", "6", "1", "2",
                                                  "order_lines"]  # fmt: skip
    [verdict] = [table_cells(ln) for ln in lines if "revenue_CAD" in ln]
    assert verdict[:3] == ["orders shopify", "revenue_CAD (2026-11-20)", "40"]
    assert verdict[-1] == ""  # no trend of the products' counters
    assert "Products only." in render_markdown(record(NOW, 100), [], anomaly)


def test_html_shows_the_datasets_escaped() -> None:
    current = with_orders()
    current["datasets"]["orders.<b>x</b>"] = ORDERS
    page = render_html(current, [], {"worst": "alert", "verdicts": [REVENUE]})
    text = " ".join(parse(page).text)
    assert "Datasets" in text
    assert "order_lines" in text
    assert "revenue_CAD (2026-11-20)" in text
    assert "<b>x</b>" not in page
    assert "&lt;b&gt;x&lt;/b&gt;" in page
