"""A replay's key pass hands each line on with its key hashes, and the early skip takes them as
it would take the keys it reads; ids that seem to repeat still get the exact two passes."""

from __future__ import annotations

import json
import tempfile
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pytest

from pipelines.lake.state_index import source_key_hashes
from pipelines.run import replay
from pipelines.run.block_normalize import BlockRows
from pipelines.run.block_rows import RunContext
from pipelines.run.counts import ProviderCounts
from pipelines.run.replay_keys import KeyedLine, RecordKeys, carried_keys
from tests.catalog_provider import CatalogProvider, make_record


class KeyedCatalog(CatalogProvider):
    """The test catalog with ``raw_keys``: a record's ``id``, and each of its ``more``."""

    def raw_keys(self, raw: dict[str, Any]) -> list[str]:
        return [str(raw["id"]), *raw.get("more", [])] if "id" in raw else []


def landed(folder: Path, records: list[dict[str, Any]]) -> Path:
    path = folder / "raw/dt=2026-12-06/source=catalog/20261206T000000Z-abcdef.jsonl"
    path.parent.mkdir(parents=True)
    path.write_text("".join(json.dumps(r) + "\n" for r in records))
    return path


def hashes_of(ids: list[str]) -> bytes:
    return source_key_hashes("catalog", pa.array(ids, pa.string())).tobytes()


def test_record_keys_hand_each_line_the_key_hashes_of_its_record() -> None:
    keys = np.array([b"b" * 16, b"a" * 16, b"c" * 16, b"d" * 16], "S16")
    with tempfile.TemporaryFile() as file:
        store = RecordKeys(file)
        store.add(keys[:3], np.array([1, 0, 1]), 3)  # record 2 gives no key
        store.add(keys[3:], np.array([0]), 1)
        lines = list(store.keyed([b"r0", b"r1", b"r2", b"r3"]))
    assert lines == [b"r0", b"r1", b"r2", b"r3"]
    assert [line.key_hashes for line in lines] == [b"a" * 16, b"b" * 16 + b"c" * 16, b"", b"d" * 16]
    found, owners = carried_keys(lines)
    assert (found.tolist(), owners.tolist()) == ([b"a" * 16, b"b" * 16, b"c" * 16, b"d" * 16],
                                                 [0, 1, 1, 3])  # fmt: skip
    assert carried_keys([*lines, b"a plain line"]) is None


def test_a_replay_of_distinct_ids_hands_on_each_record_s_key_hashes(tmp_path: Path) -> None:
    records = [make_record(0), make_record(1, more=["extra-1"]), {"title": "no id"}]
    path = landed(tmp_path, records)
    lines = list(replay.replay_records(KeyedCatalog(), [path], demo=False))
    assert lines == path.read_bytes().splitlines()
    assert all(isinstance(line, KeyedLine) for line in lines)
    assert [line.key_hashes for line in lines] == [
        hashes_of(["item-0"]),
        hashes_of(["item-1", "extra-1"]),
        b"",
    ]


def test_ids_whose_hashes_collide_get_the_exact_two_passes(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    records = [make_record(0), make_record(1), make_record(2)]
    path = landed(tmp_path, records)
    same = np.array([b"\x01" * 16], "S16")
    monkeypatch.setattr(replay, "source_key_hashes", lambda _, ids: same.repeat(len(ids)))
    lines = list(replay.replay_records(KeyedCatalog(), [path], demo=False))
    assert lines == path.read_bytes().splitlines()  # no id repeats: every record is kept
    assert not any(isinstance(line, KeyedLine) for line in lines)


def test_a_repeated_id_keeps_the_record_landed_last(tmp_path: Path) -> None:
    records = [make_record(0), make_record(1), make_record(0, price="12.00")]
    path = landed(tmp_path, records)
    lines = list(replay.replay_records(KeyedCatalog(), [path], demo=False))
    assert lines == path.read_bytes().splitlines()[1:]


def test_the_skip_takes_carried_key_hashes_as_the_keys_it_reads(tmp_path: Path) -> None:
    records = [make_record(0), make_record(1, more=["extra-1"]), make_record(2)]
    path = landed(tmp_path, records)
    plain = path.read_bytes().splitlines()
    keyed = list(replay.replay_records(KeyedCatalog(), [path], demo=False))
    asked: list[tuple[list[bytes], list[int]]] = []

    def skip(count: int, keys: np.ndarray, owners: np.ndarray, hashes: list[str], ids: Any
             ) -> np.ndarray:  # fmt: skip
        asked.append((keys.tolist(), owners.tolist()))
        return np.ones(count, bool)

    run = RunContext("20261206T000000Z-abcdef", datetime(2026, 12, 6, tzinfo=UTC), 100, 100)
    rows = BlockRows(KeyedCatalog(), run, ProviderCounts(), skip)
    for lines in (plain, keyed):
        assert rows.rows(lines, ["00" * 32] * 3, [1, 2, 3]).num_rows == 0  # every record skipped
    assert asked[0] == asked[1]
    assert asked[0][1] == [0, 1, 1, 2]
