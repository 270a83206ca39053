"""Dev Dashboard client credentials against the fake: mint, cache, refresh, refusals, redaction."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import quote, quote_plus

import pytest
from pytest_httpserver import HTTPServer

from pipelines.config import load_config
from pipelines.errors import ConfigError, FatalProviderError
from pipelines.net.offline import Recording, offline_env, replay_server
from pipelines.net.secrets import mask
from pipelines.run.options import RunOptions
from pipelines.run.runner import Runner
from pipelines.run_pipeline import main
from providers.shopify import ShopifyProvider
from tests.fakes.shopify import (
    DEFAULT_CLIENT_SECRET,
    SHOP_NOT_PERMITTED,
    TOKEN_LIFETIME,
    FakeShopify,
    make_product,
)
from tests.providers.shopify.helpers import FakeClock, fetch_all

PAGED = {"bulk": "never", "page_size": 2}


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def shopify(http_server: HTTPServer, clock: FakeClock) -> Iterator[FakeShopify]:
    """Seven products; tokens lapse by ``clock``."""
    with FakeShopify(
        [make_product(n) for n in range(1, 8)], server=http_server, clock=clock
    ) as fake:
        yield fake


@pytest.fixture
def provider(clock: FakeClock) -> ShopifyProvider:
    return ShopifyProvider(clock=clock)


def mints(fake: FakeShopify) -> list[Any]:
    return [r for r in fake.requests if r.path == "/admin/oauth/access_token"]


def tokens_sent(fake: FakeShopify) -> list[str]:
    return [r.headers["X-Shopify-Access-Token"] for r in fake.requests if r.body]


# --- mint and cache ------------------------------------------------------------------------------


def test_client_credentials_mint_one_token_used_for_every_call(provider, fetch_context, shopify):
    records, ctx = fetch_all(provider, fetch_context, shopify.app_env(), options=PAGED)

    assert len(records) == 7
    [request] = mints(shopify)
    assert request.method == "POST"
    assert request.headers["Content-Type"] == "application/x-www-form-urlencoded"
    assert len(shopify.minted) == 1
    assert set(tokens_sent(shopify)) == {shopify.minted[0]}
    assert shopify.token not in tokens_sent(shopify)  # the legacy token is not involved
    assert mask(f"token {shopify.minted[0]}") == "token ***"
    assert ctx.stats.api_calls == 1 + 1 + 4 + 2  # token, shop, four pages, productsCount twice


def test_the_token_is_cached_across_fetches_of_the_same_app(provider, fetch_context, shopify):
    fetch_all(provider, fetch_context, shopify.app_env(), options=PAGED)
    fetch_all(provider, fetch_context, shopify.app_env(), options=PAGED)

    assert len(shopify.minted) == 1


def test_the_legacy_access_token_keeps_working(provider, fetch_context, shopify):
    records, _ = fetch_all(provider, fetch_context, shopify.env(), options=PAGED)

    assert len(records) == 7
    assert mints(shopify) == []
    assert set(tokens_sent(shopify)) == {shopify.token}


# --- expiry and refresh --------------------------------------------------------------------------


def test_a_token_due_to_lapse_mid_run_is_replaced_before_it_is_refused(
    provider, fetch_context, shopify, clock, caplog
):
    shopify.on_query = lambda body: clock.advance(30_000)  # each call takes 8 h 20 min

    records, _ = fetch_all(provider, fetch_context, shopify.app_env(), options=PAGED)

    assert len(records) == 7
    # 7 calls (shop, productsCount, four pages, productsCount) x 30,000 s: three tokens
    assert len(shopify.minted) == 3
    first, second, third = shopify.minted
    assert tokens_sent(shopify) == [first] * 3 + [second] * 3 + [third]
    assert "refused" not in caplog.text  # replaced in time, never answered 401


def test_a_bulk_operation_that_outlives_the_token_is_polled_with_a_new_one(
    provider, fetch_context, shopify, clock
):
    shopify.bulk_ticks = 5

    def slow_polls(body: dict[str, Any]) -> None:
        if body["operationName"] == "BulkOperation":
            clock.advance(TOKEN_LIFETIME / 3)

    shopify.on_query = slow_polls
    options = {"bulk": "always", "bulk_poll_seconds": 0.001}

    records, ctx = fetch_all(provider, fetch_context, shopify.app_env(), options=options)

    assert len(records) == 7
    assert ctx.complete
    polls = [r for r in shopify.requests if r.body and r.body["operationName"] == "BulkOperation"]
    assert len(polls) == 5
    assert len(shopify.minted) == 2
    assert {r.headers["X-Shopify-Access-Token"] for r in polls} == set(shopify.minted)


def test_a_token_refused_mid_run_is_minted_again_once(provider, fetch_context, shopify, caplog):
    pages = iter(range(100))
    shopify.on_query = lambda body: next(pages) == 2 and shopify.revoke_tokens()

    records, _ = fetch_all(provider, fetch_context, shopify.app_env(), options=PAGED)

    assert len(records) == 7
    assert len(shopify.minted) == 2
    assert "the token was refused (401); minting a new one" in caplog.text


def test_a_new_token_refused_too_fails_clearly(provider, fetch_context, shopify):
    shopify.on_query = lambda body: body["operationName"] == "ShopInfo" and shopify.refuse_tokens()

    with pytest.raises(FatalProviderError) as raised:
        fetch_all(provider, fetch_context, shopify.app_env(), options=PAGED)

    assert raised.value.status == 401
    message = str(raised.value)
    assert message.startswith("401 Unauthorized from shopify products count: [API] Invalid API key")
    assert "a newly minted token was refused too" in message
    assert "SHOPIFY_CLIENT_ID and SHOPIFY_CLIENT_SECRET" in message
    assert len(shopify.minted) == 2  # refreshed once, not in a loop


# --- refusals at the token endpoint --------------------------------------------------------------


@pytest.mark.parametrize(
    ("setup", "status", "expected"),
    [
        (
            lambda fake: fake.app_env(SHOPIFY_CLIENT_SECRET="shpss_rotated"),
            401,
            "shopify token: 401 Unauthorized: invalid_client (Client authentication failed",
        ),
        (
            lambda fake: fake.refuse_mints(400, SHOP_NOT_PERMITTED) or fake.app_env(),
            400,
            "shopify token: 400 Bad Request: shop_not_permitted (Client credentials cannot be "
            "performed on this shop.); the client credentials grant works only when the app and "
            "the store belong to the same organization",
        ),
    ],
    ids=["revoked-or-rotated-secret", "shop-not-permitted"],
)
def test_refused_credentials_fail_with_shopifys_error(
    provider, fetch_context, shopify, setup, status, expected
):
    env = setup(shopify)

    with pytest.raises(FatalProviderError) as raised:
        fetch_all(provider, fetch_context, env, options=PAGED)

    assert raised.value.status == status
    assert str(raised.value).startswith(expected)
    assert [r.path for r in shopify.requests] == ["/admin/oauth/access_token"]  # tried once


# --- both kinds set ------------------------------------------------------------------------------


def test_both_kinds_of_credentials_are_a_usage_error_naming_what_to_remove(
    shopify, tmp_path, monkeypatch, capsys
):
    env = {**shopify.app_env(), "SHOPIFY_ACCESS_TOKEN": shopify.token}
    expected = (
        "shopify: SHOPIFY_ACCESS_TOKEN and SHOPIFY_CLIENT_ID + SHOPIFY_CLIENT_SECRET are both "
        "set; remove one kind: SHOPIFY_ACCESS_TOKEN (a legacy custom app's token), or "
        "SHOPIFY_CLIENT_ID and SHOPIFY_CLIENT_SECRET (a Dev Dashboard app)"
    )
    registry = {"shopify": ShopifyProvider()}
    assert registry["shopify"].check_environment(env) == [expected]
    with pytest.raises(ConfigError, match="remove one kind"):
        Runner(load_config(None, registry), registry, env, RunOptions())

    monkeypatch.chdir(tmp_path)
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    assert main(["--providers", "shopify"]) == 2
    assert capsys.readouterr().err == f"run_pipeline.py: error: {expected}\n"
    assert shopify.requests == []


# --- redaction -----------------------------------------------------------------------------------


def secret_forms(secret: str) -> list[str]:
    return [secret, quote_plus(secret), quote(secret, safe="")]


def test_the_secret_and_tokens_appear_nowhere_a_run_writes(
    shopify, tmp_path, monkeypatch, caplog, capsys
):
    caplog.set_level(logging.DEBUG)
    monkeypatch.chdir(tmp_path)
    registry = {"shopify": ShopifyProvider()}
    config = load_config(None, registry).with_pipeline(http_backoff_seconds=0.01)
    ok = Runner(config, registry, shopify.app_env(), RunOptions(no_cache=True)).run()
    echo = {  # a token endpoint that echoes what it was sent, in both encodings
        "error": "invalid_request",
        "error_description": f"client_secret={quote_plus(DEFAULT_CLIENT_SECRET)} "
        f"({DEFAULT_CLIENT_SECRET}, {quote(DEFAULT_CLIENT_SECRET, safe='')})",
    }
    shopify.refuse_mints(400, echo)
    registry = {"shopify": ShopifyProvider()}  # a new process: no cached token
    failed = Runner(config, registry, shopify.app_env(), RunOptions(no_cache=True)).run()

    assert ok.record["providers"]["shopify"]["status"] == "ok"
    assert failed.record["providers"]["shopify"]["status"] == "failed"
    assert "invalid_request (client_secret=***" in failed.record["providers"]["shopify"]["error"]
    written = [p.read_text(errors="replace") for p in Path(tmp_path).rglob("*") if p.is_file()]
    everything = "\n".join([*written, caplog.text, *capsys.readouterr()])
    assert shopify.minted
    for leaked in [*secret_forms(DEFAULT_CLIENT_SECRET), *shopify.minted]:
        assert leaked not in everything


# --- offline -------------------------------------------------------------------------------------


@pytest.mark.parametrize("kind", ["client credentials", "access token"])
def test_the_offline_recording_speaks_both_kinds(fetch_context, kind):
    provider = ShopifyProvider()
    recording = Recording(provider.recording_path())
    with replay_server(recording) as base_url:
        env = offline_env(recording, base_url)
        if kind == "access token":
            env = {k: v for k, v in env.items() if not k.startswith("SHOPIFY_CLIENT_")}
            env["SHOPIFY_ACCESS_TOKEN"] = "offline-demo-token"
        ctx = fetch_context(provider, env, options=recording.options)
        ctx.offline = True
        records = list(provider.fetch(ctx))

    assert len(records) == 42
    assert ctx.stats.api_calls == (9 if kind == "client credentials" else 8)  # productsCount x2
