"""Command line of the product pipeline: pick the command, load config, run it.

Every error the pipeline raises on purpose becomes one line on stderr and an
exit code (see DESIGN.md): 0 ok, 1 a provider failed, 2 usage or config error,
3 quality gate failed, 4 every provider failed, 5 anomaly alert, 6 another run is live.

Only the standard library and the grammar (``parser``) load at start: each command's module,
the config and the pipeline are imported when that command runs, so ``--help``, ``--version``
and ``completion`` start at once.
"""

from __future__ import annotations

import argparse
import sys
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType
from typing import TYPE_CHECKING

from pipelines.cli.parser import (
    ACTION_FLAGS,
    PROG,
    SUBCOMMANDS,
    _subcommand_parser,
    build_parser,
    split_command,
)

if TYPE_CHECKING:
    from pydantic import BaseModel

    from pipelines.config import PipelineConfig
    from providers.base import Provider

__all__ = ["SUBCOMMANDS", "CommandContext", "_subcommand_parser", "build_parser", "main"]


@dataclass(frozen=True)
class CommandContext:
    """What a subcommand gets: the validated config, the providers and the environment."""

    config: PipelineConfig
    providers: dict[str, Provider]
    env: dict[str, str]


def section_models() -> dict[str, type[BaseModel]]:
    """The models of the tables other wings read, checked when ``pipeline.toml`` loads."""
    from pipelines.checks.anomaly import AnomalyModel
    from pipelines.checks.quality_config import QualityModel
    from pipelines.ops.orchestration_config import OrchestrationModel
    from pipelines.ops.sink_config import SinksModel

    return {
        "quality": QualityModel,
        "anomaly": AnomalyModel,
        "orchestration": OrchestrationModel,
        "sinks": SinksModel,
    }


def parse_command(argv: list[str], prog: str = PROG) -> tuple[ModuleType, argparse.Namespace]:
    """The command's module and its arguments; the older flags (``--status``, ``--check``, …)
    and the bare run flags become the subcommand they stand for."""
    name, rest = split_command(argv)
    if name in SUBCOMMANDS:
        parser, module = _subcommand_parser(name, prog)
        return module, parser.parse_args(rest)
    parser = build_parser(prog)
    if name is not None and name not in SUBCOMMANDS:
        parser.error(f"unknown command {name!r} (commands: {', '.join(SUBCOMMANDS)})")
    legacy = parser.parse_args(argv)
    name = next(
        (command for dest, command in ACTION_FLAGS.items() if getattr(legacy, dest) not in
         (None, False)),
        "run",
    )  # fmt: skip
    parser, module = _subcommand_parser(name, prog)
    args = argparse.Namespace(**{**vars(parser.parse_args([])), **vars(legacy)})
    if name in ("status", "resume"):
        args.run_id = getattr(legacy, name) or None
    return module, args


def main(argv: list[str] | None = None, prog: str = PROG) -> int:
    argv = sys.argv[1:] if argv is None else argv
    module, args = parse_command(argv, prog)
    if args.json and not getattr(module, "JSON_OUTPUT", False):
        command = module.__name__.rpartition(".")[2].replace("_", "-")
        sys.stderr.write(f"{prog}: error: --json: {command} has no JSON output "
                         "(status, providers, doctor and plan have)\n")  # fmt: skip
        return 2
    if not getattr(module, "NEEDS_CONFIG", True):
        return module.execute(args, None)
    return _execute(module, args, prog)


def _execute(module: ModuleType, args: argparse.Namespace, prog: str) -> int:
    """Load the providers and the config, then run the command; errors become one line."""
    from pipelines.errors import ConfigError, PipelineError, RunLiveError
    from pipelines.net.secrets import mask
    from pipelines.run.record import EXIT_RUN_LIVE, EXIT_USAGE

    try:
        context = _context(module, args)
        from pipelines.cli.logs import setup_logging

        setup_logging("-", verbose=args.verbose, fmt=args.log_format)
        return module.execute(args, context)
    except ConfigError as exc:
        sys.stderr.write(f"{prog}: error: {mask(str(exc))}\n")
        return EXIT_USAGE
    except RunLiveError as exc:
        sys.stderr.write(f"{prog}: {mask(str(exc))}\n")
        return EXIT_RUN_LIVE
    except PipelineError as exc:
        sys.stderr.write(f"{prog}: {type(exc).__name__}: {mask(str(exc))}\n")
        return 1


def _context(module: ModuleType, args: argparse.Namespace) -> CommandContext:
    """The providers, the environment (secret stores read only by commands that call
    provider APIs: the others must work without store credentials) and the config."""
    from pipelines.config import (
        DEFAULT_CONFIG_PATH,
        load_config,
        read_environment,
        read_secret_stores,
        register_provider_secrets,
    )
    from providers.registry import load_providers

    providers = load_providers()
    env = read_environment()
    register_provider_secrets(providers, env)
    path: Path | None = args.config
    if path is None and DEFAULT_CONFIG_PATH.exists():
        path = DEFAULT_CONFIG_PATH
    config = load_config(path, providers, section_models())
    if getattr(module, "CALLS_PROVIDERS", False):
        env = read_secret_stores(config, env)
    if args.data_dir is not None:
        config = config.with_pipeline(data_dir=str(args.data_dir))
    if args.lake_uri:
        config = config.with_pipeline(lake_uri=args.lake_uri)
    return CommandContext(config, providers, env)


def console() -> None:
    """The ``pipeline`` command that ``pip install`` puts on the PATH (pyproject.toml)."""
    sys.exit(main(prog="pipeline"))
