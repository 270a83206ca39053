"""A provider's stream split across worker processes (``pipelines/run/workers.py``) commits what
one process commits: the same rows, quarantine, counts and state, whether the parent learns
a line's keys in Arrow or from ``raw_keys``. A worker that dies stops the
run before the commit, and resuming it finishes the run."""

from __future__ import annotations

import json
import logging
import sys
from pathlib import Path
from typing import Any

import orjson
import pyarrow.parquet as pq
import pytest
import zstandard

from pipelines.config import load_config
from pipelines.errors import WorkerError
from pipelines.lake.lake import Lake
from pipelines.run.counts import ProviderCounts
from pipelines.run.options import RunOptions
from pipelines.run.runner import Runner
from pipelines.run.workers import merge_counts, workers_for
from providers.shopify import ShopifyProvider
from tests.pipelines.crashing_provider import MARK, CrashingShopify
from tests.pipelines.lake_compare import assert_same_lake
from tests.pipelines.test_cli import cli

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "bench"))
from bench_replay import synthetic_product, write_raw

COUNTED = ("records", "fetched", "new", "changed", "unchanged", "quarantined", "dropped",
           "deleted", "quality", "dropped_reasons")  # fmt: skip


def replay(root: Path, raw: Path, workers: int, provider: ShopifyProvider | None = None,
           run_id: str | None = None) -> Runner:  # fmt: skip
    providers = {"shopify": provider or ShopifyProvider()}
    config = load_config(None, providers).with_pipeline(
        data_dir=str(root / "data"), log_dir=str(root / "logs"), batch_size=300
    )
    options = RunOptions(replay=raw, providers=("shopify",), workers=workers)
    return Runner(config, providers, {}, options, run_id=run_id)


def quarantine(lake: Path) -> list[tuple[str, ...]]:
    """Every quarantined row, without what differs per run, sorted."""
    rows = []
    for path in (lake / "quarantine").rglob("*.parquet"):
        for row in pq.read_table(path).to_pylist():
            rows.append(tuple(str(v) for k, v in row.items() if k not in ("run_id", "fetched_at")))
    return sorted(rows)


def counted(record: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {
        name: {key: entry.get(key) for key in COUNTED}
        for name, entry in record["providers"].items()
    }


def assert_same_runs(split: Path, single: Path, records: tuple[dict, dict]) -> None:
    assert_same_lake(split, single)
    assert quarantine(split) == quarantine(single)
    assert counted(records[0]) == counted(records[1])


def land(folder: Path, products: list[dict[str, Any]], extra: bytes = b"") -> Path:
    """``products`` (and ``extra`` lines) in one raw landing file of a ``raw/`` folder;
    returns that folder."""
    target = folder / "raw" / "dt=2026-11-01" / "source=shopify"
    target.mkdir(parents=True)
    with (target / "20261102T000000Z-000001.jsonl.zst").open("wb") as handle:
        lines = b"".join(orjson.dumps(p) + b"\n" for p in products) + extra
        handle.write(zstandard.ZstdCompressor().compress(lines))
    return folder / "raw"


def test_the_offline_demo_in_two_workers_commits_what_one_process_commits(tmp_path):
    records = []
    for workers in ("2", "1"):
        home = tmp_path / workers
        home.mkdir()
        done = cli("--offline", "--data-dir", "data", "--workers", workers, "--verbose", cwd=home)
        assert done.returncode == 0, done.stderr
        split_providers = done.stderr.count("worker processes")
        assert split_providers == (3 if workers == "2" else 0)
        runs = (home / "logs" / "demo" / "runs.jsonl").read_text().splitlines()
        records.append(json.loads(runs[-1]))
    assert_same_runs(tmp_path / "2/data/demo", tmp_path / "1/data/demo", tuple(records))
    assert records[0]["providers"]["shopify"]["quarantined"] > 0  # the rules had work to do


def test_a_generated_replay_in_two_workers_commits_what_one_process_commits(tmp_path):
    raw = write_raw(tmp_path / "input", 3000, mixed=True)
    changed = [synthetic_product(n, 1 + n % 4) for n in range(0, 1200, 2)]
    for product in changed:
        product["title"] += " (new title)"
    not_a_number = (
        b'{"id": "gid://shopify/Product/1", "title": "NaN price", "variants": '
        b'{"nodes": [{"id": "gid://shopify/ProductVariant/1", "price": NaN}]}}\n'
    )
    later = land(tmp_path / "later", changed, extra=not_a_number)
    records = []
    for workers in (2, 1):
        first = replay(tmp_path / str(workers), raw, workers).run().record
        second = replay(tmp_path / str(workers), later, workers).run().record
        assert (first["exit_code"], second["exit_code"]) == (0, 0)
        records.append(second)
    assert_same_runs(tmp_path / "2/data", tmp_path / "1/data", tuple(records))
    assert records[0]["providers"]["shopify"]["changed"] > 0
    assert records[0]["providers"]["shopify"]["dropped_reasons"] == {"invalid_json_number": 1}
    parts = list((tmp_path / "2/data/normalized").rglob("*.parquet"))
    assert len(parts) == 2  # one part per run: the workers' rows are deduplicated together


def test_the_same_replay_again_in_two_workers_skips_unchanged_raw_as_one_process(tmp_path):
    raw = write_raw(tmp_path / "input", 2000, mixed=True)
    records, skipped = [], []
    for workers in (2, 1):
        replay(tmp_path / str(workers), raw, workers).run()
        again = replay(tmp_path / str(workers), raw, workers)
        records.append(again.run().record)
        staged = again.checkpoint.outputs("normalize.shopify")["staged"]
        skipped.append(sorted(Path(f["path"]).name for f in staged if f["zone"] == "unchanged"))
    assert_same_runs(tmp_path / "2/data", tmp_path / "1/data", tuple(records))
    shopify = records[0]["providers"]["shopify"]
    assert shopify["unchanged"] == shopify["fetched"] - shopify["quarantined"] > 0
    assert [len(files) for files in skipped] == [2, 1]  # each worker skipped its share early


def test_records_of_one_id_in_two_workers_are_normalized_again_in_one_process(tmp_path, caplog):
    products = [synthetic_product(n, 2) for n in range(400)]
    shared = products[10]["variants"]["nodes"][1]["id"]
    products[310]["variants"]["nodes"][1]["id"] = shared  # in block 2 of 300 lines: worker 2
    raw = land(tmp_path / "input", products)
    records = [replay(tmp_path / str(w), raw, w).run().record for w in (2, 1)]
    assert "normalizing it again in one process" in caplog.text
    assert_same_runs(tmp_path / "2/data", tmp_path / "1/data", tuple(records))
    assert records[0]["providers"]["shopify"]["quality"]["duplicate_source_id"] == 1


def test_a_provider_without_raw_keys_is_split_too(tmp_path, caplog):
    caplog.set_level(logging.INFO, "pipeline.workers")
    raw = write_raw(tmp_path / "input", 1500, mixed=True)
    records = [replay(tmp_path / str(w), raw, w, KeysOnlyShopify()).run().record for w in (2, 1)]
    assert "normalizing in 2 worker processes" in caplog.text
    assert "again in one process" not in caplog.text
    assert_same_runs(tmp_path / "2/data", tmp_path / "1/data", tuple(records))


class KeysOnlyShopify(ShopifyProvider):
    """Shopify naming no ids without normalizing: no ``raw_table``, no ``raw_keys``."""

    raw_table = None  # type: ignore[assignment]

    def raw_keys(self, raw: dict[str, Any]) -> list[str] | None:
        return None


def test_a_killed_worker_stops_the_run_and_resume_finishes_it(tmp_path):
    products = [synthetic_product(n, 1 + n % 4) for n in range(600)]
    products[450]["title"] = MARK
    raw = land(tmp_path / "input", products)
    runner = replay(tmp_path / "split", raw, 2, CrashingShopify())
    with pytest.raises(WorkerError, match=r"shopify: normalize worker \d of 2 was killed by "
                       r"signal 9 .*--resume runs it again"):  # fmt: skip
        runner.run()
    assert runner.checkpoint.status("normalize.shopify") == "failed"
    assert runner.checkpoint.status("write") == "pending"
    assert Lake(tmp_path / "split/data").manifest_ids() == []
    assert not list((runner.checkpoint.work / "candidates").glob("*.parquet"))

    resumed = replay(tmp_path / "split", raw, 1, CrashingShopify(), run_id=runner.run_id)
    record = resumed.resume().record
    clean = replay(tmp_path / "clean", raw, 1).run().record
    assert (record["exit_code"], record["run_id"]) == (0, runner.run_id)
    assert_same_runs(tmp_path / "split/data", tmp_path / "clean/data", (record, clean))


def test_auto_splits_a_provider_whose_raw_input_is_large(tmp_path, monkeypatch):
    monkeypatch.setattr("os.sched_getaffinity", lambda pid: {0, 1, 2, 3})
    monkeypatch.setattr("os.getloadavg", lambda: (1.2, 0.0, 0.0))
    raw = tmp_path / "landed.jsonl.zst"
    raw.write_bytes(b"x" * 3 * 1024 * 1024)
    config = load_config(None, {}).with_pipeline(workers_min_raw_mb=2.0)
    extract = {"replay_files": [str(raw)]}
    assert workers_for(None, config, extract) == 3  # the CPUs left idle of those it may use
    monkeypatch.setattr("os.getloadavg", lambda: (9.0, 0.0, 0.0))
    assert workers_for(None, config, extract) == 1  # a saturated machine: no workers
    assert workers_for(None, config.with_pipeline(workers_min_raw_mb=4.0), extract) == 1
    assert workers_for(3, config, extract) == 3  # --workers
    assert workers_for(None, config.with_pipeline(workers=2), {}) == 2  # pipeline.workers


def test_merged_counts_add_up_and_keep_the_examples_within_their_limits():
    one = ProviderCounts(records=3, fetched=2, quality={"title_required": 1})
    two = ProviderCounts(records=4, fetched=4, quality={"title_required": 2, "price_positive": 1})
    for counts, ids in ((one, range(5)), (two, range(5, 30))):
        for n in ids:
            counts.drop("normalizer_error", f"catalog record {n}: KeyError('id')")
        counts.rejected_examples = [f"catalog:{n}" for n in ids][:3]
    merged = merge_counts([one, two])
    assert (merged.records, merged.fetched, merged.dropped) == (7, 36, 30)
    assert merged.quality == {"title_required": 3, "price_positive": 1}
    assert merged.drop_causes == {("normalizer_error", "KeyError('id')"): 30}
    assert merged.errors == [f"catalog record {n}: KeyError('id')" for n in range(3)]
    assert merged.rejected_examples == ["catalog:0", "catalog:1", "catalog:2"]


def test_an_empty_stream_in_two_workers_commits_what_one_process_commits(tmp_path):
    raw = land(tmp_path / "input", [])
    records = [replay(tmp_path / str(w), raw, w).run().record for w in (2, 1)]
    assert [record["exit_code"] for record in records] == [0, 0]
    assert counted(records[0]) == counted(records[1])
    assert records[0]["providers"]["shopify"]["records"] == 0
