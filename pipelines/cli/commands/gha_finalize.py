"""``run_pipeline.py gha-finalize``: a sharded run's final job makes its shards one run.

Reads the legs each shard's ``gha-publish`` left in the lake for this workflow run
(``--group``, default ``GITHUB_RUN_ID``) and their run records, and joins them
(``pipelines/run/shard_join.py``): one record, one quality gate and one volume verdict over the
whole run (total and per provider, against the earlier whole runs), the deletions of providers
split across shards decided from every shard's keys (``pipelines/run/shard_deletions.py``),
one job summary (the joined report, a table and chart of the shards with links to their
artifacts, human times), and a products folder for the ``issues`` job, which files issues
once, from it. Step outputs as ``gha-publish``'s (``run_id``, ``notify``, ``judged``…).
Running it again for the same shards writes nothing new.
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from pipelines.cli.main import CommandContext

HELP = (
    "In GitHub Actions, after every shard of a sharded run: join the shards into one run "
    "(record, quality gate, volume verdict, deletions of split providers, job summary) and "
    "stage the products folder the issues job files issues from."
)


def configure(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--group", metavar="ID",
                        help="the run whose shards to join (default: GITHUB_RUN_ID)")  # fmt: skip
    parser.add_argument("--products-dir", type=Path, required=True, metavar="DIR",
                        help="where to stage the joined run's products folder")  # fmt: skip
    parser.add_argument("--offline", action="store_true",
                        help="the shards ran --offline: join them in <lake>/demo")  # fmt: skip
    parser.add_argument("--allow-mass-delete", action="store_true",
                        help="let the deletions of a provider split across shards mark "
                        "more than pipeline.max_delete_share (or all) of it deleted")  # fmt: skip


def execute(args: argparse.Namespace, context: CommandContext) -> int:
    from pipelines.cli.shard_finalize import finalize  # the lake, GitHub: not for --help

    return finalize(args, context)
