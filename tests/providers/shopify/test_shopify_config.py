"""The Shopify provider's configuration: the GraphQL URL, refused settings and options."""

from __future__ import annotations

import pytest

from pipelines.errors import ConfigError
from providers.shopify.client import graphql_url
from tests.providers.shopify.helpers import fetch_all

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
        "SHOPIFY_CLIENT_ID",
        "SHOPIFY_CLIENT_SECRET",
        "SHOPIFY_ACCESS_TOKEN",
        "SHOPIFY_API_VERSION",
        "SHOPIFY_API_URL",
    ]
    assert [s.env for s in provider.settings if s.secret] == [
        "SHOPIFY_CLIENT_ID",
        "SHOPIFY_CLIENT_SECRET",
        "SHOPIFY_ACCESS_TOKEN",
    ]
    assert {o.name: o.default for o in provider.options} == {
        "page_size": 100,
        "variants_per_product": 100,
        "query": "",
        "lookback_hours": 24,
        "bulk": "auto",
        "orders_bulk": "backfill",
        "bulk_threshold": 20000,
        "bulk_poll_seconds": 2.0,
        "bulk_timeout_seconds": 3600,
    }
    assert provider.missing_settings({}) == [
        "SHOPIFY_SHOP_DOMAIN",
        "SHOPIFY_CLIENT_ID",
        "SHOPIFY_CLIENT_SECRET",
    ]
    assert provider.resolve_settings({"SHOPIFY_SHOP_DOMAIN": "a"})["SHOPIFY_API_VERSION"] == (
        "2026-10"
    )
