"""``ShopifyProvider.probe``: the one cheap authenticated call behind ``doctor``."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date

import pytest
from pytest_httpserver import HTTPServer

from pipelines.errors import ProviderError
from providers.shopify import ShopifyProvider
from tests.fakes.shopify import FakeShopify, make_product


@pytest.fixture
def shopify(http_server: HTTPServer) -> Iterator[FakeShopify]:
    shop = FakeShopify(
        [make_product(1)], domain="maple.myshopify.com", currency="CAD", server=http_server
    )
    with shop as fake:
        yield fake


def test_probe_names_shop_currency_and_served_version(fetch_context, shopify):
    provider = ShopifyProvider()

    answer = provider.probe(fetch_context(provider, shopify.env()))

    assert answer.detail == "shop maple.myshopify.com, currency CAD, API 2026-10"
    assert [r.body["operationName"] for r in shopify.requests] == ["ShopProbe"]


def test_probe_reports_the_version_shopify_actually_served(fetch_context, shopify):
    provider = ShopifyProvider(today=lambda: date(2025, 12, 31))  # 2025-01's last day
    ctx = fetch_context(provider, shopify.env(SHOPIFY_API_VERSION="2025-01"))

    assert provider.probe(ctx).detail.endswith("API 2026-01")


@pytest.mark.parametrize(
    ("setup", "env", "status"),
    [
        (lambda fake: None, {"SHOPIFY_ACCESS_TOKEN": "shpat_wrong"}, 401),
        (lambda fake: fake.fail_next(403), {}, 403),
        (lambda fake: None, {"SHOPIFY_API_URL": "{base}/not-a-shop"}, 404),
    ],
    ids=["bad-token", "missing-scope", "wrong-shop"],
)
def test_probe_failures_carry_the_http_status(fetch_context, shopify, setup, env, status):
    provider = ShopifyProvider()
    setup(shopify)
    env = {k: v.replace("{base}", shopify.base_url) for k, v in env.items()}

    with pytest.raises(ProviderError) as caught:
        provider.probe(fetch_context(provider, shopify.env(**env)))

    assert caught.value.status == status
    assert str(caught.value).startswith(f"{status} ")
    assert "shpat_" not in str(caught.value)
