"""A joined run decides like an unsharded one: the quality gate over the whole run's reject
share, no volume verdict of a shard's share, failure streaks across joined runs, its deletions
in the Delta tables, the shards' keys cleaned up, ``--allow-mass-delete`` at the join."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc
import pytest
from deltalake import DeltaTable

from pipelines.checks.report import render_markdown
from pipelines.cli.commands import gha_finalize
from pipelines.cli.commands.file_issues import failure_streaks
from pipelines.cli.main import CommandContext
from pipelines.config import load_config
from pipelines.errors import ConfigError
from pipelines.lake.lake import Lake
from pipelines.lake.seen_keys import SEEN_DIR, expire_seen, write_seen
from pipelines.lake.storage import open_storage
from pipelines.ops.metrics import provider_families, run_families
from pipelines.run.options import RunOptions
from pipelines.run.runner import Runner
from pipelines.run.shard import Shard, split_lists
from pipelines.run.shard_join import record_leg
from tests.catalog_provider import make_record
from tests.pipelines.test_runner import ENV
from tests.pipelines.test_shard_join import SplitCatalog, deleted_rows, joined
from tests.workflow_syntax import parse_outputs

LAKE = "data"
IDS = [f"item-{i}" for i in range(40)]


def shard_ids(k: int) -> list[str]:
    return split_lists("catalog", {"ids": IDS}, [("ids", 1)], Shard(k, 2))["ids"]


def run_shards(group: str, items: list[int], bad: set[str] = frozenset(), fail_in: int = 0,
               **pipeline: object) -> list[dict]:  # fmt: skip
    """Both shards of a workflow run (``--defer-gate``), the items in ``bad`` priced below 0
    (rejected by the quality rules), shard ``fail_in`` failing; their legs recorded."""
    records = []
    for k in (1, 2):
        provider = SplitCatalog([make_record(i, "-1.00" if f"item-{i}" in bad else "10.00")
                                 for i in items])  # fmt: skip
        provider.complete = True
        provider.fail_after = 0 if k == fail_in else None
        registry = {provider.name: provider}
        config = load_config(None, registry).with_pipeline(lake_uri=LAKE, **pipeline)
        options = RunOptions(shard=f"{k}/2", defer_gate=True)
        record = Runner(config, registry, ENV, options).run().record
        record_leg(open_storage(LAKE), group, Shard(k, 2), record["run_id"], record["exit_code"])
        records.append(record)
    return records


def finalize_outputs(group: str, tmp: Path, allow_mass_delete: bool = False, **pipeline) -> dict:
    """``gha-finalize`` of a scheduled workflow run ``group``; its step outputs."""
    out = tmp / f"out-{group}"
    out.touch()
    env = {"GITHUB_OUTPUT": str(out), "GITHUB_EVENT_NAME": "schedule", "GITHUB_RUN_ID": group}
    registry = {"catalog": SplitCatalog()}
    config = load_config(None, registry).with_pipeline(lake_uri=LAKE, **pipeline)
    args = argparse.Namespace(group=group, products_dir=tmp / f"products-{group}", offline=False,
                              allow_mass_delete=allow_mass_delete)  # fmt: skip
    assert gha_finalize.execute(args, CommandContext(config, registry, env)) == 0
    return parse_outputs(out)


def read_jsonl(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text().splitlines()]


def committed(change_type: str = "new") -> int:
    table = Lake(open_storage(LAKE)).dataset().to_table(columns=["change_type"])
    return pc.sum(pc.equal(table["change_type"], change_type)).as_py() or 0


def test_one_shard_over_the_threshold_but_the_whole_run_within_it_passes(workdir: Path) -> None:
    bad = set(shard_ids(1)[:2])  # 2 of shard 1's 23 rows (8.7%), 2 of the run's 40 (5.0%)
    shards = run_shards("g1", list(range(40)), bad)
    entry = shards[0]["providers"]["catalog"]
    assert (entry["status"], entry["quality_gate"], shards[0]["exit_code"]) == ("ok", "deferred", 0)
    assert (
        "quality gate failed for catalog: 2 of 23 rows rejected (8.7% > 5.0%)"
        in entry["gate_share"]
    )
    assert committed() == 38  # every valid row; the 2 rejected ones are quarantined
    assert sum(r["providers"]["catalog"]["quarantined"] for r in shards) == 2

    outputs = finalize_outputs("g1", workdir)
    [record] = joined(LAKE)
    assert record["providers"]["catalog"]["status"] == "ok"
    assert (record["exit_code"], outputs["exit_code"], outputs["notify"]) == (0, "0", "false")
    report = (workdir / "products-g1/logs" / f"report-{record['run_id']}.md").read_text()
    assert "2 of 40 rows were rejected, within reject_threshold 5.0%: passed" in report


def test_the_whole_run_over_the_threshold_fails_the_gate_like_an_unsharded_run(
    workdir: Path,
) -> None:
    bad = set(shard_ids(1)[:3])  # 3 of 40: 7.5%
    shards = run_shards("g1", list(range(40)), bad)
    assert [r["exit_code"] for r in shards] == [0, 0]  # the shards leave the gate to the join
    outputs = finalize_outputs("g1", workdir)
    [record] = joined(LAKE)
    entry = record["providers"]["catalog"]
    assert entry["status"] == "quality_failed"
    assert entry["error"].startswith("over the whole run, quality gate failed for catalog: 3 of 40")
    assert record["exit_code"] == 3  # as an unsharded run's gate
    assert (outputs["exit_code"], outputs["failed_providers"], outputs["notify"]) == (
        "3", "catalog", "true",
    )  # fmt: skip
    report = (workdir / "products-g1/logs" / f"report-{record['run_id']}.md").read_text()
    assert "over the whole run, quality gate failed for catalog" in report
    assert committed() == 37  # the valid rows stay committed; the gate decides the run's outcome


def test_defer_gate_needs_a_shard(workdir: Path) -> None:
    registry = {"catalog": SplitCatalog()}
    config = load_config(None, registry).with_pipeline(lake_uri=LAKE)
    with pytest.raises(ConfigError, match="--defer-gate: only a shard"):
        Runner(config, registry, ENV, RunOptions(defer_gate=True))


def test_a_shard_judges_none_of_its_volumes_and_says_so(workdir: Path) -> None:
    [first, _] = run_shards("g1", list(range(40)))
    assert first["anomaly"] == {"version": 1, "worst": "ok", "verdicts": [], "shard": "1/2"}
    report = render_markdown(first, [], first["anomaly"])
    assert "shard 1/2: volumes judged over the whole run" in report
    assert "Shard 1/2 holds a share of the run: its volumes are not judged here" in report
    assert "anomaly check" not in report
    families = {f.name: f for f in [*run_families(first), *provider_families(first)]}
    assert families["product_pipeline_anomaly_z_score"].samples == []
    assert [s.value for s in families["product_pipeline_anomaly_alerts"].samples] == [0]


def test_failure_streaks_count_joined_runs(workdir: Path) -> None:
    for group in ("g1", "g2", "g3"):
        run_shards(group, list(range(10)), fail_in=2)
        finalize_outputs(group, workdir)
    logs = workdir / "products-g3/logs"
    github_runs = [
        json.loads(line) for line in (logs / "github_runs.jsonl").read_text().splitlines()
    ]
    runs = [json.loads(line) for line in (logs / "runs.jsonl").read_text().splitlines()]
    assert [g["github_run_id"] for g in github_runs] == ["g1", "g2", "g3"]
    assert [r["run_id"] for r in runs] == [r["run_id"] for r in joined(LAKE)]
    streaks = failure_streaks(runs[-1], runs, github_runs)
    assert list(streaks) == ["catalog"]
    assert len(streaks["catalog"]) == 3


def test_the_joins_deletions_reach_the_delta_tables(workdir: Path) -> None:
    run_shards("g1", list(range(10)), table_format="delta")
    finalize_outputs("g1", workdir, table_format="delta")
    run_shards("g2", [i for i in range(10) if i != 3], table_format="delta")
    finalize_outputs("g2", workdir, table_format="delta")
    current = DeltaTable(str(workdir / "data/delta/products_current")).to_pyarrow_table()
    assert "item-3" not in current["source_id"].to_pylist()
    assert len(current) == 9
    changes = DeltaTable(str(workdir / "data/delta/products_changes")).to_pyarrow_table()
    deleted = [r["source_id"] for r in changes.to_pylist() if r["change_type"] == "deleted"]
    assert deleted == ["item-3"]


def test_a_refused_mass_delete_cleans_the_keys_and_allow_mass_delete_lets_it_through(
    workdir: Path,
) -> None:
    run_shards("g1", list(range(10)))
    finalize_outputs("g1", workdir)
    run_shards("g2", [0, 1])  # 8 of 10 gone: more than max_delete_share
    outputs = finalize_outputs("g2", workdir)
    [record] = joined(LAKE)[-1:]
    refused = record["deletions"]["catalog"]
    assert refused["mass_delete"]["would_delete"] == 8
    assert "start the workflow by hand with its allow_mass_delete input" in refused["error"]
    assert "gha-finalize --allow-mass-delete" in refused["error"]
    assert outputs["anomaly"] == "alert"  # a mass-delete alert of the joined run
    assert deleted_rows(LAKE) == []
    assert open_storage(LAKE).list_files(SEEN_DIR) == []  # refused: the keys are gone too

    run_shards("g3", [0, 1])
    finalize_outputs("g3", workdir, allow_mass_delete=True)
    [record] = joined(LAKE)[-1:]
    assert record["deletions"]["catalog"] == {"status": "ok", "deleted": 8}
    assert len(deleted_rows(LAKE)) == 8


def test_keys_a_failed_shard_left_stay_for_a_rerun_and_expire(workdir: Path) -> None:
    run_shards("g1", list(range(10)))
    finalize_outputs("g1", workdir)
    run_shards("g2", list(range(10)), fail_in=2)
    finalize_outputs("g2", workdir)
    storage = open_storage(LAKE)
    kept = storage.list_files(SEEN_DIR)
    assert len(kept) == 1  # shard 1's, for a re-run of shard 2 and the join
    old = "20200101T000000Z-abcdef"
    write_seen(storage, old, "catalog", pa.array(["x"]))
    write_seen(storage, "notarun", "catalog", pa.array(["x"]))
    assert expire_seen(storage, 30) == [f"{SEEN_DIR}/{old}/seen-catalog.parquet"]
    assert storage.list_files(SEEN_DIR) == sorted(
        [*kept, f"{SEEN_DIR}/notarun/seen-catalog.parquet"]
    )
    write_seen(storage, old, "catalog", pa.array(["x"]))
    run_shards("g3", list(range(10)))  # every commit expires old keys
    assert f"{SEEN_DIR}/{old}/seen-catalog.parquet" not in storage.list_files(SEEN_DIR)
