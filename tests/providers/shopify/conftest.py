"""Fixtures of the Shopify provider tests: the provider, a small catalog and a fake shop."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from pytest_httpserver import HTTPServer

from providers.shopify import ShopifyProvider
from tests.fakes.shopify import FakeShopify, make_product


@pytest.fixture
def provider() -> ShopifyProvider:
    return ShopifyProvider()


@pytest.fixture
def catalog() -> list[dict[str, Any]]:
    """Seven products; the second has three variants."""
    products = [make_product(n) for n in range(1, 8)]
    products[1] = make_product(2, variants=3)
    return products


@pytest.fixture
def shopify(catalog: list[dict[str, Any]], http_server: HTTPServer) -> Iterator[FakeShopify]:
    with FakeShopify(catalog, server=http_server) as fake:
        yield fake
