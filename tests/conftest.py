"""Shared fixtures: a fetch context for provider tests, and isolation from the real environment.

Also the module-wide servers: a plain HTTP server, and the fake GitHub of the GitHub tests;
and, as a plug-in, the real PostgreSQL server of ``tests/postgres_server.py``.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator, Mapping
from datetime import date
from pathlib import Path
from typing import Any

import pytest
from pytest_httpserver import HTTPServer
from werkzeug import Request, Response

from pipelines.net.http import HttpClient
from providers.base import FetchContext, Provider, ProviderStats
from tests.fakes.github import FakeGitHub

pytest_plugins = ["tests.postgres_server"]  # postgres_server, postgres_dsn

TEST_TODAY = date(2026, 12, 5)


@pytest.fixture(autouse=True)
def fixed_today(monkeypatch: pytest.MonkeyPatch) -> None:
    """Shopify's API version is judged on a fixed day, not the machine's: the default version
    would otherwise start warning, then failing, as the real date passes its support window."""
    monkeypatch.setattr("providers.shopify.utc_today", lambda: TEST_TODAY)


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


@pytest.fixture(scope="module")
def gh_server() -> Iterator[FakeGitHub]:
    with FakeGitHub(page_cap=2) as fake:
        yield fake


@pytest.fixture
def gh(gh_server: FakeGitHub) -> FakeGitHub:
    gh_server.reset()
    return gh_server


@pytest.fixture
def github_env(gh: FakeGitHub, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Path:
    """The working directory of a command run with the fake's URL, repository and token."""
    for name, value in gh.env().items():
        monkeypatch.setenv(name, value)
    monkeypatch.delenv("GITHUB_STEP_SUMMARY", raising=False)
    monkeypatch.delenv("GITHUB_ACTIONS", raising=False)
    work = tmp_path / "work"
    work.mkdir()
    monkeypatch.chdir(work)
    return work


@pytest.fixture
def remote(tmp_path: Path) -> Path:
    """The working directory of the "runner" whose runs the artifact tests publish."""
    path = tmp_path / "remote"
    path.mkdir()
    return path


@pytest.fixture
def serve(http_server: HTTPServer) -> Callable[..., list[Request]]:
    """Answer ``/api`` with ``answers`` in turn (the last one from then on); return the log."""

    def install(*answers: Callable[[Request], Response] | Response) -> list[Request]:
        seen: list[Request] = []

        def handler(request: Request) -> Response:
            seen.append(request)
            answer = answers[min(len(seen), len(answers)) - 1]
            return answer if isinstance(answer, Response) else answer(request)

        http_server.clear()
        http_server.expect_request("/api").respond_with_handler(handler)
        return seen

    return install
