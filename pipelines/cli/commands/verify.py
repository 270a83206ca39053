"""``run_pipeline.py verify``: check every committed file against its manifest.

Each file a manifest names must exist with the manifest's size and sha256; each manifest must
parse, each run the state lists as committed must have one, and the state must be readable:
for every table of the lake (products, and each dataset's tables in their folders,
``pipelines/lake/table_integrity.py``). One line per problem on stdout, exit 1 when there is
any (0 when the lake is whole). Reads only.
"""

from __future__ import annotations

import argparse
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from pipelines.cli.main import CommandContext

HELP = "Check every committed file's size and sha256 against its manifest (exit 1 on a mismatch)."


def configure(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--offline", action="store_true", help="check the offline demo lake (<lake>/demo)"
    )


def execute(args: argparse.Namespace, context: CommandContext) -> int:
    from pipelines.lake.table_integrity import verify_tables  # pyarrow: not for --help
    from pipelines.run.options import RunOptions, lake_storage

    storage = lake_storage(context.config, RunOptions(offline=args.offline))
    verified = verify_tables(storage)
    for problem in verified.problems:
        print(problem)
    if not verified.problems:
        print(f"{storage.uri}: {verified.files} committed file(s) of {verified.runs} run(s) match")
    return 1 if verified.problems else 0
