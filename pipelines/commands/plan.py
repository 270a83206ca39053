"""``run_pipeline.py plan [--emit json|crontab|windows-task]``: the orchestration plan, rendered.

``json`` is the plan itself (as ``--dump-orchestration-plan``); ``crontab`` and
``windows-task`` render the whole scheduled run for cron and Windows Task Scheduler.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

from orchestration.cron import crontab_entry
from orchestration.windows_task import task_xml
from pipelines.plan import build_plan, location_args, plan_json

if TYPE_CHECKING:
    from pipelines.run_pipeline import CommandContext

HELP = "Print the orchestration plan as JSON, or the crontab line or Windows task made from it."
PROJECT_ROOT = Path(__file__).resolve().parents[2]


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
    workdir = args.workdir or str(PROJECT_ROOT)
    if args.emit == "crontab":
        return crontab_entry(plan, Path(workdir), args.python)
    if args.emit == "windows-task":
        return task_xml(plan, workdir, args.python)
    return plan_json(plan)


def execute(args: argparse.Namespace, context: CommandContext) -> int:
    plan = build_plan(context.config, context.providers, location_args(args.config, args.data_dir))
    text = render(plan, args)
    if args.output is None:
        sys.stdout.write(text + "\n")
    elif args.emit == "windows-task":
        args.output.write_text(
            '<?xml version="1.0" encoding="UTF-16"?>\n' + text + "\n", encoding="utf-16"
        )
    else:
        args.output.write_text(text + "\n")
    return 0
