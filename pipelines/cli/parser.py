"""The command line's grammar: global options, the run's flags, and each subcommand's parser.

Kept apart from ``main`` (which loads config and runs) so the flags can be read, tested and
documented on their own. Importing it is cheap (standard library only): ``--help``,
``--version`` and completion never load the pipeline's heavy modules (pandas, pyarrow, boto3).
"""

from __future__ import annotations

import argparse
import importlib
import sys
from pathlib import Path
from types import ModuleType

MAX_PORT = 65535
PROG = "run_pipeline.py"  # the console command `pipeline` passes its own name


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> None:  # one clear line, exit 2
        from pipelines.run.record import EXIT_USAGE

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


def _dataset_list(text: str) -> tuple[str, ...]:
    from pipelines.errors import ConfigError
    from pipelines.lake.datasets import parse_datasets

    try:
        return parse_datasets(text, "--datasets")
    except ConfigError as exc:
        raise argparse.ArgumentTypeError(str(exc).removeprefix("--datasets: ")) from None


def _shard(text: str) -> str:
    from pipelines.errors import ConfigError
    from pipelines.run.shard import Shard

    try:
        return str(Shard.parse(text))
    except ConfigError as exc:
        raise argparse.ArgumentTypeError(str(exc).removeprefix("--shard: ")) from None


def port(text: str) -> int:
    """``--prometheus-port``: a TCP port, 1 to 65535."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a port number, got {text!r}") from None
    if not 1 <= value <= MAX_PORT:
        raise argparse.ArgumentTypeError(f"must be a port from 1 to {MAX_PORT}, got {value}")
    return value


def build_parser(prog: str = PROG) -> argparse.ArgumentParser:
    """The top-level parser: global options, ``--version``, and the run's flags, so that the
    old form ``run_pipeline.py --providers shopify --limit 10`` still runs; the old action
    flags (``--status``, ``--check``, …) stand for their subcommands."""
    from pipelines.cli.help import command_summaries

    parser = _Parser(
        prog=prog,
        usage=f"{prog} [GLOBAL OPTIONS] {{{','.join(SUBCOMMANDS)}}} [ARGS]\n"
        f"       {prog} [GLOBAL OPTIONS] [RUN FLAGS]  (a run, as `run`)",
        description="Pull product listings from every configured provider into the Parquet "
        f"lake.\n\ncommands ({prog} COMMAND --help for each):\n" + command_summaries(SUBCOMMANDS),
        epilog="Without a command, the flags are the run's (as `run`). "
        "Exit codes: 0 ok, 1 a provider failed, 2 usage/config error, "
        "3 quality gate failed, 4 every provider failed, 5 anomaly alert (--fail-on-anomaly), "
        "6 another run of this lake is live.",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--version", action=_Version, help="print the version and exit")
    add_common_arguments(parser.add_argument_group("global options (before or after COMMAND)"))
    add_run_arguments(parser.add_argument_group("run flags (as `run`)"))
    _add_one_shot_actions(parser.add_argument_group("older action flags (aliases of commands)"))
    return parser


class _Version(argparse.Action):
    """``--version``: read only when asked (the installed metadata, or pyproject.toml)."""

    def __init__(self, option_strings: list[str], dest: str, **kwargs: object) -> None:
        super().__init__(option_strings, dest, nargs=0, default=argparse.SUPPRESS, **kwargs)

    def __call__(self, parser: argparse.ArgumentParser, *_: object) -> None:
        from pipelines.cli.help import version

        sys.stdout.write(f"{parser.prog} {version()}\n")
        parser.exit()


def add_run_arguments(parser: argparse.ArgumentParser | argparse._ArgumentGroup) -> None:
    """The flags of a run: what it covers, and what a scheduler sets."""
    _add_run_selection(parser)
    _add_alerting_and_scheduling(parser)
    parser.add_argument(
        "--workers",
        type=_positive_int,
        metavar="N",
        help="normalize each provider in N processes, its records split by key hash "
        "(default: pipeline.workers; 0 there: the idle CPUs for a large provider, else 1)",
    )


def _add_run_selection(parser: argparse.ArgumentParser) -> None:
    """Which providers and records a run covers, and where its data comes from."""
    add = parser.add_argument
    add(
        "--providers",
        type=_provider_list,
        metavar="A,B",
        help="only these providers, comma-separated (default: all)",
    )
    add(
        "--datasets",
        type=_dataset_list,
        metavar="A,B",
        help="the datasets to pull, comma-separated: products, orders (default: "
        "pipeline.datasets, else products)",
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
        help="ignore watermarks, pull whole catalogs (finds deletions), normalize every record",
    )
    add(
        "--defer-gate",
        action="store_true",
        help="with --shard, in a run whose shards gha-finalize joins: commit this shard's "
        "valid rows whatever its reject share and leave the quality gate to the join",
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


def _add_one_shot_actions(parser: argparse._ArgumentGroup) -> None:
    """The older flags that act on past runs or the setup: each stands for a subcommand."""
    add = parser.add_argument
    add(
        "--list-providers",
        action="store_true",
        help="same as `providers`: list providers, their settings and whether they are configured",
    )
    add(
        "--status",
        nargs="?",
        const="",
        metavar="RUN_ID",
        help="same as `status [RUN_ID]`: the last runs, and the steps of the last (or given) run",
    )
    add(
        "--resume",
        nargs="?",
        const="",
        metavar="RUN_ID",
        help="same as `resume [RUN_ID]`: continue the last (or the given) unfinished run",
    )
    add("--check", action="store_true", help="same as `doctor`: check credentials")
    add(
        "--dump-orchestration-plan",
        action="store_true",
        help="same as `plan`: print the orchestration plan as JSON",
    )


# The older action flags (dest) and the subcommand each stands for.
ACTION_FLAGS = {
    "list_providers": "providers",
    "status": "status",
    "resume": "resume",
    "check": "doctor",
    "dump_orchestration_plan": "plan",
}

# Subcommands: name -> module with HELP, configure(parser) and execute(args, context) -> int.
SUBCOMMANDS: dict[str, str] = {
    "run": "pipelines.cli.commands.run",
    "status": "pipelines.cli.commands.status",
    "resume": "pipelines.cli.commands.resume",
    "providers": "pipelines.cli.commands.providers",
    "completion": "pipelines.cli.commands.completion",
    "run-step": "pipelines.cli.commands.run_step",
    "report": "pipelines.cli.commands.report",
    "plan": "pipelines.cli.commands.plan",
    "doctor": "pipelines.cli.commands.doctor",
    "acknowledge": "pipelines.cli.commands.acknowledge",
    "download-artifacts": "pipelines.cli.commands.download_artifacts",
    "restore-state": "pipelines.cli.commands.restore_state",
    "gha-publish": "pipelines.cli.commands.gha_publish",
    "gha-finalize": "pipelines.cli.commands.gha_finalize",
    "file-issues": "pipelines.cli.commands.file_issues",
    "compact": "pipelines.cli.commands.compact",
    "verify": "pipelines.cli.commands.verify",
    "repair": "pipelines.cli.commands.repair",
    "export": "pipelines.cli.commands.export",
    "query": "pipelines.cli.commands.query",
    "serve": "pipelines.cli.commands.serve",
}

# Global options: accepted before the command as well as after it.
GLOBAL_VALUE_OPTIONS = ("--config", "--data-dir", "--lake-uri", "--log-format")
GLOBAL_FLAGS = ("--verbose", "--json")


def add_common_arguments(parser: argparse.ArgumentParser | argparse._ArgumentGroup) -> None:
    """Flags every command shares (the global options)."""
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
        help="log lines (on stderr) for people (text, default) or machines (json)",
    )  # fmt: skip
    parser.add_argument(
        "--verbose", action="store_true",
        help="debug logging: each HTTP request (method, host, path, status, duration, cache "
        "hit), each page, each step's time",
    )  # fmt: skip
    parser.add_argument(
        "--json", action="store_true",
        help="machine-readable JSON on stdout (status, providers, doctor, plan); logs stay on "
        "stderr",
    )  # fmt: skip


def split_command(argv: list[str]) -> tuple[str | None, list[str]]:
    """The word in command place (global options may come before it: it may name no command)
    and the rest of the arguments; ``None`` when there is none (the run's flags alone, the
    older action flags)."""
    index = 0
    while index < len(argv):
        token = argv[index]
        if not token.startswith("-"):
            return token, argv[:index] + argv[index + 1 :]
        if token in GLOBAL_VALUE_OPTIONS:
            index += 2
        elif token in GLOBAL_FLAGS or token.split("=")[0] in GLOBAL_VALUE_OPTIONS:
            index += 1
        else:
            break
    return None, argv


def _subcommand_parser(name: str, prog: str = PROG) -> tuple[argparse.ArgumentParser, ModuleType]:
    module = importlib.import_module(SUBCOMMANDS[name])
    parser = _Parser(prog=f"{prog} {name}", description=module.HELP)
    add_common_arguments(parser.add_argument_group("global options"))
    module.configure(parser)
    return parser, module
