"""download-artifacts and the state restore, against a fake GitHub on 127.0.0.1.

Verified products artifacts merged into the lake; the state from the newest pipeline-state.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

import duckdb
import pytest

from pipelines.config import load_config
from pipelines.errors import FatalProviderError
from pipelines.ops.state_sync import STATE_ARTIFACT, restore_state, stage_products, stage_state
from pipelines.run.options import RunOptions
from pipelines.run.runner import Runner
from pipelines.run_pipeline import main
from tests.catalog_provider import CatalogProvider, make_record
from tests.fakes.github import FakeGitHub

# ---------------------------------------------------------------- artifacts


def make_runs(remote: Path, monkeypatch: pytest.MonkeyPatch, sizes: list[int]) -> list[dict]:
    """Real pipeline runs in ``remote``: records with their committed lake files."""
    monkeypatch.chdir(remote)
    records = []
    for size in sizes:
        provider = CatalogProvider([make_record(i, price=f"{10 + size}.00") for i in range(size)])
        registry = {provider.name: provider}
        config = load_config(None, registry)
        result = Runner(config, registry, {"CATALOG_TOKEN": "t0ken"}, RunOptions()).run()
        records.append(result.record)
    return records


def publish_products(gh: FakeGitHub, remote: Path, record: dict, run_id: int, **kw: Any) -> Path:
    folder = remote.parent / f"products-{run_id}"
    stage_products(record, remote, Path("logs"), folder, include_raw=True)
    gh.add_run(run_id)
    gh.add_artifact(f"products-{run_id}-1", run_id, folder, **kw)
    return folder


def tree(root: Path) -> dict[str, tuple[str, int]]:
    return {
        p.relative_to(root).as_posix(): (
            hashlib.sha256(p.read_bytes()).hexdigest(),
            p.stat().st_mtime_ns,
        )
        for p in sorted(root.rglob("*"))
        if p.is_file()
    }


def test_download_merges_verified_artifacts_idempotently(
    gh: FakeGitHub, github_env: Path, remote: Path, monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:  # fmt: skip
    first, second, third = make_runs(remote, monkeypatch, [3, 4, 2])
    publish_products(gh, remote, first, 11)
    publish_products(gh, remote, second, 12)
    publish_products(gh, remote, third, 13, expired=True)
    monkeypatch.chdir(github_env)
    assert main(["download-artifacts", "--runs", "3"]) == 0
    out = capsys.readouterr().out
    assert "products-13-1 (run 13): skipped: artifact products-13-1" in out
    assert "has expired" in out
    local = tree(github_env / "data")
    wanted = {f"_manifests/{r['run_id']}.json" for r in (first, second)}
    assert wanted <= set(local)
    assert f"_manifests/{third['run_id']}.json" not in local
    for path, (digest, _) in local.items():
        assert hashlib.sha256((remote / "data" / path).read_bytes()).hexdigest() == digest
    assert all("Authorization" not in r.headers for r in gh.blob_requests)
    assert len(gh.blob_requests) == 2

    assert main(["download-artifacts", "--runs", "3"]) == 0
    assert "0 file(s) copied" in capsys.readouterr().out
    assert tree(github_env / "data") == local

    query = """
        SELECT source_id, price_amount FROM read_parquet('data/normalized/*/*/*.parquet',
            hive_partitioning = true)
        QUALIFY row_number() OVER (PARTITION BY source, source_id ORDER BY fetched_at DESC) = 1
        ORDER BY source_id
    """
    rows = duckdb.sql(query).fetchall()
    assert [(sid, float(price)) for sid, price in rows] == [
        ("item-0", 14.0), ("item-1", 14.0), ("item-2", 14.0), ("item-3", 14.0),
    ]  # fmt: skip


def test_download_refuses_a_tampered_artifact_and_merges_nothing_of_it(
    gh: FakeGitHub, github_env: Path, remote: Path, monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:  # fmt: skip
    [record] = make_runs(remote, monkeypatch, [3])
    folder = remote.parent / "tampered"
    stage_products(record, remote, Path("logs"), folder, include_raw=True)
    part = next(folder.rglob("normalized/**/*.parquet"))
    part.write_bytes(part.read_bytes()[:-9] + b"corrupted")
    gh.add_run(21)
    gh.add_artifact("products-21-2", 21, folder)
    gh.add_artifact("products-21-1", 21, b"attempt 1, never read: attempt 2 is the latest")
    gh.add_run(22)
    gh.add_artifact("products-22-1", 22, b"not a zip")
    monkeypatch.chdir(github_env)
    assert main(["download-artifacts", "--run-id", "21"]) == 1
    assert "size or sha256 differs from the manifest" in capsys.readouterr().out
    assert main(["download-artifacts", "--run-id", "22"]) == 1
    assert "artifact.zip: not a zip archive" in capsys.readouterr().out
    assert not (github_env / "data").exists()


def test_download_of_an_unknown_run_is_a_clear_error(
    gh: FakeGitHub, github_env: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["download-artifacts", "--run-id", "999"]) == 1
    assert "404 Not Found from github run 999" in capsys.readouterr().err


# ---------------------------------------------------------------- state restore


def test_state_comes_from_the_newest_unexpired_artifact_of_the_branch(
    gh: FakeGitHub, remote: Path, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    records = make_runs(remote, monkeypatch, [2, 3])
    config = load_config(None, {"catalog": CatalogProvider()})
    staged = tmp_path / "staged"
    stage_state(config, remote, staged)
    for run_id in (30, 31, 33):
        gh.add_run(run_id)
    gh.add_run(32, branch="feature")
    gh.add_artifact(STATE_ARTIFACT, 30, b"old state, never read")
    gh.add_artifact(STATE_ARTIFACT, 31, staged)
    gh.add_artifact(STATE_ARTIFACT, 32, b"another branch", branch="feature")
    gh.add_artifact(STATE_ARTIFACT, 33, b"expired", expired=True)
    fresh = tmp_path / "fresh"
    fresh.mkdir()
    env = {**gh.env(), "GITHUB_REF_NAME": "main"}
    restored = restore_state(config, env, fresh, None, "")
    assert (restored.source, restored.detail) == ("artifact", "artifact pipeline-state of run 31")
    assert (fresh / "data/state/state.json").read_bytes() == (
        remote / "data/state/state.json"
    ).read_bytes()
    runs = (fresh / "logs/runs.jsonl").read_text().splitlines()
    assert [json.loads(line)["run_id"] for line in runs] == [r["run_id"] for r in records]


def test_no_cache_and_no_artifact_means_bootstrap_and_an_api_error_is_raised(
    gh: FakeGitHub, tmp_path: Path
) -> None:
    config = load_config(None, {})
    restored = restore_state(config, gh.env(), tmp_path, tmp_path / "no-cache", "")
    assert restored.source == "none"
    with pytest.raises(FatalProviderError, match="401"):
        restore_state(config, gh.env(token="ghs_revoked"), tmp_path, None, "")
