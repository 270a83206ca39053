"""Completeness proof for Shopify: counts recorded on every pull, a short pull fails the provider.

Each failing case is run through the runner, so that what a short pull leaves behind is
checked too: the provider failed with both counts named, its watermark where it was, no
deletion row written and the dedup state untouched.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pyarrow.parquet as pq
import pytest
from pytest_httpserver import HTTPServer

from pipelines.config import load_config
from pipelines.lake.dedup import load_state
from pipelines.lake.lake import Lake
from pipelines.run.options import RunOptions
from pipelines.run.runner import Runner
from providers.shopify import ShopifyProvider
from tests.fakes.shopify import FakeShopify, make_product
from tests.providers.shopify.helpers import fetch_all

FIRST_WATERMARK = "2026-10-11T12:00:00Z"


@pytest.fixture
def shop(http_server: HTTPServer) -> Iterator[FakeShopify]:
    """Ten products updated 2026-10-02 .. 2026-10-11; the third has 150 variants."""
    products = [make_product(n) for n in range(1, 11)]
    products[2] = make_product(3, variants=150)
    with FakeShopify(products, server=http_server) as fake:
        yield fake


def run(workdir: Path, fake: FakeShopify, toml: str = "", **options: Any) -> dict[str, Any]:
    (workdir / "pipeline.toml").write_text(f"[providers.shopify]\n{toml}\n")
    registry = {"shopify": ShopifyProvider()}
    config = load_config(workdir / "pipeline.toml", registry).with_pipeline(
        http_backoff_seconds=0.01
    )
    runner = Runner(config, registry, fake.env(), RunOptions(no_cache=True, **options))
    return runner.run().record["providers"]["shopify"]


def watermark(workdir: Path) -> str | None:
    state = load_state(workdir / "data")
    return state.extra.get("providers", {}).get("shopify", {}).get("watermark")


def held_keys(workdir: Path) -> set[Any]:
    return set(load_state(workdir / "data").keys_of("shopify"))


def deleted_rows(workdir: Path) -> list[dict[str, Any]]:
    files = Lake(workdir / "data").committed_files("normalized")
    rows = [row for f in files for row in pq.read_table(f).to_pylist()]
    return [row for row in rows if row["change_type"] == "deleted"]


def counts(entry: dict[str, Any]) -> dict[str, tuple[int, int, int]]:
    return {c["what"]: (c["source"], c["expected"], c["read"]) for c in entry["completeness"]}


def operations(fake: FakeShopify) -> list[str]:
    return [r.body["operationName"] for r in fake.requests if r.body]


def prepare_refresh(workdir: Path, shop: FakeShopify) -> None:
    """A committed first run; then product 1 is updated and product 10 vanishes, so that a
    full refresh that went through would move the watermark and write deletion rows."""
    assert run(workdir, shop)["status"] == "ok"
    assert watermark(workdir) == FIRST_WATERMARK
    shop.products[0] = make_product(1, updatedAt="2026-10-20T08:00:00Z", title="Renamed")
    shop.products.pop()
    shop.requests.clear()


def assert_nothing_moved(workdir: Path, keys_before: set[Any]) -> None:
    assert watermark(workdir) == FIRST_WATERMARK
    assert deleted_rows(workdir) == []
    assert held_keys(workdir) == keys_before


# --- complete pulls record their counts ------------------------------------------------------


def test_a_paged_pull_records_products_and_variants_counted_and_read(workdir, shop):
    entry = run(workdir, shop)

    assert entry["status"] == "ok"
    assert counts(entry) == {"variants": (159, 159, 159), "products": (10, 10, 10)}
    assert operations(shop).count("ProductsCount") == 2  # before and after paging


def test_a_bulk_pull_records_the_operation_counts(workdir, shop):
    entry = run(workdir, shop, 'bulk = "always"')

    assert entry["status"] == "ok"
    assert counts(entry) == {
        "bulk objects (JSONL lines)": (169, 169, 169),
        "bulk products": (10, 10, 10),
        "bulk rows joined": (169, 169, 169),
    }


# --- truncated bulk result -------------------------------------------------------------------


def test_a_truncated_bulk_result_fails_the_provider_and_moves_nothing(workdir, shop):
    prepare_refresh(workdir, shop)
    keys = held_keys(workdir)
    shop.bulk_cut = 3  # the download ends three lines short of objectCount

    entry = run(workdir, shop, 'bulk = "always"', full_refresh=True)

    assert entry["status"] == "failed"
    assert "incomplete pull, nothing committed" in entry["error"]
    assert "bulk objects (JSONL lines): the source holds 167, 164 read" in entry["error"]
    assert counts(entry)["bulk objects (JSONL lines)"] == (167, 167, 164)
    assert entry["written"] == 0
    assert_nothing_moved(workdir, keys)


# --- nested connections ----------------------------------------------------------------------


def test_variants_past_the_first_page_are_completed_by_follow_up_queries(
    provider, fetch_context, shop
):
    records, ctx = fetch_all(provider, fetch_context, shop.env(), options={"page_size": 5})

    product_3 = next(r for r in records if r["id"] == "gid://shopify/Product/3")
    assert len(product_3["variants"]["nodes"]) == 150
    assert product_3["variants"]["pageInfo"] == {"hasNextPage": False}
    follow_ups = [r.body for r in shop.requests if r.body["operationName"] == "ProductVariants"]
    assert len(follow_ups) == 1
    assert follow_ups[0]["variables"]["id"] == "gid://shopify/Product/3"
    assert follow_ups[0]["variables"]["cursor"] is not None  # after the page's 100th variant
    assert ctx.count_problems() == []


def test_several_follow_up_pages_reach_the_last_variant(provider, fetch_context, http_server):
    with FakeShopify([make_product(1, variants=600)], server=http_server) as fake:
        records, ctx = fetch_all(provider, fetch_context, fake.env())

    assert len(records[0]["variants"]["nodes"]) == 600
    assert len({v["id"] for v in records[0]["variants"]["nodes"]}) == 600
    assert operations(fake).count("ProductVariants") == 2  # 100 + 250 + 250
    assert ctx.count_problems() == []


def test_a_failing_follow_up_query_fails_the_provider(workdir, shop):
    prepare_refresh(workdir, shop)
    keys = held_keys(workdir)
    shop.fail_next(500, times=20, after=3)  # shop, count, products page: then the follow-up

    entry = run(workdir, shop, full_refresh=True)

    assert entry["status"] == "failed"
    assert "variants of product gid://shopify/Product/3" in entry["error"]
    assert_nothing_moved(workdir, keys)


def test_variants_short_of_variants_count_fail_the_provider(workdir, shop):
    prepare_refresh(workdir, shop)
    keys = held_keys(workdir)
    shop.products[1] = make_product(2, variantsCount={"count": 5})  # claims 5, serves 1

    entry = run(workdir, shop, full_refresh=True)

    assert entry["status"] == "failed"
    assert "variants: the source holds 162, 158 read" in entry["error"]
    assert "gid://shopify/Product/2 (1 of 5)" in entry["error"]
    assert_nothing_moved(workdir, keys)


# --- paged pulls -----------------------------------------------------------------------------


def test_a_paged_pull_short_of_products_count_fails_the_provider(workdir, shop):
    prepare_refresh(workdir, shop)
    keys = held_keys(workdir)
    shop.count_offsets.extend([1, 1])  # counted before and after paging, never served

    entry = run(workdir, shop, full_refresh=True)

    assert entry["status"] == "failed"
    assert "products: the source holds 10, 9 read" in entry["error"]
    assert_nothing_moved(workdir, keys)


def test_products_created_while_paging_are_within_the_tolerance(provider, fetch_context, shop):
    shop.count_offsets.extend([0, 1])  # one more product once the last page was read

    _, ctx = fetch_all(provider, fetch_context, shop.env())

    products = next(c for c in ctx.counts if c.what == "products")
    assert (products.source, products.read, products.tolerance) == (11, 10, 1)
    assert ctx.count_problems() == []


def test_a_limited_pull_records_no_products_count(provider, fetch_context, shop):
    _, ctx = fetch_all(provider, fetch_context, shop.env(), limit=4)

    assert [c.what for c in ctx.counts] == ["variants"]
    assert "ProductsCount" not in operations(shop)
