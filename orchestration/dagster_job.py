"""Dagster job of the product pipeline, built from the orchestration plan, with its schedule.

An op ``run_id`` mints the run id and carries the run's extra args (op config
``extra_args``); then one op per step of the plan's graph (``extract.shopify`` becomes
``extract__shopify``), each shelling out to ``run_pipeline.py run-step STEP --run-id ID``.
Network steps have a ``RetryPolicy`` with exponential backoff; the schedule follows the
plan's cron expression and time zone.

A sharded plan (``shards = N``) fans out like the GitHub workflow's shard matrix: ``run_id``
mints one run id per shard, and each shard's steps are ops of their own
(``shard_2_of_3__extract__ebay``), all in the one job and running at the same time; their
write steps queue on the lake's commit lock. ``run_id``'s output maps each shard (``"2/3"``,
or ``"all"`` unsharded) to its run id.

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

from orchestration.common import (
    StepFailedError,
    cached_plan,
    new_run_id,
    run_step,
    shard_prefix,
    shard_runs,
)

JOB_NAME = "product_pipeline"
START_OP = "run_id"
ACTIVE = [DagsterRunStatus.QUEUED, DagsterRunStatus.STARTING, DagsterRunStatus.STARTED]


def op_name(step: str, run: Mapping[str, Any] | None = None) -> str:
    """Dagster names allow letters, digits and underscores only; a shard's ops get its prefix."""
    prefix = shard_prefix(run or {})
    return f"{prefix}__{step.replace('.', '__')}" if prefix else step.replace(".", "__")


def run_key(run: Mapping[str, Any]) -> str:
    """The key of a run in the start op's ``run_ids``: its shard, or ``all``."""
    return run.get("shard") or "all"


def start_op(keys: Sequence[str], extra_args: Sequence[str]) -> OpDefinition:
    @op(
        name=START_OP,
        config_schema={"extra_args": Field([str], default_value=list(extra_args))},
        out=Out(dict),
    )
    def start(context: OpExecutionContext) -> dict[str, Any]:
        run_ids = {key: new_run_id() for key in keys}
        return {"run_ids": run_ids, "extra_args": context.op_config["extra_args"]}

    return start


def retry_policy(step: Mapping[str, Any]) -> RetryPolicy | None:
    if not step["retries"]:
        return None
    backoff = Backoff.EXPONENTIAL if step["retry_backoff"] == "exponential" else None
    return RetryPolicy(
        max_retries=step["retries"], delay=step["retry_delay_seconds"], backoff=backoff
    )


def step_op(run: Mapping[str, Any], step: Mapping[str, Any]) -> OpDefinition:
    """The op of one step of ``run``; it waits for its upstream steps through ``Nothing`` inputs."""
    upstream = {op_name(name, run): In(Nothing) for name in step["depends_on"]}

    @op(
        name=op_name(step["name"], run),
        ins={"start": In(dict), **upstream},
        retry_policy=retry_policy(step),
        tags={"pipeline/step": step["name"]},
    )
    def run_op(context: OpExecutionContext, start: dict[str, Any]) -> None:
        run_id = start["run_ids"][run_key(run)]
        try:
            context.log.info(run_step(run, step["name"], run_id, start["extra_args"]))
        except StepFailedError as exc:
            raise Failure(description=str(exc), allow_retries=exc.retryable) from exc

    return run_op


def create_job(
    plan: Mapping[str, Any] | None = None, extra_args: Sequence[str] = ()
) -> JobDefinition:
    """The job of ``plan`` (default: the plan of pipeline.toml)."""
    plan = plan or cached_plan()
    runs = shard_runs(plan)
    dependencies = {
        op_name(step["name"], run): {
            "start": DependencyDefinition(START_OP),
            **{
                op_name(name, run): DependencyDefinition(op_name(name, run))
                for name in step["depends_on"]
            },
        }
        for run in runs
        for step in run["steps"]
    }
    graph = GraphDefinition(
        name=JOB_NAME,
        node_defs=[
            start_op([run_key(run) for run in runs], extra_args),
            *(step_op(run, step) for run in runs for step in run["steps"]),
        ],
        dependencies=dependencies,
    )
    # Dagster's run monitoring ends a run past this; each step has its own timeout too.
    return graph.to_job(tags={"dagster/max_runtime": str(plan["run_timeout_seconds"])})


def product_pipeline() -> JobDefinition:
    """The job of the plan, rebuilt by name in each op's process by the multiprocess executor
    (``execute_job(reconstructable(product_pipeline), instance)``, or a run launched from
    ``dagster dev``): each process reads the plan again, from ``$PIPELINE_ORCHESTRATION_PLAN``
    when set."""
    return create_job()


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
    plan = plan or cached_plan()
    job = create_job(plan)
    return Definitions(jobs=[job], schedules=[create_schedule(plan, job)])


defs = create_definitions()
