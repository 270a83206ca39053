"""The Amazon provider's configuration: refused settings and options, PA-API 5.0 migration."""

from __future__ import annotations

from typing import Any

import pytest

from pipelines.errors import ConfigError
from providers.amazon import AmazonProvider
from tests.fakes.amazon import FakeCreatorsApi
from tests.providers.amazon.helpers import FAST, BuildContext, asins, fetch_all

# --- migration from PA-API 5.0 -------------------------------------------------------------------


def test_retired_paapi_variables_get_a_migration_message(provider: AmazonProvider) -> None:
    env = {"AMAZON_PAAPI_ACCESS_KEY": "AKIAOLDKEY123", "AMAZON_PAAPI_PARTNER_TAG": "mystore-20"}

    problems = provider.check_environment(env)

    assert problems == [
        "amazon: PA-API 5.0 was retired on 2026-04-30; set AMAZON_CREATORS_CREDENTIAL_ID, "
        "AMAZON_CREATORS_CREDENTIAL_SECRET, AMAZON_CREATORS_VERSION (the version shown with the "
        "credentials) and AMAZON_PARTNER_TAG (your tracking id, unchanged) from new Creators "
        "API credentials (Amazon Associates Central), and remove AMAZON_PAAPI_ACCESS_KEY, "
        "AMAZON_PAAPI_PARTNER_TAG, which no longer work."
    ]
    assert "AKIAOLDKEY123" not in problems[0]
    assert "mystore-20" not in problems[0]


@pytest.mark.parametrize(
    "name",
    [
        "AMAZON_PAAPI_ACCESS_KEY",
        "AMAZON_PAAPI_SECRET_KEY",
        "AMAZON_PAAPI_PARTNER_TAG",
        "AMAZON_PAAPI_HOST",
        "AMAZON_PAAPI_REGION",
    ],
)
def test_each_retired_paapi_variable_is_named(provider: AmazonProvider, name: str) -> None:
    [problem] = provider.check_environment({name: "old-value"})

    assert problem.endswith(f"and remove {name}, which no longer works.")
    assert "old-value" not in problem


def test_no_migration_message_without_paapi_variables(provider: AmazonProvider) -> None:
    assert provider.check_environment({"AMAZON_CREATORS_CREDENTIAL_ID": "x"}) == []


# --- configuration -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("env_name", "url"),
    [
        ("AMAZON_CREATORS_API_URL", "http://creatorsapi.example.com"),
        ("AMAZON_CREATORS_AUTH_URL", "http://auth.example.com/auth/o2/token"),
    ],
)
def test_plain_http_override_refused_off_loopback(
    provider: AmazonProvider,
    fake: FakeCreatorsApi,
    fetch_context: BuildContext,
    env_name: str,
    url: str,
) -> None:
    ctx = fetch_context(provider, fake.env(**{env_name: url}), {**FAST, "asins": asins(1)})

    with pytest.raises(ConfigError, match=f"{env_name}: plain http is only allowed"):
        fetch_all(provider, ctx)
    assert fake.api_calls() == []


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({}, "nothing to fetch"),
        ({"asins": ["not an asin"]}, "asins: 'not an asin' is not an ASIN"),
        ({"asins": ["B0TEST0001"], "country": "XX"}, "country: 'XX' is not one of"),
        ({"searches": [{"pages": 2}]}, "searches #1: keywords is required"),
        ({"searches": [{"keywords": "hub", "pages": 11}]}, "pages must be an integer from 1 to 10"),
        ({"searches": [{"keywords": "hub", "sort": "x"}]}, "searches #1: unknown keys sort"),
    ],
)
def test_bad_options_are_config_errors(
    provider: AmazonProvider,
    fake: FakeCreatorsApi,
    fetch_context: BuildContext,
    options: dict[str, Any],
    message: str,
) -> None:
    ctx = fetch_context(provider, fake.env(), {**FAST, **options})

    with pytest.raises(ConfigError, match=message):
        fetch_all(provider, ctx)


def test_unsupported_version_is_a_config_error(
    provider: AmazonProvider, fake: FakeCreatorsApi, fetch_context: BuildContext
) -> None:
    env = fake.env(AMAZON_CREATORS_VERSION="9.1")
    ctx = fetch_context(provider, env, {**FAST, "asins": asins(1)})

    with pytest.raises(ConfigError, match=r"Unsupported version: 9\.1.*AMAZON_CREATORS_VERSION"):
        fetch_all(provider, ctx)


def test_version_defaults_to_3_1(provider: AmazonProvider) -> None:
    settings = provider.resolve_settings({"AMAZON_CREATORS_CREDENTIAL_ID": "x"})

    assert settings["AMAZON_CREATORS_VERSION"] == "3.1"


def test_the_plain_marketplace_table_matches_the_sdks() -> None:
    from amazon_creatorsapi.core.marketplaces import MARKETPLACES as SDK_MARKETPLACES

    from providers.amazon.marketplaces import MARKETPLACES

    assert MARKETPLACES == SDK_MARKETPLACES
