"""Incremental Shopify pulls through the runner: watermark, lookback, full refresh, deletions."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from datetime import UTC, datetime
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
from providers.base import FetchContext, ProviderStats
from providers.shopify import ShopifyProvider
from providers.shopify.incremental import Watermark, plan_pull
from providers.shopify.options import FetchOptions
from tests.fakes.shopify import FakeShopify, make_product

LOG = logging.getLogger("pipeline.shopify")


@pytest.fixture
def shopify(http_server: HTTPServer) -> Iterator[FakeShopify]:
    """Ten products updated on 2026-10-02 .. 2026-10-11; the third has two variants."""
    products = [make_product(n) for n in range(1, 11)]
    products[2] = make_product(3, variants=2)
    with FakeShopify(products, server=http_server) as fake:
        yield fake


def run(fake: FakeShopify, **options: Any) -> dict[str, Any]:
    registry = {"shopify": ShopifyProvider()}
    config = load_config(None, registry).with_pipeline(http_backoff_seconds=0.01)
    result = Runner(config, registry, fake.env(), RunOptions(no_cache=True, **options)).run()
    return result.record


def searches(fake: FakeShopify) -> list[str | None]:
    """The ``query`` variable of every products page asked for, in order."""
    pages = [r.body for r in fake.requests if r.body and r.body["operationName"] == "Products"]
    return [page["variables"]["query"] for page in pages]


def watermark(root: Path) -> str | None:
    return load_state(root).extra.get("providers", {}).get("shopify", {}).get("watermark")


def rows(root: Path) -> list[dict[str, Any]]:
    files = Lake(root).committed_files("normalized")
    return [row for f in files for row in pq.read_table(f).to_pylist()]


def test_first_run_pulls_everything_then_only_what_changed(workdir, shopify):
    first = run(shopify)

    assert first["providers"]["shopify"]["status"] == "ok"
    assert first["providers"]["shopify"]["new"] == 11
    assert searches(shopify) == [None, None]  # a full pull: 9 + 1 products
    assert watermark(workdir / "data") == "2026-10-11T12:00:00Z"

    shopify.requests.clear()
    shopify.products[0] = make_product(1, updatedAt="2026-10-12T08:00:00Z", title="Renamed")
    second = run(shopify)

    # Watermark minus the 24 h lookback: products 9 and 10 (updated 2026-10-10 and -11 at
    # 12:00) come back unchanged with the renamed one.
    assert searches(shopify) == ["updated_at:>='2026-10-10T12:00:00Z'"]
    entry = second["providers"]["shopify"]
    assert (entry["fetched"], entry["changed"], entry["unchanged"]) == (3, 1, 2)
    assert entry["deleted"] == 0  # an incremental pull says nothing about the products it skipped
    assert watermark(workdir / "data") == "2026-10-12T08:00:00Z"


def test_user_query_is_kept_and_combined_with_the_watermark(workdir, shopify):
    (workdir / "pipeline.toml").write_text('[providers.shopify]\nquery = "status:active"\n')
    registry = {"shopify": ShopifyProvider()}
    config = load_config(workdir / "pipeline.toml", registry)
    for _ in range(2):
        Runner(config, registry, shopify.env(), RunOptions(no_cache=True)).run()

    assert searches(shopify) == [
        "status:active",
        "status:active",
        "updated_at:>='2026-10-10T12:00:00Z' AND (status:active)",
    ]


def test_failed_run_does_not_move_the_watermark(workdir, shopify):
    run(shopify)
    shopify.products[0] = make_product(1, updatedAt="2026-10-20T08:00:00Z")
    shopify.fail_next(500, times=10, after=2)  # shop and count answer, the page never does

    failed = run(shopify)

    assert failed["providers"]["shopify"]["status"] == "failed"
    assert watermark(workdir / "data") == "2026-10-11T12:00:00Z"


def test_full_refresh_ignores_the_watermark_and_marks_deleted_products(workdir, shopify):
    run(shopify)
    vanished = shopify.products.pop(2)  # product 3 and its two variants
    shopify.requests.clear()

    incremental = run(shopify)
    assert incremental["providers"]["shopify"]["deleted"] == 0

    shopify.requests.clear()
    refresh = run(shopify, full_refresh=True)

    assert searches(shopify) == [None]
    assert refresh["providers"]["shopify"]["deleted"] == 2
    deleted = [r for r in rows(workdir / "data") if r["change_type"] == "deleted"]
    assert sorted(r["source_id"] for r in deleted) == sorted(
        v["id"] for v in vanished["variants"]["nodes"]
    )
    assert {r["run_id"] for r in deleted} == {refresh["run_id"]}


def test_limited_run_neither_marks_deletions_nor_loses_the_rest(workdir, shopify):
    run(shopify)
    shopify.products.pop(0)

    limited = run(shopify, full_refresh=True, limit=3)

    assert limited["providers"]["shopify"]["deleted"] == 0
    # Paging is oldest update first, so the watermark stays a safe place to start from.
    assert watermark(workdir / "data") == "2026-10-11T12:00:00Z"


# --- planning, without a server --------------------------------------------------------------


def context(state: dict[str, Any], full_refresh: bool = False) -> FetchContext:
    return FetchContext(
        settings={},
        options={},
        http=None,  # type: ignore[arg-type]  # planning makes no call
        stats=ProviderStats(),
        log=LOG,
        full_refresh=full_refresh,
        state=state,
    )


def options(**overrides: Any) -> FetchOptions:
    defaults = {o.name: o.default for o in ShopifyProvider.options}
    return FetchOptions.from_options({**defaults, **overrides})


@pytest.mark.parametrize(
    ("state", "full_refresh", "overrides", "search", "complete"),
    [
        ({}, False, {}, None, True),
        ({}, False, {"query": "vendor:Acme"}, "vendor:Acme", False),
        ({"watermark": "2026-10-11T12:00:00Z"}, True, {}, None, True),
        (
            {"watermark": "2026-10-11T12:00:00Z"},
            False,
            {"lookback_hours": 0},
            "updated_at:>='2026-10-11T12:00:00Z'",
            False,
        ),
        (
            {"watermark": "2026-10-11T14:00:00+02:00"},
            False,
            {"lookback_hours": 36},
            "updated_at:>='2026-10-10T00:00:00Z'",
            False,
        ),
        ({"watermark": "not a time"}, False, {}, None, True),
    ],
)
def test_plan_pull(state, full_refresh, overrides, search, complete):
    plan = plan_pull(context(state, full_refresh), options(**overrides))

    assert (plan.search, plan.complete) == (search, complete)


def test_watermark_only_moves_forward_and_keeps_the_previous_one():
    next_state: dict[str, Any] = {}
    mark = Watermark(datetime(2026, 10, 5, tzinfo=UTC), next_state)
    assert next_state == {"watermark": "2026-10-05T00:00:00Z"}

    for seen in ("2026-10-04T00:00:00Z", None, "garbage", "2026-10-06T01:02:03-01:00"):
        mark.see(seen)

    assert next_state == {"watermark": "2026-10-06T02:02:03Z"}
