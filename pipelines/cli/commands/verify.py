"""``run_pipeline.py verify``: check every committed file against its manifest.

Each file a manifest names must exist with the manifest's size and sha256; each manifest must
parse, and each run the state lists as committed must have one. One line per problem on
stdout, exit 1 when there is any (0 when the lake is whole). Reads only.
"""

from __future__ import annotations

import argparse
from typing import TYPE_CHECKING

from pipelines.errors import LakeDamagedError

if TYPE_CHECKING:
    from pipelines.cli.main import CommandContext
    from pipelines.lake.lake import Lake

HELP = "Check every committed file's size and sha256 against its manifest (exit 1 on a mismatch)."


def configure(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--offline", action="store_true", help="check the offline demo lake (<lake>/demo)"
    )


def execute(args: argparse.Namespace, context: CommandContext) -> int:
    from pipelines.lake.dedup import read_state_meta  # pyarrow: not for --help
    from pipelines.lake.integrity import verify_lake
    from pipelines.lake.lake import Lake
    from pipelines.run.options import RunOptions, lake_storage

    storage = lake_storage(context.config, RunOptions(offline=args.offline))
    lake = Lake(storage)
    applied = (read_state_meta(storage) or {}).get("applied_runs", [])
    problems = verify_lake(lake, applied)
    for problem in problems:
        print(problem)
    files = sum(len(m["files"]) for m in _readable_manifests(lake))
    if not problems:
        print(f"{lake.uri}: {files} committed file(s) of {len(lake.manifest_ids())} run(s) match")
    return 1 if problems else 0


def _readable_manifests(lake: Lake) -> list[dict]:
    found = []
    for run_id in lake.manifest_ids():
        try:
            found.append(lake.read_manifest(run_id) or {"files": []})
        except LakeDamagedError:
            continue
    return found
