"""Ready DuckDB views over one lake: ``<table>_changes`` and ``<table>_current`` for every
table of every dataset (products, orders, order_lines), quarantine and runs.

The ``query`` command and the read API both open the lake through here. A ``LakeSnapshot`` is
what the manifests committed at one moment (read once, so the views agree with each other) plus
the lake's run log; ``connect`` opens a connection to a locked-down in-memory DuckDB (no file,
network or extension access, no Python variables as tables, the configuration frozen) that sees
only those views, so SQL given by a user cannot read anything but them.

The Parquet parts are registered as pyarrow datasets read through the lake's own storage layer
(``pyarrow.fs``, local or S3), so DuckDB needs no extension (``httpfs``) and downloads nothing;
a file a manifest does not name (a run still uploading, or killed) is never read.

``products_current`` is the lake's current catalog: the latest row of each ``(source,
source_id)`` (by run id, as the dedup reads it back, ``Lake.latest_rows``), left out when that
row is a deletion; ``orders_current`` and ``order_lines_current`` likewise. A table whose
dataset was never pulled is an empty view with its canonical columns.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Iterable
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import Any

import duckdb
import pyarrow as pa
import pyarrow.dataset as ds

from pipelines.errors import LakeDamagedError
from pipelines.lake.datasets import DATASETS, Table
from pipelines.lake.lake import PARTITIONING, Lake
from pipelines.lake.runlog import COUNTERS, LAKE_RUNLOG, read_lake_runs, read_runs
from pipelines.lake.storage import Storage

TABLES: tuple[Table, ...] = tuple(t for d in DATASETS.values() for t in d.tables)
VIEWS = (
    *(f"{t.name}_{kind}" for t in TABLES for kind in ("changes", "current")),
    "quarantine",
    "runs",
)
CURRENT_VIEW = """
CREATE TEMP VIEW {name}_current AS
SELECT * FROM {name}_changes
QUALIFY row_number() OVER (PARTITION BY source, source_id ORDER BY run_id DESC, fetched_at DESC) = 1
    AND change_type <> 'deleted'
"""
# Global, so every connection to the database has them; the views' datasets are Python objects
# registered by name, not files, and still read.
LOCKDOWN = (
    "SET GLOBAL TimeZone = 'UTC'",  # times shown in UTC, as the lake stores them
    "SET GLOBAL python_enable_replacements = false",
    "SET GLOBAL enable_external_access = false",
    "SET GLOBAL lock_configuration = true",
)
_CONFIG = {"autoinstall_known_extensions": False, "autoload_known_extensions": False}
TIMESTAMP = pa.timestamp("us", tz="UTC")
RUNS_SCHEMA = pa.schema(
    [
        pa.field("run_id", pa.string()),
        pa.field("started_at", TIMESTAMP),
        pa.field("ended_at", TIMESTAMP),
        pa.field("duration_seconds", pa.float64()),
        pa.field("mode", pa.string()),
        pa.field("exit_code", pa.int64()),
        *(pa.field(name, pa.int64()) for name in COUNTERS),
        pa.field("anomaly", pa.string()),
        pa.field("record", pa.string()),
    ]
)


@dataclass(frozen=True)
class LakeSnapshot:
    """The committed parts of a lake at one moment, and its run log."""

    uri: str
    changes: ds.Dataset
    quarantine: ds.Dataset
    runs: pa.Table
    tables: dict[str, ds.Dataset] | None = None  # the other tables' changes, by table name


def snapshot(storage: Storage, log_dir: Path) -> LakeSnapshot:
    """Read the manifests once and the run log: ``_log/runs.jsonl`` in an object-store lake,
    else ``log_dir/runs.jsonl`` (the caller passes the run log folder of the real or the demo
    lake). Only the runs of this lake: a log written before the demo had its own folder
    still holds demo runs, and several data dirs may share one ``log_dir``."""
    lake = Lake(storage)
    manifests = lake.manifests()
    if storage.remote:
        records = read_lake_runs(storage)
    else:
        here = Path(storage.uri).resolve()
        records = [r for r in read_runs(log_dir) if _same_dir(r.get("data_dir"), here)]
    try:
        changes = lake.dataset("normalized", manifests=manifests)
        quarantine = lake.dataset("quarantine", manifests=manifests)
        tables = {t.name: _table_changes(storage, t) for t in TABLES if t.folder}
    except FileNotFoundError as exc:
        message = f"{lake.uri}: a committed file is missing ({exc}); run `run_pipeline.py verify`"
        raise LakeDamagedError(message) from None
    return LakeSnapshot(lake.uri, changes, quarantine, runs_table(records), tables)


def _table_changes(root: Storage, table: Table) -> ds.Dataset:
    """The committed rows of ``table`` in its own lake folder; its canonical columns (plus
    ``dt``) when it has none yet."""
    lake = Lake(table.storage(root))
    files = lake.committed_files("normalized", lake.manifests())
    schema = None if files else pa.unify_schemas([table.schema, PARTITIONING])
    return lake.parts("normalized", files, schema)


def _same_dir(text: Any, here: Path) -> bool:
    return isinstance(text, str) and "://" not in text and Path(text).resolve() == here


def signature(storage: Storage, log_dir: Path) -> tuple[Any, ...]:
    """What changes when the lake does: its committed runs and its run log (one listing and one
    metadata read), so a server rebuilds its snapshot only then."""
    ids = tuple(tuple(Lake(t.storage(storage)).manifest_ids()) for t in TABLES)
    if storage.remote:
        head = storage.read_head(LAKE_RUNLOG) or {}
        return ids, head.get("ETag"), head.get("ContentLength")
    path = log_dir / "runs.jsonl"
    stat = path.stat() if path.exists() else None
    return ids, stat and (stat.st_mtime_ns, stat.st_size)


def runs_table(records: Iterable[dict[str, Any]]) -> pa.Table:
    """One row per run: its id, times, mode, exit code, totals, worst anomaly verdict and the
    whole record as JSON (``json_extract(record, '$.providers.shopify.status')``)."""
    rows = []
    for record in records:
        totals = record.get("totals") or {}
        rows.append(
            {
                "run_id": record.get("run_id"),
                "started_at": _timestamp(record.get("started_at")),
                "ended_at": _timestamp(record.get("ended_at")),
                "duration_seconds": record.get("duration_seconds"),
                "mode": record.get("mode"),
                "exit_code": record.get("exit_code"),
                **{name: totals.get(name) for name in COUNTERS},
                "anomaly": (record.get("anomaly") or {}).get("worst"),
                "record": json.dumps(record, sort_keys=True, default=str),
            }
        )
    return pa.Table.from_pylist(rows, schema=RUNS_SCHEMA)


def _timestamp(text: Any) -> dt.datetime | None:
    try:
        return dt.datetime.fromisoformat(text).astimezone(dt.UTC)
    except (TypeError, ValueError):
        return None


def locked_database() -> duckdb.DuckDBPyConnection:
    """A new, empty in-memory DuckDB, locked down (``LOCKDOWN``)."""
    con = duckdb.connect(":memory:", config=_CONFIG)
    for statement in LOCKDOWN:
        con.execute(statement)
    return con


def connect(
    snap: LakeSnapshot, database: duckdb.DuckDBPyConnection | None = None
) -> duckdb.DuckDBPyConnection:
    """A connection that sees the views (``VIEWS``) and nothing else: to a new locked-down database,
    or to ``database`` (a ``locked_database``; a connection to it costs ~1 ms, a new database
    ~50). The views are the connection's own, so connections never see each other's."""
    con = locked_database() if database is None else database.cursor()
    tables = {**(snap.tables or {}), TABLES[0].name: snap.changes}
    for table in TABLES:
        changes = tables.get(table.name)
        if changes is None:  # a snapshot made without it (tests): no rows, the right columns
            changes = pa.unify_schemas([table.schema, PARTITIONING]).empty_table()
        con.register(f"{table.name}_changes", changes)
        con.execute(CURRENT_VIEW.format(name=table.name))
    con.register("quarantine", snap.quarantine)
    con.register("runs", snap.runs)
    return con


def plain(value: Any) -> Any:
    """A result value as JSON or CSV takes it: money as its exact decimal text, times in ISO
    8601, lists kept; everything else unchanged."""
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, dt.datetime | dt.date | dt.time):
        return value.isoformat()
    if isinstance(value, list):
        return [plain(v) for v in value]
    if isinstance(value, dict):
        return {k: plain(v) for k, v in value.items()}
    return value


def plain_rows(table: pa.Table) -> list[dict[str, Any]]:
    """The rows of ``table`` as dicts of plain values (see ``plain``)."""
    return [{k: plain(v) for k, v in row.items()} for row in table.to_pylist()]
