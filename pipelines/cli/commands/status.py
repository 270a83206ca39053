"""``run_pipeline.py status [RUN_ID] [--json]`` (or ``--status``): what the runs did.

The last runs of the run log, today's API budgets, the runs in progress, and the steps of the
last (or the given) run in run order. ``--json`` prints the same facts as one JSON document.
"""

from __future__ import annotations

import argparse
import json
import sys
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from pipelines.cli.main import CommandContext

HELP = (
    "Show the last runs, budgets, runs in progress and a run's steps. The steps are the last "
    "(or the given) run's, in run order. Same as --status [RUN_ID]."
)
JSON_OUTPUT = True


def configure(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "run_id", nargs="?", metavar="RUN_ID", help="the run whose steps to show (default: last)"
    )
    parser.add_argument(
        "--offline", action="store_true",
        help="the offline demo's runs (<log_dir>/demo/runs.jsonl) instead of the real runs",
    )  # fmt: skip


def execute(args: argparse.Namespace, context: CommandContext) -> int:
    from pipelines.cli.status import print_status, status_report  # not for --help

    report = status_report(context.config, args.run_id, offline=args.offline)
    if args.json:
        sys.stdout.write(json.dumps(report, indent=2, default=str) + "\n")
    else:
        print_status(report)
    return 0
