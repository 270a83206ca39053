"""The Prefect flow: tasks follow the plan's graph and retries; a real offline run succeeds.

The harness starts a temporary Prefect API server (about 15 s here, once per session).
"""

from __future__ import annotations

from pathlib import Path

import pytest

from orchestration.common import load_plan
from orchestration.prefect_flow import product_pipeline, step_task
from tests.orchestration.helpers import (
    OFFLINE,
    SHARDS,
    adapter_plan,
    assert_run_complete,
    assert_shards_equal_one_run,
    sharded_plan,
)


def test_step_tasks_carry_the_plans_retries_backoff_and_timeout() -> None:
    for step in load_plan()["steps"]:
        task = step_task(step)
        assert task.name == step["name"]
        assert task.retries == step["retries"]
        assert task.timeout_seconds == step["timeout_seconds"]
        if step["network"]:
            delay = step["retry_delay_seconds"]
            assert task.retry_delay_seconds == [delay, 2 * delay, 4 * delay]
        else:
            assert task.retries == 0


@pytest.mark.usefixtures("prefect_server")
def test_flow_runs_every_step_offline_retrying_a_failed_one(tmp_path: Path) -> None:
    plan = adapter_plan(tmp_path)
    state = product_pipeline(extra_args=OFFLINE, plan=plan, return_state=True)
    assert state.is_completed()
    assert_run_complete(tmp_path, plan, state.result())


@pytest.mark.usefixtures("prefect_server")
def test_a_sharded_plan_runs_the_shards_concurrently_and_the_lake_equals_one_run(
    tmp_path: Path,
) -> None:
    """~30 s: 3 concurrent shards (16 step processes) and one reference run."""
    plan = sharded_plan(tmp_path)
    state = product_pipeline(plan=plan, return_state=True)
    assert state.is_completed()
    assert len(state.result().split()) == len(SHARDS)
    assert_shards_equal_one_run(tmp_path, plan)
