"""Shopify orders through the runner: the orders lake, paging, throttling, incremental pulls,
change tracking, quarantine, a products lake left as it was, and no buyer data anywhere."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
from pytest_httpserver import HTTPServer

from pipelines.config import load_config
from pipelines.errors import ProviderError
from pipelines.lake.dedup import load_state
from pipelines.lake.lake import Lake
from pipelines.run.options import RunOptions
from pipelines.run.runner import Runner
from providers.shopify import ShopifyProvider
from tests.fakes.shopify import CANARY, FakeShopify, make_order, make_product, money
from tests.written_files import files_holding

SECRET = "buyer-key-secret-for-tests-0001"  # pragma: allowlist secret
BOTH = ("products", "orders")


@pytest.fixture
def shopify(http_server: HTTPServer) -> Iterator[FakeShopify]:
    """Three products and seven orders (two pages of four)."""
    products = [make_product(n) for n in range(1, 4)]
    orders = [make_order(n) for n in range(1, 8)]
    with FakeShopify(products, orders=orders, server=http_server,
                     scopes=("read_products", "read_orders")) as fake:  # fmt: skip
        yield fake


def run(
    fake: FakeShopify,
    env: dict[str, str] | None = None,
    shopify_options: dict[str, Any] | None = None,
    reject_threshold: float = 0.05,
    **options: Any,
) -> dict[str, Any]:
    """One run against the fake; ``shopify_options`` as under ``[providers.shopify]``."""
    registry = {"shopify": ShopifyProvider()}
    config = load_config(None, registry).with_pipeline(http_backoff_seconds=0.01)
    shopify = {**config.providers["shopify"], **(shopify_options or {})}
    config = replace(config, providers={**config.providers, "shopify": shopify},
                     sections={"quality": {"reject_threshold": reject_threshold}})  # fmt: skip
    options.setdefault("no_cache", True)
    result = Runner(config, registry, {**fake.env(), **(env or {})}, RunOptions(**options)).run()
    return result.record


def table(root: Path, name: str) -> list[dict[str, Any]]:
    lake = Lake(root / name)
    files = lake.committed_files("normalized")
    return lake.parts("normalized", files).to_table().to_pylist() if files else []


def order_pages(fake: FakeShopify) -> list[dict[str, Any]]:
    return [r.body["variables"] for r in fake.requests
            if r.body and r.body.get("operationName") == "Orders"]  # fmt: skip


def test_orders_land_in_their_own_tables(workdir: Path, shopify: FakeShopify) -> None:
    record = run(shopify, shopify_options={"orders_bulk": "never"}, datasets=BOTH)
    pull = record["datasets"]["orders.shopify"]
    assert record["exit_code"] == 0
    assert pull["status"] == "ok"
    assert pull["tables"]["orders"]["new"] == 7
    assert pull["tables"]["order_lines"]["new"] == 14
    assert len(order_pages(shopify)) == 2  # four orders a page, cursor paging
    orders = table(workdir / "data", "orders")
    first = next(o for o in orders if o["source_id"] == "gid://shopify/Order/1")
    assert first["financial_status"] == "paid"
    assert first["fulfillment_status"] == "unfulfilled"
    assert (first["ship_country"], first["ship_region"], first["currency"]) == ("CA", "ON", "EUR")
    assert str(first["total_amount"]) == "86.0000"
    assert first["buyer_key"] is None
    lines = table(workdir / "data", "order_lines")
    assert {ln["order_id"] for ln in lines} == {o["source_id"] for o in orders}
    assert lines[0]["variant_id"].startswith("gid://shopify/ProductVariant/")
    # The products are where they always were: normalized/ at the lake's root.
    assert len(Lake(workdir / "data").committed_files("normalized")) == 1


def test_products_only_runs_pull_no_orders(workdir: Path, shopify: FakeShopify) -> None:
    record = run(shopify)
    assert "datasets" not in record
    assert order_pages(shopify) == []
    assert not (workdir / "data" / "orders").exists()


def test_an_existing_products_lake_works_unchanged(workdir: Path, shopify: FakeShopify) -> None:
    run(shopify)  # a lake as every earlier version wrote it
    before = sorted(p.relative_to(workdir) for p in (workdir / "data" / "normalized").rglob("*"))
    record = run(shopify, datasets=BOTH)
    products = record["providers"]["shopify"]
    assert products["unchanged"] > 0
    assert products["new"] == products["changed"] == 0
    after = sorted(p.relative_to(workdir) for p in (workdir / "data" / "normalized").rglob("*"))
    assert after == before
    assert load_state(workdir / "data").applied_runs == set(_manifests(workdir / "data"))


def _manifests(root: Path) -> set[str]:
    return {p.stem for p in (root / "_manifests").glob("*.json")}


def test_incremental_pull_tracks_changes_by_content(workdir: Path, shopify: FakeShopify) -> None:
    run(shopify, datasets=("orders",))
    shopify.orders[6] = make_order(
        7, updatedAt="2026-10-20T12:00:00Z", displayFinancialStatus="PARTIALLY_REFUNDED",
        totalRefundedSet=money("20.00"),
    )  # fmt: skip
    shopify.requests.clear()
    record = run(shopify, datasets=("orders",))
    tables = record["datasets"]["orders.shopify"]["tables"]
    assert order_pages(shopify)[0]["query"] == "updated_at:>='2026-10-07T12:00:00Z'"
    # Order 6 comes again (the lookback) untouched; order 7 was refunded in part.
    assert tables["orders"] == {"new": 0, "changed": 1, "unchanged": 1}
    assert tables["order_lines"] == {"new": 0, "changed": 0, "unchanged": 4}
    changed = [o for o in table(workdir / "data", "orders") if o["change_type"] == "changed"]
    assert [o["financial_status"] for o in changed] == ["partially_refunded"]
    assert str(changed[0]["refunded_amount"]) == "20.0000"
    untouched = run(shopify, datasets=("orders",))["datasets"]["orders.shopify"]["tables"]
    assert untouched["orders"] == {"new": 0, "changed": 0, "unchanged": 1}


def test_throttled_pages_are_waited_out(workdir: Path, shopify: FakeShopify) -> None:
    shopify.throttle_next(times=1, after=2, short_by=0.5)
    record = run(shopify, datasets=("orders",))
    assert record["datasets"]["orders.shopify"]["status"] == "ok"
    assert shopify.throttled == 1
    assert len(table(workdir / "data", "orders")) == 7


def test_bad_token_fails_the_pull_and_the_run(workdir: Path, shopify: FakeShopify) -> None:
    record = run(shopify, env={"SHOPIFY_ACCESS_TOKEN": "shpat_wrong"}, datasets=("orders",))
    assert record["datasets"]["orders.shopify"]["status"] == "failed"
    assert record["exit_code"] == 1
    assert not (workdir / "data" / "orders" / "_manifests").exists()


def test_orders_that_do_not_reconcile_are_quarantined(workdir: Path, shopify: FakeShopify) -> None:
    shopify.orders[0] = make_order(1, totalPriceSet=money("99.99"))
    shopify.orders[1] = make_order(2, currencyCode="USD")
    pull = run(shopify, datasets=("orders",), reject_threshold=0.5)["datasets"]["orders.shopify"]
    assert pull["quarantined"] == 2
    assert pull["reasons"] == {"totals_do_not_reconcile": 1, "line_currency_mismatch": 1}
    lake = Lake(workdir / "data" / "orders")
    rows = lake.parts("quarantine", lake.committed_files("quarantine")).to_table().to_pylist()
    assert sorted(r["reasons"][0] for r in rows) == [
        "line_currency_mismatch", "totals_do_not_reconcile",
    ]  # fmt: skip
    assert len(table(workdir / "data", "orders")) == 5


@pytest.mark.parametrize("orders_bulk", ["never", "backfill"])  # paged, a bulk operation
def test_no_buyer_data_anywhere(workdir: Path, shopify: FakeShopify, orders_bulk: str) -> None:
    """Canary buyer data in every order: none of it, nor the key's secret, in any file written
    (lake, raw, the API cache, logs, the run log, the reports), whether the orders were paged
    or read from a bulk operation's result file."""
    record = run(shopify, env={"PIPELINE_BUYER_KEY_SECRET": SECRET}, datasets=BOTH,
                 no_cache=False, shopify_options={"orders_bulk": orders_bulk})  # fmt: skip
    bulk = any(r.path.startswith("/bulk-results/") for r in shopify.requests)
    assert bulk is (orders_bulk == "backfill")
    assert record["exit_code"] == 0
    assert (workdir / ".cache" / "api").exists()
    assert (workdir / "logs").exists()
    written = [p for p in workdir.rglob("*") if p.is_file()]
    assert any("orders" in p.parts and "raw" in p.parts for p in written)
    needles = [*CANARY.values(), SECRET, "Canaryville", "C4N 4RY", "gid://shopify/Customer/"]
    assert files_holding(workdir, needles) == {}
    keys = {o["buyer_key"] for o in table(workdir / "data", "orders")}
    assert len(keys) == 7
    assert all(len(k) == 64 for k in keys)


def test_doctor_checks_read_orders_and_explains_the_60_days(fetch_context, http_server) -> None:
    provider = ShopifyProvider()
    with FakeShopify([], server=http_server, scopes=("read_products",)) as fake:
        ctx = fetch_context(provider, fake.env())
        ctx.datasets = BOTH
        with pytest.raises(ProviderError) as caught:
            provider.probe(ctx)
        assert caught.value.status == 403
        assert "missing read_orders" in str(caught.value)
        fake.scopes = ("read_products", "read_orders")
        facts = provider.probe(ctx).facts
        assert any("only the last 60 days" in f and "read_all_orders" in f for f in facts)
        fake.scopes = ("read_products", "read_orders", "read_all_orders")
        assert any("every order is readable" in f for f in provider.probe(ctx).facts)
        ctx.datasets = ("products",)
        fake.scopes = ("read_products",)
        assert not any("orders" in f for f in provider.probe(ctx).facts)


def test_a_dry_run_counts_orders_and_writes_nothing(workdir: Path, shopify: FakeShopify) -> None:
    record = run(shopify, datasets=("orders",), dry_run=True)
    assert record["datasets"]["orders.shopify"]["tables"]["orders"]["new"] == 7
    assert not (workdir / "data" / "orders").exists()
    assert not (workdir / "data" / "order_lines").exists()


def test_a_step_run_again_after_its_commit_writes_nothing(
    workdir: Path, shopify: FakeShopify
) -> None:
    registry = {"shopify": ShopifyProvider()}
    config = load_config(None, registry)
    options = RunOptions(no_cache=True, datasets=("orders",))
    runner = Runner(config, registry, shopify.env(), options)
    runner.run()
    assert runner.run_step("dataset.orders.shopify", force=True) == 0
    tables = runner.checkpoint.outputs("dataset.orders.shopify")["tables"]
    assert tables == {"order_lines": {"committed_before": 1}, "orders": {"committed_before": 1}}
    assert len(table(workdir / "data", "orders")) == 7


def test_orders_over_the_quality_gate_fail_the_run_and_commit_nothing(
    workdir: Path, shopify: FakeShopify, caplog: pytest.LogCaptureFixture
) -> None:
    shopify.orders[0] = make_order(1, totalPriceSet=money("99.99"))
    shopify.orders[1] = make_order(2, currencyCode="USD")
    record = run(shopify, datasets=BOTH)
    gate = (
        "quality gate failed for orders from shopify: 2 of 7 records rejected (28.6% > 5.0%); "
        "top reasons: line_currency_mismatch 1, totals_do_not_reconcile 1"
    )
    pull = record["datasets"]["orders.shopify"]
    assert (pull["status"], pull["error"], pull["quarantined"]) == ("quality_failed", gate, 2)
    assert record["exit_code"] == 3  # as a provider's products over the gate
    assert record["providers"]["shopify"]["status"] == "ok"  # its products are committed
    assert table(workdir / "data", "")
    assert not table(workdir / "data", "orders")
    assert not load_state(Lake(workdir / "data" / "orders").storage).extra  # no watermark
    assert [r.getMessage() for r in caplog.records if r.levelname == "ERROR"] == [gate]
    shopify.orders[0], shopify.orders[1] = make_order(1), make_order(2)
    record = run(shopify, datasets=BOTH)  # fixed upstream: the next run pulls them all
    assert (record["exit_code"], len(table(workdir / "data", "orders"))) == (0, 7)
