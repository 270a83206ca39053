"""The command line's grammar: the run's flags, the common ones, and each subcommand's parser.

Kept apart from ``main`` (which loads config and runs) so the flags can be read, tested and
documented on their own.
"""

from __future__ import annotations

import argparse
import importlib
import sys
from pathlib import Path
from types import ModuleType

from pipelines.cli.preflight import port
from pipelines.errors import ConfigError
from pipelines.run.record import EXIT_USAGE
from pipelines.run.shard import Shard


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> None:  # one clear line, exit 2
        sys.stderr.write(f"{self.prog}: error: {message}\n")
        sys.exit(EXIT_USAGE)


def _positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a whole number, got {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be 1 or more, got {value}")
    return value


def _positive_seconds(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number of seconds, got {text!r}") from None
    if not value > 0 or value == float("inf"):
        raise argparse.ArgumentTypeError(f"must be a positive number of seconds, got {text}")
    return value


def _provider_list(text: str) -> tuple[str, ...]:
    names = tuple(n.strip() for n in text.split(",") if n.strip())
    if not names:
        raise argparse.ArgumentTypeError("expected a comma-separated list such as shopify,ebay")
    return names


def _shard(text: str) -> str:
    try:
        return str(Shard.parse(text))
    except ConfigError as exc:
        raise argparse.ArgumentTypeError(str(exc).removeprefix("--shard: ")) from None


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(
        prog="run_pipeline.py",
        description="Pull product listings from every configured provider into the Parquet lake.",
        epilog=f"Subcommands (each with its own --help): {', '.join(SUBCOMMANDS)}. "
        "Exit codes: 0 ok, 1 a provider failed, 2 usage/config error, "
        "3 quality gate failed, 4 every provider failed, 5 anomaly alert (--fail-on-anomaly), "
        "6 another run of this lake is live.",
    )
    _add_run_selection(parser)
    _add_alerting_and_scheduling(parser)
    add_common_arguments(parser)
    _add_one_shot_actions(parser)
    return parser


def _add_run_selection(parser: argparse.ArgumentParser) -> None:
    """Which providers and records a run covers, and where its data comes from."""
    add = parser.add_argument
    add(
        "--providers",
        type=_provider_list,
        metavar="A,B",
        help="only these providers, comma-separated (default: all)",
    )
    add("--limit", type=_positive_int, metavar="N", help="fetch at most N raw records per provider")
    add(
        "--dry-run",
        action="store_true",
        help="fetch, normalize and validate, write nothing; print what would be written",
    )
    add(
        "--no-cache",
        action="store_true",
        help="bypass the API response cache (.cache/api/<provider>): neither read nor written",
    )
    add(
        "--offline",
        action="store_true",
        help="replay the recorded API responses shipped in the repo; writes to <data-dir>/demo",
    )
    add(
        "--replay",
        type=Path,
        metavar="PATH",
        help="re-run normalize, quality, dedup and write from raw landing files "
        "(a file or folder under raw/); calls no API",
    )
    add(
        "--full-refresh",
        action="store_true",
        help="ignore incremental watermarks and pull whole catalogs (also finds deletions)",
    )


def _add_alerting_and_scheduling(parser: argparse.ArgumentParser) -> None:
    """Exit on anomalies, shard the work, export metrics: flags a scheduler sets."""
    add = parser.add_argument
    add(
        "--fail-on-anomaly",
        action="store_true",
        help="exit 5 when the volume anomaly detector raises an alert",
    )
    add(
        "--shard",
        type=_shard,
        metavar="K/N",
        help="do shard K of N of the work (providers, and the items of list options such as "
        "ebay.queries), so N processes can share one lake",
    )
    add(
        "--max-duration",
        type=_positive_seconds,
        metavar="SECONDS",
        help="stop fetching after SECONDS: providers still fetching fail with that reason, "
        "what finished is committed (exit 1, or 4 if every provider was cut off)",
    )
    add(
        "--wait",
        action="store_true",
        help="when another run of this lake (and shard) is live, wait for it to end, at most "
        "pipeline.run_wait_seconds, instead of exiting 6",
    )
    add(
        "--allow-mass-delete",
        action="store_true",
        help="let a complete pull mark more than pipeline.max_delete_share (or all) of a "
        "provider's catalog deleted",
    )
    add(
        "--metrics-file",
        type=Path,
        metavar="PATH",
        help="write the run's Prometheus metrics there (textfile-collector format)",
    )
    add(
        "--prometheus-port",
        type=port,
        metavar="N",
        help="serve live Prometheus metrics on 127.0.0.1:N while the run goes",
    )


def _add_one_shot_actions(parser: argparse.ArgumentParser) -> None:
    """Flags that act on past runs or the setup instead of starting a new run."""
    add = parser.add_argument
    add(
        "--list-providers",
        action="store_true",
        help="list providers, the settings they need and whether they are configured; exit",
    )
    add(
        "--status",
        nargs="?",
        const="",
        metavar="RUN_ID",
        help="print the last runs as a table, and the steps of the last (or the given) run; exit",
    )
    add(
        "--resume",
        nargs="?",
        const="",
        metavar="RUN_ID",
        help="continue the last (or the given) unfinished run from its first unfinished step",
    )
    add("--check", action="store_true", help="same as the doctor subcommand: check credentials")
    add(
        "--dump-orchestration-plan",
        action="store_true",
        help="print the orchestration plan (schedule, steps, retries, env names) as JSON; exit",
    )


# Subcommands: name -> module with HELP, configure(parser) and execute(args, context) -> int.
SUBCOMMANDS: dict[str, str] = {
    "run-step": "pipelines.cli.commands.run_step",
    "report": "pipelines.cli.commands.report",
    "plan": "pipelines.cli.commands.plan",
    "doctor": "pipelines.cli.commands.doctor",
    "acknowledge": "pipelines.cli.commands.acknowledge",
    "download-artifacts": "pipelines.cli.commands.download_artifacts",
    "restore-state": "pipelines.cli.commands.restore_state",
    "gha-publish": "pipelines.cli.commands.gha_publish",
    "file-issues": "pipelines.cli.commands.file_issues",
    "compact": "pipelines.cli.commands.compact",
    "verify": "pipelines.cli.commands.verify",
    "repair": "pipelines.cli.commands.repair",
    "query": "pipelines.cli.commands.query",
    "serve": "pipelines.cli.commands.serve",
}


def add_common_arguments(parser: argparse.ArgumentParser) -> None:
    """Flags every command shares."""
    parser.add_argument(
        "--config", type=Path, metavar="PATH",
        help="settings file (default: pipeline.toml when present)",
    )  # fmt: skip
    parser.add_argument(
        "--data-dir", type=Path, metavar="PATH",
        help="lake root, overriding pipeline.data_dir (default: data)",
    )  # fmt: skip
    parser.add_argument(
        "--lake-uri", metavar="URI",
        help="the lake: a local path or s3://bucket/prefix, overriding pipeline.lake_uri",
    )  # fmt: skip
    parser.add_argument(
        "--log-format", choices=("text", "json"), default="text",
        help="log lines for people (text, default) or machines (json)",
    )  # fmt: skip
    parser.add_argument("--verbose", action="store_true", help="debug logging")


def _subcommand_parser(name: str) -> tuple[argparse.ArgumentParser, ModuleType]:
    module = importlib.import_module(SUBCOMMANDS[name])
    parser = _Parser(prog=f"run_pipeline.py {name}", description=module.HELP)
    add_common_arguments(parser)
    module.configure(parser)
    return parser, module
