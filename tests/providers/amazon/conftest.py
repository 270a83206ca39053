"""Fixtures of the Amazon provider tests: the provider, and fake Creators APIs to fetch from."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from pytest_httpserver import HTTPServer

from providers.amazon import AmazonProvider
from tests.fakes.amazon import FakeCreatorsApi, numbered_catalog
from tests.providers.amazon.helpers import Serve


@pytest.fixture
def provider() -> AmazonProvider:
    return AmazonProvider()


@pytest.fixture
def serve(http_server: HTTPServer) -> Serve:
    """Build a fake Creators API on the shared server: ``with serve(catalog, ...) as fake``."""

    def build(catalog: list[dict[str, Any]], **kwargs: Any) -> FakeCreatorsApi:
        return FakeCreatorsApi(catalog, server=http_server, **kwargs)

    return build


@pytest.fixture
def fake(serve: Serve) -> Iterator[FakeCreatorsApi]:
    catalog = numbered_catalog(25)
    hub = [item["asin"] for item in catalog]
    with serve(catalog, searches={"usb c hub": hub[::-1]}) as server:
        yield server
