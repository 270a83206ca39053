"""Unchanged raw is counted unchanged without being normalized, only where that is exact."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq

from pipelines.config import load_config
from pipelines.lake.dedup import DedupState, key_hashes, load_state
from pipelines.lake.lake import StagedFile
from pipelines.lake.schema import hash_raw
from pipelines.lake.state_index import binary16, hex16, source_key_hashes
from pipelines.run.options import RunOptions
from pipelines.run.process import DedupStage, RunContext
from pipelines.run.runner import Runner
from pipelines.run.skip import SKIP_ENTRY, UNCHANGED_SCHEMA
from tests.catalog_provider import CatalogProvider, make_record
from tests.pipelines.test_runner import ENV, normalized_rows

LENIENT = {"reject_threshold": 1.0}  # rejected rows do not fail the run's gate


class KeyedCatalog(CatalogProvider):
    """The test catalog with ``raw_keys``, counting the records it normalizes."""

    def __init__(self, records: list[dict[str, Any]]) -> None:
        super().__init__(records)
        self.normalized = 0

    def normalize(self, raw: dict[str, Any]) -> list[dict[str, Any]]:
        self.normalized += 1
        return super().normalize(raw)

    def raw_keys(self, raw: dict[str, Any]) -> list[str]:
        return [str(raw["id"])] if "id" in raw else []


def run(provider: KeyedCatalog, quality: dict[str, Any] | None = None, **options: Any):
    """One run of ``provider``; returns its run-log entry and the records it normalized."""
    registry = {provider.name: provider}
    config = load_config(None, registry)
    if quality is not None:
        config = replace(config, sections={**config.sections, "quality": quality})
    provider.normalized = 0
    result = Runner(config, registry, ENV, RunOptions(**options)).run()
    assert result.exit_code == 0
    return result.record["providers"]["catalog"], provider.normalized


def test_an_unchanged_record_is_counted_unchanged_without_normalizing(workdir: Path) -> None:
    provider = KeyedCatalog([make_record(i) for i in range(5)])
    entry, normalized = run(provider)
    assert (entry["new"], normalized) == (5, 5)
    entry, normalized = run(provider)
    assert (entry["fetched"], entry["unchanged"], entry["written"], normalized) == (5, 5, 0, 0)
    provider.records[3] = make_record(3, price="12.50")
    entry, normalized = run(provider)
    assert (entry["changed"], entry["unchanged"], normalized) == (1, 4, 1)
    assert len(normalized_rows(workdir / "data")) == 6


def test_skipped_records_still_count_as_seen_for_deletions(workdir: Path) -> None:
    provider = KeyedCatalog([make_record(i) for i in range(4)])
    provider.complete = True
    run(provider)
    provider.records = [make_record(i) for i in (0, 2)]
    entry, normalized = run(provider)
    assert (entry["deleted"], entry["unchanged"], normalized) == (2, 2, 0)


def test_a_run_whose_quality_settings_changed_normalizes_everything(workdir: Path) -> None:
    provider = KeyedCatalog([make_record(i) for i in range(5)])
    run(provider)
    stricter = {"max_title_length": 6}  # "Item 1" passes, as before
    entry, normalized = run(provider, stricter)
    assert (entry["unchanged"], normalized) == (5, 5)
    assert run(provider, stricter)[1] == 5  # an incomplete pull: held keys may predate it
    provider.complete = True
    run(provider, stricter)
    entry, normalized = run(provider, stricter)  # a complete pull checked every held key
    assert (entry["unchanged"], normalized) == (5, 0)
    assert run(provider)[1] == 5  # back to the defaults: another fingerprint
    assert run(provider, full_refresh=True)[1] == 5


def test_a_record_that_now_fails_a_check_is_quarantined_not_skipped(workdir: Path) -> None:
    provider = KeyedCatalog([make_record(i) for i in range(3)])
    run(provider, LENIENT)
    entry, normalized = run(provider, {**LENIENT, "max_title_length": 5})  # "Item 1": 6 long
    assert (entry["quarantined"], normalized) == (3, 3)


def test_a_repeated_id_is_checked_as_it_would_be_without_the_skip(workdir: Path) -> None:
    provider = KeyedCatalog([make_record(i) for i in range(3)])
    run(provider, LENIENT)
    provider.records = [make_record(0), make_record(1), make_record(1), make_record(2)]
    entry, normalized = run(provider, LENIENT)
    assert (entry["quarantined"], entry["unchanged"], normalized) == (1, 3, 2)
    assert SKIP_ENTRY in load_state(workdir / "data").extra


def test_raw_unchanged_compares_the_held_raw_hash_per_key() -> None:
    state = DedupState()
    state.apply_table(_rows(["a", "b"], [hash_raw({"n": 1}), hash_raw({"n": 2})]))
    keys = source_key_hashes("shop", pa.array(["a", "b", "c", None, "a"]))
    hashes = [hash_raw({"n": 1}), hash_raw({"n": 3}), hash_raw({"n": 1}), hash_raw({"n": 1}), None]
    raw = hex16(pa.array(hashes, pa.string()))
    assert state.raw_unchanged(keys, raw).tolist() == [True, False, False, False, False]


def test_keys_another_run_changed_since_normalize_fail_the_provider(tmp_path: Path) -> None:
    state = DedupState()
    state.apply_table(_rows(["a", "b"], [hash_raw({"n": 1}), hash_raw({"n": 2})]))
    skipped = StagedFile(tmp_path / "unchanged.parquet", "unchanged/x", "unchanged", "shop")
    keys = binary16(source_key_hashes("shop", pa.array(["a", "b"])))
    hashes = binary16(hex16(pa.array([hash_raw({"n": 1}), hash_raw({"n": 9})])))
    ids = pa.array(["a", "b"])
    pq.write_table(pa.table([ids, keys, hashes], schema=UNCHANGED_SCHEMA), skipped.staged)
    run_context = RunContext("20261206T000000Z-abcdef", datetime(2026, 12, 6, tzinfo=UTC), 100, 100)
    part = StagedFile(tmp_path / "part.parquet", "normalized/x", "normalized", "shop")
    stage = DedupStage(run_context, state, part)
    assert stage.feed_unchanged(skipped) == 1
    assert stage.counts.unchanged == 1
    expected = key_hashes(_rows(["a", "b"], [hash_raw({})] * 2))
    assert sorted(stage.seen_keys().tolist()) == sorted(expected.tolist())


def _rows(ids: list[str], raw_hashes: list[str]) -> pa.Table:
    return pa.table(
        {
            "source": ["shop"] * len(ids),
            "source_id": ids,
            "raw_hash": raw_hashes,
            "content_hash": ["11" * 32] * len(ids),
        }
    )
