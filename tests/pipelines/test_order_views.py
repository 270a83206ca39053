"""The order tables as ``query`` views and read API routes, the documented revenue-by-product
join over them, and the orders' volumes in the run log.

One offline demo run with both datasets (a subprocess, about a second) feeds the module.
"""

from __future__ import annotations

import re
from collections import defaultdict
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path
from urllib.parse import quote

import pyarrow.parquet as pq
import pytest
from fastapi.testclient import TestClient

from pipelines.cli.main import main
from pipelines.lake.order_schema import ORDER_FIELDS, ORDER_LINE_FIELDS
from pipelines.lake.runlog import read_runs
from pipelines.lake.storage import LocalStorage
from pipelines.ops.lake_api import create_app
from pipelines.ops.lake_reads import LakeReader
from tests.pipelines.test_cli import REPO, cli

REVENUE_BLOCK = re.compile(r"<!-- revenue-by-product -->\n```sql\n(.*?)```", re.S)


@pytest.fixture(scope="module")
def both_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A work folder holding the offline demo's lake with Shopify's products and orders (the
    counts below are those of its recording)."""
    workdir = tmp_path_factory.mktemp("demo-orders")
    result = cli(
        "--offline", "--providers", "shopify", "--datasets", "products,orders", cwd=workdir
    )
    assert result.returncode == 0, result.stderr
    return workdir


def query(folder: Path, monkeypatch: pytest.MonkeyPatch, capsys, *args: str) -> list[str]:
    monkeypatch.chdir(folder)
    code = main(["query", "--offline", "--format", "csv", *args])
    out, err = capsys.readouterr()
    assert code == 0, err
    return out.splitlines()


def committed_lines(lake: Path) -> list[dict]:
    files = sorted((lake / "order_lines" / "normalized").rglob("*.parquet"))
    return [row for f in files for row in pq.read_table(f).to_pylist()]


def test_the_documented_revenue_query_runs_through_query(
    both_dir: Path, monkeypatch: pytest.MonkeyPatch, capsys, tmp_path: Path
) -> None:
    sql = REVENUE_BLOCK.search((REPO / "docs" / "orders.md").read_text())
    assert sql, "docs/orders.md lost its revenue-by-product query"
    (tmp_path / "revenue.sql").write_text(sql.group(1))
    out = query(both_dir, monkeypatch, capsys, "--file", str(tmp_path / "revenue.sql"))
    assert out[0] == "source,title,source_id,revenue,units_kept,currency"
    rows = [line.split(",") for line in out[1:]]
    expected: dict[str, Decimal] = defaultdict(Decimal)
    for line in committed_lines(both_dir / "data" / "demo"):
        expected[line["variant_id"]] += line["line_total_amount"]
    assert {r[2]: Decimal(r[3]) for r in rows} == expected  # every line found its product
    assert all(r[1] and r[0] == "shopify" and r[5] == "CAD" for r in rows)
    revenues = [Decimal(r[3]) for r in rows]
    assert revenues == sorted(revenues, reverse=True)


def test_current_orders_are_one_row_per_order(
    both_dir: Path, monkeypatch: pytest.MonkeyPatch, capsys
) -> None:
    out = query(both_dir, monkeypatch, capsys,
                "SELECT count(*), count(DISTINCT source_id) FROM orders_current")  # fmt: skip
    assert out[1] == "6,6"
    out = query(both_dir, monkeypatch, capsys, "SELECT count(*) FROM order_lines_changes")
    assert int(out[1]) == len(committed_lines(both_dir / "data" / "demo"))


def test_a_lake_without_orders_has_empty_views_with_the_columns(
    lake_dir: Path, monkeypatch: pytest.MonkeyPatch, capsys
) -> None:
    for view, fields in (("orders", ORDER_FIELDS), ("order_lines", ORDER_LINE_FIELDS)):
        for kind in ("changes", "current"):
            out = query(lake_dir, monkeypatch, capsys, f"SELECT * FROM {view}_{kind}")
            assert out[1:] == []
            columns = out[0].split(",")
            assert [f.name for f in fields] == columns[: len(fields)]
            assert {"run_id", "change_type", "dt"} <= set(columns)


def test_uncommitted_order_parts_never_show(
    both_dir: Path, monkeypatch: pytest.MonkeyPatch, capsys
) -> None:
    """A part no manifest names (a run killed before its commit) is not read."""
    lake = both_dir / "data" / "demo" / "orders" / "normalized"
    part = next(lake.rglob("*.parquet"))
    stray = part.with_name("part-99999999T000000Z-killed-0.parquet")
    stray.write_bytes(part.read_bytes())
    try:
        out = query(both_dir, monkeypatch, capsys, "SELECT count(*) FROM orders_changes")
    finally:
        stray.unlink()
    assert out[1] == "6"


def test_the_run_records_the_orders_volumes_and_judges_them(both_dir: Path) -> None:
    """The new orders' revenue per day and currency lands in the run log's ``datasets``
    section, and the detect step judges the orders pulled (``orders_fetched``)."""
    [record] = read_runs(both_dir / "logs" / "demo")
    entry = record["datasets"]["orders.shopify"]
    expected: dict[str, dict[str, Decimal]] = defaultdict(lambda: defaultdict(Decimal))
    orders = both_dir / "data" / "demo" / "orders" / "normalized"
    for f in orders.rglob("source=shopify/*.parquet"):  # each pull records its own orders
        for order in pq.read_table(f).to_pylist():
            day = order["created_at"].date().isoformat()
            expected[order["currency"]][day] += order["total_amount"]
    recorded = entry["volumes"]["revenue"]
    assert {c: {d: Decimal(v) for d, v in days.items()} for c, days in recorded.items()} == expected
    judged = [v for v in record["anomaly"]["verdicts"] if v.get("dataset") == "orders"]
    assert sorted((v["provider"], v["metric"], v["value"]) for v in judged) == sorted(
        (pull.partition(".")[2], "orders_fetched", found["records"])
        for pull, found in record["datasets"].items()
        if pull.startswith("orders.")
    )


@pytest.fixture
def api(both_dir: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[TestClient]:
    """The read API over the demo lake with both datasets."""
    monkeypatch.chdir(both_dir)
    reader = LakeReader(LocalStorage(Path("data/demo")), Path("logs/demo"), timeout=10)
    with TestClient(create_app(reader, None)) as client:
        yield client


def test_orders_page_by_cursor_in_key_order(api: TestClient) -> None:
    seen, cursor = [], None
    for _ in range(10):
        page = api.get("/orders", params={"limit": 4, **({"cursor": cursor} if cursor else {})})
        assert page.status_code == 200, page.text
        seen += page.json()["items"]
        cursor = page.json()["next_cursor"]
        if cursor is None:
            break
    keys = [(o["source"], o["source_id"]) for o in seen]
    assert len(keys) == 6
    assert keys == sorted(set(keys))
    assert all(isinstance(o["total_amount"], str) for o in seen)  # money stays exact


def test_orders_filter_with_bound_parameters(api: TestClient) -> None:
    paid = api.get("/orders", params={"financial_status": "paid"}).json()["items"]
    assert paid
    assert all(o["financial_status"] == "paid" for o in paid)
    october = api.get("/orders", params={"created_from": "2026-10-01T00:00:00"}).json()["items"]
    assert sorted(o["created_at"][:10] for o in october) == ["2026-10-01", "2026-10-02"]
    hostile = api.get("/orders", params={"source": "shopify' OR '1'='1"})
    assert hostile.status_code == 200
    assert hostile.json()["items"] == []
    assert api.get("/orders", params={"limit": 100000}).status_code == 422
    assert api.get("/orders", params={"cursor": "garbage"}).status_code == 400


def test_one_order_comes_with_its_lines(api: TestClient) -> None:
    [first] = api.get("/orders", params={"limit": 1}).json()["items"]
    found = api.get(f"/orders/shopify/{quote(first['source_id'], safe='')}")
    assert found.status_code == 200, found.text
    order = found.json()
    assert order["source_id"] == first["source_id"]
    assert len(order["lines"]) == order["line_count"]
    assert {line["order_id"] for line in order["lines"]} == {first["source_id"]}
    assert api.get("/orders/shopify/no-such-order").status_code == 404


def test_a_lake_without_orders_answers_an_empty_page(lake_dir: Path, monkeypatch) -> None:
    monkeypatch.chdir(lake_dir)
    reader = LakeReader(LocalStorage(Path("data/demo")), Path("logs/demo"), timeout=10)
    with TestClient(create_app(reader, None)) as client:
        assert client.get("/orders").json() == {"items": [], "next_cursor": None}
