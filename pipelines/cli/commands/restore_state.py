"""``run_pipeline.py restore-state``: bring the last run's state into a fresh GitHub runner."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import TYPE_CHECKING

from pipelines.lake.runlog import read_runs
from pipelines.ops.gha import append_summary, set_outputs

if TYPE_CHECKING:
    from pipelines.cli.main import CommandContext

HELP = (
    "Restore data/state, manifests and the run history from the actions/cache folder, or, "
    "on a cache miss, from the newest pipeline-state artifact of a scheduled or dispatched "
    "pipeline run on the default branch whose checksums verify (GITHUB_TOKEN, actions:read)."
)
BOOTSTRAP_NOTE = (
    "> [!NOTE]\n> **Bootstrap run**: no saved state was found (no cache entry, no "
    "`pipeline-state` artifact). This run starts from empty state: every product counts as "
    "new, and the run is left out of anomaly training."
)


def configure(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--cache-dir", type=Path, metavar="DIR",
        help="the folder actions/cache restored into (the staged state of an earlier run)",
    )  # fmt: skip
    parser.add_argument(
        "--cache-key", default="", metavar="KEY",
        help="the cache key that matched (actions/cache output cache-matched-key); "
        "empty means a cache miss",
    )  # fmt: skip


def execute(args: argparse.Namespace, context: CommandContext) -> int:
    from pipelines.ops.state_sync import restore_state  # pyarrow, requests: not for --help

    restored = restore_state(
        context.config, context.env, Path.cwd(), args.cache_dir, args.cache_key.strip()
    )
    line = f"State: restored {restored.files} file(s) from {restored.detail}."
    if restored.source == "none":
        line = f"State: {restored.detail}.\n\n{BOOTSTRAP_NOTE}"
    if restored.skipped:
        line = "\n".join(f"State: {reason}." for reason in restored.skipped) + "\n" + line
    sys.stdout.write(line + "\n")
    append_summary(line, context.env)
    # The run log of each mode: gha-publish compares the one the run wrote with its count here.
    counts = {
        name: len(read_runs(context.config.run_log_dir(offline)))
        for name, offline in (("runs_before", False), ("demo_runs_before", True))
    }
    set_outputs({"source": restored.source, **counts}, context.env)
    return 0
