"""The Shopify provider against a fake GraphQL Admin API, its normalizer and its recording."""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import pyarrow as pa
import pytest
import requests
from pytest_httpserver import HTTPServer

from pipelines.errors import (
    ConfigError,
    FatalProviderError,
    RetriableProviderError,
    SkippableRecordError,
)
from pipelines.lake.schema import BUSINESS_COLUMNS, BUSINESS_FIELDS
from pipelines.net.offline import Recording, offline_env, replay_server
from providers.base import FetchContext
from providers.shopify import ShopifyProvider
from providers.shopify.client import graphql_url
from providers.shopify.queries import (
    COUNT_QUERY,
    PRODUCTS_QUERY,
    SHOP_QUERY,
    products_query_cost,
)
from tests.fakes.shopify import (
    FakeShopify,
    encode_cursor,
    make_product,
    make_variant,
)

FIXTURES = Path(__file__).parents[2] / "fixtures" / "shopify"
GRAPHQL_PATH = "/admin/api/2026-10/graphql.json"
BuildContext = Callable[..., FetchContext]


@pytest.fixture
def provider() -> ShopifyProvider:
    return ShopifyProvider()


@pytest.fixture
def catalog() -> list[dict[str, Any]]:
    """Seven products; the second has three variants."""
    products = [make_product(n) for n in range(1, 8)]
    products[1] = make_product(2, variants=3)
    return products


@pytest.fixture
def shopify(catalog: list[dict[str, Any]], http_server: HTTPServer) -> Iterator[FakeShopify]:
    with FakeShopify(catalog, server=http_server) as fake:
        yield fake


def fetch_all(
    provider: ShopifyProvider, fetch_context: BuildContext, env: dict[str, str], **kwargs: Any
) -> tuple[list[dict[str, Any]], FetchContext]:
    ctx = fetch_context(provider, env, **kwargs)
    return list(provider.fetch(ctx)), ctx


def product_bodies(fake: FakeShopify) -> list[dict[str, Any]]:
    return [r.body for r in fake.requests if r.body and r.body["operationName"] == "Products"]


# --- fetching ----------------------------------------------------------------------------------


def test_fetch_pages_through_every_product(provider, fetch_context, shopify, catalog):
    records, ctx = fetch_all(provider, fetch_context, shopify.env(), options={"page_size": 3})

    assert [r["id"] for r in records] == [p["id"] for p in catalog]
    assert ctx.stats.pages == 3
    assert ctx.stats.api_calls == 5  # shop, products count, 3 pages
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

    assert [r.path for r in shopify.requests] == [GRAPHQL_PATH] * 5
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
    assert products_query_cost(9, 100) == 956
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


def test_served_version_differing_from_asked_warns(provider, fetch_context, shopify, caplog):
    env = shopify.env(SHOPIFY_API_VERSION="2025-01")

    records, _ = fetch_all(provider, fetch_context, env)

    assert len(records) == 7
    assert shopify.requests[0].path == "/admin/api/2025-01/graphql.json"
    assert "asked for API version 2025-01 but Shopify served 2026-01" in caplog.text
    assert caplog.text.count("but Shopify served") == 1


def test_same_served_version_does_not_warn(provider, fetch_context, shopify, caplog):
    fetch_all(provider, fetch_context, shopify.env())

    assert "Shopify served" not in caplog.text


def test_truncated_variants_are_kept_with_a_warning(provider, fetch_context, shopify, caplog):
    records, _ = fetch_all(
        provider, fetch_context, shopify.env(), options={"variants_per_product": 2}
    )

    assert len(records[1]["variants"]["nodes"]) == 2
    assert records[1]["variants"]["pageInfo"] == {"hasNextPage": True}
    assert "product gid://shopify/Product/2 ('Product 2') has more than 2 variants" in caplog.text
    assert caplog.text.count("has more than") == 1


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
        r"in a row: requested cost 320, [\d.]+ of 2000.0 points available, restoring 100.0/s$",
        id="throttled-200-every-time",
    ),
    pytest.param(
        lambda fake: fake.throttle_next(times=11, status=429, after=2, short_by=1),
        {},
        RetriableProviderError,
        r"^shopify products page 1: throttled by Shopify \(THROTTLED or HTTP 429\) 11 times "
        r"in a row: requested cost 320, [\d.]+ of 2000.0 points available, restoring 100.0/s$",
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


# --- configuration -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("settings", "url"),
    [
        (
            {"SHOPIFY_SHOP_DOMAIN": "acme.myshopify.com"},
            "https://acme.myshopify.com/admin/api/2026-10/graphql.json",
        ),
        (
            {"SHOPIFY_SHOP_DOMAIN": "acme.myshopify.com", "SHOPIFY_API_VERSION": "2026-07"},
            "https://acme.myshopify.com/admin/api/2026-07/graphql.json",
        ),
        (
            {"SHOPIFY_SHOP_DOMAIN": "acme.myshopify.com", "SHOPIFY_API_URL": "https://px.test/"},
            "https://px.test/admin/api/2026-10/graphql.json",
        ),
        (
            {"SHOPIFY_SHOP_DOMAIN": "a.myshopify.com", "SHOPIFY_API_URL": "http://127.0.0.1:81"},
            "http://127.0.0.1:81/admin/api/2026-10/graphql.json",
        ),
    ],
)
def test_graphql_url(settings, url):
    assert graphql_url(settings) == url


@pytest.mark.parametrize(
    ("env", "problem"),
    [
        (
            {"SHOPIFY_API_URL": "http://proxy.example.com"},
            "SHOPIFY_API_URL: plain http is only allowed for loopback hosts",
        ),
        ({"SHOPIFY_API_URL": "ftp://proxy.example.com"}, "SHOPIFY_API_URL: 'ftp://"),
        ({"SHOPIFY_SHOP_DOMAIN": "https://acme.myshopify.com"}, "is not a bare host name"),
        ({"SHOPIFY_API_VERSION": "latest"}, "SHOPIFY_API_VERSION: 'latest' is not an API version"),
    ],
)
def test_bad_endpoint_settings_are_refused(provider, fetch_context, env, problem):
    full_env = {
        "SHOPIFY_SHOP_DOMAIN": "acme.myshopify.com",
        "SHOPIFY_ACCESS_TOKEN": "shpat_x",
        **env,
    }

    assert any(problem in p for p in provider.check_environment(full_env))
    with pytest.raises(ConfigError, match="SHOPIFY_"):
        list(provider.fetch(fetch_context(provider, full_env)))


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"page_size": 0}, "providers.shopify.page_size: must be an integer from 1 to 250, got 0"),
        ({"page_size": 251}, "providers.shopify.page_size: must be an integer from 1 to 250"),
        ({"page_size": "50"}, "providers.shopify.page_size: must be an integer"),
        ({"variants_per_product": 300}, "providers.shopify.variants_per_product: must be"),
        ({"query": 5}, "providers.shopify.query: must be a string, got 5"),
        (
            {"bulk": "sometimes"},
            "providers.shopify.bulk: must be one of auto, full_refresh, always",
        ),
        ({"lookback_hours": -1}, "providers.shopify.lookback_hours: must be an integer from 0"),
        ({"bulk_poll_seconds": 0}, "providers.shopify.bulk_poll_seconds: must be a number above 0"),
        ({"bulk_threshold": 0}, "providers.shopify.bulk_threshold: must be an integer from 1"),
    ],
)
def test_bad_options_are_refused(provider, fetch_context, shopify, options, message):
    with pytest.raises(ConfigError, match=message):
        fetch_all(provider, fetch_context, shopify.env(), options=options)
    assert shopify.requests == []


def test_declared_settings_and_options(provider):
    assert [s.env for s in provider.settings] == [
        "SHOPIFY_SHOP_DOMAIN",
        "SHOPIFY_ACCESS_TOKEN",
        "SHOPIFY_API_VERSION",
        "SHOPIFY_API_URL",
    ]
    assert [s.env for s in provider.settings if s.secret] == ["SHOPIFY_ACCESS_TOKEN"]
    assert {o.name: o.default for o in provider.options} == {
        "page_size": 100,
        "variants_per_product": 100,
        "query": "",
        "lookback_hours": 24,
        "bulk": "auto",
        "bulk_threshold": 20000,
        "bulk_poll_seconds": 2.0,
        "bulk_timeout_seconds": 3600,
    }
    assert provider.missing_settings({}) == ["SHOPIFY_SHOP_DOMAIN", "SHOPIFY_ACCESS_TOKEN"]
    assert provider.resolve_settings({"SHOPIFY_SHOP_DOMAIN": "a"})["SHOPIFY_API_VERSION"] == (
        "2026-10"
    )


# --- normalizing -------------------------------------------------------------------------------


def recorded_records() -> list[dict[str, Any]]:
    """The fixture page's product nodes as fetch yields them."""
    page = json.loads((FIXTURES / "products_page.json").read_text())
    shop = json.loads((FIXTURES / "shop.json").read_text())["data"]["shop"]
    return [{**node, "__shop": shop} for node in page["data"]["products"]["nodes"]]


def utc(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=UTC)


PARKA = "https://maple-and-pine-demo.myshopify.com/products/muskoka-down-parka"
PARKA_ROW = {
    "source": "shopify",
    "source_parent_id": "gid://shopify/Product/8234517701111",
    "marketplace": "maple-and-pine-demo.myshopify.com",
    "mpn": None,
    "brand": "Maple & Pine",
    "description": (
        "Hip-length parka with 650-fill responsibly sourced down and a removable hood."
    ),
    "product_type": "Jackets",
    "category_path": None,
    "condition": "new",
    "price_amount": Decimal("349.00"),
    "currency": "CAD",
    "image_url": (
        "https://cdn.shopify.com/s/files/1/0712/4480/3391/files/muskoka-down-parka.jpg?v=1759000000"
    ),
    "additional_image_urls": None,
    "tags": ["winter", "down"],
    "status": "active",
    "seller_name": None,
}
EXPECTED_ROWS = [
    {
        **PARKA_ROW,
        "source_id": "gid://shopify/ProductVariant/45871200001001",
        "sku": "MP-001-1",
        "gtin": "0634517701111",
        "title": "Muskoka Down Parka - S",
        "availability": "out_of_stock",
        "list_price_amount": Decimal("399.00"),
        "inventory_quantity": 0,
        "url": f"{PARKA}?variant=45871200001001",
        "source_created_at": utc("2026-02-26T08:00:00"),
        "source_updated_at": utc("2026-09-14T08:00:00"),
    },
    {
        **PARKA_ROW,
        "source_id": "gid://shopify/ProductVariant/45871200001002",
        "sku": "MP-001-2",
        "gtin": "0634517701112",
        "title": "Muskoka Down Parka - M",
        "availability": "in_stock",
        "list_price_amount": Decimal("399.00"),
        "inventory_quantity": 5,
        "url": f"{PARKA}?variant=45871200001002",
        "source_created_at": utc("2026-02-26T08:01:00"),
        "source_updated_at": utc("2026-09-14T07:55:00"),
    },
    {
        **PARKA_ROW,
        "source_id": "gid://shopify/ProductVariant/45871200001003",
        "sku": "MP-001-3",
        "gtin": "0634517701113",
        "title": "Muskoka Down Parka - L",
        "availability": "in_stock",
        "list_price_amount": None,
        "inventory_quantity": 10,
        "url": f"{PARKA}?variant=45871200001003",
        "source_created_at": utc("2026-02-26T08:02:00"),
        "source_updated_at": utc("2026-09-14T07:50:00"),
    },
    {
        "source": "shopify",
        "source_id": "gid://shopify/ProductVariant/45871200006001",
        "source_parent_id": "gid://shopify/Product/8234517706666",
        "marketplace": "maple-and-pine-demo.myshopify.com",
        "sku": "MP-006",
        "gtin": "0634517706666",
        "mpn": None,
        "brand": "Ember Co.",
        "title": "Cedar Fire Starter (12 pack)",
        "description": "Wax-dipped cedar fire starters, 12 per box.",
        "product_type": "Camping",
        "category_path": None,
        "condition": "new",
        "availability": "backorder",
        "price_amount": Decimal("12.50"),
        "list_price_amount": None,
        "currency": "CAD",
        "inventory_quantity": -3,
        "url": "https://maple-and-pine-demo.myshopify.com/products/cedar-fire-starter-12-pack",
        "image_url": (
            "https://cdn.shopify.com/s/files/1/0712/4480/3391/files/"
            "cedar-fire-starter-12-pack.jpg?v=1759004885"
        ),
        "additional_image_urls": None,
        "tags": ["camp", "fire"],
        "status": "active",
        "seller_name": None,
        "source_created_at": utc("2026-03-13T08:00:00"),
        "source_updated_at": utc("2026-09-15T19:05:00"),
    },
    {
        "source": "shopify",
        "source_id": "gid://shopify/ProductVariant/45871200040001",
        "source_parent_id": "gid://shopify/Product/8234517744440",
        "marketplace": "maple-and-pine-demo.myshopify.com",
        "sku": "MP-040",
        "gtin": "0634517744440",
        "mpn": None,
        "brand": "Hive & Hearth",
        "title": "Wildflower Seed Kit",
        "description": "Native Ontario wildflower seeds.",
        "product_type": None,
        "category_path": None,
        "condition": "new",
        "availability": "in_stock",
        "price_amount": Decimal("14.00"),
        "list_price_amount": None,
        "currency": "CAD",
        "inventory_quantity": 20,
        "url": None,
        "image_url": None,
        "additional_image_urls": None,
        "tags": [],
        "status": "draft",
        "seller_name": None,
        "source_created_at": utc("2026-06-23T08:00:00"),
        "source_updated_at": utc("2026-09-25T17:27:00"),
    },
]


def test_normalize_recorded_products_as_whole_rows(provider):
    rows = [row for raw in recorded_records() for row in provider.normalize(raw)]

    assert rows == EXPECTED_ROWS
    assert all(tuple(sorted(row)) == tuple(sorted(BUSINESS_COLUMNS)) for row in rows)


def test_normalize_falls_back_to_product_timestamps_and_converts_to_utc(provider):
    variant = make_variant(1, 1, createdAt=None, updatedAt=None)
    raw = make_product(1, createdAt="2026-01-02T03:04:05-05:00", updatedAt="2026-10-01T00:00:00Z")
    raw["variants"]["nodes"] = [variant]

    (row,) = provider.normalize(raw)

    assert row["source_created_at"] == utc("2026-01-02T08:04:05")
    assert row["source_updated_at"] == utc("2026-10-01T00:00:00")
    assert row["title"] == "Product 1"
    assert row["url"] == "https://fake-shop.example/products/product-1"  # one variant: no ?variant
    assert row["currency"] is None  # no __shop: the quality gate decides


def test_normalize_keeps_a_blank_title_blank_for_the_quality_gate(provider):
    raw = make_product(1, variants=2, title="  ")

    assert [row["title"] for row in provider.normalize(raw)] == ["", ""]


@pytest.mark.parametrize(
    ("available", "quantity", "availability"),
    [
        (True, 5, "in_stock"),
        (True, None, "in_stock"),  # inventory not tracked
        (True, 0, "backorder"),
        (True, -2, "backorder"),
        (False, 0, "out_of_stock"),
        (False, 7, "out_of_stock"),
        (None, 3, "unknown"),
    ],
)
def test_normalize_availability(provider, available, quantity, availability):
    raw = make_product(1)
    raw["variants"]["nodes"] = [
        make_variant(1, 1, availableForSale=available, inventoryQuantity=quantity)
    ]

    assert provider.normalize(raw)[0]["availability"] == availability


def _broken(change: Callable[[dict[str, Any]], None]) -> dict[str, Any]:
    raw = make_product(1)
    change(raw)
    return raw


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        (_broken(lambda r: r.pop("id")), "shopify record 'product-1': id missing"),
        (_broken(lambda r: r.update(title=None)), "shopify record gid://shopify/Product/1: title"),
        (
            _broken(lambda r: r.update(variants={"nodes": []})),
            "shopify record gid://shopify/Product/1: variants missing",
        ),
        (
            _broken(lambda r: r["variants"]["nodes"][0].update(id=None)),
            "shopify record gid://shopify/Product/1: variant id missing",
        ),
        (
            _broken(lambda r: r["variants"]["nodes"][0].update(price="12,50")),
            "shopify record gid://shopify/ProductVariant/101: price '12,50' is not a number",
        ),
        (
            _broken(lambda r: r["variants"]["nodes"][0].update(compareAtPrice="NaN")),
            "shopify record gid://shopify/ProductVariant/101: compareAtPrice 'NaN' is not",
        ),
        (
            _broken(lambda r: r["variants"]["nodes"][0].update(updatedAt="yesterday")),
            "shopify record gid://shopify/ProductVariant/101: updatedAt 'yesterday' is not",
        ),
        (
            _broken(lambda r: r["variants"]["nodes"][0].update(createdAt="2026-10-01T10:00:00")),
            "shopify record gid://shopify/ProductVariant/101: createdAt '2026-10-01T10:00:00' has",
        ),
    ],
)
def test_normalize_refuses_unmappable_records(provider, raw, message):
    with pytest.raises(SkippableRecordError) as caught:
        provider.normalize(raw)

    assert str(caught.value).startswith(message)


# --- offline recording -------------------------------------------------------------------------


def test_offline_recording_replays(provider, fetch_context):
    recording = Recording(provider.recording_path())
    with replay_server(recording) as base_url:
        env = offline_env(recording, base_url)
        everything = fetch_context(provider, env, options=recording.options)
        records = list(provider.fetch(everything))
        limited = fetch_context(provider, env, options=recording.options, limit=10)
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
    exchanges = Recording(provider.recording_path()).exchanges
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
    assert below == ["Georgian Bay Dry Bag 20L - Navy"]
    assert any(r["image_url"] is None for r in rows)
    assert any(r["url"] is None for r in rows)
