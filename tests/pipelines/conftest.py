"""Fixtures of the fault-injection tests (test_faults*.py): the three fakes on shared servers."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from pytest_httpserver import HTTPServer

from tests.fakes.ebay import FakeEbay
from tests.pipelines.fault_runs import Fakes, serving


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
