"""The API version against Shopify's support window (a fixed clock), and deprecation headers."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from datetime import date
from pathlib import Path

import pytest
from pytest_httpserver import HTTPServer

from pipelines.cli.output import print_summary
from pipelines.config import load_config
from pipelines.errors import UnsupportedApiError
from pipelines.run.options import RunOptions, RunResult
from pipelines.run.runner import Runner
from providers.shopify import ShopifyProvider
from providers.shopify.client import check_settings
from providers.shopify.versions import (
    FAILURE,
    OK,
    WARNING,
    check_version,
    newest_stable,
    support_ends,
)
from tests.fakes.shopify import FakeShopify, make_product
from tests.providers.shopify.helpers import fetch_all

NEAR_END = date(2027, 8, 15)  # 2026-10 is supported until 2027-10-01: 47 days left
PAST_END = date(2027, 10, 1)


@pytest.fixture
def shopify(http_server: HTTPServer) -> Iterator[FakeShopify]:
    with FakeShopify([make_product(n) for n in range(1, 6)], server=http_server) as fake:
        yield fake


# --- the support window --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("version", "ends"),
    [
        ("2023-01", date(2024, 1, 1)),  # Shopify's own example schedule
        ("2023-10", date(2024, 10, 1)),
        ("2026-04", date(2027, 4, 1)),
        ("2026-10", date(2027, 10, 1)),
    ],
)
def test_support_ends_twelve_months_after_release(version, ends):
    assert support_ends(version) == ends


@pytest.mark.parametrize(
    ("today", "level", "text"),
    [
        (date(2027, 7, 2), OK, "API 2026-10: supported until 2027-10-01 (91 days left)"),
        (date(2027, 7, 3), WARNING, "supported until 2027-10-01 (90 days left)"),
        (NEAR_END, WARNING, "set SHOPIFY_API_VERSION to 2027-07 (the newest stable) before then"),
        (date(2027, 9, 30), WARNING, "(1 days left)"),
        (PAST_END, FAILURE, "API version 2026-10 is past its end of support (2027-10-01;"),
        (date(2028, 2, 1), FAILURE, "set SHOPIFY_API_VERSION to 2028-01 (the newest stable)"),
        (date(2026, 9, 30), OK, "API 2026-10: a release candidate until 2026-10-01"),
    ],
)
def test_check_version_on_a_fixed_day(today, level, text):
    verdict = check_version("2026-10", today)

    assert verdict.level == level
    assert text in verdict.message


def test_unstable_has_no_support_window_and_months_between_releases_are_refused():
    assert check_version("unstable", PAST_END).level == OK
    assert newest_stable(date(2026, 12, 5)) == "2026-10"
    assert check_settings({"SHOPIFY_API_VERSION": "2026-05"}) == [
        "SHOPIFY_API_VERSION: '2026-05' is not a Shopify release (versions are YYYY-01, "
        "YYYY-04, YYYY-07 and YYYY-10)"
    ]


# --- in a fetch and a run ------------------------------------------------------------------------


def test_a_version_near_its_end_warns_and_fetches(fetch_context, shopify, caplog):
    provider = ShopifyProvider(today=lambda: NEAR_END)

    records, ctx = fetch_all(provider, fetch_context, shopify.env())

    assert len(records) == 5
    [warning] = ctx.stats.warnings
    assert warning.startswith("shopify: API version 2026-10 is supported until 2027-10-01")
    assert warning in caplog.text


def test_a_version_past_its_end_fails_before_any_call(fetch_context, shopify):
    provider = ShopifyProvider(today=lambda: PAST_END)

    with pytest.raises(UnsupportedApiError, match="past its end of support"):
        fetch_all(provider, fetch_context, shopify.env())
    assert shopify.requests == []


def run(fake: FakeShopify, today: date, root: Path) -> RunResult:
    registry = {"shopify": ShopifyProvider(today=lambda: today)}
    config = load_config(None, registry).with_pipeline(data_dir=str(root), log_dir=str(root))
    return Runner(config, registry, fake.env(), RunOptions(no_cache=True)).run()


def test_the_run_summary_warns_near_the_end_and_fails_past_it(shopify, tmp_path, capsys):
    near = run(shopify, NEAR_END, tmp_path)
    print_summary(near, tmp_path, dry_run=False)
    summary = capsys.readouterr().out
    past = run(shopify, PAST_END, tmp_path)

    entry = near.record["providers"]["shopify"]
    assert (entry["status"], entry["written"]) == ("ok", 5)
    assert entry["warnings"] == [check_version("2026-10", NEAR_END).message]
    assert f"warning: {entry['warnings'][0]}" in summary
    failed = past.record["providers"]["shopify"]
    assert failed["status"] == "failed"
    assert "API version 2026-10 is past its end of support" in failed["error"]
    assert past.exit_code == 4


# --- deprecation headers -------------------------------------------------------------------------


def test_a_deprecation_header_is_logged_once_per_run_naming_the_fields(
    fetch_context, shopify, caplog
):
    shopify.deprecated_reason = "Product.featuredImage, ProductVariant.inventoryQuantity"
    provider = ShopifyProvider()

    records, ctx = fetch_all(provider, fetch_context, shopify.env(), options={"page_size": 1})

    assert len(records) == 5
    logged = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert logged == [
        "shopify shop: Shopify reports deprecated fields in use: Product.featuredImage, "
        "ProductVariant.inventoryQuantity (X-Shopify-API-Deprecated-Reason); they may stop "
        "working in a later API version"
    ]
    assert ctx.stats.warnings == logged
