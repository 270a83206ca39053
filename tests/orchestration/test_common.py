"""orchestration.common: the run id, the step command and running a step, as every adapter does."""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime
from pathlib import Path

import pytest

from orchestration import common
from orchestration.common import (
    PLAN_ENV,
    PROJECT_ROOT,
    StepFailedError,
    cached_plan,
    load_plan,
    new_run_id,
    run_step,
    split_extra_args,
    step_argv,
)
from pipelines.run.options import new_run_id as runner_run_id
from pipelines.run.steps import step_graph
from tests.orchestration.helpers import write_config

RUN_ID = re.compile(r"\d{8}T\d{6}Z-[0-9a-f]{6}")


def test_run_ids_have_the_runners_format() -> None:
    now = datetime(2026, 11, 22, 0, 15, tzinfo=UTC)
    assert RUN_ID.fullmatch(new_run_id(now))
    assert new_run_id(now)[:17] == runner_run_id(now)[:17] == "20261122T001500Z-"
    assert new_run_id(now, "abcdef") == "20261122T001500Z-abcdef"
    assert new_run_id(now) != new_run_id(now)


def test_load_plan_asks_the_pipeline_or_reads_the_file_named_in_the_environment(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    plan = load_plan(config=write_config(tmp_path))
    graph = step_graph(["shopify"], datasets=["orders.shopify"])
    assert [s["name"] for s in plan["steps"]] == [s.name for s in graph]
    (tmp_path / "plan.json").write_text(json.dumps({"steps": []}))
    monkeypatch.setenv(PLAN_ENV, str(tmp_path / "plan.json"))
    assert load_plan() == {"steps": []}


def test_a_parsed_dag_file_asks_the_pipeline_for_its_plan_only_after_a_change(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    asked: list[int] = []
    monkeypatch.setattr(common, "load_plan", lambda: asked.append(1) or {"steps": len(asked)})
    monkeypatch.delenv(PLAN_ENV, raising=False)
    root, cache = tmp_path / "project", tmp_path / "cache"
    (root / "pipelines").mkdir(parents=True)
    cache.mkdir()
    (root / "pipeline.toml").write_text("[pipeline]\n")
    (root / "pipelines/plan.py").write_text("# v1\n")
    assert [cached_plan(root, cache) for _ in range(3)] == [{"steps": 1}] * 3  # parsed 3 times
    (root / "pipeline.toml").write_text("[pipeline]\nmode = 'full'\n")
    assert cached_plan(root, cache) == {"steps": 2}
    (root / "pipelines/plan.py").write_text("# v2, longer\n")
    assert cached_plan(root, cache) == {"steps": 3}
    assert cached_plan(root, cache) == {"steps": 3}
    assert len(asked) == 3


def test_step_argv_fills_in_the_run_and_appends_the_extra_args(tmp_path: Path) -> None:
    plan = load_plan(config=write_config(tmp_path))
    argv = step_argv(plan, "quality", "20261122T001500Z-a1b2c3", ["--offline"])
    assert argv == [
        str(PROJECT_ROOT / ".venv/bin/python"), "pipelines/run_pipeline.py", "run-step", "quality",
        "--run-id", "20261122T001500Z-a1b2c3", "--config", str(tmp_path / "pipeline.toml"),
        "--providers", "shopify", "--datasets", "products,orders", "--offline",
    ]  # fmt: skip


def test_a_step_whose_dependencies_are_not_done_is_a_usage_error_not_worth_retrying(
    tmp_path: Path,
) -> None:
    plan = load_plan(config=write_config(tmp_path))
    with pytest.raises(StepFailedError) as error:
        run_step(plan, "quality", "20261122T001500Z-a1b2c3", ["--offline"])
    assert error.value.exit_code == 2
    assert not error.value.retryable
    assert "step quality failed with exit code 2" in str(error.value)


def test_a_failing_step_is_retryable_and_its_error_ends_with_the_output_tail() -> None:
    script = "for i in $(seq 1 30); do echo line $i; done; exit 1"
    plan = {"steps": [{"name": "extract.x", "timeout_seconds": 10,
                       "command": ["/bin/sh", "-c", script, "sh", "{run_id}"]}]}  # fmt: skip
    with pytest.raises(StepFailedError) as error:
        run_step(plan, "extract.x", "20261122T001500Z-a1b2c3")
    assert error.value.retryable
    assert str(error.value).endswith("line 29\nline 30")
    assert "line 10\n" not in str(error.value)


def test_adapter_command_lines_take_run_options_after_a_double_dash() -> None:
    assert split_extra_args(["run", "--address", "h:1", "--", "--offline", "--limit", "5"]) == (
        ["run", "--address", "h:1"], ["--offline", "--limit", "5"],
    )  # fmt: skip
    assert split_extra_args(["worker"]) == (["worker"], [])
