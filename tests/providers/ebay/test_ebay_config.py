"""The eBay provider's configuration: credentials, endpoints, options and query parameters."""

from __future__ import annotations

import pytest

from pipelines.errors import ConfigError
from providers.ebay import EbayProvider
from tests.providers.ebay.helpers import CAMERA, fetch_all

# --- configuration ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("env", "missing"),
    [
        ({}, ["EBAY_CLIENT_ID", "EBAY_CLIENT_SECRET"]),
        ({"EBAY_CLIENT_ID": "id"}, ["EBAY_CLIENT_SECRET"]),
        ({"EBAY_CLIENT_SECRET": "secret"}, ["EBAY_CLIENT_ID"]),
        ({"EBAY_CLIENT_ID": "id", "EBAY_CLIENT_SECRET": "secret"}, []),
        ({"EBAY_OAUTH_TOKEN": "token"}, []),
        ({"EBAY_CLIENT_ID": "id", "EBAY_OAUTH_TOKEN": "token"}, []),
    ],
)
def test_configured_by_the_pair_or_a_token(env, missing):
    provider = EbayProvider()
    assert provider.missing_settings(env) == missing
    assert provider.is_configured(env) is (missing == [])


def test_check_environment_flags_half_a_pair_and_bad_endpoints():
    env = {
        "EBAY_CLIENT_ID": "id",
        "EBAY_OAUTH_TOKEN": "token",
        "EBAY_API_URL": "http://ebay.example.com",
    }
    assert EbayProvider().check_environment(env) == [
        "EBAY_CLIENT_ID is set without EBAY_CLIENT_SECRET; set both, or neither",
        "EBAY_API_URL: plain http is only allowed for loopback hosts (127.0.0.1, ::1, "
        "localhost); use https for ebay.example.com",
    ]


@pytest.mark.parametrize("env_name", ["EBAY_API_URL", "EBAY_OAUTH_URL"])
def test_plain_http_endpoint_override_is_refused_off_loopback(fetch_context, env_name):
    env = {"EBAY_CLIENT_ID": "id", "EBAY_CLIENT_SECRET": "secret", env_name: "http://proxy.example"}

    with pytest.raises(ConfigError, match=rf"^{env_name}: plain http is only allowed for loopback"):
        fetch_all(fetch_context, env, CAMERA)


@pytest.mark.parametrize(
    ("options", "message"),
    [
        (
            {"queries": []},
            "providers.ebay.queries: give at least one search table (q, category_ids, epid or "
            "gtin); the Browse API cannot list every item",
        ),
        (
            {"queries": [{"q": "ok"}, {"filter": "price:[10..50]", "sort": "price"}]},
            "providers.ebay.queries[1]: needs at least one of q, category_ids, epid or gtin",
        ),
        (
            {"queries": [{"q": "ok", "keywords": "x"}]},
            "providers.ebay.queries[0].keywords: unknown key",
        ),
        (
            {"queries": ["film camera"]},
            'providers.ebay.queries[0]: must be a table such as { q = "film camera" }',
        ),
        (
            {"queries": [{"q": "  "}]},
            "providers.ebay.queries[0].q: must be a non-empty string; "
            "providers.ebay.queries[0]: needs at least one of q, category_ids, epid or gtin",
        ),
        (
            {"queries": [{"q": "x", "marketplace": "GB"}]},
            "providers.ebay.queries[0].marketplace: expected one of EBAY_AT, EBAY_AU, EBAY_BE, "
            "EBAY_CA, EBAY_CH, EBAY_DE, EBAY_ES, EBAY_FR, EBAY_GB, EBAY_HK, EBAY_IE, EBAY_IT, "
            "EBAY_NL, EBAY_PL, EBAY_SG, EBAY_US, EBAY_MOTORS_US, got 'GB'",
        ),
        (
            {"queries": [{"q": "x"}], "page_size": 201},
            "providers.ebay.page_size: must be an integer from 1 to 200, got 201",
        ),
        (
            {"queries": [{"q": "x"}], "max_results_per_query": 20_000},
            "providers.ebay.max_results_per_query: must be an integer from 1 to 10000, got 20000",
        ),
    ],
)
def test_option_errors_name_the_key(fetch_context, options, message):
    env = {"EBAY_OAUTH_TOKEN": "token"}

    with pytest.raises(ConfigError) as raised:
        fetch_all(fetch_context, env, options)

    assert str(raised.value) == message


def test_option_errors_are_reported_together(fetch_context):
    options = {"queries": [{"sort": "price"}], "page_size": 0}

    with pytest.raises(ConfigError) as raised:
        fetch_all(fetch_context, {"EBAY_OAUTH_TOKEN": "token"}, options)

    assert str(raised.value) == (
        "providers.ebay.page_size: must be an integer from 1 to 200, got 0; "
        "providers.ebay.queries[0]: needs at least one of q, category_ids, epid or gtin"
    )


def test_query_parameters_are_sent_as_configured(fake, fetch_context):
    fake.add_search(total=1, category_ids="15230,625", q="canon")
    options = {
        "marketplace": "EBAY_DE",
        "queries": [
            {
                "q": "canon",
                "category_ids": ["15230", 625],
                "filter": ["price:[10..500]", "priceCurrency:USD"],
                "sort": "-price",
                "marketplace": "EBAY_US",
            },
            {"epid": "249325755"},
        ],
    }

    records = fetch_all(fetch_context, fake.env(), options)

    assert [r.args for r in fake.search_requests] == [
        {
            "q": "canon",
            "category_ids": "15230,625",
            "filter": "price:[10..500],priceCurrency:USD",
            "sort": "-price",
            "limit": "100",
            "offset": "0",
        },
        {"epid": "249325755", "limit": "100", "offset": "0"},
    ]
    assert [r.headers["X-Ebay-C-Marketplace-Id"] for r in fake.search_requests] == [
        "EBAY_US",
        "EBAY_DE",
    ]
    assert [r["__query"] for r in records] == ["canon"]
