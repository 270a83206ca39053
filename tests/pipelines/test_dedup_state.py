"""The dedup state: the compact, bucketed state classifies exactly as the dict of before did,
reads a single-file state of before, works on S3 (the logs: ``test_state_log.py``)."""

from __future__ import annotations

import hashlib
import shutil
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from pipelines.checks.run_keys import RunKeys
from pipelines.lake import state_files
from pipelines.lake.dedup import DedupState, key_hashes, load_state, read_state_meta
from pipelines.lake.seen_keys import read_seen, seen_path, write_seen
from pipelines.lake.state_files import META_PATH
from pipelines.lake.state_index import (
    binary16,
    fixed16,
    hash_keys,
    hex16,
    nonzero16,
    source_key_hashes,
)
from pipelines.lake.state_save import save_state
from pipelines.lake.storage import LocalStorage, open_storage
from tests.fakes import s3 as fake_s3

s3_server, s3_env = fake_s3.s3_server, fake_s3.s3_env  # the fake S3 server's fixtures
SINGLE_FILE_LAKE = Path(__file__).parent.parent / "fixtures/state_single_file"


class Reference:
    """The state as it was: a dict key -> raw hash[:16] + content hash[:16], row by row."""

    def __init__(self) -> None:
        self.hashes: dict[str, bytes] = {}

    def classify(self, rows: list[dict[str, Any]]) -> tuple[list[tuple[str, str]], list[int]]:
        kept, counts = [], [0, 0, 0]  # new, changed, unchanged
        for row in rows:
            key = f"{row['source']}\x1f{row['source_id']}"
            packed = bytes.fromhex(row["raw_hash"][:32] + row["content_hash"][:32])
            held = self.hashes.get(key)
            if held is not None and held[:16] == packed[:16]:
                counts[2] += 1
                continue
            self.hashes[key] = packed
            if held is not None and held[16:] == packed[16:]:
                counts[2] += 1
                continue
            kept.append((row["source_id"], "new" if held is None else "changed"))
            counts[0 if held is None else 1] += 1
        return kept, counts


def _hex(value: str) -> str:
    return hashlib.sha256(value.encode()).hexdigest()


def table(rows: list[dict[str, Any]]) -> pa.Table:
    names = ("source", "source_id", "raw_hash", "content_hash", "change_type")
    schema = pa.schema([(name, pa.string()) for name in names])
    return pa.Table.from_pylist([{**r, "change_type": None} for r in rows], schema=schema)


ROW = st.fixed_dictionaries(
    {
        "source": st.sampled_from(["shopify", "ebay"]),
        "source_id": st.sampled_from([f"id-{i}" for i in range(12)] + ["", "é\x1f", "a b"]),
        "raw_hash": st.sampled_from([_hex(f"raw{i}") for i in range(4)]),
        "content_hash": st.sampled_from([_hex(f"content{i}") for i in range(3)]),
    }
)


@settings(
    max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(batches=st.lists(st.lists(ROW, max_size=25), min_size=1, max_size=5), data=st.data())
def test_classify_is_the_dict_state_of_before(
    batches: list[list[dict]], data: st.DataObject, tmp_path: Path
) -> None:
    reference, state = Reference(), DedupState()
    lake = tmp_path / f"lake-{len(list(tmp_path.iterdir()))}"
    for batch in batches:
        kept, counts = reference.classify(batch)
        rows, got = state.classify(table(batch))
        assert list(zip(rows["source_id"].to_pylist(), rows["change_type"].to_pylist())) == kept
        assert [got.new, got.changed, got.unchanged] == counts
        if data.draw(st.booleans(), label="save and load again"):
            save_state(lake, state)
            state = load_state(lake)
    assert state.to_dict() == reference.hashes
    assert state.sources() == _per_source(reference.hashes)
    save_state(lake, state)
    assert load_state(lake).to_dict() == reference.hashes


def _per_source(hashes: dict[str, bytes]) -> dict[str, int]:
    counts: dict[str, int] = {}
    for key in hashes:
        counts[key.split("\x1f", 1)[0]] = counts.get(key.split("\x1f", 1)[0], 0) + 1
    return counts


def test_raw_unchanged_is_true_where_the_state_holds_that_raw_hash() -> None:
    state = DedupState()
    state.classify(table([{"source": "ebay", "source_id": "a", "raw_hash": _hex("r1"),
                           "content_hash": _hex("c")}]))  # fmt: skip
    ids = pa.array(["a", "a", "b"])
    raws = hex16(pa.array([_hex("r1"), _hex("r2"), _hex("r1")]))
    ebay, shopify = source_key_hashes("ebay", ids), source_key_hashes("shopify", ids)
    assert state.raw_unchanged(ebay, raws).tolist() == [True, False, False]
    assert state.raw_unchanged(shopify, raws).tolist() == [False, False, False]


def test_a_single_file_state_of_before_is_read_and_written_as_buckets(tmp_path: Path) -> None:
    """``state_single_file`` was written by the release before buckets (``products`` named)."""
    lake = tmp_path / "lake"
    shutil.copytree(SINGLE_FILE_LAKE, lake)
    state = load_state(lake)
    held = state.to_dict()
    assert len(held) == 42
    assert state.sources() == {"catalog": 30, "shopify": 12}
    assert state.applied_runs == {"20260101T000000Z-aaaa", "20260102T000000Z-bbbb"}
    assert state.extra["providers"]["catalog"]["watermark"] == "2026-01-02T00:00:00Z"
    unchanged = {"source": "catalog", "source_id": "catalog-3", "raw_hash": _hex("rawcatalog3"),
                 "content_hash": _hex("contentcatalog3")}  # fmt: skip
    rows, counts = state.classify(table([unchanged]))
    assert (rows.num_rows, counts.unchanged) == (0, 1)

    save_state(lake, state)

    files = sorted(p.name for p in (lake / "state").iterdir())
    assert not [f for f in files if f.startswith("products-")]  # the single file went
    assert "products" not in read_state_meta(lake)
    assert read_state_meta(lake)["buckets"]
    again = load_state(lake)
    assert again.to_dict() == held
    assert again.applied_runs == state.applied_runs
    assert again.extra == state.extra


def _rows(ids: range | list[int], raw: str = "r", content: str = "c") -> list[dict[str, str]]:
    return [{"source": "shopify", "source_id": f"p{i}", "raw_hash": _hex(f"{raw}{i}"),
             "content_hash": _hex(f"{content}{i}")} for i in ids]  # fmt: skip


def test_deletions_are_the_held_keys_not_seen(tmp_path: Path) -> None:
    state = DedupState()
    state.classify(table([*_rows(range(300)), {**_rows([1])[0], "source": "ebay"}]))
    save_state(tmp_path, state)
    state = load_state(tmp_path)
    seen_rows = table(_rows(range(0, 300, 3)) + _rows([5000]))
    stage_seen: list[np.ndarray] = []
    state.classify(seen_rows, seen=stage_seen)

    held = state.keys_of("shopify")
    seen = {f"shopify\x1f{r}" for r in seen_rows["source_id"].to_pylist()}
    assert state.vanished("shopify", np.concatenate(stage_seen)) == held - seen
    assert len(held - seen) == 200
    assert state.vanished("ebay", np.concatenate(stage_seen)) == {"ebay\x1fp1"}


def test_seen_keys_round_trip_and_the_string_files_of_before_read(tmp_path: Path) -> None:
    storage = LocalStorage(tmp_path)
    keys = key_hashes(table(_rows(range(4))))
    write_seen(storage, "run-1", "shopify", keys)
    assert read_seen(storage, "run-1", "shopify").tolist() == keys.tolist()
    before = pa.table({"key": [f"shopify\x1fp{i}" for i in range(4)]})  # the old layout
    import pyarrow.parquet as pq

    sink = pa.BufferOutputStream()
    pq.write_table(before, sink)
    storage.write_bytes(seen_path("run-2", "shopify"), sink.getvalue().to_pybytes())
    assert read_seen(storage, "run-2", "shopify").tolist() == keys.tolist()


@pytest.mark.usefixtures("s3_env")
def test_the_bucketed_state_on_an_object_store(s3_server: fake_s3.FakeS3) -> None:
    bucket = s3_server.new_bucket()
    storage = open_storage(f"s3://{bucket}/lake", endpoint_url=s3_server.url)
    state = DedupState(applied_runs={"run-1"})
    state.classify(table(_rows(range(40))))
    save_state(storage, state)

    state = load_state(storage)
    _, counts = state.classify(table(_rows([3], raw="x", content="x") + _rows([41])))
    assert (counts.new, counts.changed) == (1, 1)
    state.rollback(storage, "shopify")  # the provider's rows were not committed
    assert state.to_dict() == load_state(storage).to_dict()
    state.forget(["shopify\x1fp0"])
    state.applied_runs.add("run-2")
    save_state(storage, state)

    again = load_state(storage)
    assert again.sources() == {"shopify": 39}
    assert again.applied_runs == {"run-1", "run-2"}
    keys = s3_server.keys(bucket, "lake/state/")
    assert f"lake/{META_PATH}" in keys
    meta = read_state_meta(storage)
    named = state_files.stored_names(meta) | set(meta["previous"])
    assert {k.rsplit("/", 1)[1] for k in keys if not k.endswith(".json")} == named


@settings(max_examples=50, deadline=None)
@given(
    st.lists(st.lists(st.sampled_from(["a", "b", "c", "é", "", None]), max_size=12), max_size=4),
    st.integers(0, 8),
)
def test_run_keys_flag_what_a_set_of_the_keys_seen_flags(
    batches: list[list[str | None]], expected: int
) -> None:
    run_keys, seen = RunKeys(), set()
    run_keys.expect(expected)  # room made ahead, by doubling: the same answers
    for batch in batches:
        expected = []
        for key in batch:
            expected.append(key is not None and key in seen)
            if key is not None:
                seen.add(key)
        assert run_keys.flag_repeats(hash_keys(batch)).to_pylist() == expected


def test_source_key_hashes_are_the_state_s_key_hashes_and_survive_a_binary_column() -> None:
    ids = pa.array(["a", None, "é"])
    keys = source_key_hashes("shop", ids)
    assert keys.tolist() == hash_keys(["shop\x1fa", None, "shop\x1fé"]).tolist()
    assert nonzero16(keys).tolist() == [True, False, True]
    assert fixed16(binary16(keys)).tolist() == keys.tolist()
