"""Prefect 3 flow of the product pipeline, built from the orchestration plan.

One task run per step of the plan's graph, each shelling out to ``run_pipeline.py run-step
STEP --run-id ID`` and waiting for its upstream steps (independent providers run at the same
time). A sharded plan (``shards = N``) fans out like the GitHub workflow's shard matrix: each
shard gets its own run id and its own task runs (named ``shard_2_of_3.extract.ebay``), all
submitted at once to the flow's task runner so the shards run concurrently (plain task runs
rather than subflows: Prefect runs a subflow call to completion before the next one starts);
their write steps queue on the lake's commit lock. The flow returns the run ids, separated by
spaces. Network steps retry with exponential backoff; a usage error (exit 2) is not retried.

Serve it on the plan's schedule from the project root (a long-running process)::

    python -m orchestration.prefect_flow            # serve: cron and time zone from the plan
    python -m orchestration.prefect_flow --once     # one run now, then exit
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Mapping, Sequence
from typing import Any

from prefect import Task, flow, task
from prefect.client.schemas.objects import TaskRun
from prefect.futures import PrefectFuture, wait
from prefect.schedules import Cron
from prefect.states import State
from prefect.tasks import exponential_backoff

from orchestration.common import (
    StepFailedError,
    load_plan,
    new_run_id,
    run_step,
    shard_prefix,
    shard_runs,
    split_extra_args,
)

FLOW_NAME = "product-pipeline"


def _retryable(task: Task, task_run: TaskRun, state: State) -> bool:
    """Retry everything but a usage error (exit 2), which a retry cannot fix."""
    error = state.result(raise_on_failure=False)
    return not (isinstance(error, StepFailedError) and not error.retryable)


@task(retry_condition_fn=_retryable)
def pipeline_step(plan: Mapping[str, Any], step: str, run_id: str, extra_args: list[str]) -> str:
    """Run one step; its output is the task's result."""
    return run_step(plan, step, run_id, extra_args)


def step_task(step: Mapping[str, Any], prefix: str = "") -> Task:
    """``pipeline_step`` with the plan's retry and timeout hints for ``step``."""
    delays: list[float] | float = 0
    if step["retries"] and step["retry_backoff"] == "exponential":
        delays = exponential_backoff(backoff_factor=step["retry_delay_seconds"])(step["retries"])
    elif step["retries"]:
        delays = step["retry_delay_seconds"]
    return pipeline_step.with_options(
        name=f"{prefix}.{step['name']}" if prefix else step["name"],
        retries=step["retries"],
        retry_delay_seconds=delays,
        timeout_seconds=step["timeout_seconds"],
    )


def submit_run(run: Mapping[str, Any], extra_args: list[str]) -> tuple[str, list[PrefectFuture]]:
    """Submit every step of one run (the plan's, or a shard's); its run id and futures."""
    run_id = new_run_id()
    futures: dict[str, PrefectFuture] = {}
    for step in run["steps"]:
        futures[step["name"]] = step_task(step, shard_prefix(run)).submit(
            run,
            step["name"],
            run_id,
            extra_args,
            wait_for=[futures[name] for name in step["depends_on"]],
        )
    return run_id, list(futures.values())


@flow(name=FLOW_NAME, log_prints=True)
def product_pipeline(
    extra_args: list[str] | None = None, plan: dict[str, Any] | None = None
) -> str:
    """One run of every step of ``plan`` (default: pipeline.toml's); returns the run id(s)."""
    plan = plan or load_plan()
    submitted = [submit_run(run, list(extra_args or [])) for run in shard_runs(plan)]
    futures = [future for _, run_futures in submitted for future in run_futures]
    wait(futures)
    for future in futures:
        future.result()  # raises the first failure, failing the flow run
    return " ".join(run_id for run_id, _ in submitted)


def serve(plan: Mapping[str, Any], extra_args: Sequence[str] = ()) -> None:
    """Serve the flow on the plan's schedule (blocks; one run at a time)."""
    schedule = plan["schedule"]
    product_pipeline.serve(
        name=FLOW_NAME,
        schedule=Cron(schedule["cron"], timezone=schedule["timezone"]),
        parameters={"extra_args": list(extra_args)},
        global_limit=plan["concurrency"]["max_active_runs"],
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m orchestration.prefect_flow", epilog="Run options follow --: -- --offline"
    )
    parser.add_argument("--once", action="store_true", help="run once now instead of serving")
    own, extra_args = split_extra_args(sys.argv[1:] if argv is None else argv)
    args = parser.parse_args(own)
    plan = load_plan()
    if args.once:
        print(product_pipeline(extra_args=extra_args, plan=plan))
    else:
        serve(plan, extra_args)
    return 0


if __name__ == "__main__":
    sys.exit(main())
