"""A redirect to another host lands nothing and carries no credential (whole runs).

One command-line run (a subprocess, 2-4 s) with every provider redirected by its configured
endpoint to a server on 127.0.0.2 that would serve plausible eBay rows: Shopify by a 301
from its API URL, eBay by a 302 from its search, Amazon by a 307 from GetItems (a 307 sends
the body again). Every provider fails with a line naming both origins; the other host
receives nothing at all, and no row reaches the lake.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from pytest_httpserver import HTTPServer

from tests.fakes.amazon import GET_ITEMS_PATH, FakeCreatorsApi, numbered_catalog
from tests.fakes.ebay import FakeEbay, make_item
from tests.fakes.elsewhere import Elsewhere
from tests.pipelines.test_cli import clean_env, cli

CONFIG = """
[pipeline]
http_backoff_seconds = 0.001
[providers.amazon]
asins = ["B0TEST0001", "B0TEST0002"]
throttling_seconds = 0.0
[providers.ebay]
page_size = 5
queries = [{ q = "film camera" }]
"""
SHOPIFY_TOKEN = "shpat_redirectprobe_0b7e"
EBAY_PAGE = {"total": 2, "limit": 5, "offset": 0, "itemSummaries": [make_item(1), make_item(2)]}


@pytest.fixture
def other() -> Iterator[Elsewhere]:
    with Elsewhere(EBAY_PAGE) as server:
        yield server


def test_no_provider_follows_a_redirect_to_another_host(
    other: Elsewhere, http_server: HTTPServer, tmp_path: Path
) -> None:
    http_server.expect_request(re.compile(".*")).respond_with_handler(other.redirect(301))
    shopify_url = http_server.url_for("").rstrip("/")
    ebay = FakeEbay(client_id="redirect-probe-id", client_secret="redirect-probe-secret")
    amazon = FakeCreatorsApi(numbered_catalog(2), credential_secret="redirect-probe-amazon")
    with ebay, amazon:
        ebay.search_faults = [other.redirect(302)]
        amazon.fail_next(307, b"", {"Location": other.origin + GET_ITEMS_PATH})
        env = clean_env(
            SHOPIFY_SHOP_DOMAIN="probe.myshopify.com", SHOPIFY_ACCESS_TOKEN=SHOPIFY_TOKEN,
            SHOPIFY_API_URL=shopify_url, **ebay.env(), **amazon.env(),
        )  # fmt: skip
        (tmp_path / "pipeline.toml").write_text(CONFIG)
        result = cli("--log-format", "json", cwd=tmp_path, env=env)
        origins = {"shopify": shopify_url, "ebay": ebay.base_url, "amazon": amazon.url}

    assert other.seen == []
    assert result.returncode == 4, result.stderr  # every provider failed
    [record] = [
        json.loads(line) for line in (tmp_path / "logs/runs.jsonl").read_text().splitlines()
    ]
    for name, origin in origins.items():
        error = record["providers"][name]["error"]
        assert f"refused a redirect from {origin} to {other.origin}" in error, error
        assert f"refused a redirect from {origin} to {other.origin}" in result.stderr
    landed = [p for zone in ("raw", "normalized") for p in (tmp_path / "data" / zone).rglob("*")]
    assert (landed, record["totals"].get("written", 0)) == ([], 0)
