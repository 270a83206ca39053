"""Shared fixtures: the three fakes on shared servers (test_faults*.py), and a clean working
folder with no provider credentials in the environment."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from pytest_httpserver import HTTPServer

from providers.registry import load_providers
from tests.fakes.ebay import FakeEbay
from tests.pipelines.fault_runs import Fakes, committed, run, serving
from tests.pipelines.test_cli import cli


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


@pytest.fixture
def workdir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """``tmp_path`` as the working folder, with no provider setting and no CI variable set."""
    settings = {s.env for provider in load_providers().values() for s in provider.settings}
    for name in settings | {"CI", "GITHUB_ACTIONS"}:
        monkeypatch.delenv(name, raising=False)
    monkeypatch.chdir(tmp_path)
    return tmp_path


@pytest.fixture(scope="module")
def lake_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A work folder holding the offline demo's lake, made once per test module."""
    workdir = tmp_path_factory.mktemp("demo")
    result = cli("--offline", cwd=workdir)
    assert result.returncode == 0, result.stderr
    return workdir
