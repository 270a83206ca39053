"""``run_pipeline.py plan [--emit json|crontab|windows-task]``: the orchestration plan, rendered.

``json`` is the plan itself (as ``--dump-orchestration-plan``); ``crontab`` and
``windows-task`` render the whole scheduled run for cron and Windows Task Scheduler. A sharded
plan gives one crontab line per shard, and one task per shard: ``--output task.xml`` then
writes ``task-shard-1-of-3.xml`` and so on (``--output`` is required: one XML file per task).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pipelines.errors import ConfigError

if TYPE_CHECKING:
    from pipelines.cli.main import CommandContext

HELP = "Print the orchestration plan as JSON, or the crontab line or Windows task made from it."
PROJECT_ROOT = Path(__file__).resolve().parents[3]
JSON_OUTPUT = True  # --json: the plan as JSON, as --emit json


def configure(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--emit", choices=("json", "crontab", "windows-task"), default="json",
        help="what to print: the plan (json, default), a crontab entry, or Windows task XML",
    )  # fmt: skip
    parser.add_argument(
        "--workdir", metavar="PATH",
        help="the project folder on the scheduling machine (default: this checkout)",
    )  # fmt: skip
    parser.add_argument(
        "--python", metavar="PATH",
        help="interpreter that runs the pipeline (default: the plan's, under --workdir; "
        r"windows-task: .venv\Scripts\python.exe under --workdir)",
    )  # fmt: skip
    parser.add_argument(
        "--output", type=Path, metavar="PATH",
        help="write to PATH instead of stdout (windows-task: UTF-16, as schtasks /XML expects)",
    )  # fmt: skip


def render(plan: dict[str, Any], args: argparse.Namespace) -> str:
    from orchestration.cron import crontab_entry
    from orchestration.windows_task import task_xml
    from pipelines.ops.plan import plan_json

    workdir = args.workdir or str(PROJECT_ROOT)
    if args.emit == "crontab":
        return crontab_entry(plan, Path(workdir), args.python)
    if args.emit == "windows-task":
        return task_xml(plan, workdir, args.python)
    return plan_json(plan)


def shard_output(path: Path, run: dict[str, Any]) -> Path:
    """``task.xml`` -> ``task-shard-2-of-3.xml`` for shard 2/3; unchanged unsharded."""
    if not run.get("shard"):
        return path
    index, count = run["shard"].split("/")
    return path.with_name(f"{path.stem}-shard-{index}-of-{count}{path.suffix}")


def write_tasks(plan: dict[str, Any], args: argparse.Namespace) -> None:
    """One UTF-16 task file per run (as ``schtasks /XML`` expects); each path is printed."""
    from orchestration.common import shard_runs
    from orchestration.windows_task import task_xml

    workdir = args.workdir or str(PROJECT_ROOT)
    for run in shard_runs(plan):
        path = shard_output(args.output, run)
        text = task_xml(plan, workdir, args.python, run)
        path.write_text('<?xml version="1.0" encoding="UTF-16"?>\n' + text + "\n",
                        encoding="utf-16")  # fmt: skip
        print(path)


def execute(args: argparse.Namespace, context: CommandContext) -> int:
    from pipelines.ops.plan import build_plan, location_args  # the runner: not for --help

    if args.json and args.emit != "json":
        raise ConfigError(f"plan: --json prints the plan as JSON; not with --emit {args.emit}")
    plan = build_plan(context.config, context.providers, location_args(args.config, args.data_dir))
    if args.emit == "windows-task" and args.output is not None:
        write_tasks(plan, args)
    elif args.emit == "windows-task" and "shards" in plan:
        raise ConfigError(
            "plan --emit windows-task: a sharded plan makes one task per shard; "
            "give --output PATH (writes PATH-shard-K-of-N files)"
        )
    elif args.output is None:
        sys.stdout.write(render(plan, args) + "\n")
    else:
        args.output.write_text(render(plan, args) + "\n")
    return 0
