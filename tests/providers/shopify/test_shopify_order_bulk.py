"""Order backfills as bulk operations against the fake: the backfill and the incremental run
after it, the same rows as paging, failures, operations already running, an empty shop, and
no buyer data in the spooled result file."""

from __future__ import annotations

import logging
import sqlite3
import tempfile
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
from pytest_httpserver import HTTPServer

from pipelines.config import load_config
from pipelines.errors import FatalProviderError, RetriableProviderError
from pipelines.lake.lake import Lake
from pipelines.net.pii import Scrubber
from pipelines.run.options import RunOptions
from pipelines.run.runner import Runner
from providers.shopify import ShopifyProvider
from providers.shopify.order_queries import bulk_orders_query
from providers.shopify.queries import bulk_products_query
from tests.fakes.shopify import CANARY, FakeShopify, make_line, make_order, money

SECRET = "buyer-key-secret-for-bulk-tests-01"  # pragma: allowlist secret
ORDERS = ("orders",)
FAST = {"bulk_poll_seconds": 0.01}
# Columns that differ between two runs of the same data: when and by which run it was fetched.
RUN_COLUMNS = {"fetched_at", "run_id"}


def varied_orders() -> list[dict[str, Any]]:
    """Seven orders: one, two or three lines, a refund, a cancellation, a discounted line."""
    orders = [make_order(n, lines=1 + n % 3) for n in range(1, 8)]
    orders[2] = make_order(
        3, lines=1, displayFinancialStatus="PARTIALLY_REFUNDED", totalRefundedSet=money("20.00")
    )
    orders[3]["lineItems"]["nodes"][0]["currentQuantity"] = 1
    orders[4] = make_order(5, lines=1, cancelledAt="2026-10-06T08:00:00Z")
    line = make_line(6, 1)
    line["discountAllocations"] = [{"allocatedAmountSet": money("2.00")}]
    orders[5]["lineItems"]["nodes"][0] = line
    return orders


@pytest.fixture
def shopify(http_server: HTTPServer) -> Iterator[FakeShopify]:
    scopes = ("read_products", "read_orders")
    with FakeShopify([], orders=varied_orders(), server=http_server, scopes=scopes) as fake:
        yield fake


def run(
    fake: FakeShopify, shopify_options: dict[str, Any] | None = None, **options: Any
) -> dict[str, Any]:
    """One orders run against the fake, with the buyer key's secret set."""
    registry = {"shopify": ShopifyProvider()}
    config = load_config(None, registry).with_pipeline(http_backoff_seconds=0.01)
    shopify = {**config.providers["shopify"], **FAST, **(shopify_options or {})}
    config = replace(config, providers={**config.providers, "shopify": shopify})
    env = {**fake.env(), "PIPELINE_BUYER_KEY_SECRET": SECRET}
    options = {"no_cache": True, "datasets": ORDERS, **options}
    return Runner(config, registry, env, RunOptions(**options)).run().record


def table(root: Path, name: str) -> list[dict[str, Any]]:
    lake = Lake(root / name)
    files = lake.committed_files("normalized")
    return lake.parts("normalized", files).to_table().to_pylist() if files else []


def landed(root: Path, name: str) -> list[dict[str, Any]]:
    """A table's rows without the columns that say when they were written, in key order."""
    rows = [{k: v for k, v in row.items() if k not in RUN_COLUMNS} for row in table(root, name)]
    return sorted(rows, key=lambda row: row["source_id"])


def operations(fake: FakeShopify) -> list[str]:
    return [r.body["operationName"] for r in fake.requests if r.body]


def downloads(fake: FakeShopify) -> int:
    return sum(r.path.startswith("/bulk-results/") for r in fake.requests)


# --- the backfill and after ----------------------------------------------------------------------


def test_backfill_runs_as_a_bulk_operation_then_the_next_run_pages(
    workdir: Path, shopify: FakeShopify
) -> None:
    record = run(shopify)
    pull = record["datasets"]["orders.shopify"]
    assert pull["status"] == "ok"
    assert operations(shopify) == ["ShopInfo", "BulkOrders", "BulkOperation"]
    assert downloads(shopify) == 1
    (document,) = [r.body["variables"]["query"] for r in shopify.requests
                   if r.body and r.body["operationName"] == "BulkOrders"]  # fmt: skip
    assert document == bulk_orders_query(None)  # every order, no filter
    lines = sum(len(o["lineItems"]["nodes"]) for o in shopify.orders)
    assert pull["tables"]["orders"]["new"] == 7
    assert pull["tables"]["order_lines"]["new"] == lines
    shopify.orders[6] = make_order(7, updatedAt="2026-10-20T12:00:00Z",
                                   displayFinancialStatus="REFUNDED")  # fmt: skip
    shopify.requests.clear()
    tables = run(shopify)["datasets"]["orders.shopify"]["tables"]
    # The backfill's watermark (order 7, 2026-10-08T12:00) minus the 24 h lookback.
    assert operations(shopify) == ["ShopInfo", "Orders"]
    (page,) = [r.body["variables"] for r in shopify.requests if r.body["operationName"] == "Orders"]
    assert page["query"] == "updated_at:>='2026-10-07T12:00:00Z'"
    # Order 6 comes again (the lookback) untouched; order 7 was refunded.
    assert tables["orders"] == {"new": 0, "changed": 1, "unchanged": 1}


def test_full_refresh_runs_a_bulk_backfill_again(workdir: Path, shopify: FakeShopify) -> None:
    run(shopify, {"orders_bulk": "never"})
    shopify.requests.clear()
    tables = run(shopify, full_refresh=True)["datasets"]["orders.shopify"]["tables"]
    assert "BulkOrders" in operations(shopify)
    assert tables["orders"] == {"new": 0, "changed": 0, "unchanged": 7}


@pytest.mark.parametrize(
    ("shopify_options", "options", "bulk"),
    [
        ({"orders_bulk": "never"}, {}, False),
        ({}, {"limit": 3}, False),  # a bulk operation cannot stop early
        ({"orders_bulk": "always"}, {}, True),
    ],
)
def test_when_orders_run_as_a_bulk_operation(
    workdir: Path, shopify: FakeShopify, shopify_options: dict, options: dict, bulk: bool
) -> None:
    assert run(shopify, shopify_options, **options)["exit_code"] == 0
    assert ("BulkOrders" in operations(shopify)) is bulk
    assert ("Orders" in operations(shopify)) is not bulk


def test_always_bulk_filters_an_incremental_pull(workdir: Path, shopify: FakeShopify) -> None:
    run(shopify)
    shopify.requests.clear()
    record = run(shopify, {"orders_bulk": "always"})
    (document,) = [r.body["variables"]["query"] for r in shopify.requests
                   if r.body and r.body["operationName"] == "BulkOrders"]  # fmt: skip
    assert document == bulk_orders_query("updated_at:>='2026-10-07T12:00:00Z'")
    assert "orders(query: \"updated_at:>='2026-10-07T12:00:00Z'\")" in document
    assert record["datasets"]["orders.shopify"]["tables"]["orders"]["unchanged"] == 2


def test_bulk_and_paged_backfills_land_the_same_rows(
    tmp_path: Path, shopify: FakeShopify, monkeypatch: pytest.MonkeyPatch
) -> None:
    lakes = {}
    for mode in ("never", "backfill"):
        monkeypatch.chdir((tmp_path / mode).mkdir() or tmp_path / mode)
        assert run(shopify, {"orders_bulk": mode})["exit_code"] == 0
        lakes[mode] = tmp_path / mode / "data"
    assert downloads(shopify) == 1
    for name in ("orders", "order_lines"):
        paged, bulk = landed(lakes["never"], name), landed(lakes["backfill"], name)
        assert bulk == paged
        assert len(bulk) == (7 if name == "orders" else 12)
    orders = landed(lakes["backfill"], "orders")
    assert {o["financial_status"] for o in orders} == {"paid", "partially_refunded"}
    assert all(len(o["buyer_key"]) == 64 for o in orders)


# --- failures ------------------------------------------------------------------------------------


def fetch_orders(provider: ShopifyProvider, fetch_context, fake: FakeShopify, **options: Any):
    ctx = fetch_context(provider, fake.env(), options={**FAST, **options})
    return list(provider.fetch_dataset("orders", ctx)), ctx


@pytest.mark.parametrize(
    ("end", "error", "message"),
    [
        (
            ("FAILED", "ACCESS_DENIED", False),
            FatalProviderError,
            "failed with ACCESS_DENIED: the access token lacks a scope the query needs "
            "(read_orders)",
        ),
        (
            ("FAILED", "TIMEOUT", True),
            RetriableProviderError,
            "failed with TIMEOUT: Shopify timed out running it; the next run tries again; its "
            "partial result (9 objects) was left unused, the next run starts over",
        ),
        (
            ("FAILED", "INTERNAL_SERVER_ERROR", False),
            RetriableProviderError,
            "failed with INTERNAL_SERVER_ERROR: an intermittent error at Shopify; the next run "
            "tries again",
        ),
        (
            ("CANCELED", None, False),
            FatalProviderError,
            "ended as CANCELED (canceled or expired at Shopify); nothing was fetched",
        ),
        (
            ("EXPIRED", None, False),
            FatalProviderError,
            "ended as EXPIRED (canceled or expired at Shopify); nothing was fetched",
        ),
    ],
)
def test_an_operation_that_does_not_complete_fails_with_its_status_and_code(
    fetch_context, shopify: FakeShopify, end: tuple, error: type, message: str
) -> None:
    status, code, partial = end
    if status == "FAILED":
        shopify.fail_next_bulk(code, partial=partial)
    else:
        shopify.end_next_bulk(status)
    provider = ShopifyProvider()
    with pytest.raises(error) as caught:
        fetch_orders(provider, fetch_context, shopify)
    assert str(caught.value) == f"shopify bulk operation gid://shopify/BulkOperation/1 {message}"
    assert downloads(shopify) == 0  # partial data is never read


def test_a_failed_backfill_lands_nothing_and_the_next_run_backfills_again(
    workdir: Path, shopify: FakeShopify
) -> None:
    shopify.fail_next_bulk("TIMEOUT", partial=True)
    record = run(shopify)
    assert record["datasets"]["orders.shopify"]["status"] == "failed"
    assert record["exit_code"] == 1
    assert table(workdir / "data", "orders") == []
    shopify.requests.clear()
    record = run(shopify)
    assert operations(shopify) == ["ShopInfo", "BulkOrders", "BulkOperation"]
    assert record["datasets"]["orders.shopify"]["tables"]["orders"]["new"] == 7


def test_a_result_cut_short_fails_the_pull(workdir: Path, shopify: FakeShopify) -> None:
    shopify.bulk_cut = 2
    record = run(shopify)
    pull = record["datasets"]["orders.shopify"]
    assert pull["status"] == "failed"
    # 7 orders and 12 line items, the last 2 lines of the file cut off
    assert "bulk objects (JSONL lines): the source holds 19, 17 read" in pull["error"]
    assert table(workdir / "data", "orders") == []


def test_no_orders_at_all_completes_without_a_file(workdir: Path, shopify: FakeShopify) -> None:
    shopify.orders.clear()
    record = run(shopify)
    pull = record["datasets"]["orders.shopify"]
    assert pull["status"] == "ok"
    assert pull["tables"]["orders"] == {"new": 0, "changed": 0, "unchanged": 0}
    assert downloads(shopify) == 0
    shopify.orders.extend(varied_orders()[:2])
    shopify.requests.clear()
    run(shopify)  # still no watermark: a backfill again
    assert "BulkOrders" in operations(shopify)


# --- operations already running ------------------------------------------------------------------


def test_a_running_orders_operation_is_joined(fetch_context, shopify: FakeShopify, caplog) -> None:
    caplog.set_level(logging.INFO)
    left_behind = shopify.start_bulk(bulk_orders_query(None), ticks=2)
    records, _ = fetch_orders(ShopifyProvider(), fetch_context, shopify)
    assert len(shopify.bulk_ops) == 1
    assert sorted(r["id"] for r in records) == sorted(o["id"] for o in shopify.orders)
    assert f"joining bulk operation {left_behind.gid}, already running the same query" in (
        caplog.text
    )


@pytest.mark.parametrize(("limit", "starts"), [(1, 3), (5, 1)])
def test_a_products_operation_running_is_waited_for_or_run_beside(
    fetch_context, shopify: FakeShopify, limit: int, starts: int
) -> None:
    """One bulk query at a time per app before API 2026-01, five since."""
    shopify.bulk_limit = limit
    shopify.start_bulk(bulk_products_query(None), ticks=2)
    records, _ = fetch_orders(ShopifyProvider(), fetch_context, shopify)
    assert len(records) == 7
    assert operations(shopify).count("BulkOrders") == starts
    assert shopify.bulk_ops[1].status == "COMPLETED"


# --- buyer data ----------------------------------------------------------------------------------


@pytest.mark.parametrize("scrubbed", [True, False])
def test_the_spooled_result_holds_no_buyer_data(
    fetch_context, shopify: FakeShopify, tmp_path: Path, monkeypatch, scrubbed: bool
) -> None:
    """The runner's scrubber sees every line before the result file is spooled to disk (without
    it the canaries are there: the check can fail)."""
    spool = tmp_path / "spool"
    spool.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(spool))
    provider = ShopifyProvider()
    ctx = fetch_context(provider, shopify.env(), options=FAST)
    ctx.scrub = (
        Scrubber("shopify", {"PIPELINE_BUYER_KEY_SECRET": SECRET}).scrub if scrubbed else None
    )
    records = provider.fetch_dataset("orders", ctx)
    first = next(records)
    (database,) = spool.rglob("result.sqlite")
    with sqlite3.connect(database) as db:
        text = "\n".join(line for (line,) in db.execute("SELECT line FROM roots UNION ALL "
                                                        "SELECT line FROM children"))  # fmt: skip
    needles = [*CANARY.values(), "Canaryville", "gid://shopify/Customer/"]
    assert any(needle in text for needle in needles) is not scrubbed
    rest = list(records)
    if scrubbed:
        assert all(len(r["__buyer_key"]) == 64 for r in [first, *rest])
        assert all("customer" not in r and "email" not in r for r in [first, *rest])
    assert not list(spool.iterdir())  # the spool is gone once read
