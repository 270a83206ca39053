"""Temporal workflow and activity of the product pipeline, built from the orchestration plan.

The workflow runs one ``run_pipeline_step`` activity per step of the plan's graph, each as
soon as its upstream steps are done, with the step's retry policy (exponential backoff) and
timeout. The activity shells out to ``run_pipeline.py run-step STEP --run-id ID``; a usage
error (exit 2) is non-retryable. While the step runs the activity heartbeats every
``HEARTBEAT_EVERY``, and each activity declares ``HEARTBEAT_TIMEOUT``: a worker that dies
mid-step is noticed within that, not at the end of the step's whole timeout. Steps of one run
go side by side (providers' extracts overlap); nothing makes them take turns. The run id
comes from the workflow's deterministic clock and random source, so a replayed workflow gets
the same one.

A sharded plan (``shards = N``) fans out like the GitHub workflow's shard matrix: each shard
gets its own run id and its own chain of activities, all started at once in the one workflow
(their write steps queue on the lake's commit lock); the workflow returns the run ids,
separated by spaces.

``orchestration/temporal_worker.py`` runs the worker and registers the schedule.
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

from temporalio import activity, workflow
from temporalio.common import RetryPolicy
from temporalio.exceptions import ApplicationError

with workflow.unsafe.imports_passed_through():
    from orchestration.common import StepFailedError, new_run_id, run_step, shard_runs

BACKOFF_COEFFICIENT = 2.0
MAX_RETRY_INTERVAL = timedelta(hours=1)
HEARTBEAT_EVERY = timedelta(seconds=20)
HEARTBEAT_TIMEOUT = timedelta(seconds=60)


@dataclass
class StepRequest:
    plan: dict[str, Any]
    step: str
    run_id: str
    extra_args: list[str] = field(default_factory=list)


@dataclass
class PipelineRequest:
    plan: dict[str, Any]
    extra_args: list[str] = field(default_factory=list)
    run_id: str = ""  # empty: mint one (a sharded plan always mints one per shard)


@activity.defn(name="run_pipeline_step")
async def run_pipeline_step(request: StepRequest) -> str:
    """Run one step in a thread (the subprocess blocks), heartbeating while it runs; its
    output, or an ApplicationError."""
    work = asyncio.ensure_future(
        asyncio.to_thread(run_step, request.plan, request.step, request.run_id, request.extra_args)
    )
    while not (await asyncio.wait({work}, timeout=HEARTBEAT_EVERY.total_seconds()))[0]:
        activity.heartbeat(request.step)
    try:
        return work.result()
    except StepFailedError as exc:
        raise ApplicationError(
            str(exc), type="StepFailed", non_retryable=not exc.retryable
        ) from exc


def retry_policy(step: Mapping[str, Any]) -> RetryPolicy:
    """The step's retries as a Temporal policy (``maximum_attempts`` counts the first one)."""
    exponential = step["retry_backoff"] == "exponential"
    return RetryPolicy(
        initial_interval=timedelta(seconds=max(step["retry_delay_seconds"], 1)),
        backoff_coefficient=BACKOFF_COEFFICIENT if exponential else 1.0,
        maximum_interval=MAX_RETRY_INTERVAL,
        maximum_attempts=step["retries"] + 1,
    )


@workflow.defn(name="ProductPipeline")
class ProductPipelineWorkflow:
    """One run of every step of the plan; returns the run id."""

    @workflow.run
    async def run(self, request: PipelineRequest) -> str:
        runs = shard_runs(request.plan)
        if request.run_id and len(runs) == 1:
            run_ids = [request.run_id]
        else:
            run_ids = [
                new_run_id(workflow.now(), f"{workflow.random().getrandbits(24):06x}") for _ in runs
            ]
        await asyncio.gather(
            *(self._run(request, run, run_id) for run, run_id in zip(runs, run_ids, strict=True))
        )
        return " ".join(run_ids)

    async def _run(self, request: PipelineRequest, run: Mapping[str, Any], run_id: str) -> None:
        """Every step of one run (the plan's, or a shard's), each when its upstream are done."""
        tasks: dict[str, asyncio.Task[str]] = {}
        for step in run["steps"]:
            upstream = [tasks[name] for name in step["depends_on"]]
            tasks[step["name"]] = asyncio.create_task(
                self._step(request, run, step, run_id, upstream)
            )
        await asyncio.gather(*tasks.values())

    async def _step(
        self,
        request: PipelineRequest,
        run: Mapping[str, Any],
        step: Mapping[str, Any],
        run_id: str,
        upstream: list[asyncio.Task[str]],
    ) -> str:
        await asyncio.gather(*upstream)
        return await workflow.execute_activity(
            run_pipeline_step,
            StepRequest(dict(run), step["name"], run_id, request.extra_args),
            start_to_close_timeout=timedelta(seconds=step["timeout_seconds"]),
            heartbeat_timeout=HEARTBEAT_TIMEOUT,
            retry_policy=retry_policy(step),
        )
