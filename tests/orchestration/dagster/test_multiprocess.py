"""Dagster's multiprocess executor: each step op in a process of its own, the run's work folder
on a shared path (``data_dir``), the providers' extracts at the same moment."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from dagster import execute_job, instance_for_test, reconstructable

from orchestration.common import PLAN_ENV
from orchestration.dagster_job import product_pipeline
from tests.orchestration.helpers import OFFLINE, assert_extracts_overlapped, barrier_plan

PROVIDERS = ("shopify", "ebay")


def test_the_multiprocess_executor_runs_both_extracts_at_once_on_a_shared_work_folder(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    plan = barrier_plan(tmp_path, PROVIDERS)
    plan_file = tmp_path / "plan.json"
    plan_file.write_text(json.dumps(plan))
    monkeypatch.setenv(PLAN_ENV, str(plan_file))  # each op's process rebuilds the job from it
    run_config = {
        "ops": {"run_id": {"config": {"extra_args": OFFLINE}}},
        "execution": {"config": {"multiprocess": {"max_concurrent": 4}}},
    }
    with (
        instance_for_test() as instance,
        execute_job(reconstructable(product_pipeline), instance, run_config=run_config) as result,
    ):
        assert result.success
        run_ids = result.output_for_node("run_id")["run_ids"]
        op_processes = {event.pid for event in result.all_events if event.is_step_start}
    assert len(op_processes) == len(plan["steps"]) + 1  # every op in a process of its own
    assert_extracts_overlapped(tmp_path, plan, run_ids["all"])
