"""``run_pipeline.py report [--run ID]``: re-render a run's Markdown and HTML report."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import TYPE_CHECKING

from pipelines.errors import ConfigError

if TYPE_CHECKING:
    from pipelines.cli.main import CommandContext

HELP = "Re-render logs/report-<run_id>.md and .html from the run log (default: the last run)."


def configure(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--run", metavar="ID", help="the run to report on (default: the last)")


def execute(args: argparse.Namespace, context: CommandContext) -> int:
    from pipelines.checks.report import write_reports  # not for --help
    from pipelines.lake.runlog import read_runs

    log_dir = Path(context.config.log_dir)
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
