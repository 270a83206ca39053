"""Bulk operations against the fake: start, poll, download, re-join, and their faults."""

from __future__ import annotations

import logging
from typing import Any

import pytest

from pipelines.errors import FatalProviderError, RetriableProviderError
from providers.shopify import ShopifyProvider
from providers.shopify.bulk_result import read_bulk_result
from providers.shopify.queries import bulk_products_query
from tests.fakes.shopify import FakeShopify, make_product

FAST = {"bulk": "always", "bulk_poll_seconds": 0.01}
OTHER_JOB = "{ orders { edges { node { id } } } }"


@pytest.fixture
def catalog() -> list[dict[str, Any]]:
    """Six products; the second has 3 variants, the last 150 (more than paging fetches)."""
    products = [make_product(n) for n in range(1, 7)]
    products[1] = make_product(2, variants=3)
    products[5] = make_product(6, variants=150)
    return products


def fetch(provider, fetch_context, fake, options=None, **context: Any):
    ctx = fetch_context(provider, fake.env(), options={**FAST, **(options or {})})
    for name, value in context.items():
        setattr(ctx, name, value)
    return list(provider.fetch(ctx)), ctx


def operations(fake: FakeShopify) -> list[str]:
    return [r.body["operationName"] for r in fake.requests if r.body]


def rows_by_id(provider: ShopifyProvider, records: list[dict[str, Any]]) -> dict[str, dict]:
    return {row["source_id"]: row for raw in records for row in provider.normalize(raw)}


def not_from_fake(caplog: pytest.LogCaptureFixture) -> str:
    """Every log line but the fake server's own access log."""
    return "\n".join(r.getMessage() for r in caplog.records if r.name != "werkzeug")


# --- the happy path ------------------------------------------------------------------------------


def test_bulk_pull_gives_the_rows_of_a_paged_pull_and_every_variant(
    provider, fetch_context, shopify, catalog
):
    bulk, ctx = fetch(provider, fetch_context, shopify)
    paged, _ = fetch(provider, fetch_context, shopify, {"bulk": "never", "page_size": 3})

    assert operations(shopify)[:3] == ["ShopInfo", "BulkProducts", "BulkOperation"]
    assert sorted(r["id"] for r in bulk) == sorted(p["id"] for p in catalog)
    assert all(r["__shop"]["currencyCode"] == "EUR" for r in bulk)
    bulk_rows, paged_rows = rows_by_id(provider, bulk), rows_by_id(provider, paged)
    assert len(bulk_rows) == 1 + 3 + 1 + 1 + 1 + 150
    assert bulk_rows == paged_rows  # paging completes product 2's 150 variants too
    product_2 = next(r for r in bulk if r["id"] == "gid://shopify/Product/2")
    assert product_2["variants"]["pageInfo"] == {"hasNextPage": False}
    assert sorted(v["id"] for v in product_2["variants"]["nodes"]) == [
        v["id"] for v in catalog[1]["variants"]["nodes"]
    ]
    assert not any("__parentId" in v for r in bulk for v in r["variants"]["nodes"])
    assert ctx.complete
    assert ctx.stats.pages == 1


def test_bulk_download_sends_no_token_and_no_log_line_shows_the_url(
    provider, fetch_context, shopify, caplog
):
    caplog.set_level(logging.DEBUG)
    fetch(provider, fetch_context, shopify)

    (download,) = [r for r in shopify.requests if r.path.startswith("/bulk-results/")]
    assert "X-Shopify-Access-Token" not in download.headers
    signed = shopify.bulk_file_url(shopify.bulk_ops[0])
    assert "signature=" in signed
    assert signed not in not_from_fake(caplog)
    assert "signature" not in not_from_fake(caplog)


def test_bulk_document_carries_the_search_filter(provider, fetch_context, shopify):
    fetch(provider, fetch_context, shopify, {"query": "updated_at:>='2026-10-05T00:00:00Z'"})

    (run,) = [
        r.body for r in shopify.requests if r.body and r.body["operationName"] == "BulkProducts"
    ]
    document = run["variables"]["query"]
    assert document == bulk_products_query("updated_at:>='2026-10-05T00:00:00Z'")
    assert "products(query: \"updated_at:>='2026-10-05T00:00:00Z'\")" in document


def test_bulk_with_nothing_matching_downloads_nothing(provider, fetch_context, shopify):
    records, ctx = fetch(provider, fetch_context, shopify, {"query": "updated_at:>='2030-01-01'"})

    assert records == []
    assert not any(r.path.startswith("/bulk-results/") for r in shopify.requests)
    assert not ctx.complete  # a filtered pull never marks deletions


# --- when to use one -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("options", "context", "uses_bulk", "counts"),
    [
        ({"bulk": "auto", "bulk_threshold": 6}, {}, True, True),
        ({"bulk": "auto", "bulk_threshold": 7}, {}, False, True),
        ({"bulk": "full_refresh", "bulk_threshold": 7}, {"full_refresh": True}, True, False),
        ({"bulk": "full_refresh", "bulk_threshold": 7}, {}, False, True),
        ({"bulk": "always"}, {"limit": 4}, False, False),
        ({"bulk": "never", "bulk_threshold": 1}, {}, False, True),  # the completeness count
    ],
)
def test_when_a_bulk_operation_is_used(
    provider, fetch_context, shopify, options, context, uses_bulk, counts
):
    fetch(provider, fetch_context, shopify, options, **context)

    assert ("BulkProducts" in operations(shopify)) is uses_bulk
    assert ("Products" in operations(shopify)) is not uses_bulk
    assert ("ProductsCount" in operations(shopify)) is counts


# --- faults ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("code", "error", "hint"),
    [
        (
            "ACCESS_DENIED",
            FatalProviderError,
            "the access token lacks a scope the query needs (read_products)",
        ),
        (
            "TIMEOUT",
            RetriableProviderError,
            "Shopify timed out running it; the next run tries again",
        ),
        (
            "INTERNAL_SERVER_ERROR",
            RetriableProviderError,
            "an intermittent error at Shopify; the next run tries again",
        ),
    ],
)
def test_failed_bulk_operation_fails_the_provider_with_its_error_code(
    provider, fetch_context, shopify, code, error, hint
):
    shopify.fail_next_bulk(code)

    with pytest.raises(error) as caught:
        fetch(provider, fetch_context, shopify)

    assert str(caught.value) == (
        f"shopify bulk operation gid://shopify/BulkOperation/1 failed with {code}: {hint}"
    )
    assert not any(r.path.startswith("/bulk-results/") for r in shopify.requests)


def test_running_operation_with_the_same_query_is_joined(
    provider, fetch_context, shopify, catalog, caplog
):
    caplog.set_level(logging.INFO)
    left_behind = shopify.start_bulk(bulk_products_query(None), ticks=2)

    records, _ = fetch(provider, fetch_context, shopify)

    assert len(shopify.bulk_ops) == 1  # no second operation was started
    assert len(records) == len(catalog)
    assert f"joining bulk operation {left_behind.gid}, already running the same query" in (
        caplog.text
    )


def test_other_running_operation_is_waited_for(provider, fetch_context, shopify, catalog, caplog):
    caplog.set_level(logging.INFO)
    other = shopify.start_bulk(OTHER_JOB, ticks=2)

    records, _ = fetch(provider, fetch_context, shopify)

    assert [op.query for op in shopify.bulk_ops] == [OTHER_JOB, bulk_products_query(None)]
    assert len(records) == len(catalog)
    assert f"bulk operations of this app already running ({other.gid}); retrying" in caplog.text
    assert operations(shopify).count("BulkProducts") == 3  # busy, busy (just ended), started


def test_waiting_for_another_operation_gives_up_at_the_timeout(provider, fetch_context, shopify):
    other = shopify.start_bulk(OTHER_JOB, ticks=10**6)
    options = {"bulk_poll_seconds": 0.2, "bulk_timeout_seconds": 1}

    with pytest.raises(RetriableProviderError) as caught:
        fetch(provider, fetch_context, shopify, options)

    assert str(caught.value).startswith(
        f"shopify: other bulk operations still running: {other.gid} after 1 s "
        "(bulk_timeout_seconds)"
    )


def test_expired_download_fails_without_showing_the_url(provider, fetch_context, shopify):
    shopify.fail_next(403, after=3)  # shop, start, poll: then the download

    with pytest.raises(FatalProviderError) as caught:
        fetch(provider, fetch_context, shopify)

    assert str(caught.value) == (
        "shopify bulk result download: HTTP 403 Forbidden (a result URL expires 7 days after "
        "the operation ends)"
    )
    assert "127.0.0.1" not in str(caught.value)


def test_result_url_that_is_not_https_is_refused_without_showing_it(provider, fetch_context):
    ctx = fetch_context(provider, {"SHOPIFY_SHOP_DOMAIN": "a.myshopify.com"})
    url = "http://storage.example.com/bulk/1.jsonl?X-Goog-Signature=abc123secret"

    with pytest.raises(FatalProviderError) as caught:
        list(read_bulk_result(ctx, url))

    assert str(caught.value) == (
        "shopify bulk result download: the result URL is not https; refusing it"
    )
    assert ctx.stats.api_calls == 0


def test_download_is_retried_after_a_5xx(provider, fetch_context, shopify, catalog, caplog):
    shopify.fail_next(503, after=3)

    records, ctx = fetch(provider, fetch_context, shopify)

    assert sorted(r["id"] for r in records) == sorted(p["id"] for p in catalog)
    assert ctx.stats.retries == 1
    assert "HTTP 503 Service Unavailable; trying again (attempt 2)" in caplog.text
    assert "signature" not in not_from_fake(caplog)
