"""Airflow 3 DAG of the product pipeline, built from the orchestration plan.

A first task mints the run id; then one task per step of the plan's graph, each shelling out
to ``run_pipeline.py run-step STEP --run-id ID`` in the project's own interpreter, with the
graph's dependencies. Network steps retry with exponential backoff; the DAG never catches up
and runs one run at a time. The DAG param ``extra_args`` adds run options, e.g. trigger with
``{"extra_args": ["--limit", "100"]}``.

A sharded plan (``shards = N``) fans out like the GitHub workflow's shard matrix: one task
group per shard (``shard_2_of_3``), each with its own ``run_id`` task and step graph, all
running at the same time; their write steps queue on the lake's commit lock.

Deploy: point ``AIRFLOW__CORE__DAGS_FOLDER`` at this folder (the module-level ``dag`` follows
pipeline.toml), or call ``create_dag`` from a DAG file of your own.
"""

from __future__ import annotations

import sys
from collections.abc import Mapping, Sequence
from contextlib import nullcontext
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from airflow.sdk import DAG, CronTriggerTimetable, Param, TaskGroup, get_current_context, task
from airflow.sdk.exceptions import AirflowFailException

# The DAG processor puts only this folder on sys.path: add the project root for the package.
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from orchestration.common import (
    StepFailedError,
    cached_plan,
    new_run_id,
    run_step,
    shard_prefix,
    shard_runs,
)

DAG_ID = "product_pipeline"
START_DATE = datetime(2026, 1, 1, tzinfo=UTC)
BACKOFF_MULTIPLIER = 2.0
MAX_RETRY_DELAY = timedelta(hours=1)


@task(task_id="run_id")
def mint_run_id() -> str:
    """One run id for every step of this DAG run (kept across task retries through XCom)."""
    return new_run_id()


def _run(plan: Mapping[str, Any], step: str, run_id: str) -> None:
    extra_args = get_current_context()["params"].get("extra_args") or []
    try:
        print(run_step(plan, step, run_id, extra_args))
    except StepFailedError as exc:
        if not exc.retryable:  # a usage error: retrying cannot help
            raise AirflowFailException(str(exc)) from exc
        raise


def step_task(plan: Mapping[str, Any], step: Mapping[str, Any]) -> Any:
    """The task of one step, with the plan's retry and timeout hints."""
    backoff = BACKOFF_MULTIPLIER if step["retry_backoff"] == "exponential" else 0
    options: dict[str, Any] = {
        "task_id": step["name"],
        "retries": step["retries"],
        "retry_delay": timedelta(seconds=step["retry_delay_seconds"]),
        "retry_exponential_backoff": backoff,
        "execution_timeout": timedelta(seconds=step["timeout_seconds"]),
    }
    if backoff:
        options["max_retry_delay"] = MAX_RETRY_DELAY

    @task(**options)
    def run(pipeline_run_id: str) -> None:  # Airflow reserves the name ``run_id``
        _run(plan, step["name"], pipeline_run_id)

    return run


def run_tasks(run: Mapping[str, Any]) -> None:
    """The tasks of one run (the plan's, or a shard's): its run id, then its step graph."""
    run_id = mint_run_id()
    tasks = {step["name"]: step_task(run, step)(run_id) for step in run["steps"]}
    for step in run["steps"]:
        for upstream in step["depends_on"]:
            tasks[upstream] >> tasks[step["name"]]


def create_dag(
    plan: Mapping[str, Any] | None = None,
    dag_id: str = DAG_ID,
    extra_args: Sequence[str] = (),
) -> DAG:
    """The DAG of ``plan`` (default: the plan of pipeline.toml)."""
    plan = plan or cached_plan()
    schedule = plan["schedule"]
    with DAG(
        dag_id,
        schedule=CronTriggerTimetable(schedule["cron"], timezone=schedule["timezone"]),
        start_date=START_DATE,
        catchup=False,
        max_active_runs=plan["concurrency"]["max_active_runs"],
        dagrun_timeout=timedelta(seconds=plan["run_timeout_seconds"]),
        params={"extra_args": Param(list(extra_args), type="array")},
        tags=["product-pipeline", plan["mode"]],
        doc_md=__doc__,
    ) as dag:
        for run in shard_runs(plan):
            prefix = shard_prefix(run)
            with TaskGroup(prefix) if prefix else nullcontext():
                run_tasks(run)
    return dag


dag = create_dag()
