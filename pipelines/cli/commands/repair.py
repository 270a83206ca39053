"""``run_pipeline.py repair``: rebuild lost or corrupt manifests from the parts and the state,
and an unreadable state from the manifests.

A run the state lists as committed but whose manifest is gone, and a manifest that does not
parse, get a new manifest listing the run's files as they are now (files of the run found in
``_trash/`` are put back first; a corrupt manifest goes to ``_trash/``). A state that cannot be
read is then rebuilt from the committed manifests. What cannot be rebuilt is said, one line
each: a run none of whose files is left (exit 1), a state whose parts are missing (exit 1),
and, for every rebuilt manifest, the run's per-provider counts. Every table of the lake alike
(``pipelines/lake/table_integrity.py``). Holds the commit lock.
"""

from __future__ import annotations

import argparse
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from pipelines.cli.main import CommandContext
    from pipelines.lake.table_integrity import TableRepair

HELP = (
    "Rebuild missing or corrupt manifests from the lake's parts and the state, and an "
    "unreadable state from the manifests, in every table of the lake."
)


def configure(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--offline", action="store_true", help="repair the offline demo lake (<lake>/demo)"
    )


def execute(args: argparse.Namespace, context: CommandContext) -> int:
    from pipelines.lake.lock import LakeLock, default_holder  # pyarrow: not for --help
    from pipelines.lake.table_integrity import repair_tables
    from pipelines.run.options import RunOptions, lake_storage, new_run_id

    config = context.config
    storage = lake_storage(config, RunOptions(offline=args.offline))
    holder = default_holder(f"repair-{new_run_id()}")
    with LakeLock(storage, holder, config.lock_ttl_seconds, config.lock_wait_seconds):
        tables = repair_tables(storage)
    for table in tables:
        _print_repair(table, storage.uri)
    if not any(t.report.rebuilt or t.report.lost or t.state for t in tables):
        print(f"{storage.uri}: every manifest is readable and every committed run has one")
    return 1 if any(t.report.lost or t.state_failed for t in tables) else 0


def _print_repair(table: TableRepair, uri: str) -> None:
    where, report = table.where, table.report
    for rel in report.restored:
        print(f"{where}{rel}: put back from _trash/")
    for run_id in report.rebuilt:
        print(
            f"{where}_manifests/{run_id}.json: rebuilt from the run's files; its per-provider "
            "counts cannot be rebuilt and its checksums are those of the files as they are now"
        )
    for run_id in report.lost:
        print(
            f"{where}_manifests/{run_id}.json: cannot be rebuilt: no file of run {run_id} is "
            f"left in {uri}/{where} or its _trash/; restore them from a backup and run repair "
            "again"
        )
    if table.state:
        print(table.state)
