"""``run_pipeline.py run [flags]`` (or just the flags): a run of every configured provider.

Fetch, normalize, check, deduplicate and commit to the lake, then print the summary. The
metrics the flags ask for (a live endpoint, a file, a Pushgateway) are served or written here.
"""

from __future__ import annotations

import argparse
import json
from collections.abc import Callable
from typing import TYPE_CHECKING

from pipelines.cli.parser import add_run_arguments

if TYPE_CHECKING:
    from pipelines.cli.main import CommandContext
    from pipelines.run.options import RunResult
    from pipelines.run.runner import Runner

HELP = (
    "Run the pipeline: fetch, check, deduplicate and commit to the lake. Every configured "
    "provider, or the offline demo when no credentials are set; the same flags work without "
    "`run`."
)
CALLS_PROVIDERS = True


def configure(parser: argparse.ArgumentParser) -> None:
    add_run_arguments(parser)


def execute(args: argparse.Namespace, context: CommandContext) -> int:
    # The pipeline loads here, not at import: `run --help` and completion stay cheap.
    from pipelines.lake.pandas_probe import skip_pandas_probe

    skip_pandas_probe()  # before anything calls pa.array
    from pipelines.cli.credentials import choose_offline
    from pipelines.cli.logs import setup_logging
    from pipelines.cli.output import print_summary
    from pipelines.cli.preflight import check_run_paths
    from pipelines.lake.datasets import DATASETS, parse_datasets
    from pipelines.lake.integrity import verify_local_files
    from pipelines.lake.lake import Lake
    from pipelines.ops.gha import set_outputs
    from pipelines.run.options import RunOptions, replay_files_of
    from pipelines.run.replay_world import check_replay_files
    from pipelines.run.runner import Runner

    config, providers, env = context.config, context.providers, context.env
    options = RunOptions(
        providers=args.providers,
        limit=args.limit,
        dry_run=args.dry_run,
        no_cache=args.no_cache,
        offline=choose_offline(args, config, providers, env),
        replay=args.replay,
        full_refresh=args.full_refresh,
        fail_on_anomaly=args.fail_on_anomaly,
        shard=args.shard,
        max_duration=args.max_duration,
        allow_mass_delete=args.allow_mass_delete,
        defer_gate=args.defer_gate,
        workers=args.workers,
        datasets=args.datasets or parse_datasets(config.datasets, "pipeline.datasets"),
    )
    if options.replay is not None:  # a bad --replay is a usage error before anything runs
        files = replay_files_of(options.replay, options.datasets)
    runner = Runner(config, providers, env, options)
    # In GitHub Actions, the steps after the run read the run log the run chose (offline: demo).
    set_outputs({"offline": options.offline}, env)
    runner.lease_wait = config.run_wait_seconds if args.wait else 0.0
    check_run_paths(args, config, runner.root)
    if options.replay is not None:  # files the lake holds read back as committed, then worlds
        for dataset in DATASETS.values():  # a raw file lands in its dataset's first table
            verify_local_files(Lake(dataset.home.storage(runner.storage)), files)
        check_replay_files(files, options.offline)
    setup_logging(runner.run_id, verbose=args.verbose, fmt=args.log_format)
    result = observed(args, runner, env, runner.run)
    print_summary(result, runner.lake.uri, dry_run=options.dry_run, providers=providers)
    return result.exit_code


def observed(
    args: argparse.Namespace, runner: Runner, env: dict[str, str], action: Callable[[], RunResult]
) -> RunResult:
    """Run ``action`` with the metrics the flags ask for: a live endpoint, a file, a push."""
    from pipelines.cli.preflight import port_error
    from pipelines.lake.runlog import read_runs
    from pipelines.ops.metrics import PUSHGATEWAY_ENV, export_run_metrics, live_registry, serve
    from pipelines.ops.sink_config import parse_sinks
    from pipelines.ops.sinks import deliver_run
    from pipelines.run.checkpoint import runs_dir

    checkpoint_path = runs_dir(runner.root) / runner.run_id / "checkpoint.json"
    sinks = parse_sinks(runner.config.sections.get("sinks"))  # checked when the config loaded
    stop = None
    if args.prometheus_port:
        try:
            stop = serve(args.prometheus_port, live_registry(checkpoint_path))
        except OSError as exc:
            raise port_error(args.prometheus_port, exc) from None
    try:
        result = action()
    finally:
        if stop is not None:
            stop()
    record = result.record
    if not runner.options.dry_run:
        record = {**record, "sinks": deliver_run(record, sinks, env, runner.log_dir)}
    if args.metrics_file is not None or env.get(PUSHGATEWAY_ENV):
        # Only then: the checkpoint and the whole run log are read for the metrics alone.
        checkpoint = runner.checkpoint.path if runner.checkpoint else checkpoint_path
        steps = json.loads(checkpoint.read_text()) if checkpoint.exists() else None
        history = read_runs(runner.log_dir)
        export_run_metrics(record, steps, env, metrics_file=args.metrics_file, history=history)
    return result
