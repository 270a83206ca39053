"""Completeness proof for eBay and Amazon: the source's counts against what was read.

eBay: a search's ``total`` against the items its pages returned, within the 10,000-result
cap (and ``max_results_per_query``), the cap reported when it cuts. Amazon: the ASINs asked
for against those returned plus those an error names.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from pytest_httpserver import HTTPServer

from pipelines.config import load_config
from pipelines.lake.lake import Lake
from pipelines.run.options import RunOptions
from pipelines.run.runner import Runner
from providers.amazon import AmazonProvider
from providers.ebay import EbayProvider
from tests.fakes.amazon import FakeCreatorsApi, numbered_catalog
from tests.fakes.ebay import FakeEbay

CAMERA = {"queries": [{"q": "film camera"}], "page_size": 10}


@pytest.fixture
def ebay() -> Any:
    with FakeEbay() as fake:
        yield fake


def ebay_counts(fetch_context: Any, fake: FakeEbay, options: dict[str, Any]) -> Any:
    provider = EbayProvider()
    ctx = fetch_context(provider, fake.env(), options)
    records = list(provider.fetch(ctx))
    return records, ctx


# --- eBay ------------------------------------------------------------------------------------


def test_ebay_records_total_against_items_read(fetch_context, ebay):
    ebay.add_search(total=25, q="film camera")

    records, ctx = ebay_counts(fetch_context, ebay, CAMERA)

    assert len(records) == 25
    [count] = ctx.counts
    assert (count.what, count.source, count.expected, count.read) == (
        "search 'film camera' (EBAY_US) items", 25, 25, 25,
    )  # fmt: skip
    assert ctx.count_problems() == []


def test_ebay_short_page_set_is_a_problem_naming_both_counts(fetch_context, ebay):
    ebay.add_search(total=30, q="film camera", drop_next_from=20)  # `next` vanishes at 20

    records, ctx = ebay_counts(fetch_context, ebay, CAMERA)

    assert len(records) == 20
    assert ctx.count_problems() == [
        "search 'film camera' (EBAY_US) items: the source holds 30, 20 read"
    ]


def test_ebay_10k_cap_is_reported_not_failed(fetch_context, ebay, caplog):
    ebay.add_search(total=250_000, q="film camera")

    records, ctx = ebay_counts(fetch_context, ebay, {**CAMERA, "page_size": 200})

    assert len(records) == 10_000
    [count] = ctx.counts
    assert (count.source, count.expected, count.read) == (250_000, 10_000, 10_000)
    assert count.note == "240000 of 250000 results not readable: eBay's 10,000-result cap"
    assert ctx.count_problems() == []
    assert "eBay's 10,000-result cap" in caplog.text


def test_ebay_max_results_per_query_is_the_expected_count(fetch_context, ebay):
    ebay.add_search(total=100, q="film camera")

    _, ctx = ebay_counts(fetch_context, ebay, {**CAMERA, "max_results_per_query": 25})

    [count] = ctx.counts
    assert (count.source, count.expected, count.read) == (100, 25, 25)
    assert count.note == "75 of 100 results not readable: max_results_per_query 25"


def test_ebay_short_page_set_fails_the_provider_in_a_run(
    ebay, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
):
    monkeypatch.chdir(tmp_path)
    ebay.add_search(total=30, q="film camera", drop_next_from=20)
    (tmp_path / "pipeline.toml").write_text(
        '[providers.ebay]\nqueries = [{q = "film camera"}]\npage_size = 10\n'
    )
    registry = {"ebay": EbayProvider()}
    config = load_config(tmp_path / "pipeline.toml", registry)

    record = Runner(config, registry, ebay.env(), RunOptions(no_cache=True)).run().record

    entry = record["providers"]["ebay"]
    assert entry["status"] == "failed"
    assert entry["error"] == (
        "ebay: incomplete pull, nothing committed: "
        "search 'film camera' (EBAY_US) items: the source holds 30, 20 read"
    )
    assert entry["completeness"] == [
        {"what": "search 'film camera' (EBAY_US) items", "source": 30, "read": 20,
         "expected": 30, "tolerance": 0, "at_least": False},
    ]  # fmt: skip
    assert Lake(tmp_path / "data").committed_files("normalized") == []


# --- Amazon ----------------------------------------------------------------------------------


def asins(count: int) -> list[str]:
    return [f"B0TEST{n:04d}" for n in range(1, count + 1)]


def amazon_fetch(fetch_context: Any, fake: FakeCreatorsApi, wanted: list[str]) -> Any:
    provider = AmazonProvider()
    options = {"throttling_seconds": 0.0, "asins": wanted}
    ctx = fetch_context(provider, fake.env(), options)
    return list(provider.fetch(ctx)), ctx


def test_amazon_asins_refused_with_an_error_are_accounted_for(fetch_context, http_server):
    catalog = numbered_catalog(12)
    with FakeCreatorsApi(catalog, inaccessible={"B0TEST0003"}, server=http_server) as fake:
        records, ctx = amazon_fetch(fetch_context, fake, [*asins(12), "B0NOSUCH01"])

    assert len(records) == 11
    [count] = ctx.counts
    assert (count.source, count.read) == (13, 13)  # 11 returned, 2 refused by name
    assert ctx.count_problems() == []


def test_amazon_asins_neither_returned_nor_refused_are_a_problem(
    fetch_context, http_server: HTTPServer
):
    catalog = numbered_catalog(12)
    with FakeCreatorsApi(catalog, silent={"B0TEST0004", "B0TEST0011"}, server=http_server) as fake:
        records, ctx = amazon_fetch(fetch_context, fake, asins(12))

    assert len(records) == 10
    assert ctx.count_problems() == [
        "ASINs returned or refused with an error: the source holds 12, 10 read"
    ]
    assert "ASIN B0TEST0004: not returned" in ctx.stats.errors
