"""``doctor`` on Shopify: the kind of credentials, the token's life, scopes, the API version."""

from __future__ import annotations

import os
from collections.abc import Iterator
from datetime import date
from pathlib import Path

import pytest
from pytest_httpserver import HTTPServer

from pipelines.cli.commands.doctor import check_provider, check_providers
from pipelines.config import load_config
from pipelines.run_pipeline import main
from providers.shopify import ShopifyProvider
from tests.fakes.shopify import FakeShopify, make_product
from tests.providers.shopify.helpers import FakeClock

TODAY = date(2026, 12, 5)
CLIENT_CREDENTIALS = (
    "credentials: client credentials (SHOPIFY_CLIENT_ID + SHOPIFY_CLIENT_SECRET); "
    "token expires in 23 h 59 min"
)
LEGACY = "credentials: a legacy app's access token (SHOPIFY_ACCESS_TOKEN; it does not expire)"
SCOPES_OK = "scopes: granted read_products; needed read_products (products): all granted"


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def shopify(http_server: HTTPServer, clock: FakeClock) -> Iterator[FakeShopify]:
    fake = FakeShopify([make_product(1)], domain="maple.myshopify.com", currency="CAD",
                       server=http_server, clock=clock)  # fmt: skip
    with fake:
        yield fake


def doctor(env: dict[str, str], clock: FakeClock, today: date = TODAY):
    provider = ShopifyProvider(clock=clock, today=lambda: today)
    return check_provider(provider, load_config(None, {"shopify": provider}), env)


def test_client_credentials_show_their_kind_lifetime_scopes_and_version(shopify, clock):
    check = doctor(shopify.app_env(), clock)

    assert (check.verdict, check.detail) == (
        "ok",
        "shop maple.myshopify.com, currency CAD, API 2026-10",
    )
    assert check.facts == (
        CLIENT_CREDENTIALS,
        SCOPES_OK,
        "API 2026-10: supported until 2027-10-01 (300 days left)",
    )


def test_the_token_lifetime_is_what_is_left_of_a_cached_token(shopify, clock):
    doctor(shopify.app_env(), clock)
    provider = ShopifyProvider(clock=clock, today=lambda: TODAY)
    config = load_config(None, {"shopify": provider})
    check_provider(provider, config, shopify.app_env())
    clock.advance(5 * 3600)

    check = check_provider(provider, config, shopify.app_env())

    assert check.facts[0].endswith("token expires in 18 h 59 min")


def test_a_legacy_token_is_named_as_such(shopify, clock):
    check = doctor(shopify.env(), clock)

    assert check.verdict == "ok"
    assert check.facts[:2] == (LEGACY, SCOPES_OK)


def test_a_scope_missing_for_the_configured_datasets_is_named(shopify, clock):
    shopify.scopes = ("read_orders", "write_inventory")

    check = doctor(shopify.app_env(), clock)

    assert check.verdict == "missing scope"
    assert check.detail == (
        "shopify: scopes: granted read_orders, write_inventory; needed read_products "
        "(products): missing read_products"
    )


def test_a_write_scope_covers_its_read_scope(shopify, clock):
    shopify.scopes = ("write_products",)

    assert doctor(shopify.app_env(), clock).verdict == "ok"


def test_a_version_near_its_end_is_a_warning_and_past_it_a_failure(shopify, clock):
    near = doctor(shopify.app_env(), clock, today=date(2027, 8, 15))
    past = doctor(shopify.app_env(), clock, today=date(2027, 10, 2))

    assert near.verdict == "warning"
    assert near.facts == (
        CLIENT_CREDENTIALS,
        SCOPES_OK,
        "warning: shopify: API version 2026-10 is supported until 2027-10-01 (47 days left); "
        "set SHOPIFY_API_VERSION to 2027-07 (the newest stable) before then",
    )
    assert past.verdict == "unsupported API"
    assert "API version 2026-10 is past its end of support (2027-10-01" in past.detail


def test_refused_client_credentials_are_bad_credentials(shopify, clock):
    check = doctor(shopify.app_env(SHOPIFY_CLIENT_SECRET="shpss_wrong"), clock)

    assert check.verdict == "bad credentials"
    assert check.detail.startswith("shopify token: 401 Unauthorized: invalid_client")
    assert "shpss_wrong" not in check.detail


def test_both_kinds_set_is_a_config_error(shopify, clock):
    provider = ShopifyProvider(clock=clock)
    env = {**shopify.app_env(), "SHOPIFY_ACCESS_TOKEN": shopify.token}
    [check], _ = check_providers(
        load_config(None, {"shopify": provider}), {"shopify": provider}, env
    )

    assert check.verdict == "config error"
    assert "remove one kind" in check.detail


def test_the_command_prints_the_facts_under_the_table(shopify, tmp_path: Path, monkeypatch, capsys):
    for name in list(os.environ):
        if name.startswith(("SHOPIFY_", "AMAZON_", "EBAY_")):
            monkeypatch.delenv(name)
    for name, value in shopify.app_env().items():
        monkeypatch.setenv(name, value)
    monkeypatch.chdir(tmp_path)

    assert main(["doctor"]) == 0

    out = capsys.readouterr().out.splitlines()
    assert out[1].split()[:3] == ["shopify", "ok", "shop"]
    assert out[2] == f"  shopify: {CLIENT_CREDENTIALS}"
    assert out[3] == f"  shopify: {SCOPES_OK}"
    assert out[4].startswith("  shopify: API 2026-10: supported until 2027-10-01")
    assert shopify.client_secret not in "\n".join(out)
