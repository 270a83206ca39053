"""End-to-end runs of the runner on a small in-memory provider: lake, dedup, run log, exits."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

import duckdb

from pipelines.config import load_config
from pipelines.lake.dedup import load_state
from pipelines.lake.lake import Lake
from pipelines.lake.schema import PRODUCT_SCHEMA
from pipelines.run.options import RunOptions
from pipelines.run.runner import Runner
from tests.catalog_provider import CatalogProvider, make_record

ENV = {"CATALOG_TOKEN": "t0ken-value"}


def run(providers: list[CatalogProvider], env=ENV, data_dir: Path | None = None, **options):
    registry = {p.name: p for p in providers}
    config = load_config(None, registry)
    if data_dir is not None:
        config = config.with_pipeline(data_dir=str(data_dir))
    return Runner(config, registry, env, RunOptions(**options)).run()


def normalized_rows(root: Path) -> list[dict]:
    lake = Lake(root)
    files = [f for f in lake.committed_files("normalized") if f.exists()]
    return lake.parts("normalized", files, PRODUCT_SCHEMA).to_table().to_pylist()


def test_first_run_writes_every_row_as_new(workdir: Path) -> None:
    result = run([CatalogProvider([make_record(i) for i in range(5)])])
    assert result.exit_code == 0
    rows = normalized_rows(workdir / "data")
    assert sorted(r["source_id"] for r in rows) == [f"item-{i}" for i in range(5)]
    assert {r["change_type"] for r in rows} == {"new"}
    assert result.record["providers"]["catalog"]["written"] == 5
    raw_files = list((workdir / "data/raw").rglob("*.jsonl.zst"))
    assert len(raw_files) == 1
    assert raw_files[0].parent.name == "source=catalog"


def test_identical_second_run_writes_zero_rows(workdir: Path) -> None:
    records = [make_record(i) for i in range(5)]
    run([CatalogProvider(records)])
    second = run([CatalogProvider(records)])
    entry = second.record["providers"]["catalog"]
    assert (entry["new"], entry["changed"], entry["unchanged"], entry["written"]) == (0, 0, 5, 0)
    assert len(normalized_rows(workdir / "data")) == 5


def test_price_change_writes_exactly_that_row_as_changed(workdir: Path) -> None:
    run([CatalogProvider([make_record(i) for i in range(5)])])
    changed = [make_record(i, price="12.50" if i == 3 else "10.00") for i in range(5)]
    result = run([CatalogProvider(changed)])
    assert result.record["providers"]["catalog"]["changed"] == 1
    latest = [
        r for r in normalized_rows(workdir / "data") if r["run_id"] == result.record["run_id"]
    ]
    assert [(r["source_id"], r["change_type"], str(r["price_amount"])) for r in latest] == [
        ("item-3", "changed", "12.5000")
    ]


def test_cosmetic_raw_change_writes_nothing(workdir: Path) -> None:
    run([CatalogProvider([make_record(i) for i in range(3)])])
    reordered = [{"price": "10.00", "title": f"Item {i}", "id": f"item-{i}"} for i in range(3)]
    unmapped = [make_record(i, etag=f"W/{i}") for i in range(3)]
    for records in (reordered, unmapped):
        entry = run([CatalogProvider(records)]).record["providers"]["catalog"]
        assert (entry["written"], entry["unchanged"]) == (0, 3)


def test_duckdb_reads_the_lake_with_canonical_types(workdir: Path) -> None:
    run([CatalogProvider([make_record(i) for i in range(3)])])
    described = duckdb.sql(
        "DESCRIBE SELECT * FROM read_parquet('data/normalized/**/*.parquet', "
        "hive_partitioning=true)"
    ).fetchall()
    types = {name: column_type for name, column_type, *_ in described}
    assert types["price_amount"] == "DECIMAL(18,4)"
    assert types["fetched_at"] == "TIMESTAMP WITH TIME ZONE"
    assert types["category_path"] == "VARCHAR[]"
    assert types["schema_version"] == "SMALLINT"
    assert types["source"] == "VARCHAR"


def test_failing_provider_does_not_stop_the_others_and_commits_nothing(workdir: Path) -> None:
    broken = CatalogProvider([make_record(i) for i in range(4)], name="broken")
    broken.fail_after = 2
    good = CatalogProvider([make_record(i) for i in range(3)], name="good")
    result = run([broken, good])
    assert result.exit_code == 1
    assert result.record["providers"]["broken"]["status"] == "failed"
    assert "page 2" in result.record["providers"]["broken"]["error"]
    assert {r["source"] for r in normalized_rows(workdir / "data")} == {"good"}
    assert not list((workdir / "data").rglob("*.tmp"))
    assert list((workdir / "data/raw").rglob("source=broken/*")) == []


def test_every_provider_failing_exits_4_and_missing_credentials_skip(workdir: Path) -> None:
    broken = CatalogProvider([make_record(1)])
    broken.fail_after = 0
    assert run([broken]).exit_code == 4
    skipped = run([CatalogProvider([make_record(1)])], env={})
    entry = skipped.record["providers"]["catalog"]
    assert (entry["status"], entry["reason"]) == ("skipped", "missing CATALOG_TOKEN")
    assert skipped.exit_code == 0


def test_run_log_jsonl_and_sqlite_mirror(workdir: Path) -> None:
    result = run([CatalogProvider([make_record(i) for i in range(2)])], limit=1)
    line = json.loads((workdir / "logs/runs.jsonl").read_text().splitlines()[-1])
    assert line["run_id"] == result.record["run_id"]
    assert line["args"]["limit"] == 1
    assert line["providers"]["catalog"]["fetched"] == 1
    assert "t0ken-value" not in (workdir / "logs/runs.jsonl").read_text()
    with sqlite3.connect(workdir / "logs/runs.sqlite") as db:
        assert db.execute("SELECT provider, fetched FROM provider_runs").fetchall() == [
            ("catalog", 1)
        ]


def test_dry_run_writes_nothing(workdir: Path) -> None:
    result = run([CatalogProvider([make_record(i) for i in range(3)])], dry_run=True)
    assert result.record["providers"]["catalog"]["new"] == 3
    assert len(result.previews["catalog"]) == 3
    assert not (workdir / "data").exists()
    assert not (workdir / "logs").exists()


def test_unmappable_record_is_dropped_with_reason_and_counts_reconcile(workdir: Path) -> None:
    records = [make_record(1), {"title": "no id"}, make_record(2)]
    entry = run([CatalogProvider(records)]).record["providers"]["catalog"]
    assert entry["dropped_reasons"] == {"unmappable_record": 1}
    assert entry["fetched"] == entry["new"] + entry["dropped"] == 3


def test_killed_run_leftovers_are_removed_by_the_next_run(workdir: Path) -> None:
    run([CatalogProvider([make_record(1)])])
    orphan_dir = workdir / "data/normalized/dt=2026-01-01/source=catalog"
    orphan_dir.mkdir(parents=True)
    orphan = orphan_dir / "part-20260101T000000Z-abcdef-0.parquet"
    orphan.write_bytes(b"half a file")
    (orphan_dir / "part-20260101T000000Z-abcdef-0.parquet.tmp").write_bytes(b"x")
    run([CatalogProvider([make_record(1)])])
    assert not orphan.exists()
    assert list(orphan_dir.iterdir()) == []


def test_run_killed_after_manifest_before_state_neither_loses_nor_duplicates(
    workdir: Path,
) -> None:
    first = run([CatalogProvider([make_record(i) for i in range(3)])])
    state_dir = workdir / "data/state"
    for path in state_dir.iterdir():  # as if the process died before writing the state
        path.unlink()
    second = run([CatalogProvider([make_record(i) for i in range(3)])])
    assert second.record["providers"]["catalog"]["written"] == 0
    assert first.record["run_id"] in load_state(workdir / "data").applied_runs
    assert len(normalized_rows(workdir / "data")) == 3


def test_replay_renormalizes_raw_files_without_fetching(workdir: Path) -> None:
    run([CatalogProvider([make_record(i) for i in range(3)])], data_dir=workdir / "a")
    result = run([CatalogProvider([])], replay=workdir / "a/raw", data_dir=workdir / "b", env={})
    assert result.record["mode"] == "replay"
    assert result.record["providers"]["catalog"]["new"] == 3
    assert len(normalized_rows(workdir / "b")) == 3


def test_complete_pull_writes_deleted_rows_for_vanished_products(workdir: Path) -> None:
    provider = CatalogProvider([make_record(i) for i in range(4)])
    provider.complete = True
    run([provider])
    provider.records = [make_record(i) for i in (0, 2)]
    result = run([provider])
    entry = result.record["providers"]["catalog"]
    assert (entry["deleted"], entry["unchanged"], entry["written"]) == (2, 2, 2)
    latest = [
        r for r in normalized_rows(workdir / "data") if r["run_id"] == result.record["run_id"]
    ]
    assert sorted((r["source_id"], r["change_type"], r["title"]) for r in latest) == [
        ("item-1", "deleted", "Item 1"),
        ("item-3", "deleted", "Item 3"),
    ]
    assert run([provider]).record["providers"]["catalog"]["deleted"] == 0
    provider.records = [make_record(i) for i in range(4)]
    back = run([provider]).record["providers"]["catalog"]
    assert (back["new"], back["unchanged"]) == (2, 2)


def test_limited_or_incomplete_pull_never_deletes(workdir: Path) -> None:
    provider = CatalogProvider([make_record(i) for i in range(4)])
    run([provider])
    provider.records = [make_record(0)]
    assert run([provider]).record["providers"]["catalog"]["deleted"] == 0
    provider.complete = True
    provider.records = [make_record(i) for i in range(4)]
    assert run([provider], limit=1).record["providers"]["catalog"]["deleted"] == 0


def test_provider_state_is_saved_only_when_the_run_commits(workdir: Path) -> None:
    provider = CatalogProvider([make_record(1)])
    run([provider])
    run([provider])
    provider.fail_after = 0
    run([provider])
    saved = load_state(workdir / "data").extra["providers"]["catalog"]
    assert saved == {"runs_seen": 2}


def test_failed_provider_changes_are_not_remembered(workdir: Path) -> None:
    run([CatalogProvider([make_record(i) for i in range(3)])])
    failing = CatalogProvider([make_record(0, price="99.00"), make_record(1), make_record(2)])
    failing.fail_after = 2
    assert run([failing]).record["providers"]["catalog"]["status"] == "failed"
    retry = run([CatalogProvider([make_record(0, price="99.00"), make_record(1), make_record(2)])])
    assert retry.record["providers"]["catalog"]["changed"] == 1


def test_deletions_without_the_old_parts_still_write_a_deleted_row(workdir: Path) -> None:
    provider = CatalogProvider([make_record(i) for i in range(2)])
    provider.complete = True
    run([provider])
    for part in (workdir / "data/normalized").rglob("*.parquet"):
        part.unlink()  # a lake restored from state alone, as on a CI runner
    provider.records = [make_record(0)]
    result = run([provider])
    latest = [
        r for r in normalized_rows(workdir / "data") if r["run_id"] == result.record["run_id"]
    ]
    assert [(r["source_id"], r["change_type"], r["condition"]) for r in latest] == [
        ("item-1", "deleted", "unknown")
    ]


def test_a_provider_bug_fails_that_provider_only(workdir: Path) -> None:
    class BuggyProvider(CatalogProvider):
        def fetch(self, ctx):
            yield make_record(1)
            raise RuntimeError("plug-in bug")

    result = run([BuggyProvider([], name="buggy"), CatalogProvider([make_record(2)])])
    assert result.exit_code == 1
    buggy = result.record["providers"]["buggy"]
    assert (buggy["status"], buggy["error"]) == (
        "failed",
        "buggy: unexpected RuntimeError: plug-in bug",
    )
    assert {r["source"] for r in normalized_rows(workdir / "data")} == {"catalog"}
