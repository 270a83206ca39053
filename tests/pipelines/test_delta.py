"""The Delta Lake tables: change log, current catalog, SCD2 history, idempotency, compaction.

Every scenario runs on local disk and on an S3 server (moto) that the tests start on 127.0.0.1.
moto runs in its own process, not as moto's in-process ThreadedMotoServer: deltalake 1.6 keeps
the GIL while ``DeltaTable.history()`` waits for S3, which deadlocks a server in the same process.
"""

from __future__ import annotations

import re
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import boto3
import duckdb
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from deltalake import DeltaTable

from pipelines.errors import ConfigError, DataQualityError, SchemaDriftError
from pipelines.lake.delta import CHANGES, CURRENT, HISTORY, TABLES, DeltaTables, TableSpec
from pipelines.lake.schema import PRODUCT_SCHEMA, SCHEMA_VERSION, hash_content
from tests.strategies import product_row

DAY1 = datetime(2026, 3, 1, 6, 0, tzinfo=UTC)
DAY2 = datetime(2026, 3, 2, 6, 0, tzinfo=UTC)
ANVIL = product_row(source_id="anvil", category_path=["Tools", "Anvils"], tags=["heavy", "iron"])
HAMMER = product_row(source_id="hammer", price_amount=Decimal("12.3456"), tags=None)
BOOK = product_row(source="ebay", source_id="book", source_updated_at=DAY1)
CHEAPER_ANVIL = {**ANVIL, "price_amount": Decimal("79.0001")}


def rows(run_id: str, fetched_at: datetime, *changes: tuple[dict[str, Any], str]) -> pa.Table:
    """A run's rows: business rows with their change_type, plus the lineage the runner adds."""
    lineage = {"fetched_at": fetched_at, "run_id": run_id, "schema_version": SCHEMA_VERSION}
    return pa.Table.from_pylist(
        [
            {**row, **lineage, "raw_hash": hash_content(row), "content_hash": hash_content(row),
             "change_type": change_type}
            for row, change_type in changes
        ],
        schema=PRODUCT_SCHEMA,
    )  # fmt: skip


RUN1 = rows("run-1", DAY1, (ANVIL, "new"), (HAMMER, "new"), (BOOK, "new"))
RUN2 = rows("run-2", DAY2, (CHEAPER_ANVIL, "changed"), (HAMMER, "deleted"))


@dataclass
class Target:
    """Where a test's lake lives, and how to read it behind the module's back."""

    root: str
    options: dict[str, str]

    def tables(self) -> DeltaTables:
        return DeltaTables(self.root, self.options)

    def delta(self, spec: TableSpec) -> DeltaTable:
        return DeltaTable(f"{self.root}/delta/{spec.name}", storage_options=self.options)

    def read(self, spec: TableSpec) -> list[dict[str, Any]]:
        return self.delta(spec).to_pyarrow_dataset().to_table().to_pylist()

    def run_ids(self, spec: TableSpec) -> list[str]:
        """The run ids in the table's commit history, oldest first."""
        return [c["run_id"] for c in reversed(self.delta(spec).history()) if "run_id" in c]


@pytest.fixture(scope="module")
def s3_endpoint(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A moto S3 server on a free port of 127.0.0.1; stopped by its PID."""
    log_path = tmp_path_factory.mktemp("moto") / "moto.log"
    with log_path.open("w") as log:
        server = subprocess.Popen(
            [sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", "0"],
            stdout=log,
            stderr=subprocess.STDOUT,
        )
    try:
        yield _wait_for_endpoint(log_path, server)
    finally:
        server.terminate()
        server.wait(timeout=10)


def _wait_for_endpoint(log_path: Path, server: subprocess.Popen) -> str:
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline and server.poll() is None:
        found = re.search(r"Running on (http://127\.0\.0\.1:\d+)", log_path.read_text())
        if found:
            return found[1]
        time.sleep(0.05)
    raise RuntimeError(f"moto did not start: {log_path.read_text()[-2000:]}")


def _s3_client(endpoint: str) -> Any:
    return boto3.client(
        "s3", endpoint_url=endpoint, region_name="us-east-1",
        aws_access_key_id="test", aws_secret_access_key="test",
    )  # fmt: skip


@pytest.fixture(params=["local", "s3"])
def target(request: pytest.FixtureRequest, tmp_path: Path) -> Target:
    if request.param == "local":
        return Target(str(tmp_path / "lake"), {})
    return s3_target(request.getfixturevalue("s3_endpoint"))


def s3_target(endpoint: str) -> Target:
    """A lake in a new bucket (moto slows down as a bucket fills), with RUNTIMES.md's options."""
    options = {
        "AWS_ENDPOINT_URL": endpoint,
        "AWS_ACCESS_KEY_ID": "test",
        "AWS_SECRET_ACCESS_KEY": "test",
        "AWS_ALLOW_HTTP": "true",
        "AWS_REGION": "us-east-1",
    }
    bucket = f"lake-{uuid.uuid4().hex}"
    _s3_client(endpoint).create_bucket(Bucket=bucket)
    return Target(f"s3://{bucket}/lake", options)


def apply(tables: DeltaTables, table: pa.Table, run_id: str) -> tuple[Any, ...]:
    """What the write step does with one run's rows."""
    return (
        tables.append_changes(table, run_id),
        tables.merge_current(table, run_id),
        tables.update_history(table, run_id),
    )


def by_key(records: list[dict[str, Any]], *extra: str) -> list[dict[str, Any]]:
    return sorted(records, key=lambda r: tuple(str(r[k]) for k in ("source_id", *extra)))


def snapshot(target: Target) -> list[list[dict[str, Any]]]:
    """Every row of the three tables, in a stable order."""
    return [sorted(target.read(spec), key=str) for spec in TABLES]


def history_versions(target: Target) -> list[tuple]:
    records = by_key(target.read(HISTORY), "valid_from")
    return [
        (r["source_id"], r["price_amount"], r["valid_from"], r["valid_to"], r["is_current"])
        for r in records
    ]


def test_first_run_appends_and_inserts_into_current_and_history(target: Target) -> None:
    tables = target.tables()
    assert apply(tables, RUN1, "run-1") == (
        3, {"inserted": 3, "updated": 0, "deleted": 0}, {"opened": 3, "closed": 0}
    )  # fmt: skip

    changes = target.read(CHANGES)
    assert by_key(changes) == by_key([{**r, "dt": "2026-03-01"} for r in RUN1.to_pylist()])
    assert by_key(target.read(CURRENT)) == by_key(RUN1.to_pylist())  # decimals, lists, UTC intact
    assert history_versions(target) == [
        ("anvil", ANVIL["price_amount"], DAY1, None, True),
        ("book", BOOK["price_amount"], DAY1, None, True),
        ("hammer", Decimal("12.3456"), DAY1, None, True),
    ]
    files = target.delta(CHANGES).file_uris()
    assert {re.search(r"dt=[^/]+/source=[^/]+", f)[0] for f in files} == {
        "dt=2026-03-01/source=shopify",
        "dt=2026-03-01/source=ebay",
    }
    assert [target.run_ids(spec) for spec in TABLES] == [["run-1"]] * 3
    assert target.delta(CURRENT).history(1)[0]["userMetadata"] == "run_id=run-1"  # for Spark


def test_second_run_changes_one_product_and_deletes_another(target: Target) -> None:
    tables = target.tables()
    apply(tables, RUN1, "run-1")
    assert apply(tables, RUN2, "run-2") == (
        2, {"inserted": 0, "updated": 1, "deleted": 1}, {"opened": 1, "closed": 2}
    )  # fmt: skip

    changes = by_key(target.read(CHANGES), "fetched_at")
    assert [(r["source_id"], r["change_type"], r["dt"]) for r in changes] == [
        ("anvil", "new", "2026-03-01"),
        ("anvil", "changed", "2026-03-02"),
        ("book", "new", "2026-03-01"),
        ("hammer", "new", "2026-03-01"),
        ("hammer", "deleted", "2026-03-02"),
    ]
    current = by_key(target.read(CURRENT))
    assert [(r["source_id"], r["price_amount"], r["run_id"]) for r in current] == [
        ("anvil", Decimal("79.0001"), "run-2"),
        ("book", BOOK["price_amount"], "run-1"),
    ]
    assert history_versions(target) == [
        ("anvil", ANVIL["price_amount"], DAY1, DAY2, False),
        ("anvil", Decimal("79.0001"), DAY2, None, True),
        ("book", BOOK["price_amount"], DAY1, None, True),
        ("hammer", Decimal("12.3456"), DAY1, DAY2, False),
    ]


def test_the_same_run_twice_changes_nothing(target: Target) -> None:
    tables = target.tables()
    apply(tables, RUN1, "run-1")
    apply(tables, RUN2, "run-2")
    versions = [target.delta(spec).version() for spec in TABLES]

    assert apply(target.tables(), RUN2, "run-2") == (  # a fresh writer, as after a crash
        0, {"inserted": 0, "updated": 0, "deleted": 0}, {"opened": 0, "closed": 0}
    )  # fmt: skip
    assert apply(tables, RUN1, "run-1") == (0, {"inserted": 0, "updated": 0, "deleted": 0},
                                            {"opened": 0, "closed": 0})  # fmt: skip
    assert [target.delta(spec).version() for spec in TABLES] == versions  # no commit at all
    assert [target.run_ids(spec) for spec in TABLES] == [["run-1", "run-2"]] * 3


def test_compact_merges_small_files_and_vacuums_the_replaced_ones(target: Target) -> None:
    tables = target.tables()
    same_day = rows("run-1b", DAY1, (CHEAPER_ANVIL, "changed"))
    for table, run_id in ((RUN1, "run-1"), (same_day, "run-1b"), (RUN2, "run-2")):
        apply(tables, table, run_id)
    before = snapshot(target)
    active_before = {spec.name: len(target.delta(spec).file_uris()) for spec in TABLES}

    report = tables.compact(retention_hours=0)

    changes = report["products_changes"]
    assert (changes["files_removed"], changes["files_added"]) == (2, 1)  # dt=03-01/shopify
    assert all(r["vacuumed_files"] > 0 for r in report.values())  # MERGE left replaced files
    for spec in TABLES:
        active = target.delta(spec).file_uris()
        removed, added = report[spec.name]["files_removed"], report[spec.name]["files_added"]
        assert len(active) == active_before[spec.name] - removed + added
        assert sorted(stored_parquet(target, spec)) == sorted(_key(uri) for uri in active)
    assert snapshot(target) == before
    assert tables.compact(retention_hours=0)["products_changes"]["files_removed"] == 0


def stored_parquet(target: Target, spec: TableSpec) -> list[str]:
    """Every Parquet file under the table's folder, as ``<table>/<relative path>``."""
    if target.options:
        bucket, prefix = target.root.removeprefix("s3://").split("/", 1)
        listing = _s3_client(target.options["AWS_ENDPOINT_URL"]).list_objects_v2(
            Bucket=bucket, Prefix=f"{prefix}/delta/{spec.name}/"
        )
        keys = [o["Key"] for o in listing.get("Contents", [])]
        return [_key(k) for k in keys if k.endswith(".parquet")]
    folder = Path(target.root) / "delta" / spec.name
    return [_key(p.as_posix()) for p in folder.rglob("*.parquet") if "_delta_log" not in p.parts]


def _key(path: str) -> str:
    return re.search(r"products_\w+/.*\.parquet$", path)[0]


def test_compact_rejects_a_negative_retention(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="retention_hours must be >= 0, got -1"):
        DeltaTables(str(tmp_path)).compact(retention_hours=-1)


def test_an_attempt_that_loses_to_another_attempt_of_its_run_does_nothing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    tables = DeltaTables(str(tmp_path))
    tables.open(CHANGES)
    stale = DeltaTable(tables.uri(CHANGES))  # read before the other attempt commits
    assert tables.append_changes(RUN1, "run-1") == 3
    monkeypatch.setattr(tables, "open", lambda spec: stale)

    assert tables.append_changes(RUN1, "run-1") == 0
    assert len(DeltaTable(tables.uri(CHANGES)).to_pyarrow_table()) == 3


def test_concurrent_writers_on_s3_lose_no_commit(s3_endpoint: str) -> None:
    """delta-rs commits with a conditional PUT, so no commit is overwritten (no lock table)."""
    target = s3_target(s3_endpoint)
    target.tables().open(CHANGES)
    runs = [rows(f"run-{i}", DAY1, (product_row(source_id=f"p{i}"), "new")) for i in range(6)]
    with ThreadPoolExecutor(max_workers=6) as pool:
        writes = [
            pool.submit(target.tables().append_changes, table, f"run-{i}")
            for i, table in enumerate(runs)
        ]
    assert [write.result() for write in writes] == [1] * 6

    assert sorted(r["source_id"] for r in target.read(CHANGES)) == [f"p{i}" for i in range(6)]
    assert sorted(target.run_ids(CHANGES)) == [f"run-{i}" for i in range(6)]
    assert target.delta(CHANGES).version() == 6


def test_duckdb_reads_the_current_table_through_its_arrow_dataset(tmp_path: Path) -> None:
    tables = DeltaTables(str(tmp_path))
    apply(tables, RUN1, "run-1")
    apply(tables, RUN2, "run-2")
    con = duckdb.connect()
    con.register("current_products", DeltaTable(tables.uri(CURRENT)).to_pyarrow_dataset())

    result = con.sql("SELECT source_id, price_amount FROM current_products ORDER BY source_id")
    assert result.fetchall() == [("anvil", Decimal("79.0001")), ("book", BOOK["price_amount"])]


def test_files_are_zstd_parquet(tmp_path: Path) -> None:
    tables = DeltaTables(str(tmp_path))
    apply(tables, RUN1, "run-1")
    for spec in TABLES:
        for uri in DeltaTable(tables.uri(spec)).file_uris():
            metadata = pq.ParquetFile(uri.removeprefix("file://")).metadata
            assert metadata.row_group(0).column(0).compression == "ZSTD"


def _broken(column: str, value: Any) -> pa.Table:
    """RUN1 with every value of ``column`` replaced (a string column, so any type goes in)."""
    return RUN1.drop_columns([column]).append_column(column, pa.array([value] * 3, pa.string()))


@pytest.mark.parametrize(
    ("table", "error", "message"),
    [
        (RUN1.drop_columns(["content_hash"]), SchemaDriftError, "lack column.s. content_hash"),
        (_broken("title", None), SchemaDriftError, "title is null for product shopify anvil"),
        (_broken("change_type", "moved"), DataQualityError, r"unknown change_type \['moved'\]"),
        (
            pa.concat_tables([RUN1, RUN1.slice(1, 1)]),
            DataQualityError,
            "more than once.*shopify hammer",
        ),
        (_broken("price_amount", "cheap"), SchemaDriftError, "do not fit schema_version 2"),
    ],
    ids=["missing-column", "null-required", "unknown-change-type", "duplicate-key", "wrong-type"],
)
def test_bad_rows_are_refused_before_any_commit(
    tmp_path: Path, table: pa.Table, error: type[Exception], message: str
) -> None:
    tables = DeltaTables(str(tmp_path))
    for write in (tables.append_changes, tables.merge_current, tables.update_history):
        with pytest.raises(error, match=message):
            write(table, "run-x")
    assert not (tmp_path / "delta").exists()


def test_repr_shows_no_storage_secret() -> None:
    tables = DeltaTables("s3://lake/prod", {"AWS_SECRET_ACCESS_KEY": "s3cr3t-value"})
    assert repr(tables) == "DeltaTables('s3://lake/prod')"
