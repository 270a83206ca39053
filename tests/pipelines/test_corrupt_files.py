"""Corrupt local files other than the state: an old run's checkpoint, the SQLite mirror of the
run log, response cache entries; and a write step stopped by another run's lock."""

from __future__ import annotations

import json
import logging
import sqlite3
from pathlib import Path

import pytest
from pytest_httpserver import HTTPServer

from pipelines.config import load_config
from pipelines.errors import ConfigError
from pipelines.lake.lock import LakeLock, LakeLockedError
from pipelines.net.cache import ResponseCache, cache_key
from pipelines.net.http import HttpClient
from pipelines.net.stats import ProviderStats
from pipelines.run.checkpoint import FAILED, Checkpoint, unfinished_runs
from pipelines.run.options import RunOptions
from pipelines.run.progress import Progress
from pipelines.run.runner import Runner
from pipelines.run.runs import find_checkpoint, runner_for_run
from tests.catalog_provider import CatalogProvider, make_record
from tests.pipelines.lake_compare import assert_same_lake

ENV = {"CATALOG_TOKEN": "t0ken-value"}
RECORDS = [make_record(i) for i in range(4)]


def runner(root: Path, provider: CatalogProvider, **pipeline) -> Runner:
    config = load_config(None, {"catalog": provider})
    config = config.with_pipeline(
        data_dir=str(root / "data"), log_dir=str(root / "logs"), **pipeline
    )
    return Runner(config, {"catalog": provider}, ENV, RunOptions())


def test_a_truncated_old_checkpoint_marks_that_run_abandoned(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    failing = CatalogProvider(RECORDS)
    failing.fail_after = 2
    killed = runner(tmp_path, failing).run().record["run_id"]
    path = tmp_path / f"data/_runs/{killed}/checkpoint.json"
    path.write_bytes(path.read_bytes()[:50])

    with caplog.at_level(logging.WARNING):
        result = runner(tmp_path, CatalogProvider(RECORDS)).run()

    assert result.exit_code == 0
    assert any(str(path) in r.message and "abandoned" in r.message for r in caplog.records)
    assert path.with_name("checkpoint.json.corrupt").exists()
    assert Checkpoint.load(tmp_path / "data", killed).abandoned
    assert unfinished_runs(tmp_path / "data") == []
    clean = tmp_path / "clean"
    runner(clean, CatalogProvider(RECORDS)).run()
    assert_same_lake(tmp_path / "data", clean / "data")


def test_an_unreadable_checkpoint_asked_for_by_id_is_one_error_naming_it(tmp_path: Path) -> None:
    run_id = runner(tmp_path, CatalogProvider(RECORDS)).run().record["run_id"]
    path = tmp_path / f"data/_runs/{run_id}/checkpoint.json"
    path.write_text('{"run_id": "x", "steps": {"write": {}}}')
    config = load_config(None, {}).with_pipeline(data_dir=str(tmp_path / "data"))

    with pytest.raises(ConfigError, match=f"{path} is unreadable"):
        find_checkpoint(config, run_id)
    with pytest.raises(ConfigError, match=f"{path} is unreadable"):
        runner_for_run(config, {}, ENV, run_id)


def test_a_garbage_runs_sqlite_is_rebuilt_from_runs_jsonl(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    first = runner(tmp_path, CatalogProvider(RECORDS)).run().record["run_id"]
    mirror = tmp_path / "logs/runs.sqlite"
    mirror.write_bytes(b"this is not a database" * 100)

    with caplog.at_level(logging.WARNING):
        result = runner(tmp_path, CatalogProvider([*RECORDS, make_record(9)])).run()

    second = result.record["run_id"]
    assert result.exit_code == 0
    assert (tmp_path / f"logs/report-{second}.md").exists()  # the report was written
    assert any(f"{mirror} is unreadable" in r.getMessage() for r in caplog.records)
    with sqlite3.connect(mirror) as db:
        runs = [row[0] for row in db.execute("SELECT run_id FROM runs ORDER BY run_id")]
    assert runs == sorted([first, second])
    assert mirror.with_name("runs.sqlite.corrupt").exists()


def test_a_write_stopped_by_another_runs_lock_is_recorded_as_failed(tmp_path: Path) -> None:
    blocked = runner(tmp_path, CatalogProvider(RECORDS), lock_wait_seconds=0.0)
    holder = LakeLock(blocked.storage, "other run", 60.0, 0.0)
    with holder, pytest.raises(LakeLockedError):
        blocked.run()

    checkpoint = find_checkpoint(blocked.config, blocked.run_id)
    assert checkpoint.status("write") == FAILED
    assert "LakeLockedError" in checkpoint.steps["write"]["error"]


@pytest.fixture
def cached_client(tmp_path: Path, http_server: HTTPServer):
    """A client with a response cache, and the cache key of GET /items."""
    http_server.clear()
    http_server.expect_request("/items").respond_with_json({"items": [1, 2]})
    url = http_server.url_for("/items")

    def build(refresh: bool = False) -> tuple[HttpClient, ResponseCache]:
        cache = ResponseCache(tmp_path / "cache", 3600, refresh=refresh)
        return HttpClient("test", ProviderStats(), cache=cache), cache

    return build, url, cache_key("GET", url, None, None, None, {})


@pytest.mark.parametrize("entry", [{}, {"status": 200}, [], "text", {"status": "200", "body": 1}])
def test_a_malformed_cache_entry_is_ignored_and_overwritten(cached_client, entry) -> None:
    build, url, key = cached_client
    client, cache = build()
    cache.put(key, entry)

    response = client.request("GET", url, what="items", cacheable=True)

    assert json.loads(response.body) == {"items": [1, 2]}
    assert client.stats.api_calls == 1
    assert cache.get_response(key)["status"] == 200  # the fresh answer replaced it


def test_full_refresh_reads_no_cache_entry_and_stores_the_fresh_one(cached_client) -> None:
    build, url, key = cached_client
    _, cache = build()
    cache.put(key, {"status": 200, "headers": {}, "body": '{"items": ["edited"]}'})
    client, _ = build(refresh=True)

    response = client.request("GET", url, what="items", cacheable=True)

    assert json.loads(response.body) == {"items": [1, 2]}
    assert (client.stats.api_calls, client.stats.cache_hits) == (1, 0)
    assert json.loads(cache.get_response(key)["body"]) == {"items": [1, 2]}


def test_full_refresh_runs_build_a_refreshing_cache(tmp_path: Path) -> None:
    provider = CatalogProvider(RECORDS)
    for options, refresh in ((RunOptions(), False), (RunOptions(full_refresh=True), True)):
        run = runner(tmp_path, provider, cache_dir=str(tmp_path / "cache"))
        run.options = options
        progress = Progress(provider.name)
        ctx = run._extractor()._fetch_context(provider, ENV, {}, ProviderStats(), progress)
        assert ctx.cache.refresh is refresh
