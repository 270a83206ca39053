"""A corrupt dedup state (state.json, its Parquet file) is rebuilt from the manifests, or stops
the run before any work with one line naming the file: never a traceback."""

from __future__ import annotations

import json
import logging
from pathlib import Path

import pytest

from pipelines.config import load_config
from pipelines.errors import ConfigError
from pipelines.lake.dedup import load_state
from pipelines.run.options import RunOptions
from pipelines.run.runner import Runner
from tests.catalog_provider import CatalogProvider, make_record
from tests.pipelines.lake_compare import assert_same_lake

ENV = {"CATALOG_TOKEN": "t0ken-value"}
FIRST = [make_record(i) for i in range(5)]
SECOND = [make_record(i, price="12.50" if i == 3 else "10.00") for i in range(6)]


def run(root: Path, records: list[dict], *, complete: bool = False) -> dict:
    provider = CatalogProvider(records)
    provider.complete = complete
    config = load_config(None, {"catalog": provider})
    config = config.with_pipeline(data_dir=str(root / "data"), log_dir=str(root / "logs"))
    return Runner(config, {"catalog": provider}, ENV, RunOptions()).run().record


def state_file(root: Path) -> Path:
    """A bucket file of the state (the one of its first bucket)."""
    meta = json.loads((root / "data/state/state.json").read_text())
    return root / "data/state" / min(meta["buckets"].items())[1]


def truncate(path: Path) -> None:
    path.write_bytes(path.read_bytes()[: path.stat().st_size // 2])


CORRUPTIONS = {
    "state.json truncated": lambda root: truncate(root / "data/state/state.json"),
    "state.json garbage": lambda root: (root / "data/state/state.json").write_bytes(
        b"\x00\xffnope"
    ),
    "state.json empty": lambda root: (root / "data/state/state.json").write_text(""),
    "state.json not a state": lambda root: (root / "data/state/state.json").write_text("[1, 2]"),
    "state Parquet truncated": lambda root: truncate(state_file(root)),
    "state Parquet gone": lambda root: state_file(root).unlink(),
}


@pytest.fixture(scope="module")
def clean(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The lake two uneventful runs make."""
    root = tmp_path_factory.mktemp("clean")
    run(root, FIRST)
    run(root, SECOND, complete=True)
    return root


@pytest.mark.parametrize("corrupt", CORRUPTIONS.values(), ids=CORRUPTIONS.keys())
def test_an_unreadable_state_is_rebuilt_from_the_manifests(
    corrupt, clean: Path, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    run(tmp_path, FIRST)
    corrupt(tmp_path)

    with caplog.at_level(logging.WARNING):
        record = run(tmp_path, SECOND, complete=True)

    entry = record["providers"]["catalog"]
    assert (record["exit_code"], entry["new"], entry["changed"], entry["unchanged"]) == (0, 1, 1, 4)
    rebuilt = [r.getMessage() for r in caplog.records if "rebuilt from 1 committed" in r.message]
    assert rebuilt
    assert "data/state/" in rebuilt[0]
    assert_same_lake(tmp_path / "data", clean / "data")


def test_a_rebuilt_state_forgets_deleted_products(tmp_path: Path) -> None:
    run(tmp_path, FIRST, complete=True)
    run(tmp_path, FIRST[:3], complete=True)  # items 3 and 4 deleted
    held = load_state(tmp_path / "data").to_dict()
    (tmp_path / "data/state/state.json").write_text("{")

    record = run(tmp_path, FIRST[:3], complete=True)

    assert record["providers"]["catalog"]["written"] == 0
    assert load_state(tmp_path / "data").to_dict() == held


def test_an_unrebuildable_state_stops_before_any_work_naming_the_file(tmp_path: Path) -> None:
    run(tmp_path, FIRST)
    (tmp_path / "data/state/state.json").write_text("{")
    for part in (tmp_path / "data/normalized").rglob("*.parquet"):
        part.unlink()  # a lake restored from state alone: the parts are elsewhere
    raw_before = sorted((tmp_path / "data/raw").rglob("*"))

    with pytest.raises(ConfigError) as caught:
        run(tmp_path, SECOND)

    message = str(caught.value)
    assert "data/state/state.json is unreadable" in message
    assert "1 committed part(s) missing" in message
    assert "restore-state" in message
    assert sorted((tmp_path / "data/raw").rglob("*")) == raw_before  # nothing fetched
