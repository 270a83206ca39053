"""The work of ``gha-finalize``: a sharded run's shards joined into one run."""

from __future__ import annotations

import argparse
import json
import shutil
import sys
from collections.abc import Mapping, Sequence
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pipelines.checks.anomaly import AnomalyConfig
from pipelines.checks.quality_config import QualityConfig
from pipelines.checks.report import write_reports
from pipelines.cli.commands.gha_publish import outputs, run_links
from pipelines.config import PipelineConfig
from pipelines.errors import ConfigError, PipelineError
from pipelines.lake.lake import Lake
from pipelines.lake.lock import LakeLock, default_holder
from pipelines.lake.runlog import read_lake_runs, read_runs
from pipelines.lake.seen_keys import expire_seen, forget_seen
from pipelines.ops.gha import annotate, append_summary, run_annotations, set_outputs
from pipelines.ops.github import GitHubClient
from pipelines.ops.shard_summary import artifact_url, shards_markdown
from pipelines.ops.state_sync import GITHUB_RUNS_FILE, products_log_dir
from pipelines.run.detect import acknowledged_runs, judge_volumes, mass_delete_alerts
from pipelines.run.options import RunOptions, lake_storage
from pipelines.run.shard_deletions import SplitDeletions, split_plan
from pipelines.run.shard_join import (
    WHOLE_RUNLOG,
    append_whole_run,
    merge_records,
    missing_shards,
    read_legs,
    set_outcome,
    whole_run_gate,
    whole_runs,
)
from pipelines.run.write import sync_delta_tables

if TYPE_CHECKING:
    from pipelines.cli.main import CommandContext

LOG_RUNS = 500  # whole runs carried in the products folder (issue histories show 12)


def finalize(args: argparse.Namespace, context: CommandContext) -> int:
    """``gha-finalize``: join the shards of one workflow run (see ``commands/gha_finalize.py``)."""
    env, config = context.env, context.config
    group = args.group or env.get("GITHUB_RUN_ID")
    if not group:
        raise ConfigError("--group: name the run whose shards to join (GITHUB_RUN_ID is unset)")
    storage = lake_storage(config, RunOptions(offline=args.offline))
    legs = read_legs(storage, group)
    log_dir = config.run_log_dir(args.offline)
    runs = read_lake_runs(storage) if storage.remote else read_runs(log_dir)
    by_id = {run["run_id"]: run for run in runs}
    records = [by_id[leg["run_id"]] for leg in legs if leg.get("run_id") in by_id]
    if not records:
        text = (f"No shard of run {group} recorded a run in {storage.uri}: nothing to join "
                "(see the shards' logs).")  # fmt: skip
        sys.stdout.write(text + "\n")
        append_summary(text, env)
        set_outputs({"committed": False, "notify": False, "judged": False}, env)
        return 0
    missing = missing_shards(legs, list(by_id))
    record = merge_records(records, storage.uri, missing)
    record["github"] = github_run(env)
    notes = [f"shard {s} left no run record (see its job's log)" for s in missing]
    notes += whole_run_gate(record, QualityConfig.from_table(config.sections.get("quality", {})))
    lake = Lake(storage)
    with LakeLock(storage, default_holder(record["run_id"]), config.lock_ttl_seconds,
                  config.lock_wait_seconds) as lock:  # fmt: skip
        deletions = SplitDeletions(
            lake, record["run_id"], datetime.fromisoformat(record["started_at"]),
            Path(config.data_dir) / "_runs" / record["run_id"], config.max_delete_share,
            config.row_group_size, lock.check, allow_mass_delete=args.allow_mass_delete,
        )  # fmt: skip
        notes += join_deletions(deletions, record, records, missing, config)
        history = [r for r in whole_runs(storage, runs) if r["run_id"] != record["run_id"]]
        judge(record, history, config, config.run_log_dir())  # acknowledged: one file
        append_whole_run(storage, record)
    logs = args.products_dir / products_log_dir(config, args.offline)
    publish(logs, record, history, env, notes, by_id)
    committed = any(lake.read_manifest(r["run_id"]) is not None for r in records)
    set_outputs(outputs(record, committed, env), env)
    return 0


def join_deletions(
    deletions: SplitDeletions,
    record: dict[str, Any],
    records: Sequence[Mapping[str, Any]],
    missing: Sequence[str],
    config: PipelineConfig,
) -> list[str]:
    """Decide and write the deletions of providers split across the shards (once), hand them
    to the Delta tables (``table_format = "delta"``), fold them into ``record`` and remove the
    shards' keys once consumed (kept when a shard failed or is missing, for a re-run; expired
    after ``trash_retention_days``); return the notes for the summary."""
    lake = deletions.lake
    earlier = [r for r in read_lake_runs(lake.storage, WHOLE_RUNLOG)
               if r["run_id"] == record["run_id"]]  # fmt: skip
    gated = [name for name, e in record["providers"].items() if e["status"] == "quality_failed"]
    if earlier:
        record["deletions"] = earlier[-1].get("deletions", {})
        notes = [f"these shards were joined before (run {record['run_id']}): nothing new written"]
    else:
        decided, refused = split_plan(lake, records, missing, gated)
        results = deletions.apply(decided)
        record["deletions"] = {**results, **{n: {"note": note} for n, note in refused.items()}}
        if not set(refused) - set(gated):  # every shard's keys were used, or are moot
            forget_seen(lake.storage, [r["run_id"] for r in records])
        notes = [*refused.values(), *map(_deleted_note, results.items())]
    if config.table_format == "delta" and lake.read_manifest(record["run_id"]) is not None:
        sync_delta_tables(lake, record["run_id"], deletions.work / "delta.json")
    shutil.rmtree(deletions.work, ignore_errors=True)  # the staged rows went into the lake
    expire_seen(lake.storage, config.trash_retention_days)
    _count_deletions(record)
    return notes


def _deleted_note(item: tuple[str, Mapping[str, Any]]) -> str:
    name, result = item
    return result.get("error") or (f"{name}: split across shards, {result.get('deleted', 0)} "
                                   "product(s) that no shard saw marked deleted")  # fmt: skip


def _count_deletions(record: dict[str, Any]) -> None:
    for name, result in (record.get("deletions") or {}).items():
        entry = record["providers"].get(name)
        if entry is not None and result.get("deleted"):
            entry["deleted"] += result["deleted"]
            entry["written"] += result["deleted"]
    set_outcome(record)


def judge(
    record: dict[str, Any], history: list[dict[str, Any]], config: PipelineConfig, log_dir: Path
) -> None:
    """One volume verdict over the whole run (total, per provider and per dataset pull), plus
    mass-delete alerts."""
    anomaly_config = AnomalyConfig.from_table(config.sections.get("anomaly", {}))
    mass_deletes = mass_delete_alerts(record.get("deletions") or {})
    acknowledged = acknowledged_runs(log_dir)
    record["anomaly"] = judge_volumes(history, record, anomaly_config, acknowledged,
                                      mass_deletes).to_dict()  # fmt: skip


def publish(
    logs: Path,
    record: dict[str, Any],
    history: list[dict[str, Any]],
    env: Mapping[str, str],
    notes: list[str],
    runs: Mapping[str, Mapping[str, Any]],
) -> None:
    """The job summary and annotations, and the products folder's ``logs`` (the run log
    folder of the run's mode in it) for the issues job."""
    logs.mkdir(parents=True, exist_ok=True)
    markdown, _ = write_reports(logs, record, history, record["anomaly"], run_links(env))
    shards = shards_markdown(record, runs, leg_artifacts(env), notes)
    markdown.write_text(markdown.read_text(encoding="utf-8") + "\n" + shards + "\n")
    append_summary(markdown.read_text(encoding="utf-8"), env)
    annotate(run_annotations(record))
    texts = {
        "runs.jsonl": _jsonl([*history[-(LOG_RUNS - 1) :], record]),
        f"run-{record['run_id']}.json": json.dumps(record, indent=2, default=str) + "\n",
        GITHUB_RUNS_FILE: _jsonl([{"run_id": r["run_id"], **r["github"]}
                                  for r in [*history, record] if r.get("github")]),
    }  # fmt: skip
    for name, text in texts.items():
        (logs / name).write_text(text, encoding="utf-8")


def github_run(env: Mapping[str, str]) -> dict[str, str]:
    """Which workflow run and event made the joined run: kept in its whole-run record, so that
    ``logs/github_runs.jsonl`` lists every joined run and file-issues counts failure streaks
    across sharded runs."""
    return {
        "event": env.get("GITHUB_EVENT_NAME", ""),
        "github_run_id": env.get("GITHUB_RUN_ID", ""),
        "github_run_attempt": env.get("GITHUB_RUN_ATTEMPT", ""),
    }


def _jsonl(rows: Sequence[Mapping[str, Any]]) -> str:
    return "".join(json.dumps(row, sort_keys=True, default=str) + "\n" for row in rows)


def leg_artifacts(env: Mapping[str, str]) -> dict[str, str]:
    """Shard (``K/N``) -> the link to its products artifact (the newest attempt's), from the
    GitHub API (actions:read); empty outside Actions or when the API cannot say."""
    if not env.get("GITHUB_RUN_ID") or not env.get("GITHUB_REPOSITORY"):
        return {}
    try:
        artifacts = GitHubClient.from_env(env).run_artifacts(int(env["GITHUB_RUN_ID"]))
    except (PipelineError, ValueError) as exc:
        print(f"gha-finalize: no links to the shards' artifacts ({exc})", file=sys.stderr)
        return {}
    prefix = f"products-{env['GITHUB_RUN_ID']}-"
    links: dict[str, str] = {}
    for artifact in sorted(artifacts, key=lambda a: a.id):
        if artifact.name.startswith(prefix) and "-shard-" in artifact.name:
            index, _, count = artifact.name.rsplit("-shard-", 1)[1].partition("-of-")
            links[f"{index}/{count}"] = artifact_url(env, artifact.id)
    return links
