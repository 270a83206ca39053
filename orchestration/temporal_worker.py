"""Temporal worker and schedule of the product pipeline (run from the project root).

::

    python -m orchestration.temporal_worker worker              # serve the task queue
    python -m orchestration.temporal_worker schedule            # create/update the schedule
    python -m orchestration.temporal_worker run -- --offline    # one run now; prints its id

``--address`` (default ``127.0.0.1:7233``), ``--namespace`` and ``--task-queue`` select the
server. The schedule carries the plan as it is now: run ``schedule`` again after changing
pipeline.toml. Overlapping runs are skipped.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
from collections.abc import Mapping, Sequence
from typing import Any

from temporalio.client import (
    Client,
    Schedule,
    ScheduleActionStartWorkflow,
    ScheduleAlreadyRunningError,
    ScheduleHandle,
    ScheduleOverlapPolicy,
    SchedulePolicy,
    ScheduleSpec,
    ScheduleUpdate,
)
from temporalio.worker import Worker

from orchestration.common import load_plan, split_extra_args
from orchestration.temporal_workflow import (
    PipelineRequest,
    ProductPipelineWorkflow,
    run_pipeline_step,
)

TASK_QUEUE = "product-pipeline"
SCHEDULE_ID = "product-pipeline"
WORKFLOW_ID = "product-pipeline"


def build_worker(client: Client, task_queue: str = TASK_QUEUE) -> Worker:
    return Worker(
        client,
        task_queue=task_queue,
        workflows=[ProductPipelineWorkflow],
        activities=[run_pipeline_step],
    )


def build_schedule(
    plan: Mapping[str, Any], extra_args: Sequence[str] = (), task_queue: str = TASK_QUEUE
) -> Schedule:
    """A schedule that starts the workflow on the plan's cron and time zone, never twice at once."""
    return Schedule(
        action=ScheduleActionStartWorkflow(
            ProductPipelineWorkflow.run,
            PipelineRequest(dict(plan), list(extra_args)),
            id=WORKFLOW_ID,
            task_queue=task_queue,
        ),
        spec=ScheduleSpec(
            cron_expressions=[plan["schedule"]["cron"]],
            time_zone_name=plan["schedule"]["timezone"],
        ),
        policy=SchedulePolicy(overlap=ScheduleOverlapPolicy.SKIP),
    )


async def register_schedule(
    client: Client,
    plan: Mapping[str, Any],
    extra_args: Sequence[str] = (),
    task_queue: str = TASK_QUEUE,
    schedule_id: str = SCHEDULE_ID,
) -> ScheduleHandle:
    """Create the schedule, or replace an existing one's definition with the plan's."""
    schedule = build_schedule(plan, extra_args, task_queue)
    try:
        return await client.create_schedule(schedule_id, schedule)
    except ScheduleAlreadyRunningError:
        handle = client.get_schedule_handle(schedule_id)
        await handle.update(lambda _: ScheduleUpdate(schedule=schedule))
        return handle


async def run_once(
    client: Client, plan: Mapping[str, Any], extra_args: Sequence[str], task_queue: str
) -> str:
    return await client.execute_workflow(
        ProductPipelineWorkflow.run,
        PipelineRequest(dict(plan), list(extra_args)),
        id=f"{WORKFLOW_ID}-manual",
        task_queue=task_queue,
    )


async def main_async(args: argparse.Namespace) -> int:
    client = await Client.connect(args.address, namespace=args.namespace)
    if args.command == "worker":
        await build_worker(client, args.task_queue).run()
        return 0
    plan = load_plan()
    if args.command == "schedule":
        handle = await register_schedule(client, plan, args.extra_args, args.task_queue)
        print(f"schedule {handle.id}: {plan['schedule']['cron']} ({plan['schedule']['timezone']})")
    else:
        print(await run_once(client, plan, args.extra_args, args.task_queue))
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m orchestration.temporal_worker", epilog="Run options follow --: -- --offline"
    )
    parser.add_argument("command", choices=("worker", "schedule", "run"))
    parser.add_argument("--address", default="127.0.0.1:7233", help="Temporal frontend")
    parser.add_argument("--namespace", default="default")
    parser.add_argument("--task-queue", default=TASK_QUEUE)
    own, extra_args = split_extra_args(sys.argv[1:] if argv is None else argv)
    args = parser.parse_args(own)
    args.extra_args = extra_args  # run options after --, e.g. -- --offline
    return asyncio.run(main_async(args))


if __name__ == "__main__":
    sys.exit(main())
