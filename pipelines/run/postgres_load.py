"""The PostgreSQL sink's database work, with psycopg 3: migrations, then each committed run in
one transaction.

A run's transaction takes the sink's advisory lock (two loads of one database take turns),
skips the run when ``pipeline_delivered_runs`` already holds it, then, for each table the run
committed (``products``; ``orders`` and ``order_lines`` when the lake holds the orders
dataset), ``COPY``s its rows into a temporary staging table (dropped at commit) and:

* appends them to ``<table>_changes`` (``ON CONFLICT (run_id, source, source_id) DO
  NOTHING``);
* removes the rows the run marked ``deleted`` (products only) from ``<table>_current``;
* upserts the others into ``<table>_current`` (``ON CONFLICT (source, source_id) DO
  UPDATE``), never over a row fetched later (``fetched_at``: runs load oldest first by run
  id, which is a run's start second, and two runs may share one);

and last records the run as delivered.

A process killed at any point leaves nothing of the run behind (the server rolls the open
transaction back when the connection drops), so the next attempt loads it whole; a run
already delivered is skipped, so loading it again changes nothing.

Every psycopg error becomes a ``SinkError`` of one masked line.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from typing import Any

import psycopg
import pyarrow as pa

from pipelines.errors import SinkError
from pipelines.net.secrets import mask
from pipelines.run.postgres_schema import (
    CURRENT_KEY,
    DELIVERED,
    MIGRATIONS,
    SINK_VERSION,
    bootstrap_sql,
    migrations,
    quoted,
)

LOCK_KEY = 0x5049_5045  # the sink's pg_advisory_xact_lock key: one load at a time per database
COPY_BATCH_ROWS = 1000
# What a run committed: its product rows, or each sink table's rows by name (``LOADED``).
RunRows = pa.Table | Mapping[str, pa.Table]


def connect(dsn: str, timeout: int) -> psycopg.Connection:
    """A connection to the sink's database; the error, if any, as one masked ``SinkError``."""
    try:
        return psycopg.connect(dsn, connect_timeout=timeout, application_name="product-pipeline")
    except psycopg.Error as exc:
        raise sink_error(exc) from None


def sink_error(exc: psycopg.Error) -> SinkError:
    first = (str(exc).strip().splitlines() or [""])[0]
    return SinkError(mask(f"sink.postgres: {type(exc).__name__}: {first}"))


def migrate(conn: psycopg.Connection, schema: str, upto: int = SINK_VERSION) -> list[int]:
    """Apply the migrations the database lacks, up to ``upto``, in one transaction; returns the
    versions applied. A database migrated past this code's schema version is refused."""
    with conn.transaction():
        conn.execute("SELECT pg_advisory_xact_lock(%s)", (LOCK_KEY,))
        for statement in bootstrap_sql(schema):
            conn.execute(statement)
        table = f"{quoted(schema)}.{quoted(MIGRATIONS)}"
        applied = {v for (v,) in conn.execute(f"SELECT version FROM {table}")}
        if max(applied, default=0) > SINK_VERSION:
            raise SinkError(
                f"sink.postgres: the tables in schema {schema!r} are at version "
                f"{max(applied)}, newer than this pipeline's {SINK_VERSION}: upgrade it"
            )
        done = []
        for migration in migrations(schema):
            if migration.version in applied or migration.version > upto:
                continue
            for statement in migration.statements:
                conn.execute(statement)
            conn.execute(f"INSERT INTO {table} (version, description) VALUES (%s, %s)",
                         (migration.version, migration.description))  # fmt: skip
            done.append(migration.version)
    return done


def delivered_runs(conn: psycopg.Connection, schema: str) -> set[str]:
    table = f"{quoted(schema)}.{quoted(DELIVERED)}"
    with conn.transaction():
        return {run_id for (run_id,) in conn.execute(f"SELECT run_id FROM {table}")}


def staging(name: str) -> str:
    """The temporary table a run's rows of table ``name`` are copied into."""
    return quoted(f"pipeline_staging_{name}")


def merge_sql(schema: str, names: list[str], table: str = "products") -> dict[str, str]:
    """The statements that move the staged rows of ``table`` into its two tables."""
    changes, current = (
        f"{quoted(schema)}.{quoted(f'{table}_{t}')}" for t in ("changes", "current")
    )
    cols = ", ".join(quoted(n) for n in names)
    key, staged = ", ".join(CURRENT_KEY), staging(table)
    updates = ", ".join(f"{quoted(n)} = EXCLUDED.{quoted(n)}" for n in names)
    return {
        "appended": f"INSERT INTO {changes} ({cols}) SELECT {cols} FROM {staged} "
        "ON CONFLICT (run_id, source, source_id) DO NOTHING",
        "removed": f"DELETE FROM {current} AS c USING {staged} AS s "
        "WHERE s.change_type = 'deleted' AND c.source = s.source "
        "AND c.source_id = s.source_id AND c.fetched_at <= s.fetched_at",
        "upserted": f"INSERT INTO {current} ({cols}) SELECT DISTINCT ON ({key}) {cols} "
        f"FROM {staged} WHERE change_type <> 'deleted' "
        f"ORDER BY {key}, fetched_at DESC "
        f"ON CONFLICT ({key}) DO UPDATE SET {updates} "
        f"WHERE {current}.fetched_at <= EXCLUDED.fetched_at",
    }


def copy_rows(conn: psycopg.Connection, table: pa.Table, name: str = "products") -> None:
    """``COPY`` ``table``'s rows into ``name``'s staging table, a batch of columns at a time."""
    cols = ", ".join(quoted(n) for n in table.schema.names)
    with conn.cursor() as cursor, cursor.copy(f"COPY {staging(name)} ({cols}) FROM STDIN") as copy:
        for batch in table.to_batches(COPY_BATCH_ROWS):
            for row in zip(*(column.to_pylist() for column in batch.columns), strict=True):
                copy.write_row(row)


def merge_table(
    conn: psycopg.Connection, schema: str, name: str, table: pa.Table
) -> dict[str, int]:
    """Stage ``table`` (the run's rows of lake table ``name``) and merge it; the row counts."""
    changes = f"{quoted(schema)}.{quoted(f'{name}_changes')}"
    conn.execute(f"CREATE TEMP TABLE {staging(name)} (LIKE {changes}) ON COMMIT DROP")
    copy_rows(conn, table, name)
    counts = {"rows": table.num_rows}
    for step, statement in merge_sql(schema, table.schema.names, name).items():
        counts[step] = conn.execute(statement).rowcount
    return counts


def load_run(
    conn: psycopg.Connection, schema: str, run_id: str, rows: RunRows
) -> dict[str, Any] | None:
    """Load one committed run in one transaction; None when it was delivered before. The counts
    are the product table's, with each other table's under its name; ``rows`` counts them all."""
    tables = {"products": rows} if isinstance(rows, pa.Table) else dict(rows)
    with conn.transaction():
        conn.execute("SELECT pg_advisory_xact_lock(%s)", (LOCK_KEY,))
        delivered = f"{quoted(schema)}.{quoted(DELIVERED)}"
        if conn.execute(f"SELECT 1 FROM {delivered} WHERE run_id = %s", (run_id,)).fetchone():
            return None
        merged = {name: merge_table(conn, schema, name, t) for name, t in tables.items()}
        total = sum(t.num_rows for t in tables.values())
        counts: dict[str, Any] = {**merged.pop("products", {}), **merged, "rows": total}
        conn.execute(f"INSERT INTO {delivered} (run_id, rows) VALUES (%s, %s)",
                     (run_id, total))  # fmt: skip
    return counts


def deliver(
    dsn: str,
    timeout: int,
    schema: str,
    committed: Iterable[str],
    rows_of: Callable[[str], RunRows],
) -> dict[str, Any]:
    """Migrate, then load every run of ``committed`` the database has not got, oldest first."""
    with connect(dsn, timeout) as conn:
        try:
            applied = migrate(conn, schema)
            owed = sorted(set(committed) - delivered_runs(conn, schema))
            loaded = {}
            for run_id in owed:
                counts = load_run(conn, schema, run_id, rows_of(run_id))
                if counts is not None:
                    loaded[run_id] = counts
        except psycopg.Error as exc:
            raise sink_error(exc) from None
    return {"migrations": applied, "runs": loaded}
