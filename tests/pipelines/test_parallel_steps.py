"""Steps of one run in separate processes at once: no lock makes them take turns, and the
run's checkpoint keeps every step's status (``pipelines/run/checkpoint.py``)."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from datetime import datetime
from pathlib import Path

import pytest

from tests.pipelines.test_cli import clean_env, cli
from tests.pipelines.test_resume import lake_rows

PAUSE_AT = Path(__file__).with_name("pause_at.py")
EXTRACT = "pipelines.run.extract:Extractor.extract"  # inside the step, before any fetch
DEMO = Path("data/demo")
RUN_ID = "20261122T001500Z-c0ffee"
PROVIDERS = ("shopify", "ebay")


@pytest.fixture(scope="module")
def reference(tmp_path_factory: pytest.TempPathFactory) -> list[tuple]:
    workdir = tmp_path_factory.mktemp("clean")
    assert cli("--offline", cwd=workdir).returncode == 0
    return lake_rows(workdir / DEMO)


def paused_step(workdir: Path, provider: str) -> tuple[subprocess.Popen, Path]:
    """``run-step extract.<provider>`` of the run, pausing inside its extract until released."""
    marker = workdir / f"in-{provider}"
    command = [sys.executable, str(PAUSE_AT), EXTRACT, "1", str(marker), "60", "--",
               "run-step", f"extract.{provider}", "--run-id", RUN_ID, "--offline"]  # fmt: skip
    process = subprocess.Popen(command, cwd=workdir, env=clean_env(), text=True,
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE)  # fmt: skip
    return process, marker


def wait_for(markers: list[Path], processes: list[subprocess.Popen]) -> None:
    deadline = time.monotonic() + 60
    while not all(m.exists() for m in markers):
        for process in processes:
            assert process.poll() is None, process.communicate()
        assert time.monotonic() < deadline, "the steps were never inside their extracts at once"
        time.sleep(0.05)


def test_two_extract_steps_of_one_run_overlap_and_the_checkpoint_keeps_both(
    tmp_path: Path, reference: list[tuple]
) -> None:
    steps = [paused_step(tmp_path, provider) for provider in PROVIDERS]
    processes, markers = [p for p, _ in steps], [m for _, m in steps]
    wait_for(markers, processes)  # both are inside their extract now: neither waits on the other
    checkpoint_path = tmp_path / DEMO / "_runs" / RUN_ID / "checkpoint.json"
    running = json.loads(checkpoint_path.read_text())["steps"]
    assert {running[f"extract.{p}"]["status"] for p in PROVIDERS} == {"running"}
    for marker in markers:
        marker.with_name(marker.name + ".go").write_text("go")
    for process in processes:
        _, stderr = process.communicate(timeout=120)
        assert process.returncode == 0, stderr
    entries = json.loads(checkpoint_path.read_text())["steps"]
    first, second = (entries[f"extract.{p}"] for p in PROVIDERS)
    assert (first["status"], second["status"]) == ("done", "done")
    assert first["outputs"]
    assert second["outputs"]
    moment = datetime.fromisoformat
    assert moment(first["started_at"]) < moment(second["ended_at"])
    assert moment(second["started_at"]) < moment(first["ended_at"])  # the two overlapped
    resumed = cli("--resume", RUN_ID, "--offline", cwd=tmp_path)
    assert resumed.returncode == 0, resumed.stderr
    final = json.loads(checkpoint_path.read_text())["steps"]
    assert {entry["status"] for entry in final.values()} == {"done"}
    assert final[f"extract.{PROVIDERS[0]}"]["attempts"] == 1  # not fetched again
    assert lake_rows(tmp_path / DEMO) == reference
