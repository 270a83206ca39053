"""The Shopify provider against a fake GraphQL Admin API: paging, requests, errors, recording."""

from __future__ import annotations

import logging
from datetime import date
from typing import Any

import pyarrow as pa
import pytest
import requests

from pipelines.errors import FatalProviderError, RetriableProviderError
from pipelines.lake.schema import BUSINESS_FIELDS
from pipelines.net.offline import Recording, offline_env, replay_server
from providers.shopify import ShopifyProvider
from providers.shopify.queries import COUNT_QUERY, PRODUCTS_QUERY, SHOP_QUERY, products_query_cost
from tests.fakes.shopify import FakeShopify, encode_cursor
from tests.providers.shopify.helpers import fetch_all

GRAPHQL_PATH = "/admin/api/2026-10/graphql.json"


def product_bodies(fake: FakeShopify) -> list[dict[str, Any]]:
    return [r.body for r in fake.requests if r.body and r.body["operationName"] == "Products"]


# --- fetching ----------------------------------------------------------------------------------


def test_fetch_pages_through_every_product(provider, fetch_context, shopify, catalog):
    records, ctx = fetch_all(provider, fetch_context, shopify.env(), options={"page_size": 3})

    assert [r["id"] for r in records] == [p["id"] for p in catalog]
    assert ctx.stats.pages == 3
    assert ctx.stats.api_calls == 6  # shop, products count, 3 pages, products count again
    assert ctx.complete  # a full pull without a filter: the runner may look for deletions
    shop = {"currencyCode": "EUR", "myshopifyDomain": "fake-shop.myshopify.com"}
    assert all(r["__shop"] == shop for r in records)
    assert records[1]["variants"] == {
        "nodes": catalog[1]["variants"]["nodes"],
        "pageInfo": {"hasNextPage": False},
    }


def test_fetch_sends_token_version_query_and_cursors(provider, fetch_context, shopify, catalog):
    options = {"page_size": 3, "query": "updated_at:>='2026-10-01T00:00:00Z'"}
    fetch_all(provider, fetch_context, shopify.env(), options=options)

    assert [r.path for r in shopify.requests] == [GRAPHQL_PATH] * 6
    assert {r.method for r in shopify.requests} == {"POST"}
    for request in shopify.requests:
        assert request.headers["X-Shopify-Access-Token"] == shopify.token
        assert request.headers["Content-Type"] == "application/json"
    shop_body, count_body = shopify.requests[0].body, shopify.requests[1].body
    assert shop_body == {"query": SHOP_QUERY, "operationName": "ShopInfo", "variables": {}}
    assert count_body == {
        "query": COUNT_QUERY,
        "operationName": "ProductsCount",
        "variables": {"query": options["query"]},
    }
    bodies = product_bodies(shopify)
    assert all(b["query"] == PRODUCTS_QUERY for b in bodies)
    assert [b["variables"] for b in bodies] == [
        {"first": 3, "cursor": cursor, "query": options["query"], "variantsFirst": 100}
        for cursor in (None, encode_cursor(catalog[2]), encode_cursor(catalog[5]))
    ]


def test_fetch_honours_limit(provider, fetch_context, shopify, catalog):
    records, ctx = fetch_all(
        provider, fetch_context, shopify.env(), options={"page_size": 3}, limit=5
    )

    assert [r["id"] for r in records] == [p["id"] for p in catalog[:5]]
    assert [b["variables"]["first"] for b in product_bodies(shopify)] == [3, 2]
    assert ctx.stats.pages == 2


def test_fetch_with_zero_limit_calls_nothing(provider, fetch_context, shopify):
    records, _ = fetch_all(provider, fetch_context, shopify.env(), limit=0)

    assert records == []
    assert shopify.requests == []


def test_page_size_lowered_under_the_query_cost_limit(provider, fetch_context, shopify, caplog):
    caplog.set_level(logging.INFO)
    fetch_all(provider, fetch_context, shopify.env())  # page_size 100, variants_per_product 100

    assert [b["variables"]["first"] for b in product_bodies(shopify)] == [9]
    assert products_query_cost(9, 100) == 965
    assert products_query_cost(10, 100) > 1000
    assert "9 products per page instead of 100" in caplog.text


def test_retries_a_5xx_then_goes_on(provider, fetch_context, shopify, catalog):
    shopify.fail_next(503, after=2)

    records, ctx = fetch_all(provider, fetch_context, shopify.env(), options={"page_size": 3})

    assert len(records) == len(catalog)
    assert ctx.stats.retries == 1


def test_graphql_errors_with_data_warn_and_go_on(provider, fetch_context, shopify, caplog):
    shopify.error_next({"message": "Access denied for inventoryQuantity"}, with_data=True, after=2)

    records, _ = fetch_all(provider, fetch_context, shopify.env(), options={"page_size": 3})

    assert len(records) == 7
    assert (
        "shopify products page 1: GraphQL errors with data, going on: "
        "Access denied for inventoryQuantity"
    ) in caplog.text


def test_served_version_differing_from_asked_warns(fetch_context, shopify, caplog):
    # On its last day of support by our clock, Shopify may already serve the next version.
    provider = ShopifyProvider(today=lambda: date(2025, 12, 31))
    env = shopify.env(SHOPIFY_API_VERSION="2025-01")

    records, _ = fetch_all(provider, fetch_context, env)

    assert len(records) == 7
    assert shopify.requests[0].path == "/admin/api/2025-01/graphql.json"
    assert "asked for API version 2025-01 but Shopify served 2026-01" in caplog.text
    assert caplog.text.count("but Shopify served") == 1


def test_same_served_version_does_not_warn(provider, fetch_context, shopify, caplog):
    fetch_all(provider, fetch_context, shopify.env())

    assert "Shopify served" not in caplog.text


ERROR_CASES = [
    pytest.param(
        lambda fake: None,
        {"SHOPIFY_ACCESS_TOKEN": "shpat_wrong_token"},
        FatalProviderError,
        r"(?i)^401 Unauthorized from shopify shop: \[API\] Invalid API key or access token "
        r"\(unrecognized login or wrong password\)$",
        id="bad-token",
    ),
    pytest.param(
        lambda fake: fake.fail_next(403),
        {},
        FatalProviderError,
        r"(?i)^403 Forbidden from shopify shop: \[API\] This action requires merchant approval "
        r"for read_products scope\.$",
        id="missing-scope",
    ),
    pytest.param(
        lambda fake: None,
        {"SHOPIFY_API_URL": "{base}/proxy"},
        FatalProviderError,
        r"(?i)^404 Not Found from shopify shop: Not Found$",
        id="wrong-path",
    ),
    pytest.param(
        lambda fake: fake.fail_next(500, times=3),
        {},
        RetriableProviderError,
        r"(?i)^500 Internal Server Error from shopify shop: Internal Server Error$",
        id="500-after-retries",
    ),
    pytest.param(
        lambda fake: fake.fail_next(503, times=3, after=3),
        {},
        RetriableProviderError,
        r"(?i)^503 Service Unavailable from shopify products page 2: Service Unavailable$",
        id="503-on-page-2",
    ),
    pytest.param(
        lambda fake: fake.throttle_next(times=11, after=2, short_by=1),
        {},
        RetriableProviderError,
        r"^shopify products page 1: throttled by Shopify \(THROTTLED or HTTP 429\) 11 times "
        r"in a row: requested cost 323, [\d.]+ of 2000.0 points available, restoring 100.0/s$",
        id="throttled-200-every-time",
    ),
    pytest.param(
        lambda fake: fake.throttle_next(times=11, status=429, after=2, short_by=1),
        {},
        RetriableProviderError,
        r"^shopify products page 1: throttled by Shopify \(THROTTLED or HTTP 429\) 11 times "
        r"in a row: requested cost 323, [\d.]+ of 2000.0 points available, restoring 100.0/s$",
        id="throttled-429-every-time",
    ),
    pytest.param(
        lambda fake: fake.error_next(after=2),
        {},
        FatalProviderError,
        r"^GraphQL errors from shopify products page 1: Field 'colour' doesn't exist on type "
        r"'ProductVariant' \(undefinedField\)$",
        id="errors-without-data",
    ),
    pytest.param(
        lambda fake: fake.error_next({"message": "Internal error"}, {"message": "Try again"}),
        {},
        FatalProviderError,
        r"^GraphQL errors from shopify shop: Internal error; Try again$",
        id="several-errors",
    ),
]


@pytest.mark.parametrize(("setup", "env", "error", "message"), ERROR_CASES)
def test_failures_become_clear_errors(provider, fetch_context, shopify, setup, env, error, message):
    setup(shopify)
    env = {k: v.replace("{base}", shopify.base_url) for k, v in env.items()}

    with pytest.raises(error, match=message) as caught:
        fetch_all(provider, fetch_context, shopify.env(**env), options={"page_size": 3})

    assert shopify.token not in str(caught.value)
    assert "shpat_" not in str(caught.value)


def test_fake_refuses_over_cost_queries_as_shopify_does(shopify):
    """Why the provider lowers page_size: 100 products x 100 variants is refused outright."""
    body = {"query": PRODUCTS_QUERY, "variables": {"first": 100, "variantsFirst": 100}}
    headers = {"X-Shopify-Access-Token": shopify.token}

    answer = requests.post(shopify.base_url + GRAPHQL_PATH, json=body, headers=headers, timeout=5)

    (error,) = answer.json()["errors"]
    assert error["extensions"]["code"] == "MAX_COST_EXCEEDED"
    assert error["extensions"]["cost"] == products_query_cost(100, 100)
    assert "data" not in answer.json()


# --- offline recording -------------------------------------------------------------------------


def test_offline_recording_replays(provider, fetch_context):
    recording = Recording(provider.recording_path())
    with replay_server(recording) as base_url:
        env = offline_env(recording, base_url)
        everything = fetch_context(provider, env, options=recording.options)
        everything.offline = True
        records = list(provider.fetch(everything))
        limited = fetch_context(provider, env, options=recording.options, limit=10)
        limited.offline = True
        first_ten = list(provider.fetch(limited))
    rows = [row for raw in records for row in provider.normalize(raw)]

    assert len(records) == 42
    assert everything.stats.pages == 5
    assert [r["id"] for r in first_ten] == [r["id"] for r in records[:10]]
    assert limited.stats.pages == 2
    assert len(rows) == 74
    assert {row["currency"] for row in rows} == {"CAD"}
    assert sum(len(r["variants"]["nodes"]) == 3 for r in records) >= 10
    pa.Table.from_pylist(rows, schema=pa.schema(BUSINESS_FIELDS))  # rows fit the schema


def test_offline_recording_has_the_bad_records_to_quarantine(provider):
    exchanges = [
        e
        for e in Recording(provider.recording_path()).exchanges
        if isinstance(e["body"], dict) and "data" in e["body"]  # not the bulk result and poll
    ]
    pages = [e["body"]["data"]["products"] for e in exchanges if e["body"]["data"].get("products")]
    shop = exchanges[0]["body"]["data"]["shop"]
    records = [{**node, "__shop": shop} for page in pages for node in page["nodes"]]
    rows = [row for raw in records for row in provider.normalize(raw)]

    assert [r["title"] for r in rows if r["price_amount"] == 0] == ["Enamel Camp Mug"]
    assert [r["source_id"] for r in rows if not r["title"]] == [
        "gid://shopify/ProductVariant/45871200024001"
    ]
    below = [
        r["title"]
        for r in rows
        if r["list_price_amount"] is not None and r["list_price_amount"] < r["price_amount"]
    ]
    # Past the first ten products, so that the documented `--limit 10` run passes the gate.
    assert below == ["Snowshoe Trail 25 - 25 in"]
    assert any(r["image_url"] is None for r in rows)
    assert any(r["url"] is None for r in rows)
