"""``run_pipeline.py resume [RUN_ID]`` (or ``--resume``): finish an unfinished run.

Continues the last (or the given) unfinished run from its first unfinished step, with the
options it was started with.
"""

from __future__ import annotations

import argparse
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING

from pipelines.cli.parser import _positive_int, port

if TYPE_CHECKING:
    from pipelines.cli.main import CommandContext

HELP = (
    "Continue the last (or the given) unfinished run. It starts again at its first unfinished "
    "step. Same as --resume [RUN_ID]."
)
CALLS_PROVIDERS = True


def configure(parser: argparse.ArgumentParser) -> None:
    add = parser.add_argument
    add("run_id", nargs="?", metavar="RUN_ID", help="the run to continue (default: the last)")
    add("--offline", action="store_true", help="the run is one of the offline demo lake")
    add("--wait", action="store_true",
        help="when another run of this lake is live, wait for it to end "
        "(at most pipeline.run_wait_seconds)")  # fmt: skip
    add("--workers", type=_positive_int, metavar="N",
        help="normalize each provider in N processes (default: as the run began)")  # fmt: skip
    add("--metrics-file", type=Path, metavar="PATH",
        help="write the run's Prometheus metrics there (textfile-collector format)")  # fmt: skip
    add("--prometheus-port", type=port, metavar="N",
        help="serve live Prometheus metrics on 127.0.0.1:N while the run goes")  # fmt: skip


def execute(args: argparse.Namespace, context: CommandContext) -> int:
    from pipelines.cli.commands.run import observed
    from pipelines.cli.logs import setup_logging
    from pipelines.cli.output import print_summary
    from pipelines.cli.preflight import check_run_paths
    from pipelines.run.runs import runner_for_run

    config, providers, env = context.config, context.providers, context.env
    runner = runner_for_run(config, providers, env, args.run_id, offline=args.offline)
    if args.workers:  # e.g. fewer than a run whose worker was killed for its memory
        runner.options = replace(runner.options, workers=args.workers)
    runner.lease_wait = config.run_wait_seconds if args.wait else 0.0
    check_run_paths(args, config, runner.root)
    setup_logging(runner.run_id, verbose=args.verbose, fmt=args.log_format)
    result = observed(args, runner, env, runner.resume)
    print_summary(result, runner.lake.uri, dry_run=False, providers=providers)
    return result.exit_code
