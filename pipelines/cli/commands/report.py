"""``run_pipeline.py report [--run ID]``: re-render a run's Markdown and HTML report."""

from __future__ import annotations

import argparse
import sys
from typing import TYPE_CHECKING

from pipelines.errors import ConfigError

if TYPE_CHECKING:
    from pipelines.cli.main import CommandContext

HELP = (
    "Re-render logs/report-<run_id>.md and .html from the run log (default: the last run; "
    "--offline: the demo's, in logs/demo)."
)


def configure(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--run", metavar="ID", help="the run to report on (default: the last)")
    parser.add_argument(
        "--offline", action="store_true",
        help="a run of the offline demo (its run log and reports are in <log_dir>/demo)",
    )  # fmt: skip


def execute(args: argparse.Namespace, context: CommandContext) -> int:
    from pipelines.checks.report import write_reports  # not for --help
    from pipelines.lake.runlog import read_runs

    log_dir = context.config.run_log_dir(args.offline)
    runs = read_runs(log_dir)
    if not runs:
        raise ConfigError(f"report: no runs recorded in {log_dir / 'runs.jsonl'}")
    index = len(runs) - 1
    if args.run:
        matches = [i for i, run in enumerate(runs) if run["run_id"] == args.run]
        if not matches:
            raise ConfigError(f"--run: no run {args.run!r} in {log_dir / 'runs.jsonl'}")
        index = matches[-1]
    current = runs[index]
    markdown, page = write_reports(log_dir, current, runs[:index], current.get("anomaly"))
    sys.stdout.write(f"{markdown}\n{page}\n")
    return 0
