"""Shared fixtures: a fetch context for provider tests, and isolation from the real environment."""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator, Mapping
from typing import Any

import pytest
from pytest_httpserver import HTTPServer

from pipelines.net.http import HttpClient
from providers.base import FetchContext, Provider, ProviderStats


@pytest.fixture
def fetch_context() -> Callable[..., FetchContext]:
    """Build the context the runner would give ``provider.fetch`` (no cache, quick retries)."""

    def build(
        provider: Provider,
        env: Mapping[str, str],
        options: Mapping[str, Any] | None = None,
        limit: int | None = None,
        max_retries: int = 2,
    ) -> FetchContext:
        stats = ProviderStats()
        defaults = {o.name: o.default for o in provider.options}
        http = HttpClient(
            provider.name, stats, timeout=(2.0, 5.0), max_retries=max_retries, backoff_factor=0.01
        )
        return FetchContext(
            settings=provider.resolve_settings(env),
            options={**defaults, **(options or {})},
            http=http,
            stats=stats,
            log=logging.getLogger(f"pipeline.{provider.name}"),
            limit=limit,
        )

    return build


@pytest.fixture(scope="module")
def http_server() -> Iterator[HTTPServer]:
    """A started server on 127.0.0.1 that a module's tests share (stopping one takes ~0.5 s)."""
    server = HTTPServer(host="127.0.0.1", port=0)
    server.start()
    yield server
    server.stop()
