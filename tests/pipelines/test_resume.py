"""Kill a run with SIGKILL in every step, resume it, and get the lake of an uninterrupted run."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from pipelines.lake.lake import Lake
from tests.pipelines.test_cli import clean_env, cli

KILL_AT = Path(__file__).with_name("kill_at.py")

# (function to kill in, on which call): one point in every step of the graph.
KILL_POINTS = [
    ("pipelines.lake.lake:RawWriter.write", 30),  # extract.shopify, mid-fetch
    ("pipelines.lake.lake:RawWriter.write", 120),  # extract.amazon
    ("pipelines.run.process:NormalizeStage.flush", 2),  # normalize.shopify
    ("pipelines.run.gate:gate_verdict", 2),  # quality
    ("pipelines.run.process:DedupStage.feed", 2),  # write, before the commit
    ("pipelines.lake.lake:_sha256", 2),  # write, files moved but no manifest yet
    ("pipelines.run.write:save_state", 1),  # write, manifest written, state not yet
    ("pipelines.run.runner:judge_volumes", 1),  # detect
    ("pipelines.run.runner:write_reports", 1),  # report
]


def lake_rows(root: Path) -> list[tuple]:
    """The committed rows, without the columns that differ between runs."""
    columns = ["source", "source_id", "change_type", "content_hash"]
    table = Lake(root).dataset("normalized").to_table(columns=columns)
    return sorted(tuple(r.values()) for r in table.to_pylist())


@pytest.fixture(scope="module")
def reference(tmp_path_factory: pytest.TempPathFactory) -> list[tuple]:
    workdir = tmp_path_factory.mktemp("reference")
    assert cli("--offline", cwd=workdir).returncode == 0
    rows = lake_rows(workdir / "data/demo")
    assert len(rows) > 150
    return rows


@pytest.mark.parametrize(("target", "nth"), KILL_POINTS)
def test_killed_run_resumes_to_the_same_lake(
    tmp_path: Path, reference: list[tuple], target: str, nth: int
) -> None:
    killed = subprocess.run(
        [sys.executable, str(KILL_AT), target, str(nth), "--", "--offline"],
        cwd=tmp_path, env=clean_env(), capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert killed.returncode == -signal.SIGKILL, killed.stderr
    resumed = cli("--resume", "--offline", cwd=tmp_path)
    assert resumed.returncode == 0, resumed.stderr
    assert lake_rows(tmp_path / "data/demo") == reference
    runs = (tmp_path / "logs/demo/runs.jsonl").read_text().splitlines()
    assert len(runs) == 1
    assert json.loads(runs[0])["exit_code"] == 0
    again = cli("--offline", cwd=tmp_path)
    assert (
        json.loads((tmp_path / "logs/demo/runs.jsonl").read_text().splitlines()[-1])["totals"][
            "written"
        ]
        == 0
    ), again.stderr


def test_run_step_by_step_equals_a_plain_run(tmp_path: Path, reference: list[tuple]) -> None:
    run_id = "20261122T010000Z-abcdef"
    providers = ("shopify", "amazon", "ebay")
    steps = [f"extract.{p}" for p in providers] + [f"normalize.{p}" for p in providers]
    steps += ["quality", "write", "detect", "report"]
    first = cli("run-step", steps[0], "--run-id", run_id, "--offline", cwd=tmp_path)
    assert first.returncode == 0, first.stderr
    for step in steps[1:]:
        result = cli("run-step", step, "--run-id", run_id, cwd=tmp_path)
        assert result.returncode == 0, (step, result.stderr)
    assert lake_rows(tmp_path / "data/demo") == reference
    again = cli("run-step", "write", "--run-id", run_id, cwd=tmp_path)
    assert again.returncode == 0
    assert "already done" in again.stderr
    status = cli("--status", run_id, cwd=tmp_path)
    assert "extract.shopify" in status.stdout
    assert "done" in status.stdout


def test_run_step_refuses_unknown_steps_and_unmet_dependencies(tmp_path: Path) -> None:
    run_id = "20261122T010000Z-abcdef"
    early = cli("run-step", "write", "--run-id", run_id, "--offline", cwd=tmp_path)
    assert early.returncode == 2
    assert "waits for quality" in early.stderr
    unknown = cli("run-step", "extract.nope", "--run-id", run_id, cwd=tmp_path)
    assert unknown.returncode == 2
    assert "unknown step 'extract.nope'" in unknown.stderr
    bad_id = cli("run-step", "quality", "--run-id", "yesterday", cwd=tmp_path)
    assert bad_id.returncode == 2
    assert "--run-id: 'yesterday' is not a run id" in bad_id.stderr


def test_resume_with_nothing_to_resume_is_a_usage_error(tmp_path: Path) -> None:
    result = cli("--resume", cwd=tmp_path)
    assert result.returncode == 2
    assert "no unfinished run" in result.stderr
    assert os.listdir(tmp_path) == []
