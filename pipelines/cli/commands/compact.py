"""``run_pipeline.py compact``: compact the lake's Delta tables and drop files past retention.

Only for ``table_format = "delta"``; the Parquet change log needs no compaction (one part per
provider and run). Holds the lake's commit lock, so no run commits in the middle of it.
"""

from __future__ import annotations

import argparse
import sys
from typing import TYPE_CHECKING

from pipelines.errors import ConfigError
from pipelines.net.extras import require

if TYPE_CHECKING:
    from pipelines.cli.main import CommandContext
    from pipelines.lake.storage import Storage

HELP = (
    'Compact the Delta tables of the lake (table_format = "delta") and remove files older '
    "than the retention (default: pipeline.delta_retention_hours)."
)


def configure(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--retention-hours", type=int, metavar="N",
        help="keep table files needed by the last N hours of versions (default: the setting)",
    )  # fmt: skip
    parser.add_argument(
        "--offline", action="store_true", help="compact the offline demo lake (<lake>/demo)"
    )


def execute(args: argparse.Namespace, context: CommandContext) -> int:
    from pipelines.cli.tables import print_table  # not for --help
    from pipelines.lake.lock import LakeLock, default_holder
    from pipelines.run.options import RunOptions, lake_storage, new_run_id

    config = context.config
    if config.table_format != "delta":
        raise ConfigError(
            'compact: the lake keeps no Delta tables; set table_format = "delta" under '
            "[pipeline] in pipeline.toml"
        )
    retention = (
        config.delta_retention_hours if args.retention_hours is None else args.retention_hours
    )
    if retention < 0:
        raise ConfigError(f"--retention-hours: must not be negative, got {retention}")
    storage = lake_storage(config, RunOptions(offline=args.offline))
    holder = default_holder(f"compact-{new_run_id()}")
    lock = LakeLock(storage, holder, config.lock_ttl_seconds, config.lock_wait_seconds)
    with lock:
        result = compact_tables(storage, retention)
    sys.stdout.write(f"compacted the Delta tables of {storage.uri}:\n")
    rows = [(table, str(counts["files_added"]), str(counts["files_removed"]),
             str(counts["vacuumed_files"])) for table, counts in result.items()]  # fmt: skip
    print_table(("table", "files added", "files removed", "files vacuumed"), rows)
    return 0


def compact_tables(storage: Storage, retention_hours: int) -> dict[str, dict[str, int]]:
    """``DeltaTables.compact`` on the lake of ``storage``."""
    require("delta", "compact")
    from pipelines.lake.delta import DeltaTables

    uri = storage.uri if storage.remote else str(storage.root.resolve())
    return DeltaTables(uri, storage.storage_options()).compact(retention_hours)
