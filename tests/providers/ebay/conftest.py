"""Fixtures of the eBay provider tests: one fake eBay per module, emptied for each test."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.fakes.ebay import FakeEbay


@pytest.fixture(scope="module")
def fake_server() -> Iterator[FakeEbay]:
    with FakeEbay() as server:
        yield server


@pytest.fixture
def fake(fake_server: FakeEbay) -> FakeEbay:
    """The module's fake eBay, emptied for this test (a server start/stop costs ~0.5 s)."""
    fake_server.reset()
    return fake_server
