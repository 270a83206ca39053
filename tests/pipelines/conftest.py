"""Fixtures of the fault-injection tests (test_faults*.py): the three fakes on shared servers."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from pytest_httpserver import HTTPServer

from tests.fakes.ebay import FakeEbay
from tests.pipelines.fault_runs import Fakes, committed, run, serving


@pytest.fixture(scope="module")
def servers() -> Iterator[tuple[HTTPServer, HTTPServer, FakeEbay]]:
    """Servers for the whole module: stopping one takes half a second."""
    shopify, amazon = HTTPServer(host="127.0.0.1", port=0), HTTPServer(host="127.0.0.1", port=0)
    shopify.start()
    amazon.start()
    with FakeEbay() as ebay:
        yield shopify, amazon, ebay
    shopify.stop()
    amazon.stop()


@pytest.fixture
def fakes(servers) -> Iterator[Fakes]:
    with serving(servers) as fakes:
        yield fakes


@pytest.fixture(scope="module")
def clean_rows(servers, tmp_path_factory) -> dict[str, set[tuple[str, str]]]:
    """What a run without faults commits, per provider."""
    root = tmp_path_factory.mktemp("clean")
    with serving(servers) as fakes:
        record = run(root, fakes)
    assert record["exit_code"] == 0, record["providers"]
    rows: dict[str, set[tuple[str, str]]] = {}
    for source, source_id, content_hash in committed(root):
        rows.setdefault(source, set()).add((source_id, content_hash))
    assert {name: len(r) for name, r in rows.items()} == {"shopify": 6, "amazon": 12, "ebay": 25}
    return rows
