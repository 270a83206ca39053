"""The cross-worker id check (``pipelines/run/worker_ids.py``): hashes first, the ids themselves
whenever two workers share a hash, so a hash collision never merges two ids nor hides one."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from pipelines.lake.lake import StagedFile
from pipelines.lake.schema import PRODUCT_SCHEMA
from pipelines.run import worker_ids
from pipelines.run.candidates import CandidateWriter
from pipelines.run.worker_ids import id_hashes, ids_cross, shared_hashes, worker_hashes


def staged(folder: Path, index: int, passing: list[str], rejected: list[str]) -> list[StagedFile]:
    """One worker's staged files: candidates (Arrow IPC) and a quarantine (Parquet)."""
    rows = {name: [None] * len(passing) for name in PRODUCT_SCHEMA.names}
    rows.update(source=["shop"] * len(passing), source_id=passing, title=["t"] * len(passing))
    candidates = StagedFile(folder / f"candidates-{index}.parquet", "c", "candidates", "shop")
    writer = CandidateWriter(candidates, PRODUCT_SCHEMA)
    writer.write(pa.Table.from_pydict(rows, schema=PRODUCT_SCHEMA))
    quarantine = StagedFile(folder / f"quarantine-{index}.parquet", "q", "quarantine", "shop")
    pq.write_table(pa.table({"source_id": pa.array(rejected, pa.string())}), quarantine.staged)
    return [f for f in (writer.close(), quarantine) if f is not None]


def check(shares: list[list[StagedFile]]) -> bool:
    return ids_cross(shares, shared_hashes([worker_hashes(files) for files in shares]))


def test_the_hash_is_of_the_bytes_alone_wherever_the_id_sits_in_its_batch():
    ids = pa.array(["", "a", "ab", "ba", "gid://shopify/ProductVariant/7", "é", "a"])
    hashes = id_hashes(ids)
    assert hashes[1] == hashes[6]
    assert len(set(hashes[:6].tolist())) == 6
    assert id_hashes(ids.slice(2, 3)).tolist() == hashes[2:5].tolist()
    assert id_hashes(pa.array(["ba", "ab"])).tolist() == [hashes[3], hashes[2]]


def test_workers_sharing_no_id_do_not_cross_and_one_shared_id_does(tmp_path):
    one = staged(tmp_path, 0, ["1", "2"], ["3", " "])
    two = staged(tmp_path, 1, ["4", " "], ["5", ""])  # blank: ignored where it is quarantined
    assert not check([one, two])
    assert check([one, staged(tmp_path, 2, ["6"], ["2"])])  # passing in one, rejected in one
    assert check([two, staged(tmp_path, 3, [" "], [])])  # a blank id that passes is a key


@pytest.fixture
def colliding(monkeypatch):
    """Every id hashes alike: each worker's hashes are one value, shared by all of them."""
    monkeypatch.setattr(worker_ids, "id_hashes", lambda ids: np.zeros(len(ids), np.uint64))


def test_hashes_that_collide_are_settled_by_the_ids_themselves(tmp_path, colliding):
    one = staged(tmp_path, 0, ["1", "2"], ["3"])
    two = staged(tmp_path, 1, ["4"], ["5"])
    assert shared_hashes([worker_hashes(one), worker_hashes(two)]).tolist() == [0]
    assert not check([one, two])
    assert check([one, two, staged(tmp_path, 2, [], ["4"])])


def test_no_shared_hash_needs_no_file(tmp_path):
    missing = [StagedFile(tmp_path / "gone.arrow", "c", "candidates", "shop")]
    assert not ids_cross([missing, missing], np.zeros(0, np.uint64))
