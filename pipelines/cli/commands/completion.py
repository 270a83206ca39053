"""``pipeline completion bash|zsh|tcsh``: the shell completion script, made by shtab.

Generated from the real parsers (every command, every flag), so it never lags behind them.
Reads no settings: it works before ``pipeline.toml`` exists. Install it, for bash::

    pipeline completion bash > ~/.local/share/bash-completion/completions/pipeline
"""

from __future__ import annotations

import argparse
import sys
from typing import TYPE_CHECKING

from pipelines.cli.parser import SUBCOMMANDS, _subcommand_parser, build_parser

if TYPE_CHECKING:
    from pipelines.cli.main import CommandContext

HELP = (
    "Print the shell completion script (bash, zsh or tcsh). It completes every subcommand and "
    "flag of the pipeline command. Reads no settings."
)
NEEDS_CONFIG = False
SHELLS = ("bash", "zsh", "tcsh")
COMMAND = "pipeline"


def configure(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("shell", choices=SHELLS, help="the shell to complete in")


def completion_parser() -> argparse.ArgumentParser:
    """The top-level parser with every subcommand's parser attached, as shtab reads them."""
    parser = build_parser(COMMAND)
    commands = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name in SUBCOMMANDS:
        sub, module = _subcommand_parser(name, COMMAND)
        commands.add_parser(name, parents=[sub], add_help=False, help=module.HELP)
    return parser


def execute(args: argparse.Namespace, context: CommandContext | None) -> int:
    import shtab

    sys.stdout.write(shtab.complete(completion_parser(), shell=args.shell) + "\n")
    return 0
