"""Dagster job of the product pipeline, built from the orchestration plan, with its schedule.

An op ``run_id`` mints the run id and carries the run's extra args (op config
``extra_args``); then one op per step of the plan's graph (``extract.shopify`` becomes
``extract__shopify``), each shelling out to ``run_pipeline.py run-step STEP --run-id ID``.
Network steps have a ``RetryPolicy`` with exponential backoff; the schedule follows the
plan's cron expression and time zone.

Load it from the project root: ``dagster dev -m orchestration.dagster_job`` (or
``dagster definitions validate -m orchestration.dagster_job``).
"""

from collections.abc import Mapping, Sequence
from typing import Any

from dagster import (
    Backoff,
    DagsterRunStatus,
    Definitions,
    DependencyDefinition,
    Failure,
    Field,
    GraphDefinition,
    In,
    JobDefinition,
    Nothing,
    OpDefinition,
    OpExecutionContext,
    Out,
    RetryPolicy,
    RunsFilter,
    ScheduleDefinition,
    ScheduleEvaluationContext,
    op,
)

from orchestration.common import StepFailedError, load_plan, new_run_id, run_step

JOB_NAME = "product_pipeline"
START_OP = "run_id"
ACTIVE = [DagsterRunStatus.QUEUED, DagsterRunStatus.STARTING, DagsterRunStatus.STARTED]


def op_name(step: str) -> str:
    """Dagster names allow letters, digits and underscores only."""
    return step.replace(".", "__")


def start_op(extra_args: Sequence[str]) -> OpDefinition:
    @op(
        name=START_OP,
        config_schema={"extra_args": Field([str], default_value=list(extra_args))},
        out=Out(dict),
    )
    def start(context: OpExecutionContext) -> dict[str, Any]:
        return {"run_id": new_run_id(), "extra_args": context.op_config["extra_args"]}

    return start


def retry_policy(step: Mapping[str, Any]) -> RetryPolicy | None:
    if not step["retries"]:
        return None
    backoff = Backoff.EXPONENTIAL if step["retry_backoff"] == "exponential" else None
    return RetryPolicy(
        max_retries=step["retries"], delay=step["retry_delay_seconds"], backoff=backoff
    )


def step_op(plan: Mapping[str, Any], step: Mapping[str, Any]) -> OpDefinition:
    """The op of one step; it waits for its upstream steps through ``Nothing`` inputs."""
    upstream = {op_name(name): In(Nothing) for name in step["depends_on"]}

    @op(
        name=op_name(step["name"]),
        ins={"run": In(dict), **upstream},
        retry_policy=retry_policy(step),
        tags={"pipeline/step": step["name"]},
    )
    def run_op(context: OpExecutionContext, run: dict[str, Any]) -> None:
        try:
            context.log.info(run_step(plan, step["name"], run["run_id"], run["extra_args"]))
        except StepFailedError as exc:
            raise Failure(description=str(exc), allow_retries=exc.retryable) from exc

    return run_op


def create_job(
    plan: Mapping[str, Any] | None = None, extra_args: Sequence[str] = ()
) -> JobDefinition:
    """The job of ``plan`` (default: the plan of pipeline.toml)."""
    plan = plan or load_plan()
    dependencies = {
        op_name(step["name"]): {
            "run": DependencyDefinition(START_OP),
            **{op_name(name): DependencyDefinition(op_name(name)) for name in step["depends_on"]},
        }
        for step in plan["steps"]
    }
    graph = GraphDefinition(
        name=JOB_NAME,
        node_defs=[start_op(extra_args), *(step_op(plan, step) for step in plan["steps"])],
        dependencies=dependencies,
    )
    # Dagster's run monitoring ends a run past this; each step has its own timeout too.
    return graph.to_job(tags={"dagster/max_runtime": str(plan["run_timeout_seconds"])})


def no_run_in_progress(context: ScheduleEvaluationContext) -> bool:
    """One run at a time: a tick is skipped while a run of the job is queued or going."""
    running = context.instance.get_runs(
        filters=RunsFilter(job_name=JOB_NAME, statuses=ACTIVE), limit=1
    )
    return not running


def create_schedule(plan: Mapping[str, Any], job: JobDefinition) -> ScheduleDefinition:
    return ScheduleDefinition(
        name=f"{JOB_NAME}_schedule",
        job=job,
        cron_schedule=plan["schedule"]["cron"],
        execution_timezone=plan["schedule"]["timezone"],
        should_execute=no_run_in_progress,
    )


def create_definitions(plan: Mapping[str, Any] | None = None) -> Definitions:
    plan = plan or load_plan()
    job = create_job(plan)
    return Definitions(jobs=[job], schedules=[create_schedule(plan, job)])


defs = create_definitions()
