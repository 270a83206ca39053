"""The completeness counts in the run record, the Markdown and HTML reports and the metrics."""

from __future__ import annotations

import logging
from typing import Any

import pytest
from prometheus_client import generate_latest
from prometheus_client.parser import text_string_to_metric_families

from pipelines.checks.completeness import completeness_rows
from pipelines.checks.report import render_html, render_markdown
from pipelines.errors import IncompleteFetchError
from pipelines.ops.metrics import run_metrics_registry
from pipelines.run.extract import check_counts, run_stats
from providers.base import FetchContext, ProviderStats

BULK = {"what": "bulk objects (JSONL lines)", "source": 167, "read": 164, "expected": 167,
        "tolerance": 0, "at_least": False}  # fmt: skip
EBAY = {"what": "search 'film camera' (EBAY_US) items", "source": 250000, "read": 10000,
        "expected": 10000, "tolerance": 0, "at_least": False,
        "note": "240000 of 250000 results not readable: eBay's 10,000-result cap"}  # fmt: skip
RECORD: dict[str, Any] = {
    "run_id": "20261205T120000Z-abc123",
    "mode": "live",
    "exit_code": 1,
    "providers": {
        "shopify": {"status": "failed", "completeness": [BULK], "errors": []},
        "ebay": {"status": "ok", "completeness": [EBAY], "errors": []},
        "amazon": {"status": "skipped", "reason": "missing AMAZON_CREATORS_CREDENTIAL_ID"},
    },
}


def test_completeness_rows_give_a_verdict_per_count() -> None:
    assert completeness_rows(RECORD) == [
        ["shopify", "bulk objects (JSONL lines)", "167", "167", "164", "INCOMPLETE"],
        [
            "ebay", "search 'film camera' (EBAY_US) items", "250000", "10000", "10000",
            "complete (240000 of 250000 results not readable: eBay's 10,000-result cap)",
        ],
    ]  # fmt: skip


def test_an_at_least_count_is_shown_as_a_lower_bound_and_fails_only_short() -> None:
    over = {"what": "products", "source": 10, "read": 12, "expected": 10, "at_least": True}
    record = {"providers": {"shopify": {"completeness": [over]}}}
    assert completeness_rows(record) == [["shopify", "products", "≥ 10", "10", "12", "complete"]]


def test_markdown_and_html_reports_carry_the_completeness_table() -> None:
    markdown = render_markdown(RECORD, [], None)
    assert "## Completeness" in markdown
    assert "| shopify | bulk objects (JSONL lines) | 167 | 167 | 164 | INCOMPLETE |" in markdown
    html = render_html(RECORD, [], None)
    assert "<h2>Completeness</h2>" in html
    assert "<td>INCOMPLETE</td>" in html
    empty = render_markdown({"run_id": "r", "mode": "live", "providers": {}}, [], None)
    assert "## Completeness\n\nNo counts recorded." in empty


def test_metrics_carry_source_expected_and_read() -> None:
    text = generate_latest(run_metrics_registry(RECORD, None)).decode()
    samples = {
        (s.name, frozenset(s.labels.items())): s.value
        for family in text_string_to_metric_families(text)
        for s in family.samples
        if s.name == "product_pipeline_source_objects"
    }
    bulk = {"provider": "shopify", "what": "bulk objects (JSONL lines)", "mode": "live"}
    assert (
        samples[("product_pipeline_source_objects", frozenset({**bulk, "count": "source"}.items()))]
        == 167
    )
    assert (
        samples[("product_pipeline_source_objects", frozenset({**bulk, "count": "read"}.items()))]
        == 164
    )
    assert len(samples) == 6


def test_check_counts_names_every_disagreeing_count() -> None:
    ctx = FetchContext(
        settings={}, options={}, http=None, stats=ProviderStats(), log=logging.getLogger("test")
    )
    ctx.expect("products", source_count=10, read=10)
    ctx.expect(
        "variants", source_count=30, read=27, note="products gid://shopify/Product/2 (1 of 4)"
    )
    ctx.expect("items", source_count=5, read=7, tolerance=1)

    with pytest.raises(IncompleteFetchError) as caught:
        check_counts("shopify", ctx)

    assert str(caught.value) == (
        "shopify: incomplete pull, nothing committed: "
        "variants: the source holds 30, 27 read (products gid://shopify/Product/2 (1 of 4)); "
        "items: the source holds 5, 7 read (tolerance 1)"
    )
    assert run_stats(ctx.stats, ctx)["completeness"][1] == {
        "what": "variants", "source": 30, "read": 27, "expected": 30, "tolerance": 0,
        "at_least": False, "note": "products gid://shopify/Product/2 (1 of 4)",
    }  # fmt: skip
