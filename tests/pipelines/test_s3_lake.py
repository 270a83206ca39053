"""The whole pipeline against a real S3-compatible server (moto, 127.0.0.1), providers offline.

The lake, its state and its run log live in the bucket; the local folders keep only the run's
work files. Also: a run killed mid-commit and resumed, a reader listing the lake while a run
writes, DuckDB reading the lake through pyarrow, and the Delta hand-over. About 35 s in all:
most tests start the CLI two or three times, ~2 s each (importing pyarrow, pandas, boto3).
"""

from __future__ import annotations

import hashlib
import importlib.machinery
import json
import signal
import subprocess
import sys
import threading
import types
from pathlib import Path
from typing import ClassVar

import duckdb
import pytest

from pipelines.config import load_config
from pipelines.lake.lake import Lake, list_committed
from pipelines.lake.storage import S3Storage, open_storage
from pipelines.run.options import RunOptions
from pipelines.run.runner import Runner
from tests.catalog_provider import CatalogProvider, make_record
from tests.fakes import s3 as fake_s3
from tests.fakes.s3 import FakeS3
from tests.pipelines.test_cli import clean_env, cli
from tests.pipelines.test_resume import KILL_AT

LAKE_ROWS_COLUMNS = ["source", "source_id", "change_type", "content_hash"]

s3_server, s3_env = fake_s3.s3_server, fake_s3.s3_env  # the fake S3 server's fixtures


def s3_rows(storage: S3Storage) -> list[tuple]:
    """The committed rows of a lake, without the columns that differ between runs."""
    lake = Lake(storage)
    table = lake.dataset("normalized").to_table(columns=LAKE_ROWS_COLUMNS)
    return sorted(tuple(r.values()) for r in table.to_pylist())


@pytest.fixture(scope="module")
def reference(tmp_path_factory: pytest.TempPathFactory) -> list[tuple]:
    """The rows of one uninterrupted offline run into a local lake."""
    workdir = tmp_path_factory.mktemp("reference")
    assert cli("--offline", cwd=workdir).returncode == 0
    table = Lake(workdir / "data/demo").dataset("normalized").to_table(columns=LAKE_ROWS_COLUMNS)
    return sorted(tuple(r.values()) for r in table.to_pylist())


def test_offline_run_into_s3_keeps_lake_state_and_run_log_in_the_bucket(
    s3_server: FakeS3, s3_env: dict, tmp_path: Path, reference: list[tuple]
) -> None:
    bucket = s3_server.new_bucket()
    env = clean_env(**s3_server.env())
    first = cli("--offline", "--lake-uri", f"s3://{bucket}/lake", cwd=tmp_path, env=env)
    assert first.returncode == 0, first.stderr
    assert f"-> s3://{bucket}/lake/demo/normalized" in first.stdout
    keys = s3_server.keys(bucket)
    assert not [k for k in keys if k.endswith("/")], "directory marker objects"
    assert {"lake/demo/state/state.json", "lake/demo/_log/runs.jsonl"} <= set(keys)
    assert not [k for k in keys if k.startswith("lake/demo/_lock")]
    storage = open_storage(f"s3://{bucket}/lake/demo", endpoint_url=s3_server.url)
    assert s3_rows(storage) == reference
    assert not (tmp_path / "data/demo/state").exists()
    assert not (tmp_path / "data/demo/normalized").exists()

    # A second machine (a fresh work folder) knows the catalog from the lake alone.
    elsewhere = tmp_path / "second-machine"
    elsewhere.mkdir()
    second = cli("--offline", "--lake-uri", f"s3://{bucket}/lake", cwd=elsewhere, env=env)
    assert second.returncode == 0, second.stderr
    runs = [json.loads(line) for line in storage.read_bytes("_log/runs.jsonl").splitlines()]
    assert [run["totals"]["written"] for run in runs] == [len(reference), 0]
    assert runs[1]["data_dir"] == f"s3://{bucket}/lake/demo"
    status = cli(
        "--status", "--offline", "--lake-uri", f"s3://{bucket}/lake", cwd=elsewhere, env=env
    )  # the demo's runs: without --offline, status shows real runs only
    assert runs[0]["run_id"] in status.stdout
    assert runs[1]["run_id"] in status.stdout


@pytest.mark.parametrize(
    "target",
    [
        "pipelines.lake.lake:_sha256",
        "pipelines.run.write:save_state",
    ],  # mid-upload; after the manifest
)
def test_a_run_killed_while_committing_to_s3_resumes_to_the_same_lake(
    s3_server: FakeS3, s3_env: dict, tmp_path: Path, reference: list[tuple], target: str
) -> None:
    bucket = s3_server.new_bucket()
    env = clean_env(**s3_server.env())
    lake_args = ["--offline", "--lake-uri", f"s3://{bucket}/lake"]
    killed = subprocess.run(
        [sys.executable, str(KILL_AT), target, "2" if "sha" in target else "1", "--", *lake_args],
        cwd=tmp_path, env=env, capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert killed.returncode == -signal.SIGKILL, killed.stderr
    storage = open_storage(f"s3://{bucket}/lake/demo", endpoint_url=s3_server.url)
    uploaded = [k for k in s3_server.keys(bucket) if "/normalized/" in k or "/raw/" in k]
    assert uploaded, "the kill came after some uploads"
    if "sha" in target:
        assert list_committed(storage.uri, endpoint_url=s3_server.url) == []
    resumed = cli("--resume", *lake_args, cwd=tmp_path, env=env)
    assert resumed.returncode == 0, resumed.stderr
    assert s3_rows(storage) == reference
    assert len(storage.read_bytes("_log/runs.jsonl").splitlines()) == 1
    assert not [k for k in s3_server.keys(bucket) if k.endswith("/") or "_lock" in k]


def run_catalog(records: list[dict], **pipeline: object) -> Runner:
    provider = CatalogProvider(records)
    config = load_config(None, {"catalog": provider}).with_pipeline(**pipeline)
    runner = Runner(config, {"catalog": provider}, {"CATALOG_TOKEN": "t"}, RunOptions())
    runner.run()
    return runner


def test_a_reader_never_lists_uncommitted_files_while_runs_write(
    s3_server: FakeS3, s3_env: dict, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Writers run in a thread, uploading slowly; a reader lists the lake all along.

    Every file the reader is given must be complete and match its manifest's checksum, and
    the reader must have seen moments when uploaded files were not committed yet.
    """
    monkeypatch.chdir(tmp_path)
    bucket = s3_server.new_bucket()
    uri = f"s3://{bucket}/lake"
    put_file = S3Storage.put_file

    def slow_put_file(self, local, rel):
        put_file(self, local, rel)
        threading.Event().wait(0.15)  # widen the gap between the uploads and the manifest

    monkeypatch.setattr(S3Storage, "put_file", slow_put_file)

    def write() -> None:
        for version in range(3):
            run_catalog([make_record(i, price=f"{10 + version}.00") for i in range(50)],
                        lake_uri=uri)  # fmt: skip

    writer = threading.Thread(target=write)
    writer.start()
    reader = Lake(open_storage(uri))
    checked, uncommitted_seen = set(), 0
    while writer.is_alive():
        listed = set(map(str, reader.committed_files("normalized")))
        manifests = {f["path"]: f for m in reader.manifests() for f in m["files"]}
        present = reader.storage.list_files("normalized")
        uncommitted_seen += any(k not in manifests for k in present)
        for path in listed - checked:
            entry = manifests[path.split("/lake/", 1)[1]]
            data = reader.filesystem.open_input_file(path).readall()
            assert hashlib.sha256(data).hexdigest() == entry["sha256"], path
            checked.add(path)
    writer.join()
    assert uncommitted_seen, "the reader never caught a run between its uploads and manifest"
    assert len(reader.committed_files("normalized")) == 3
    assert duckdb_counts(reader) == [("new", 50), ("changed", 100)]


def duckdb_counts(lake: Lake) -> list[tuple]:
    """DuckDB over the lake's committed files, through pyarrow (no DuckDB S3 extension)."""
    con = duckdb.connect()
    con.register("products", lake.dataset("normalized"))
    table = con.sql(
        "SELECT change_type, count(*) AS n FROM products GROUP BY 1 ORDER BY 1 DESC"
    ).to_arrow_table()
    return list(zip(*table.to_pydict().values()))


def test_duckdb_reads_the_s3_lake_with_hive_partitions(
    s3_server: FakeS3, s3_env: dict, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    uri = f"s3://{s3_server.new_bucket()}/lake"
    runner = run_catalog([make_record(i) for i in range(7)], lake_uri=uri)
    con = duckdb.connect()
    con.register("products", runner.lake.dataset("normalized"))
    rows = con.sql(
        "SELECT dt, source, count(*), sum(price_amount) FROM products GROUP BY ALL"
    ).to_arrow_table().to_pylist()  # fmt: skip
    assert [(r["source"], r["count_star()"], str(r["sum(price_amount)"])) for r in rows] == [
        ("catalog", 7, "70.0000")
    ]
    assert rows[0]["dt"] == runner.checkpoint.created_at[:10]


class FakeDeltaTables:
    """Stands in for pipelines/lake/delta.py (written separately): records the calls it gets."""

    calls: ClassVar[list[tuple]] = []
    fail_once: ClassVar[set[str]] = set()

    def __init__(self, lake_uri: str, storage_options: dict) -> None:
        self.where = (lake_uri, storage_options)

    def _call(self, name: str, table, run_id: str) -> None:
        if name in self.fail_once:
            self.fail_once.discard(name)
            raise RuntimeError(f"{name} crashed")
        self.calls.append((name, run_id, table.num_rows, self.where))

    def append_changes(self, table, run_id):
        self._call("append_changes", table, run_id)

    def merge_current(self, table, run_id):
        self._call("merge_current", table, run_id)

    def update_history(self, table, run_id):
        self._call("update_history", table, run_id)

    def compact(self, retention_hours):
        self.calls.append(("compact", retention_hours, None, self.where))
        return {"products": {"files_added": 1, "files_removed": 4, "vacuumed_files": 2}}


@pytest.fixture
def fake_delta(monkeypatch: pytest.MonkeyPatch) -> type[FakeDeltaTables]:
    module = types.ModuleType("pipelines.lake.delta")
    module.__spec__ = importlib.machinery.ModuleSpec("pipelines.lake.delta", None)
    module.DeltaTables = FakeDeltaTables
    monkeypatch.setitem(sys.modules, "pipelines.lake.delta", module)
    FakeDeltaTables.calls, FakeDeltaTables.fail_once = [], set()
    return FakeDeltaTables


def test_delta_format_hands_each_run_to_three_calls_once_even_when_resumed(
    s3_server: FakeS3, s3_env: dict, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
    fake_delta: type[FakeDeltaTables],
) -> None:  # fmt: skip
    monkeypatch.chdir(tmp_path)
    uri = f"s3://{s3_server.new_bucket()}/lake"
    fake_delta.fail_once = {"merge_current"}
    provider = CatalogProvider([make_record(i) for i in range(4)])
    config = load_config(None, {"catalog": provider}).with_pipeline(
        lake_uri=uri, table_format="delta"
    )
    runner = Runner(config, {"catalog": provider}, {"CATALOG_TOKEN": "t"}, RunOptions())
    with pytest.raises(RuntimeError, match="merge_current crashed"):
        runner.run()  # the Parquet commit is done; the Delta hand-over stopped half-way
    assert list_committed(uri, zone="normalized")
    again = Runner(config, {"catalog": provider}, {"CATALOG_TOKEN": "t"}, RunOptions(),
                   run_id=runner.run_id)  # fmt: skip
    assert again.resume().exit_code == 0
    where = (uri, {"AWS_REGION": "us-east-1", "AWS_ENDPOINT_URL": s3_server.url,
                   "AWS_ALLOW_HTTP": "true"})  # fmt: skip
    assert fake_delta.calls == [
        ("append_changes", runner.run_id, 4, where),
        ("merge_current", runner.run_id, 4, where),
        ("update_history", runner.run_id, 4, where),
    ]
    env = clean_env(**s3_server.env())
    (tmp_path / "pipeline.toml").write_text('[pipeline]\ntable_format = "parquet"\n')
    refused = cli("compact", "--lake-uri", uri, cwd=tmp_path, env=env)
    assert refused.returncode == 2
    assert 'set table_format = "delta"' in refused.stderr


def test_compact_runs_the_delta_compaction_under_the_lock(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, fake_delta: type[FakeDeltaTables],
    capsys: pytest.CaptureFixture,
) -> None:  # fmt: skip
    from pipelines.run_pipeline import main

    monkeypatch.chdir(tmp_path)
    (tmp_path / "pipeline.toml").write_text(
        '[pipeline]\ntable_format = "delta"\ndelta_retention_hours = 48\n'
    )
    assert main(["compact"]) == 0
    assert main(["compact", "--retention-hours", "0", "--offline"]) == 0
    assert [call[:2] for call in fake_delta.calls] == [("compact", 48), ("compact", 0)]
    assert fake_delta.calls[1][3][0] == str((tmp_path / "data/demo").resolve())
    out = capsys.readouterr().out
    assert "compacted the Delta tables of data" in out
    assert "products  1            4              2" in out.splitlines()  # a table, not a dict
    assert not (tmp_path / "data/_lock/commit.json").exists()


def test_delta_tables_land_in_the_s3_lake_beside_the_parquet_log(
    s3_server: FakeS3, s3_env: dict, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from deltalake import DeltaTable

    monkeypatch.chdir(tmp_path)
    uri = f"s3://{s3_server.new_bucket()}/lake"
    run_catalog([make_record(i) for i in range(5)], lake_uri=uri, table_format="delta")
    run_catalog([make_record(i, price="11.00" if i == 2 else "10.00") for i in range(5)],
                lake_uri=uri, table_format="delta")  # fmt: skip
    options = open_storage(uri).storage_options()
    current = DeltaTable(
        f"{uri}/delta/products_current", storage_options=options
    ).to_pyarrow_table()
    assert sorted(str(p) for p in current.column("price_amount").to_pylist()) == [
        "10.0000", "10.0000", "10.0000", "10.0000", "11.0000"
    ]  # fmt: skip
    changes = DeltaTable(f"{uri}/delta/products_changes", storage_options=options)
    assert changes.to_pyarrow_table().num_rows == 6  # 5 new, 1 changed
