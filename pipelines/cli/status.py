"""``--status``: the run log's last runs as a table, then the steps of one run."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

from pipelines.cli.tables import format_table
from pipelines.config import PipelineConfig
from pipelines.errors import ConfigError
from pipelines.lake.budget_usage import read_usage, utc_day
from pipelines.lake.runlease import describe_run, live_runs
from pipelines.lake.runlog import read_lake_runs, read_runs
from pipelines.net.budget import CallBudget
from pipelines.net.secrets import mask
from pipelines.run.checkpoint import format_steps, unfinished_runs
from pipelines.run.options import RunOptions, lake_storage, work_roots
from pipelines.run.runs import find_checkpoint


def print_status(config: PipelineConfig, run_id: str | None) -> None:
    """The run log's last runs (the lake's, for an object store), then the steps of the last
    (or the given) run."""
    storage = lake_storage(config, RunOptions())
    if storage.remote:
        runs = sorted(read_lake_runs(storage) + read_lake_runs(storage.child("demo")),
                      key=lambda run: run["run_id"])  # fmt: skip
    else:
        runs = read_runs(Path(config.log_dir))
    print(format_status(runs))
    budgets = budget_lines(config)
    if budgets:
        print()
        print("\n".join(["Daily API budgets:", *(f"  {line}" for line in budgets)]))
    in_progress = format_in_progress(config)
    if in_progress:
        print()
        print(in_progress)
    checkpoint = find_checkpoint(config, run_id)
    if checkpoint is None:
        if run_id:
            raise ConfigError(f"--status: no run {run_id!r} under {work_roots(config)[0]}/_runs")
        return
    print()
    print(format_steps(checkpoint))


def budget_lines(config: PipelineConfig, *, used_only: bool = False) -> list[str]:
    """Each budgeted provider's calls (or points) used today, by every run and shard of the
    lake, and left; with ``used_only``, only the providers that made calls today."""
    limits = {name: limit for name, limit in config.budgets.items() if limit}
    if not limits:
        return []
    day = utc_day()
    try:
        usage = read_usage(lake_storage(config, RunOptions()), day)
    except Exception as exc:  # whatever the storage raises, status still prints the rest
        return [f"usage unreadable: {mask(f'{type(exc).__name__}: {exc}')}"]
    units = config.budget_units
    return [CallBudget(name, limit, usage.get(name, 0), day=day,
                       unit="points" if units.get(name) == "points" else "calls").describe()
            for name, limit in sorted(limits.items())
            if usage.get(name) or not used_only]  # fmt: skip


def format_in_progress(config: PipelineConfig) -> str:
    """What is really running: every live lease of the lake (and its demo lake), and each
    unfinished run of this machine's work folders, live or abandoned (its process is gone)."""
    now = time.time()
    storages = [lake_storage(config, RunOptions()), lake_storage(config, RunOptions(offline=True))]
    leases = {lease.run_id: lease for s in storages for lease in live_runs(s, now)}
    lines = [f"  live       {describe_run(lease, now)}" for lease in leases.values()]
    for root in work_roots(config):
        for checkpoint in unfinished_runs(root):
            if checkpoint.run_id not in leases:
                lines.append(f"  abandoned  run {checkpoint.run_id} (created "
                             f"{checkpoint.created_at}): unfinished, no live process; "
                             "--resume continues it")  # fmt: skip
    return "\n".join(["Runs in progress:", *lines]) if lines else ""


def format_status(runs: list[dict[str, Any]], last: int = 10) -> str:
    """A plain-text table of the last runs, one line per provider."""
    header = ("run_id", "mode", "exit", "provider", "status", "fetched", "new", "changed",
              "written", "calls", "note")  # fmt: skip
    rows = []
    for run in runs[-last:]:
        for name, entry in run["providers"].items():
            note = entry.get("reason") or entry.get("error") or ""
            rows.append((
                run["run_id"], run["mode"], str(run["exit_code"]), name, entry["status"],
                *(str(entry.get(c, 0)) for c in ("fetched", "new", "changed", "written",
                                                 "api_calls")),
                note,
            ))  # fmt: skip
    if not rows:
        return "No runs recorded yet."
    return format_table(header, rows)
