"""``--replay`` of datasets beyond products, on the offline demo's orders: one version per
order id (the one landed last), demo and real kept apart, and only the datasets asked for."""

from __future__ import annotations

import json
from pathlib import Path

import pyarrow.compute as pc
import pyarrow.dataset as ds

from pipelines.lake.lake import read_raw
from tests.pipelines.test_cli import cli

BOTH = ("--datasets", "products,orders")
LATER_RUN = "20991231T235959Z-abcdef"  # a run id later than any the demo lands


def demo(root: Path, *args: str) -> str:
    result = cli("--offline", *BOTH, *args, cwd=root)
    assert result.returncode == 0, result.stderr
    return result.stdout


def table(root: Path, name: str) -> list[tuple]:
    """(source, source_id, content_hash) of every committed row of a demo table, sorted."""
    rows = ds.dataset(root / "data/demo" / name / "normalized", partitioning="hive").to_table()
    return sorted(zip(*(rows[c].to_pylist() for c in ("source", "source_id", "content_hash"))))


def test_a_folder_of_many_runs_rebuilds_the_order_tables(tmp_path: Path) -> None:
    landed = tmp_path / "landed"
    landed.mkdir()
    demo(landed)
    demo(landed)  # the same orders landed again
    shopify_files = list((landed / "data/demo/orders/raw").rglob("source=shopify/*.jsonl.zst"))
    assert len(shopify_files) == 2
    replayed = tmp_path / "replayed"
    replayed.mkdir()

    out = demo(replayed, "--replay", str(landed / "data/demo"))

    assert "orders.shopify: ok, 6 records (0 quarantined, 0 dropped); order_lines 9 new" in out
    assert "orders.amazon_sp: ok, 5 records" in out
    for name in ("orders", "order_lines"):
        assert table(replayed, name) == table(landed, name)
    assert not (replayed / "data/demo/orders/raw").exists()  # a replay lands no raw file


def test_the_order_landed_last_is_the_one_replayed(tmp_path: Path) -> None:
    demo(tmp_path, "--providers", "shopify")
    landed = next((tmp_path / "data/demo/orders/raw").rglob("*.jsonl.zst"))
    records = list(read_raw(landed))
    refunded = {**records[0], "displayFinancialStatus": "REFUNDED"}
    later = landed.parent / f"{LATER_RUN}.jsonl"
    later.write_text(json.dumps(refunded) + "\n", encoding="utf-8")

    out = demo(tmp_path, "--providers", "shopify", "--replay", str(landed.parents[2]))

    # six orders, each once: the refunded one from the later file, the others as they were
    assert "orders.shopify: ok, 6 records (0 quarantined, 0 dropped)" in out
    assert "orders 0 new 1 changed" in out
    rows = ds.dataset(tmp_path / "data/demo/orders/normalized", partitioning="hive").to_table()
    changed = rows.filter(pc.equal(rows["change_type"], "changed"))
    assert changed["source_id"].to_pylist() == [records[0]["id"]]
    assert changed["financial_status"].to_pylist() == ["refunded"]


def test_demo_orders_never_reach_the_real_lake(tmp_path: Path) -> None:
    demo(tmp_path, "--providers", "shopify")
    raw = tmp_path / "data/demo/orders/raw"

    result = cli("--replay", str(raw), *BOTH, cwd=tmp_path)

    assert result.returncode == 2
    assert "holds demo records (landed by --offline)" in result.stderr
    assert not (tmp_path / "data/orders").exists()


def test_order_files_are_replayed_only_when_orders_are_asked_for(tmp_path: Path) -> None:
    demo(tmp_path, "--providers", "shopify")
    raw = tmp_path / "data/demo/orders/raw"

    refused = cli("--offline", "--replay", str(raw), cwd=tmp_path)
    both = demo(tmp_path, "--providers", "shopify", "--replay", str(tmp_path / "data/demo"))

    assert refused.returncode == 2
    assert (
        f"--replay: no raw files of products under {raw} (it holds raw files of orders: ask "
        "for them with --datasets orders)" in refused.stderr
    )
    assert "orders.shopify: ok, 6 records" in both  # both datasets were asked for
    only_products = cli("--offline", "--providers", "shopify", "--replay",
                        str(tmp_path / "data/demo"), cwd=tmp_path)  # fmt: skip
    assert only_products.returncode == 0, only_products.stderr
    assert "orders.shopify" not in only_products.stdout
