"""Shared by the orchestrator tests; standard library only (they run in each orchestrator's venv).

Every adapter test runs a real run: a one-provider plan (shopify, offline) whose extract step
fails once on purpose, so the adapter's retry is exercised too, with 1-second retry delays.
"""

from __future__ import annotations

import json
import stat
from pathlib import Path
from typing import Any

from orchestration.common import load_plan, resolve_python

FLAKY_STEP = "extract.shopify"
OFFLINE = ["--offline"]


def write_config(tmp: Path) -> Path:
    """A pipeline.toml writing to ``tmp`` whose plan has the shopify steps only."""
    config = tmp / "pipeline.toml"
    config.write_text(
        f'[pipeline]\ndata_dir = "{tmp / "data"}"\nlog_dir = "{tmp / "logs"}"\n\n'
        '[orchestration]\nproviders = ["shopify"]\n'
    )
    return config


def flaky_interpreter(tmp: Path) -> Path:
    """A stand-in interpreter that fails its first call, then runs the project's."""
    script = tmp / "flaky-python"
    marker = tmp / "failed-once"
    script.write_text(
        "#!/bin/sh\n"
        f'if [ ! -e "{marker}" ]; then\n'
        f'  touch "{marker}"; echo "failing once on purpose"; exit 1\n'
        "fi\n"
        f'exec "{resolve_python()}" "$@"\n'
    )
    script.chmod(script.stat().st_mode | stat.S_IXUSR)
    return script


def adapter_plan(tmp: Path) -> dict[str, Any]:
    """The plan of ``write_config``, its retries quick and its first extract failing once."""
    plan = load_plan(config=write_config(tmp))
    for step in plan["steps"]:
        step["retry_delay_seconds"] = min(step["retry_delay_seconds"], 1)
        if step["name"] == FLAKY_STEP:
            step["command"][0] = str(flaky_interpreter(tmp))
    return plan


def write_plan(tmp: Path) -> tuple[Path, dict[str, Any]]:
    plan = adapter_plan(tmp)
    path = tmp / "plan.json"
    path.write_text(json.dumps(plan))
    return path, plan


def checkpoint(tmp: Path, run_id: str) -> dict[str, Any]:
    return json.loads((tmp / "data/demo/_runs" / run_id / "checkpoint.json").read_text())


def assert_run_complete(tmp: Path, plan: dict[str, Any], run_id: str) -> None:
    """Every step of ``run_id`` done, the flaky one after a failure, and the run logged."""
    assert (tmp / "failed-once").exists(), "the flaky step never failed: retries untested"
    steps = checkpoint(tmp, run_id)["steps"]
    assert {name: s["status"] for name, s in steps.items()} == {
        s["name"]: "done" for s in plan["steps"]
    }
    runs = [json.loads(line) for line in (tmp / "logs/runs.jsonl").read_text().splitlines()]
    assert runs[-1]["run_id"] == run_id
    assert runs[-1]["providers"]["shopify"]["status"] == "ok"
    assert list((tmp / "data/demo/normalized").rglob("source=shopify/*.parquet"))
