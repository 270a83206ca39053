"""``status``: the run log's last runs, today's budgets, the runs in progress, one run's steps.

``status_report`` gathers it once; ``print_status`` shows it as tables, ``--json`` as one
JSON document (the same facts).
"""

from __future__ import annotations

import time
from typing import Any

from pipelines.cli.tables import format_table
from pipelines.config import PipelineConfig
from pipelines.errors import ConfigError
from pipelines.lake.budget_usage import read_usage, utc_day
from pipelines.lake.runlease import describe_run, live_runs
from pipelines.lake.runlog import read_lake_runs, read_runs
from pipelines.net.budget import CallBudget
from pipelines.net.secrets import mask
from pipelines.run.checkpoint import Checkpoint, unfinished_runs
from pipelines.run.options import RunOptions, lake_storage, work_roots
from pipelines.run.runs import find_checkpoint
from pipelines.run.steps import SHARED_STEPS

LAST_RUNS = 10
RUN_COLUMNS = ("fetched", "new", "changed", "written", "api_calls")


def status_report(
    config: PipelineConfig, run_id: str | None, *, offline: bool = False
) -> dict[str, Any]:
    """The last runs (of the offline demo's run log with ``offline``, else of the real runs'),
    budgets, runs in progress and the steps of the last (or given) run.

    A ``run_id`` that names no run is an error before anything is shown."""
    checkpoint = find_checkpoint(config, run_id)
    if checkpoint is None and run_id:
        raise ConfigError(f"status: no run {run_id!r} under {work_roots(config)[0]}/_runs")
    storage = lake_storage(config, RunOptions(offline=offline))
    runs = read_lake_runs(storage) if storage.remote else read_runs(config.run_log_dir(offline))
    return {
        "runs": runs[-LAST_RUNS:],
        "note": None if runs or offline or storage.remote else demo_note(config),
        "budgets": budget_lines(config),
        "in_progress": in_progress(config),
        "run": None if checkpoint is None else run_steps(checkpoint),
    }


def demo_note(config: PipelineConfig) -> str | None:
    """With no real run recorded: where the offline demo's runs are, if it has any."""
    demo = config.run_log_dir(offline=True)
    count = len(read_runs(demo))
    if not count:
        return None
    return f"The offline demo's {count} run(s) are in {demo / 'runs.jsonl'}: status --offline"


def print_status(report: dict[str, Any]) -> None:
    """``status_report`` as tables."""
    print(format_status(report["runs"]))
    if report.get("note"):
        print(report["note"])
    if report["budgets"]:
        print("\n" + "\n".join(["Daily API budgets:", *(f"  {b}" for b in report["budgets"])]))
    if report["in_progress"]:
        lines = [f"  {entry['state']:<10} {entry['description']}"
                 for entry in report["in_progress"]]  # fmt: skip
        print("\n" + "\n".join(["Runs in progress:", *lines]))
    if report["run"] is not None:
        print("\n" + format_steps(report["run"]))


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


def in_progress(config: PipelineConfig) -> list[dict[str, str]]:
    """What is really running: every live lease of the lake (and its demo lake), and each
    unfinished run of this machine's work folders, live or abandoned (its process is gone)."""
    now = time.time()
    storages = [lake_storage(config, RunOptions()), lake_storage(config, RunOptions(offline=True))]
    leases = {lease.run_id: lease for s in storages for lease in live_runs(s, now)}
    found = [{"state": "live", "run_id": run_id, "description": describe_run(lease, now)}
             for run_id, lease in leases.items()]  # fmt: skip
    for root in work_roots(config):
        for checkpoint in unfinished_runs(root):
            if checkpoint.run_id not in leases:
                found.append({"state": "abandoned", "run_id": checkpoint.run_id,
                              "description": f"run {checkpoint.run_id} (created "
                              f"{checkpoint.created_at}): unfinished, no live process; "
                              "resume continues it"})  # fmt: skip
    return found


def step_order(name: str) -> tuple[int, str]:
    """Steps in the order a run takes them: extract, normalize, then the shared steps."""
    kind = name.partition(".")[0]
    rank = {"extract": 0, "normalize": 1}.get(kind)
    if rank is None:
        rank = 2 + (SHARED_STEPS.index(name) if name in SHARED_STEPS else len(SHARED_STEPS))
    return rank, name


def run_steps(checkpoint: Checkpoint) -> dict[str, Any]:
    """A run's steps in run order: status, attempts, duration and error."""
    steps = [{"step": name, "status": entry["status"], "attempts": entry.get("attempts", 0),
              "duration_seconds": entry.get("duration_seconds"), "error": entry.get("error")}
             for name, entry in sorted(checkpoint.steps.items(),
                                       key=lambda item: step_order(item[0]))]  # fmt: skip
    return {"run_id": checkpoint.run_id, "created_at": checkpoint.created_at, "steps": steps}


def format_steps(run: dict[str, Any]) -> str:
    """The run's steps as a table under a title line."""
    rows = []
    for step in run["steps"]:
        duration = step["duration_seconds"]
        timing = f"{duration:.1f}s" if duration is not None else ""
        rows.append((step["step"], step["status"], timing, (step["error"] or "")[:80]))
    title = f"run {run['run_id']} (created {run['created_at']})"
    return title + "\n" + format_table(("step", "status", "time", "error"), rows)


def format_status(runs: list[dict[str, Any]]) -> str:
    """A table of the last runs, one line per provider."""
    header = ("run_id", "mode", "exit", "provider", "status", "fetched", "new", "changed",
              "written", "calls", "note")  # fmt: skip
    rows = []
    for run in runs:
        for name, entry in run["providers"].items():
            note = entry.get("reason") or entry.get("error") or ""
            rows.append((run["run_id"], run["mode"], str(run["exit_code"]), name,
                         entry["status"], *(str(entry.get(c, 0)) for c in RUN_COLUMNS),
                         note))  # fmt: skip
    if not rows:
        return "No runs recorded yet."
    return format_table(header, rows)
