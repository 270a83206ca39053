"""Command line of the product pipeline: parse flags, load config, call the runner.

Every error the pipeline raises on purpose becomes one line on stderr and an
exit code (see DESIGN.md): 0 ok, 1 a provider failed, 2 usage or config error,
3 quality gate failed, 4 every provider failed, 5 anomaly alert, 6 another run is live.
"""

from __future__ import annotations

import argparse
import importlib
import json
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pipelines.checks.anomaly import AnomalyConfig
from pipelines.checks.quality_config import QualityConfig
from pipelines.cli.credentials import choose_offline
from pipelines.cli.logs import setup_logging
from pipelines.cli.output import print_provider_list, print_summary
from pipelines.cli.parser import SUBCOMMANDS, _subcommand_parser, build_parser
from pipelines.cli.preflight import check_run_paths, port_error
from pipelines.cli.status import print_status
from pipelines.config import (
    DEFAULT_CONFIG_PATH,
    PipelineConfig,
    load_config,
    read_environment,
    read_secret_stores,
    register_provider_secrets,
)
from pipelines.errors import ConfigError, PipelineError
from pipelines.lake.integrity import verify_local_files
from pipelines.lake.runlease import RunLiveError
from pipelines.lake.runlog import read_runs
from pipelines.net.secrets import mask
from pipelines.ops.metrics import PUSHGATEWAY_ENV, export_run_metrics, live_registry, serve
from pipelines.ops.plan import build_plan, location_args, plan_json, read_orchestration
from pipelines.ops.sinks import deliver_run, parse_sinks
from pipelines.run.checkpoint import runs_dir
from pipelines.run.options import RunOptions, RunResult, find_replay_files
from pipelines.run.postgres import postgres_settings
from pipelines.run.record import EXIT_RUN_LIVE, EXIT_USAGE
from pipelines.run.replay import check_replay_files
from pipelines.run.runner import Runner
from pipelines.run.runs import runner_for_run
from providers.base import Provider
from providers.registry import load_providers


def _config_path(args: argparse.Namespace) -> Path | None:
    if args.config is not None:
        return args.config
    return DEFAULT_CONFIG_PATH if DEFAULT_CONFIG_PATH.exists() else None


def section_checks(providers: dict[str, Provider]) -> dict[str, Callable[[Any], object]]:
    """The validators of the tables other wings read, run when ``pipeline.toml`` loads."""
    return {
        "quality": QualityConfig.from_table,
        "anomaly": AnomalyConfig.from_table,
        "orchestration": lambda table: read_orchestration(table, providers),
        "sinks": postgres_settings,  # [sinks.runlog] is read by pipelines/ops/sinks.py
    }


def _calls_providers(argv: list[str], args: argparse.Namespace) -> bool:
    """Whether this command calls provider APIs, and so reads ``[secrets.refs]`` from a store.

    The other commands (state, artifacts, issues, reports, the plan) must work in steps and on
    machines that hold no store credentials.
    """
    if argv and argv[0] in SUBCOMMANDS:
        return argv[0] in ("run-step", "doctor")
    return not (args.dump_orchestration_plan or args.list_providers or args.status is not None)


@dataclass(frozen=True)
class CommandContext:
    """What a subcommand gets: the validated config, the providers and the environment."""

    config: PipelineConfig
    providers: dict[str, Provider]
    env: dict[str, str]


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if argv and argv[0] in SUBCOMMANDS:
        parser, module = _subcommand_parser(argv[0])
        args = parser.parse_args(argv[1:])
    else:
        module, args = None, build_parser().parse_args(argv)
        if args.check:
            module = importlib.import_module(SUBCOMMANDS["doctor"])
    try:
        providers = load_providers()
        env = read_environment()
        register_provider_secrets(providers, env)
        config = load_config(_config_path(args), providers, section_checks(providers))
        if _calls_providers(argv, args):
            env = read_secret_stores(config, env)
        if args.data_dir is not None:
            config = config.with_pipeline(data_dir=str(args.data_dir))
        if args.lake_uri:
            config = config.with_pipeline(lake_uri=args.lake_uri)
        if module is not None:
            setup_logging("-", verbose=args.verbose, fmt=args.log_format)
            return module.execute(args, CommandContext(config, providers, env))
        if args.dump_orchestration_plan:
            plan = build_plan(config, providers, location_args(args.config, args.data_dir))
            print(plan_json(plan))
            return 0
        if args.list_providers:
            print_provider_list(providers, env, config.providers)
            return 0
        if args.status is not None:
            print_status(config, args.status or None)
            return 0
        if args.resume is not None:
            return _resume(args, config, providers, env)
        return _run(args, config, providers, env)
    except ConfigError as exc:
        sys.stderr.write(f"run_pipeline.py: error: {mask(str(exc))}\n")
        return EXIT_USAGE
    except RunLiveError as exc:
        sys.stderr.write(f"run_pipeline.py: {mask(str(exc))}\n")
        return EXIT_RUN_LIVE
    except PipelineError as exc:
        sys.stderr.write(f"run_pipeline.py: {type(exc).__name__}: {mask(str(exc))}\n")
        return 1


def _run(
    args: argparse.Namespace,
    config: PipelineConfig,
    providers: dict[str, Provider],
    env: dict[str, str],
) -> int:
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
    )
    if options.replay is not None:  # a bad --replay is a usage error before anything runs
        files = find_replay_files(options.replay)
        check_replay_files((f for group in files.values() for f in group), options.offline)
    runner = Runner(config, providers, env, options)
    runner.lease_wait = config.run_wait_seconds if args.wait else 0.0
    check_run_paths(args, config, runner.root)
    if options.replay is not None:
        verify_local_files(runner.lake, [f for group in files.values() for f in group])
    setup_logging(runner.run_id, verbose=args.verbose, fmt=args.log_format)
    result = _observed(args, runner, env, runner.run)
    print_summary(result, runner.lake.uri, dry_run=options.dry_run, providers=providers)
    return result.exit_code


def _resume(
    args: argparse.Namespace,
    config: PipelineConfig,
    providers: dict[str, Provider],
    env: dict[str, str],
) -> int:
    runner = runner_for_run(config, providers, env, args.resume or None, offline=args.offline)
    runner.lease_wait = config.run_wait_seconds if args.wait else 0.0
    check_run_paths(args, config, runner.root)
    setup_logging(runner.run_id, verbose=args.verbose, fmt=args.log_format)
    result = _observed(args, runner, env, runner.resume)
    print_summary(result, runner.lake.uri, dry_run=False, providers=providers)
    return result.exit_code


def _observed(
    args: argparse.Namespace, runner: Runner, env: dict[str, str], action: Callable[[], RunResult]
) -> RunResult:
    """Run ``action`` with the metrics the flags ask for: a live endpoint, a file, a push."""
    checkpoint_path = runs_dir(runner.root) / runner.run_id / "checkpoint.json"
    sinks = parse_sinks(runner.config.sections.get("sinks"))  # a bad [sinks] stops before the run
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
        history = read_runs(Path(runner.config.log_dir))
        export_run_metrics(record, steps, env, metrics_file=args.metrics_file, history=history)
    return result
