"""Replay keeps worlds apart (demo records never reach the real lake, nor the reverse) and
rebuilds the lake from a folder holding many runs' raw files."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from pipelines.config import load_config
from pipelines.errors import ConfigError
from pipelines.run.options import RunOptions
from pipelines.run.replay_world import DEMO_MARKER, check_replay_files
from pipelines.run.runner import Runner
from tests.catalog_provider import CatalogProvider, make_record
from tests.pipelines.lake_compare import assert_same_lake, lake_rows
from tests.pipelines.test_cli import cli

ENV = {"CATALOG_TOKEN": "t0ken-value"}
FIRST = [make_record(i) for i in range(5)]
SECOND = [make_record(i, price="12.50" if i == 3 else "10.00") for i in range(7)]


def run(root: Path, records: list[dict], **options) -> dict:
    provider = CatalogProvider(records)
    config = load_config(None, {"catalog": provider})
    config = config.with_pipeline(data_dir=str(root / "data"), log_dir=str(root / "logs"))
    env = {} if options.get("replay") else ENV
    return Runner(config, {"catalog": provider}, env, RunOptions(**options)).run().record


def test_a_folder_of_many_runs_replays_into_the_same_lake(tmp_path: Path) -> None:
    landed = tmp_path / "landed"
    run(landed, FIRST)
    run(landed, SECOND)
    run(landed, SECOND)  # the same records landed again: same raw hashes
    assert len(list((landed / "data/raw").rglob("*.jsonl.zst"))) == 3

    record = run(tmp_path / "replayed", [], replay=landed / "data/raw")

    entry = record["providers"]["catalog"]
    assert (record["exit_code"], entry["fetched"], entry["new"]) == (0, 7, 7)
    assert (entry["quarantined"], entry["dropped"]) == (0, 0)  # no duplicate_source_id
    clean = tmp_path / "clean"
    run(clean, SECOND)  # the catalog as last landed, in one run
    assert_same_lake(tmp_path / "replayed/data", clean / "data")


def test_the_latest_landed_version_wins_whatever_the_folder_order(tmp_path: Path) -> None:
    landed = tmp_path / "landed"
    run(landed, SECOND)
    run(landed, FIRST)  # item 3 went back to 10.00 later: that is the version to keep
    earlier, later = sorted((landed / "data/raw").rglob("*.jsonl.zst"))
    for name, path in (("b-earlier", earlier), ("a-later", later)):  # folders sort the other way
        target = tmp_path / "mixed" / name / path.relative_to(landed / "data")
        target.parent.mkdir(parents=True)
        shutil.copy2(path, target)

    run(tmp_path / "replayed", [], replay=tmp_path / "mixed")

    clean = tmp_path / "clean"
    run(clean, [*FIRST, *SECOND[5:]])
    assert_same_lake(tmp_path / "replayed/data", clean / "data")


def demo_file(root: Path, marked: bool) -> Path:
    path = root / "raw/dt=2026-01-01/source=catalog/20260101T000000Z-abcdef.jsonl"
    path.parent.mkdir(parents=True)
    lines = [json.dumps({**r, DEMO_MARKER: True} if marked else r) for r in FIRST]
    path.write_text("\n".join(lines) + "\n")
    return path


@pytest.mark.parametrize(("folder", "marked"), [("export", True), ("old/demo", False)])
def test_demo_records_never_reach_the_real_lake(tmp_path: Path, folder: str, marked: bool) -> None:
    demo_file(tmp_path / folder, marked)

    with pytest.raises(ConfigError, match="holds demo records"):
        check_replay_files([next((tmp_path / folder).rglob("*.jsonl"))], demo=False)
    record = run(tmp_path, [], replay=tmp_path / folder)  # past the check: still refused

    assert record["providers"]["catalog"]["status"] == "failed"
    assert "holds demo records" in record["providers"]["catalog"]["error"]
    assert lake_rows(tmp_path / "data") == []


def test_real_records_never_reach_the_demo_lake(tmp_path: Path) -> None:
    path = demo_file(tmp_path / "real", marked=False)
    with pytest.raises(ConfigError, match="holds real records"):
        check_replay_files([path], demo=True)


def test_the_command_line_refuses_a_demo_replay_into_the_real_lake(tmp_path: Path) -> None:
    offline = cli("--offline", cwd=tmp_path)
    assert offline.returncode in (0, 3), offline.stderr
    demo_rows = lake_rows(tmp_path / "data/demo")

    refused = cli("--replay", "data/demo/raw", cwd=tmp_path)

    assert refused.returncode == 2
    assert len(refused.stderr.strip().splitlines()) == 1
    assert "holds demo records (landed by --offline)" in refused.stderr
    assert not (tmp_path / "data/normalized").exists()
    again = cli("--replay", "data/demo/raw", "--offline", cwd=tmp_path)
    assert again.returncode in (0, 3), again.stderr
    assert lake_rows(tmp_path / "data/demo") == demo_rows  # the same records: nothing new
