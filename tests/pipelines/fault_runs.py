"""Whole runs through ``Runner`` against the three fake APIs, for the fault-injection tests:
the fakes on a module's servers, the run's config, one run and the rows it committed.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pytest_httpserver import HTTPServer

from pipelines.config import load_config
from pipelines.lake.lake import Lake
from pipelines.run.options import RunOptions
from pipelines.run.runner import Runner
from providers.amazon import AmazonProvider
from providers.base import Provider
from providers.ebay import EbayProvider
from providers.shopify import ShopifyProvider
from tests.fakes.amazon import FakeCreatorsApi, numbered_catalog
from tests.fakes.ebay import FakeEbay
from tests.fakes.shopify import FakeShopify, make_product

# Tiny backoff and time-outs keep every case well under a second of waiting.
PIPELINE = {
    "http_backoff_seconds": 0.001,
    "http_timeout_seconds": 0.5,
    "http_connect_timeout_seconds": 1.0,
    "http_max_retries": 3,
    "http_retry_budget": 20,
    "http_breaker_threshold": 5,
}
ASINS = [f"B0TEST{n:04d}" for n in range(1, 13)]  # two GetItems batches: 10 and 2
EBAY_ITEMS = 25  # three pages of 10


@dataclass
class Fakes:
    """The three fake APIs of one test, and the environment pointing the providers at them."""

    shopify: FakeShopify
    amazon: FakeCreatorsApi
    ebay: FakeEbay

    def env(self) -> dict[str, str]:
        return {**self.shopify.env(), **self.amazon.env(), **self.ebay.env()}


@contextmanager
def serving(servers: tuple[HTTPServer, HTTPServer, FakeEbay]) -> Iterator[Fakes]:
    """The three fakes with their default catalogs, on the module's servers."""
    shopify_server, amazon_server, ebay = servers
    ebay.reset()
    ebay.add_search(total=EBAY_ITEMS, q="film camera")
    shopify = FakeShopify([make_product(n) for n in range(1, 7)], server=shopify_server)
    amazon = FakeCreatorsApi(numbered_catalog(len(ASINS)), server=amazon_server)
    with shopify, amazon:
        yield Fakes(shopify, amazon, ebay)


def write_config(path: Path, ebay_page_size: int, **pipeline: Any) -> Path:
    settings = {**PIPELINE, **pipeline}
    lines = ["[pipeline]", *(f"{k} = {json.dumps(v)}" for k, v in settings.items())]
    lines += ["[providers.amazon]", f"asins = {json.dumps(ASINS)}", "throttling_seconds = 0.0"]
    lines += ["[providers.ebay]", f"page_size = {ebay_page_size}"]
    lines += ['queries = [{ q = "film camera" }]']
    path.write_text("\n".join(lines) + "\n")
    return path


def run(
    root: Path,
    fakes: Fakes,
    *,
    only: tuple[str, ...] | None = None,
    ebay_page_size: int = 10,
    max_duration: float | None = None,
    **pipeline: Any,
) -> dict[str, Any]:
    """One run into ``root`` (of the providers ``only`` names); the record in the run log."""
    registry: dict[str, Provider] = {
        p.name: p for p in (ShopifyProvider(), AmazonProvider(), EbayProvider())
    }
    path = write_config(root / "pipeline.toml", ebay_page_size, **pipeline)
    config = load_config(path, registry)
    config = config.with_pipeline(data_dir=str(root / "data"), log_dir=str(root / "logs"))
    options = RunOptions(providers=only, no_cache=True, max_duration=max_duration)
    result = Runner(config, registry, fakes.env(), options).run()
    record = json.loads((root / "logs" / "runs.jsonl").read_text().splitlines()[-1])
    assert record["exit_code"] == result.exit_code
    return record


def committed(root: Path) -> list[tuple[str, str, str]]:
    """(source, source_id, content_hash) of every committed normalized row."""
    columns = ["source", "source_id", "content_hash"]
    table = Lake(root / "data").dataset("normalized").to_table(columns=columns)
    return [(row["source"], row["source_id"], row["content_hash"]) for row in table.to_pylist()]
