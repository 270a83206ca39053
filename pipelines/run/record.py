"""The run-log record of a run, assembled from its checkpoint's step outputs."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

from pipelines.lake.runlog import COUNTERS
from pipelines.run.checkpoint import DONE, FAILED, Checkpoint

EXIT_OK, EXIT_PROVIDER_FAILED, EXIT_USAGE, EXIT_QUALITY, EXIT_ALL_FAILED, EXIT_ANOMALY = range(6)
EXIT_RUN_LIVE = 6  # another run of this lake and shard is live (pipelines/lake/runlease.py)
STAT_KEYS = (
    "api_calls", "cache_hits", "retries", "pages", "throttle_waits", "throttle_wait_seconds",
    "breaker_trips", "duplicates",
)  # fmt: skip
COUNT_KEYS = (
    "records", "fetched", "quarantined", "dropped", "dropped_reasons", "quality", "drift",
)  # fmt: skip
WRITE_KEYS = ("new", "changed", "unchanged", "deleted")


def provider_status(checkpoint: Checkpoint, name: str) -> tuple[str, str | None]:
    """A provider's status so far and the reason or error that goes with it."""
    for step in (f"extract.{name}", f"normalize.{name}", "quality", "write"):
        if step not in checkpoint.steps:
            continue
        outputs = checkpoint.outputs(step)
        entry = outputs.get(name, {}) if step in ("quality", "write") else outputs
        status = entry.get("status")
        if status and status != "ok":
            return status, entry.get("reason") or entry.get("error")
        if checkpoint.status(step) != DONE and step.startswith("extract"):
            return "failed", checkpoint.steps[step].get("error") or "extract did not finish"
    exhausted = checkpoint.outputs(f"extract.{name}").get("budget_exhausted")
    return ("budget_exhausted", exhausted) if exhausted else ("ok", None)


def provider_entry(checkpoint: Checkpoint, name: str) -> dict[str, Any]:
    """The run-log entry of one provider."""
    extract = checkpoint.outputs(f"extract.{name}")
    counts = checkpoint.outputs(f"normalize.{name}").get("counts", {})
    written = checkpoint.outputs("write").get(name, {}) if "write" in checkpoint.steps else {}
    status, note = provider_status(checkpoint, name)
    stats = extract.get("stats", {})
    entry: dict[str, Any] = {"status": status}
    entry.update({key: stats.get(key, 0) for key in STAT_KEYS})
    entry.update({key: counts.get(key, 0) for key in COUNT_KEYS})
    entry.update({key: written.get(key, 0) for key in WRITE_KEYS})
    entry["written"] = sum(written.get(k, 0) for k in ("new", "changed", "deleted"))
    if status not in ("ok", "budget_exhausted"):  # a spent budget commits what it fetched
        entry["written"] = 0
    if extract.get("budget"):
        entry["budget"] = extract["budget"]
    entry["completeness"] = stats.get("completeness", [])
    entry["errors"] = (stats.get("errors", []) + counts.get("errors", []))[:20]
    entry["warnings"] = stats.get("warnings", []) + written.get("warnings", [])
    if note:
        entry["reason" if status in ("skipped", "budget_exhausted") else "error"] = note
    gate = checkpoint.outputs("quality").get(name, {}) if "quality" in checkpoint.steps else {}
    if gate.get("gate") == "deferred":  # a shard of a joined run: the join gates the whole run
        entry["quality_gate"] = "deferred"
        if gate.get("share"):  # what this shard's own share would have given
            entry["gate_share"] = gate["share"]
    return entry


def build_record(checkpoint: Checkpoint, root: str, ended_at: datetime | None = None) -> dict:
    """The run-log record of ``checkpoint``'s run as it stands."""
    options = checkpoint.options
    started = datetime.fromisoformat(checkpoint.created_at)
    ended = ended_at or datetime.now(UTC)
    providers = {name: provider_entry(checkpoint, name) for name in checkpoint.providers}
    record = {
        "run_id": checkpoint.run_id,
        "started_at": started.isoformat(),
        "ended_at": ended.isoformat(),
        "duration_seconds": round((ended - started).total_seconds(), 3),
        "mode": options["mode"],
        "bootstrap": options.get("bootstrap", False),
        "backfill": options.get("replay") is not None,
        "data_dir": root,
        "args": {k: options.get(k) for k in ARG_KEYS},
        "providers": providers,
        "totals": {c: sum(e.get(c, 0) for e in providers.values()) for c in COUNTERS},
    }
    datasets = {
        pull: checkpoint.outputs(f"dataset.{pull}") for pull in options.get("dataset_pulls", [])
    }
    if datasets:
        record["datasets"] = datasets
    record["exit_code"] = exit_code(providers)
    if checkpoint.sinks:
        record["sink_steps"] = sink_entries(checkpoint)
        failed = any(e["status"] == FAILED for e in record["sink_steps"].values())
        if failed and record["exit_code"] == EXIT_OK:  # the lake is committed; the sink is not
            record["exit_code"] = EXIT_PROVIDER_FAILED
    record["exit_code"] = with_pulls(record["exit_code"], datasets)
    return record


def with_pulls(code: int, pulls: Mapping[str, Mapping[str, Any]]) -> int:
    """The run's exit code once its dataset pulls count too: a pull over the quality gate
    fails the run as a provider's products do (3, over a provider's failure), a failed pull
    as a failed provider (1)."""
    statuses = {pull.get("status") for pull in pulls.values()}
    if "quality_failed" in statuses and code in (EXIT_OK, EXIT_PROVIDER_FAILED):
        return EXIT_QUALITY
    if "failed" in statuses and code == EXIT_OK:
        return EXIT_PROVIDER_FAILED
    return code


def sink_entries(checkpoint: Checkpoint) -> dict[str, dict[str, Any]]:
    """Each sink step's status as the run record shows it: loaded runs, or the error.

    A scheduler may run a sink beside ``detect`` and ``report``: it may still be pending."""
    entries = {}
    for name in checkpoint.sinks:
        step = checkpoint.steps[f"sink.{name}"]
        outputs = step.get("outputs") or {}
        entry: dict[str, Any] = {"status": step["status"]}
        if outputs.get("status") == "skipped":
            entry.update(status="skipped", reason=outputs.get("reason"))
        if "runs" in outputs:
            entry["runs_loaded"] = sorted(outputs["runs"])
            entry["migrations"] = outputs.get("migrations", [])
        if step.get("error"):
            entry["error"] = step["error"]
        entries[name] = entry
    return entries


ARG_KEYS = (
    "providers", "limit", "dry_run", "no_cache", "offline", "replay", "full_refresh",
    "fail_on_anomaly",
)  # fmt: skip


def exit_code(providers: dict[str, dict[str, Any]]) -> int:
    """DESIGN.md's exit codes: 0 ok, 1 some failed, 3 quality gate, 4 all failed."""
    attempted = [e for e in providers.values() if e["status"] != "skipped"]
    failed = [e for e in attempted if e["status"] == "failed"]
    if attempted and len(failed) == len(attempted):
        return EXIT_ALL_FAILED
    if any(e["status"] == "quality_failed" for e in attempted):
        return EXIT_QUALITY
    return EXIT_PROVIDER_FAILED if failed else EXIT_OK
