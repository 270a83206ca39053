"""``run_pipeline.py run-step STEP --run-id ID``: one step of a run, for schedulers.

The first step of a run creates its checkpoint with the run flags given here;
later steps reuse them, so every step of a run sees the same options.
"""

from __future__ import annotations

import argparse
import re
from typing import TYPE_CHECKING

from pipelines.errors import ConfigError

if TYPE_CHECKING:
    from pipelines.cli.main import CommandContext

HELP = "Run one step of a run (extract.<provider>, normalize.<provider>, quality, write, ...)."
CALLS_PROVIDERS = True
RUN_ID_PATTERN = re.compile(r"^\d{8}T\d{6}Z-[0-9a-f]{6}$")


def configure(parser: argparse.ArgumentParser) -> None:
    from pipelines.cli.parser import _dataset_list, _positive_int, _provider_list, _shard

    parser.add_argument("step", metavar="STEP", help="the step to run, e.g. extract.shopify")
    parser.add_argument(
        "--run-id", required=True, metavar="ID",
        help="the run the step belongs to, e.g. 20261122T001500Z-a1b2c3",
    )  # fmt: skip
    parser.add_argument("--force", action="store_true", help="run the step even if it is done")
    parser.add_argument("--providers", type=_provider_list, metavar="A,B",
                        help="providers of the run (first step only)")  # fmt: skip
    parser.add_argument("--datasets", type=_dataset_list, metavar="A,B",
                        help="datasets of the run, e.g. products,orders (first step only; "
                        "default: pipeline.datasets)")  # fmt: skip
    parser.add_argument("--limit", type=_positive_int, metavar="N",
                        help="records per provider (first step only)")  # fmt: skip
    parser.add_argument("--offline", action="store_true",
                        help="replay the recorded demo responses (first step only)")  # fmt: skip
    parser.add_argument("--no-cache", action="store_true",
                        help="bypass the API response cache (first step only)")  # fmt: skip
    parser.add_argument("--full-refresh", action="store_true",
                        help="ignore watermarks (first step only)")  # fmt: skip
    parser.add_argument("--shard", type=_shard, metavar="K/N",
                        help="do shard K of N of the work (first step only)")  # fmt: skip
    parser.add_argument("--allow-mass-delete", action="store_true",
                        help="let a complete pull mark more than pipeline.max_delete_share "
                        "deleted (first step only)")  # fmt: skip


def execute(args: argparse.Namespace, context: CommandContext) -> int:
    from pipelines.cli.logs import setup_logging
    from pipelines.lake.datasets import parse_datasets
    from pipelines.ops.sink_config import parse_sinks
    from pipelines.ops.sinks import deliver_run
    from pipelines.run.options import RunOptions
    from pipelines.run.runner import Runner
    from pipelines.run.runs import find_checkpoint

    if not RUN_ID_PATTERN.match(args.run_id):
        raise ConfigError(
            f"--run-id: {args.run_id!r} is not a run id like 20261122T001500Z-a1b2c3 "
            "(UTC time, a dash, 6 hex digits)"
        )
    existing = find_checkpoint(context.config, args.run_id)
    if existing is not None:
        options = RunOptions.from_dict(existing.options)
    else:
        options = RunOptions(
            providers=args.providers,
            limit=args.limit,
            offline=args.offline,
            no_cache=args.no_cache,
            full_refresh=args.full_refresh,
            shard=args.shard,
            allow_mass_delete=args.allow_mass_delete,
            datasets=args.datasets or parse_datasets(context.config.datasets, "pipeline.datasets"),
        )
    sinks = parse_sinks(context.config.sections.get("sinks"))
    runner = Runner(context.config, context.providers, context.env, options, run_id=args.run_id)
    setup_logging(args.run_id, verbose=args.verbose, fmt=args.log_format)
    code = runner.run_step(args.step, force=args.force)
    if args.step == "report" and code == 0 and not options.dry_run:  # the run's record is out
        record = runner.checkpoint.outputs("report").get("record")
        deliver_run(record, sinks, context.env, runner.log_dir)
    return code
