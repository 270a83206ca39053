"""The dedup state's logs: a change run writes one log of the keys it changed (O(k) bytes) and
reads only the buckets it bisects; logs fold into the buckets past a share of the state; a
crash before ``state.json`` leaves the state of before; a lake of the Parquet-bucket layout
loads and is migrated on its next save."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from pipelines.lake import state_files
from pipelines.lake.dedup import (
    DedupState,
    StateUnreadableError,
    key_hashes,
    load_state,
    read_state_meta,
)
from pipelines.lake.state_index import bucket_of
from pipelines.lake.state_repair import read_whole_state
from pipelines.lake.state_save import MAX_LOGS, save_state
from pipelines.lake.storage import LocalStorage
from tests.pipelines.test_dedup_state import _hex, _rows, table

PARQUET_BUCKETS_LAKE = Path(__file__).parent.parent / "fixtures/state_parquet_buckets"


class Counting(LocalStorage):
    """A local lake that counts the state files it reads, maps and writes (with their bytes)."""

    def __init__(self, root: Path) -> None:
        super().__init__(root)
        self.read: list[str] = []
        self.mapped: list[str] = []
        self.written: dict[str, int] = {}

    def read_bytes(self, rel: str) -> bytes | None:
        self.read.append(rel)
        return super().read_bytes(rel)

    def location(self, rel: str) -> Path:
        self.mapped.append(rel)
        return super().location(rel)

    def write_bytes(self, rel: str, data: bytes) -> None:
        self.written[rel] = len(data)
        super().write_bytes(rel, data)


def _state_bytes(lake: Path) -> int:
    return sum(p.stat().st_size for p in (lake / "state").iterdir())


def _saved(lake: Path, count: int) -> DedupState:
    state = DedupState()
    state.classify(table(_rows(range(count))))  # every one of the 256 buckets holds keys
    save_state(lake, state)
    return state


@pytest.mark.parametrize("touched", [3, 60])
def test_a_change_run_writes_and_reads_in_proportion_to_the_keys_it_touches(
    tmp_path: Path, touched: int
) -> None:
    _saved(tmp_path, 5000)
    whole = _state_bytes(tmp_path)
    storage = Counting(tmp_path)
    rows = _rows(range(0, 2 * touched, 2), raw="new", content="new") + _rows([9999])

    state = load_state(storage)
    _, counts = state.classify(table(rows))
    save_state(storage, state)

    assert (counts.new, counts.changed) == (1, touched)
    (log,) = [rel for rel in storage.written if rel != state_files.META_PATH]
    assert log.startswith("state/log-")
    assert storage.written[log] < 1500 + 100 * (touched + 1) < whole / 20  # O(k) bytes
    assert storage.read == [state_files.META_PATH]  # no bucket read whole, no ids file
    opened = {int(rel.split("/b")[1][:2], 16) for rel in storage.mapped if rel.endswith(".bin")}
    assert opened <= set(bucket_of(key_hashes(table(rows))).tolist())
    again = load_state(tmp_path)
    assert again.sources() == {"shopify": 5001}
    expected = {f"shopify\x1fp{i}": _hex(f"new{i}")[:32] for i in range(0, 2 * touched, 2)}
    held = again.to_dict()
    assert {k: held[k][:16].hex() for k in expected} == expected
    assert held["shopify\x1fp9999"][:16].hex() == _hex("r9999")[:32]
    assert held["shopify\x1fp1"][:16].hex() == _hex("r1")[:32]


def test_logs_fold_into_the_buckets_past_a_share_of_the_state(tmp_path: Path) -> None:
    _saved(tmp_path, 1000)
    raw = {f"shopify\x1fp{i}": _hex(f"r{i}")[:32] for i in range(1000)}
    compactions = 0
    for run in range(1, 30):  # 12 keys a run: 10% of 1000 keys is 8 runs of logs
        state = load_state(tmp_path)
        ids = range(run * 7 % 1000, run * 7 % 1000 + 12)
        state.classify(table(_rows(ids, raw=f"r{run}-", content=f"c{run}-")))
        raw.update({f"shopify\x1fp{i}": _hex(f"r{run}-{i}")[:32] for i in ids})
        if run % 5 == 0:
            state.forget([f"shopify\x1fp{run}"])
            raw.pop(f"shopify\x1fp{run}")
        save_state(tmp_path, state)
        meta = read_state_meta(tmp_path)
        compactions += not meta["logs"]
        assert len(meta["logs"]) < MAX_LOGS
        assert sum(log["keys"] for log in meta["logs"]) <= 0.1 * len(raw)
        present = {p.name for p in (tmp_path / "state").iterdir()}
        assert state_files.stored_names(meta) <= present
    assert compactions >= 3
    held = load_state(tmp_path).to_dict()
    assert {key: value[:16].hex() for key, value in held.items()} == raw
    save_state(tmp_path / "copy", load_state(tmp_path))  # another lake: whole, no log
    assert read_state_meta(tmp_path / "copy")["logs"] == []
    assert load_state(tmp_path / "copy").to_dict() == held


def test_a_compaction_rewrites_only_the_buckets_the_logs_touched(tmp_path: Path) -> None:
    _saved(tmp_path, 2000)
    before = state_files.bucket_files(read_state_meta(tmp_path))
    state = load_state(tmp_path)
    state.classify(table(_rows(range(300), raw="x", content="x")))  # 15%: straight to buckets
    save_state(tmp_path, state)
    after = state_files.bucket_files(read_state_meta(tmp_path))
    touched = set(bucket_of(key_hashes(table(_rows(range(300))))).tolist())
    assert {b for b in after if after[b] != before[b]} == touched
    assert read_state_meta(tmp_path)["logs"] == []
    assert load_state(tmp_path).to_dict()["shopify\x1fp7"][:16].hex() == _hex("x7")[:32]


def test_a_crash_between_a_log_and_state_json_leaves_the_state_of_before(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    _saved(tmp_path, 500)
    held = load_state(tmp_path).to_dict()
    state = load_state(tmp_path)
    state.classify(table(_rows([1, 2], raw="y", content="y")))

    def crash(*_: object) -> None:
        raise OSError("killed")

    monkeypatch.setattr(state_files, "write_meta", crash)
    with pytest.raises(OSError, match="killed"):
        save_state(tmp_path, state)
    monkeypatch.undo()

    assert [p.name for p in (tmp_path / "state").glob("log-*")]  # written, not named
    assert load_state(tmp_path).to_dict() == held
    state = load_state(tmp_path)
    state.classify(table(_rows([3], raw="z", content="z")))
    save_state(tmp_path, state)
    (log,) = read_state_meta(tmp_path)["logs"]
    assert [p.name for p in (tmp_path / "state").glob("log-*")] == [log["name"]]


def test_removed_and_re_added_keys_across_logs(tmp_path: Path) -> None:
    _saved(tmp_path, 300)
    state = load_state(tmp_path)
    state.forget(["shopify\x1fp4", "shopify\x1fp5"])
    save_state(tmp_path, state)
    state = load_state(tmp_path)
    assert "shopify\x1fp4" not in state.keys_of("shopify")  # a whole bucket keeps it removed
    state = load_state(tmp_path)
    _, counts = state.classify(table(_rows([4, 400])))
    assert (counts.new, counts.changed) == (2, 0)
    save_state(tmp_path, state)
    state = load_state(tmp_path)
    state.classify(table(_rows([400], raw="w", content="w")))  # its id is in the first log
    save_state(tmp_path, state)
    assert len(read_state_meta(tmp_path)["logs"]) == 3
    held = load_state(tmp_path)
    assert held.sources() == {"shopify": 300}
    assert held.vanished("shopify", key_hashes(table(_rows(range(300))))) == {"shopify\x1fp400"}
    assert "shopify\x1fp5" not in held.keys_of("shopify")


def test_a_rollback_puts_back_what_the_logs_hold(tmp_path: Path) -> None:
    _saved(tmp_path, 300)
    state = load_state(tmp_path)
    state.classify(table(_rows([1, 301], raw="a", content="a")))
    save_state(tmp_path, state)
    committed = load_state(tmp_path).to_dict()
    state = load_state(tmp_path)
    state.classify(table(_rows([1, 2, 301, 302], raw="b", content="b")))
    state.rollback(LocalStorage(tmp_path), "shopify")
    assert state.to_dict() == committed
    assert state.sources() == {"shopify": 301}


def test_a_lake_of_the_parquet_bucket_layout_loads_and_is_migrated(tmp_path: Path) -> None:
    lake = tmp_path / "lake"
    shutil.copytree(PARQUET_BUCKETS_LAKE, lake)
    before = {p.name for p in (lake / "state").iterdir() if p.suffix == ".parquet"}
    state = load_state(lake)
    held = state.to_dict()
    assert state.sources() == {"shopify": 8, "catalog": 16}
    assert held["catalog\x1fitem-1"] == bytes.fromhex(_hex("raw1")[:32] + _hex("content1")[:32])
    assert state.applied_runs == {"20260301T000000Z-aaaa"}

    state = load_state(lake)
    save_state(lake, state)

    meta = read_state_meta(lake)
    assert state_files.is_current(meta)
    assert meta["logs"] == []
    assert set(meta["previous"]) == before  # kept one more save for a reader of before
    again = load_state(lake)
    assert again.to_dict() == held
    assert again.extra["providers"]["catalog"]["watermark"] == "2026-03-01T00:00:00Z"
    save_state(lake, again)
    assert not [p for p in (lake / "state").iterdir() if p.name in before]


@pytest.mark.parametrize("damaged", ["ids", "log"])
def test_a_damaged_ids_file_or_log_is_named_when_read_through(tmp_path: Path, damaged: str) -> None:
    _saved(tmp_path, 300)
    state = load_state(tmp_path)
    state.classify(table(_rows([1], raw="v", content="v")))
    save_state(tmp_path, state)
    meta = read_state_meta(tmp_path)
    name = (
        state_files.ids_name(min(meta["buckets"].items())[1])
        if damaged == "ids"
        else meta["logs"][0]["name"]
    )
    path = tmp_path / "state" / name
    path.write_bytes(path.read_bytes()[: path.stat().st_size // 2])

    with pytest.raises(StateUnreadableError, match=name):
        read_whole_state(LocalStorage(tmp_path))
