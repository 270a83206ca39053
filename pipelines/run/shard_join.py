"""A sharded run as one run: its shards' records joined into one run-log record.

Each shard of a run (``--shard K/N``) is a run of its own, with its own record in the run log.
The run's final step (``gha-finalize``) finds them through the *legs* each shard left in the
lake (``_log/legs/<group>/<K>-of-<N>.json``: the shard, its run id and exit code, written by
``gha-publish``; the group is the workflow run) and joins them: counters summed per provider,
the worst status, errors prefixed with their shard. The joined record has an id of its own
(``join_id``: the earliest shard's start and a hash of the shards' run ids, so joining the
same shards again gives the same id) and goes to ``_log/whole_runs.jsonl``: the history that
whole runs are judged against is the unsharded runs of the run log and the joined ones, never
a shard's share.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

from pipelines.checks.quality import gate_verdict
from pipelines.checks.quality_config import QualityConfig
from pipelines.lake.runlog import COUNTERS, append_lake_run, read_lake_runs
from pipelines.lake.storage import Storage
from pipelines.run.record import (
    EXIT_ALL_FAILED,
    EXIT_OK,
    EXIT_PROVIDER_FAILED,
    STAT_KEYS,
    WRITE_KEYS,
    exit_code,
    with_pulls,
)
from pipelines.run.shard import Shard

LEGS_DIR = "_log/legs"
WHOLE_RUNLOG = "_log/whole_runs.jsonl"
STATUS_ORDER = ("skipped", "ok", "budget_exhausted", "quality_failed", "failed")  # rising
SUMMED = (*STAT_KEYS, "records", "fetched", "quarantined", "dropped", *WRITE_KEYS, "written")
TALLIES = ("dropped_reasons", "quality")  # {reason: count}
LISTED = ("drift", "completeness", "errors", "warnings")
LEG_KEYS = ("shard", "run_id", "exit_code", "started_at", "ended_at", "duration_seconds")


def _safe(text: str) -> str:
    return re.sub(r"[^\w.-]", "_", text)


def leg_path(group: str, shard: Shard) -> str:
    return f"{LEGS_DIR}/{_safe(group)}/{shard.index}-of-{shard.count}.json"


def record_leg(storage: Storage, group: str, shard: Shard, run_id: str | None, code: int) -> None:
    """Say in the lake that shard ``shard`` of run ``group`` ended: its run (None when it
    recorded none) and exit code. A shard run again (a re-run attempt) replaces its leg."""
    leg = {"shard": str(shard), "run_id": run_id, "exit_code": code}
    storage.write_bytes(leg_path(group, shard), json.dumps(leg, sort_keys=True).encode())


def read_legs(storage: Storage, group: str) -> list[dict[str, Any]]:
    """The legs of run ``group``, by shard; an unreadable leg file counts as a missing leg."""
    legs = []
    for rel in storage.list_files(f"{LEGS_DIR}/{_safe(group)}"):
        try:
            leg = json.loads(storage.read_bytes(rel) or b"")
            Shard.parse(leg["shard"])
        except (ValueError, KeyError, TypeError):
            continue
        legs.append(leg)
    return sorted(legs, key=lambda leg: Shard.parse(leg["shard"]).index)


def missing_shards(legs: Sequence[Mapping[str, Any]], recorded: Sequence[str]) -> list[str]:
    """The shards (``K/N``) of the run whose run record is not among ``recorded`` (run ids)."""
    if not legs:
        return []
    count = Shard.parse(legs[0]["shard"]).count
    done = {Shard.parse(leg["shard"]).index for leg in legs if leg.get("run_id") in recorded}
    return [f"{k}/{count}" for k in range(1, count + 1) if k not in done]


def join_id(records: Sequence[Mapping[str, Any]]) -> str:
    """The joined run's id: the earliest shard's timestamp and a hash of the shards' run ids
    (the run-id shape, so the lake's clean-up knows files named after it)."""
    ids = sorted(str(r["run_id"]) for r in records)
    digest = hashlib.sha256("\n".join(ids).encode()).hexdigest()[:6]
    return f"{ids[0][:16]}-{digest}"


def merge_provider(parts: Sequence[tuple[str, Mapping[str, Any]]]) -> dict[str, Any]:
    """One provider's entry over the shards that ran it (``(shard, entry)`` pairs)."""
    statuses = [e.get("status", "ok") for _, e in parts]
    entry: dict[str, Any] = {"status": max(statuses, key=_rank), "shards": [s for s, _ in parts]}
    for key in SUMMED:
        entry[key] = sum(e.get(key) or 0 for _, e in parts)
    for key in TALLIES:
        tally: dict[str, int] = {}
        for _, e in parts:
            for reason, count in (e.get(key) or {}).items():
                tally[reason] = tally.get(reason, 0) + count
        entry[key] = tally
    for key in LISTED:
        entry[key] = [item for _, e in parts for item in e.get(key) or ()]
    for key in ("error", "reason"):
        notes = [f"shard {s}: {e[key]}" for s, e in parts if e.get(key)]
        if notes:
            entry[key] = "; ".join(notes)
    if any(e.get("quality_gate") == "deferred" for _, e in parts):
        entry["quality_gate"] = "deferred"
    over = [s for s, e in parts if e.get("gate_share")]  # shards whose own share was over
    if over:
        entry["gate_share"] = over
    return entry


def _rank(status: str) -> int:
    return STATUS_ORDER.index(status) if status in STATUS_ORDER else len(STATUS_ORDER)


def merge_records(
    records: Sequence[Mapping[str, Any]], uri: str, missing: Sequence[str] = ()
) -> dict[str, Any]:
    """The whole run's record from its shards' records (at least one)."""
    ordered = sorted(records, key=lambda r: Shard.parse(r["shard"]).index)
    names = dict.fromkeys(name for r in ordered for name in r["providers"])
    providers = {
        name: merge_provider([(r["shard"], r["providers"][name])
                              for r in ordered if name in r["providers"]])
        for name in names
    }  # fmt: skip
    started = min(datetime.fromisoformat(r["started_at"]) for r in ordered)
    ended = max(datetime.fromisoformat(r["ended_at"]) for r in ordered)
    record = {
        "run_id": join_id(ordered),
        "started_at": started.isoformat(),
        "ended_at": ended.isoformat(),
        "duration_seconds": round((ended - started).total_seconds(), 3),
        "mode": ordered[0]["mode"],
        "bootstrap": any(r.get("bootstrap") for r in ordered),
        "backfill": False,
        "data_dir": uri,
        "args": ordered[0].get("args", {}),
        "providers": providers,
        "legs": [{key: r.get(key) for key in LEG_KEYS} for r in ordered],
        "missing_shards": list(missing),
    }
    # each dataset pull is one shard's (``Runner.planned_pulls``): taken as that shard has it
    pulls = {pull: entry for r in ordered for pull, entry in (r.get("datasets") or {}).items()}
    if pulls:
        record["datasets"] = pulls
    set_outcome(record)
    return record


def set_outcome(record: dict[str, Any]) -> None:
    """The record's totals and exit code from its providers and dataset pulls: a missing shard
    is a failure, and a provider that failed in one shard but committed in another is not
    "every one failed"."""
    providers = record["providers"]
    record["totals"] = {c: sum(e.get(c, 0) for e in providers.values()) for c in COUNTERS}
    code = exit_code(providers)
    partly = any(leg["exit_code"] != EXIT_ALL_FAILED for leg in record["legs"])
    if (code == EXIT_OK and record["missing_shards"]) or (code == EXIT_ALL_FAILED and partly):
        code = EXIT_PROVIDER_FAILED
    record["exit_code"] = with_pulls(code, record.get("datasets") or {})


def whole_run_gate(record: dict[str, Any], quality: QualityConfig) -> list[str]:
    """The quality gate over the whole run's counts, one decision per provider; returns the
    notes for the summary.

    Shards run with ``--defer-gate`` commit their valid rows and leave the gate here: a
    provider whose whole-run reject share is over ``reject_threshold`` ends ``quality_failed``
    (the joined run's exit code 3, as an unsharded run's; the rows it rejected are quarantined,
    the valid ones stay committed), one within it passes even when one shard's share was over.
    A shard that gated itself (no ``--defer-gate``) decided what it committed, and a commit is
    not undone: the note says what the whole run's share was."""
    said = []
    for name, entry in record["providers"].items():
        fetched, rejected = entry["fetched"], entry["quarantined"]
        verdict = gate_verdict(name, fetched, rejected, entry["quality"], [], quality)
        if verdict and entry["status"] in ("ok", "budget_exhausted"):
            entry["status"] = "quality_failed"
            entry["error"] = f"over the whole run, {verdict}"
            said.append(f"{entry['error']} (the shards committed its valid rows)")
        elif verdict is None and (entry["status"] == "quality_failed" or entry.get("gate_share")):
            how = "each shard's gate judged its own share"
            if entry["status"] != "quality_failed":
                how = f"passed (shard {', '.join(entry['gate_share'])} alone was over)"
            said.append(
                f"{name}: over the whole run {rejected} of {fetched} rows were rejected, "
                f"within reject_threshold {quality.reject_threshold:.1%}: {how}"
            )
    set_outcome(record)
    return said


def whole_runs(storage: Storage, runs: Sequence[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """The runs a whole run is compared with: the unsharded ones of ``runs`` (the run log) and
    the joined sharded ones, oldest first."""
    whole = [dict(r) for r in runs if not r.get("shard")]
    whole += read_lake_runs(storage, WHOLE_RUNLOG)
    return sorted(whole, key=lambda r: str(r.get("started_at") or r.get("run_id")))


def append_whole_run(storage: Storage, record: dict[str, Any]) -> None:
    """Keep the joined record (replacing an earlier join of the same shards); the caller holds
    the lake's commit lock."""
    append_lake_run(storage, record, WHOLE_RUNLOG)
