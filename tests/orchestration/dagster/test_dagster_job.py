"""The Dagster job: ops follow the plan, the schedule fires a run, a real offline run succeeds."""

from __future__ import annotations

from pathlib import Path

from dagster import Backoff, DagsterRunStatus, build_schedule_context, instance_for_test

from orchestration.common import load_plan
from orchestration.dagster_job import create_definitions, create_job, create_schedule, op_name
from tests.orchestration.helpers import (
    OFFLINE,
    SHARDS,
    adapter_plan,
    assert_run_complete,
    assert_shards_equal_one_run,
    sharded_plan,
)


def test_job_has_one_op_per_step_with_the_plans_dependencies_and_retry_policy() -> None:
    plan = load_plan()
    job = create_definitions(plan).resolve_job_def("product_pipeline")
    assert {node.name for node in job.nodes} == {
        "run_id",
        *(op_name(step["name"]) for step in plan["steps"]),
    }
    for step in plan["steps"]:
        node = job.graph.node_named(op_name(step["name"]))
        upstream = {
            dep.node.name
            for deps in job.graph.dependency_structure.input_to_upstream_outputs_for_node(
                node.name
            ).values()
            for dep in deps
        }
        assert upstream == {"run_id", *(op_name(name) for name in step["depends_on"])}
        policy = node.definition.retry_policy
        if step["network"]:
            assert (policy.max_retries, policy.delay, policy.backoff) == (
                3, step["retry_delay_seconds"], Backoff.EXPONENTIAL,
            )  # fmt: skip
        else:
            assert policy is None


def test_schedule_follows_the_plan_and_skips_while_a_run_is_going() -> None:
    plan = load_plan()
    job = create_job(plan)
    schedule = create_schedule(plan, job)
    assert schedule.cron_schedule == plan["schedule"]["cron"]
    assert schedule.execution_timezone == plan["schedule"]["timezone"]
    with instance_for_test() as instance:  # a stored instance: a schedule reads it by reference
        (request,) = schedule.evaluate_tick(build_schedule_context(instance)).run_requests
        assert request.tags["dagster/schedule_name"] == schedule.name
        run = instance.create_run_for_job(job, run_config={}, status=DagsterRunStatus.STARTED)
        tick = schedule.evaluate_tick(build_schedule_context(instance))
        assert not tick.run_requests
        assert tick.skip_message
        instance.report_run_failed(run)
        assert schedule.evaluate_tick(build_schedule_context(instance)).run_requests


def test_execute_in_process_runs_every_step_offline_retrying_a_failed_one(tmp_path: Path) -> None:
    plan = adapter_plan(tmp_path)
    result = create_job(plan).execute_in_process(
        run_config={"ops": {"run_id": {"config": {"extra_args": OFFLINE}}}}
    )
    assert result.success
    start = result.output_for_node("run_id")
    assert start["extra_args"] == OFFLINE
    assert_run_complete(tmp_path, plan, start["run_ids"]["all"])


def test_a_sharded_plan_runs_each_shard_as_its_own_run_and_the_lake_equals_one_run(
    tmp_path: Path,
) -> None:
    """~40 s: 3 shards (16 step processes, ~2 s of imports each) and one reference run."""
    plan = sharded_plan(tmp_path)
    job = create_job(plan)
    for run in plan["shards"]:
        for step in run["steps"]:
            node = job.graph.node_named(op_name(step["name"], run))
            assert node.name.startswith("shard_{}_of_{}__".format(*run["shard"].split("/")))
    result = job.execute_in_process()
    assert result.success
    run_ids = result.output_for_node("run_id")["run_ids"]
    assert sorted(run_ids) == SHARDS
    assert len(set(run_ids.values())) == 3
    assert_shards_equal_one_run(tmp_path, plan)
