"""``query``: SQL over the lake through the ready views, read-only, in four formats.

One offline demo run (a subprocess, about a second) feeds the module; the commands run in
process (``main``) except the README's line, which runs as users type it.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import json
import re
import shlex
import shutil
from decimal import Decimal
from pathlib import Path

import pyarrow as pa
import pyarrow.dataset as ds
import pyarrow.parquet as pq
import pytest

from pipelines.cli.main import main
from pipelines.lake.lake import Lake
from pipelines.lake.schema import PRODUCT_SCHEMA
from pipelines.lake.storage import LocalStorage
from pipelines.lake.views import LakeSnapshot, connect, runs_table, snapshot
from tests.fakes import s3 as fake_s3
from tests.fakes.s3 import FakeS3
from tests.pipelines.test_cli import REPO, clean_env, cli

s3_server = fake_s3.s3_server
DEMO_ROWS = {"amazon": 45, "ebay": 59, "shopify": 71}
COUNT = "SELECT source, count(*) AS n FROM products_current GROUP BY source ORDER BY source"


@pytest.fixture
def run_query(lake_dir: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture):
    """``query --offline ARGS…`` in process, in the demo's work folder: (exit code, stdout,
    stderr)."""
    monkeypatch.chdir(lake_dir)

    def run(*args: str) -> tuple[int, str, str]:
        code = main(["query", "--offline", *args])
        out, err = capsys.readouterr()
        return code, out, err

    return run


def test_the_readme_query_works_right_after_a_demo_run(lake_dir: Path) -> None:
    readme = (REPO / "README.md").read_text()
    line = re.search(r"^\.venv/bin/python pipelines/run_pipeline\.py query .*$", readme, re.M)
    assert line, "README shows no query line"
    result = cli(*shlex.split(line.group(0))[2:], cwd=lake_dir)
    assert result.returncode == 0, result.stderr
    assert [ln.split() for ln in result.stdout.splitlines()[1:4]] == [
        [name, str(count)] for name, count in sorted(DEMO_ROWS.items())
    ]


def test_every_format_gives_the_same_rows(run_query, tmp_path: Path) -> None:
    sql = "SELECT source, source_id, price_amount, fetched_at, tags FROM products_current"
    sql += " WHERE tags IS NOT NULL ORDER BY source, source_id LIMIT 5"
    code, out, _ = run_query(sql, "--format", "json")
    rows = json.loads(out)
    assert code == 0
    assert len(rows) == 5
    assert all(isinstance(r["price_amount"], str | None) for r in rows)  # money stays exact
    assert dt.datetime.fromisoformat(rows[0]["fetched_at"]).utcoffset() == dt.timedelta(0)
    code, out, _ = run_query(sql, "--format", "csv")
    parsed = list(csv.DictReader(io.StringIO(out)))
    assert [r["source_id"] for r in parsed] == [r["source_id"] for r in rows]
    assert json.loads(parsed[0]["tags"]) == rows[0]["tags"]
    code, out, _ = run_query(sql)
    assert out.splitlines()[0].split() == ["source", "source_id", "price_amount", "fetched_at",
                                           "tags"]  # fmt: skip
    assert out.splitlines()[-1] == "(5 rows)"
    target = tmp_path / "out.parquet"
    assert run_query(sql, "--format", "parquet", "--output", str(target))[0] == 0
    table = pq.read_table(target)
    assert table.schema.field("price_amount").type == pa.decimal128(18, 4)
    assert table.column("source_id").to_pylist() == [r["source_id"] for r in rows]


def test_sql_from_a_file(run_query, tmp_path: Path) -> None:
    (tmp_path / "q.sql").write_text(f"-- rows per provider\n{COUNT};\n")
    code, out, _ = run_query("--file", str(tmp_path / "q.sql"), "--format", "json")
    assert code == 0
    assert {r["source"]: r["n"] for r in json.loads(out)} == DEMO_ROWS


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["SELEC 1"], 'Parser Error: syntax error at or near "SELEC"'),
        (["SELECT * FROM no_such_view"], "Catalog Error: Table with name no_such_view does not"),
        (["SELECT no_such_column FROM runs"], 'Binder Error: Referenced column "no_such_column"'),
        (["SELECT * FROM read_csv('/etc/passwd')"], "Permission Error"),
        (["SELECT * FROM 'data/demo/normalized/**/*.parquet'"], "Permission Error"),
        (["COPY (SELECT 1) TO 'out.csv'"], "only SELECT statements read the lake, got COPY"),
        (["ATTACH 'other.db'"], "only SELECT statements read the lake, got ATTACH"),
        (["INSTALL httpfs"], "only SELECT statements read the lake, got LOAD"),
        (["CREATE TABLE t AS SELECT 1"], "only SELECT statements read the lake, got CREATE"),
        (["SET enable_external_access = true"], "got SET"),
        (["SELECT 1; SELECT 2"], "give exactly one statement, got 2"),
        ([], "give the SQL statement or --file PATH"),
        (["SELECT 1", "--file", "q.sql"], "give the SQL statement or --file PATH"),
        (["--file", "missing.sql"], "--file: cannot read missing.sql"),
        (["SELECT 1", "--format", "parquet"], "--format parquet: needs --output PATH"),
        (["SELECT 1", "--format", "xml"], "--format: invalid choice: 'xml'"),
        (["SELECT 1", "--output", "no/such/folder/out.csv"], "--output: cannot write no/such/"),
    ],
)
def test_bad_or_writing_statements_give_one_line_and_exit_2(
    run_query, args: list[str], message: str
) -> None:
    try:
        code, out, err = run_query(*args)
    except SystemExit as exc:  # argparse's own errors
        code, err = exc.code, ""
    assert code == 2
    if err:
        assert len(err.strip().splitlines()) == 1, err
        assert message in err
        assert not out
    assert not list(Path().glob("out.csv"))


def test_a_run_that_did_not_commit_never_shows(run_query, lake_dir: Path) -> None:
    root = lake_dir / "data/demo"
    part = next((root / "normalized").rglob("part-*.parquet"))
    stray = part.with_name("part-20991231T000000Z-abcdef-0.parquet")  # no manifest names it
    shutil.copy(part, stray)
    try:
        _, out, _ = run_query(COUNT, "--format", "json")
    finally:
        stray.unlink()
    assert {r["source"]: r["n"] for r in json.loads(out)} == DEMO_ROWS


def test_a_missing_committed_file_is_one_line(run_query, lake_dir: Path) -> None:
    root = lake_dir / "data/demo"
    first = next(f for f in Lake(root).manifests()[0]["files"] if f["zone"] == "normalized")
    part = root / first["path"]
    part.rename(part.with_suffix(".away"))
    try:
        code, _, err = run_query(COUNT)
    finally:
        part.with_suffix(".away").rename(part)
    assert code == 2
    assert "a committed file is missing" in err
    assert len(err.strip().splitlines()) == 1


def test_runs_are_those_of_the_lake_asked_for(run_query, capsys: pytest.CaptureFixture) -> None:
    demo = json.loads(run_query("SELECT * FROM runs", "--format", "json")[1])
    assert [(r["mode"], r["written"], r["exit_code"]) for r in demo] == [("offline", 175, 0)]
    assert json.loads(demo[0]["record"])["run_id"] == demo[0]["run_id"]
    code = main(["query", "SELECT count(*) AS n FROM runs", "--format", "json"])
    assert code == 0
    assert json.loads(capsys.readouterr().out) == [{"n": 0}]  # a demo run is not a real one


def test_timestamps_fetch_as_utc_datetimes(lake_dir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """DuckDB's ``fetchall`` on a TIMESTAMPTZ needs pytz: the runtime requirements pin it."""
    monkeypatch.chdir(lake_dir)  # runs record their lake as given, here data/demo
    snap = snapshot(LocalStorage(Path("data/demo")), Path("logs/demo"))
    with connect(snap) as con:
        (fetched,) = con.execute("SELECT max(fetched_at) FROM products_changes").fetchone()
        (started,) = con.execute("SELECT started_at FROM runs").fetchone()
    assert fetched.utcoffset() == started.utcoffset() == dt.timedelta(0)
    runtime = (REPO / "requirements.txt").read_text()
    assert re.search(r"^duckdb==", runtime, re.M)
    assert re.search(r"^pytz==", runtime, re.M)


def _row(source_id: str, run_id: str, change_type: str, price: str) -> dict:
    return {
        "source": "shopify", "source_id": source_id, "title": f"{source_id} {run_id}",
        "condition": "new", "availability": "in_stock", "price_amount": Decimal(price),
        "fetched_at": dt.datetime(2026, 1, int(run_id[-1]), tzinfo=dt.UTC), "run_id": run_id,
        "raw_hash": "r", "content_hash": "c", "change_type": change_type, "schema_version": 2,
    }  # fmt: skip


def test_current_is_the_latest_row_of_each_product_without_deletions() -> None:
    rows = [
        _row("a", "run-1", "new", "10"), _row("a", "run-2", "changed", "12"),
        _row("b", "run-1", "new", "5"), _row("b", "run-2", "deleted", "5"),
        _row("c", "run-2", "new", "7"), _row("d", "run-1", "deleted", "1"),
        _row("d", "run-3", "new", "3"),
    ]  # fmt: skip
    changes = ds.dataset(pa.Table.from_pylist(rows, schema=PRODUCT_SCHEMA))
    empty = ds.dataset(pa.table({"source": pa.array([], pa.string())}))
    snap = LakeSnapshot("memory", changes, empty, runs_table([]))
    with connect(snap) as con:
        current = con.sql("SELECT source_id, run_id, price_amount FROM products_current ORDER BY 1")
        assert current.fetchall() == [("a", "run-2", Decimal(12)), ("c", "run-2", Decimal(7)),
                                      ("d", "run-3", Decimal(3))]  # fmt: skip


def test_an_object_store_lake_reads_through_the_storage_layer(
    s3_server: FakeS3, tmp_path: Path
) -> None:
    """No DuckDB extension: the parts come through pyarrow's S3 filesystem, the runs from
    the lake's own run log."""
    bucket = s3_server.new_bucket()
    env = clean_env(**s3_server.env())
    lake = ["--lake-uri", f"s3://{bucket}/lake"]
    assert cli("--offline", *lake, cwd=tmp_path, env=env).returncode == 0
    elsewhere = tmp_path / "elsewhere"  # another machine: nothing of the lake is local
    elsewhere.mkdir()
    result = cli("query", "--offline", *lake, "--format", "json", COUNT, cwd=elsewhere, env=env)
    assert result.returncode == 0, result.stderr
    assert {r["source"]: r["n"] for r in json.loads(result.stdout)} == DEMO_ROWS
    runs = cli("query", "--offline", *lake, "SELECT mode FROM runs", cwd=elsewhere, env=env)
    assert runs.stdout.split()[:2] == ["mode", "offline"], runs.stderr
    assert not list(elsewhere.iterdir())
