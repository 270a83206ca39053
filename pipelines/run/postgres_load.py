"""The PostgreSQL sink's database work, with psycopg 3: migrations, then each committed run in
one transaction.

A run's transaction takes the sink's advisory lock (two loads of one database take turns),
skips the run when ``pipeline_delivered_runs`` already holds it, ``COPY``s the run's rows into
a temporary staging table (dropped at commit), then:

* appends them to ``products_changes`` (``ON CONFLICT (run_id, source, source_id) DO
  NOTHING``);
* removes the products the run marked ``deleted`` from ``products_current``;
* upserts the others into ``products_current`` (``ON CONFLICT (source, source_id) DO
  UPDATE``), never over a row fetched later (``fetched_at``: runs load oldest first by run
  id, which is a run's start second, and two runs may share one);
* records the run as delivered.

A process killed at any point leaves nothing of the run behind (the server rolls the open
transaction back when the connection drops), so the next attempt loads it whole; a run
already delivered is skipped, so loading it again changes nothing.

Every psycopg error becomes a ``SinkError`` of one masked line.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

import psycopg
import pyarrow as pa

from pipelines.errors import SinkError
from pipelines.lake.schema import SCHEMA_VERSION
from pipelines.net.secrets import mask
from pipelines.run.postgres_schema import (
    CHANGES,
    CURRENT,
    DELIVERED,
    KEYS,
    MIGRATIONS,
    bootstrap_sql,
    migrations,
    quoted,
)

LOCK_KEY = 0x5049_5045  # the sink's pg_advisory_xact_lock key: one load at a time per database
STAGING = "pipeline_staging"
COPY_BATCH_ROWS = 1000


def connect(dsn: str, timeout: int) -> psycopg.Connection:
    """A connection to the sink's database; the error, if any, as one masked ``SinkError``."""
    try:
        return psycopg.connect(dsn, connect_timeout=timeout, application_name="product-pipeline")
    except psycopg.Error as exc:
        raise sink_error(exc) from None


def sink_error(exc: psycopg.Error) -> SinkError:
    first = (str(exc).strip().splitlines() or [""])[0]
    return SinkError(mask(f"sink.postgres: {type(exc).__name__}: {first}"))


def migrate(conn: psycopg.Connection, schema: str, upto: int = SCHEMA_VERSION) -> list[int]:
    """Apply the migrations the database lacks, up to ``upto``, in one transaction; returns the
    versions applied. A database migrated past this code's schema version is refused."""
    with conn.transaction():
        conn.execute("SELECT pg_advisory_xact_lock(%s)", (LOCK_KEY,))
        for statement in bootstrap_sql(schema):
            conn.execute(statement)
        table = f"{quoted(schema)}.{quoted(MIGRATIONS)}"
        applied = {v for (v,) in conn.execute(f"SELECT version FROM {table}")}
        if max(applied, default=0) > SCHEMA_VERSION:
            raise SinkError(
                f"sink.postgres: the tables in schema {schema!r} are at version "
                f"{max(applied)}, newer than this pipeline's {SCHEMA_VERSION}: upgrade it"
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


def merge_sql(schema: str, names: list[str]) -> dict[str, str]:
    """The statements that move the staged rows into the two product tables."""
    changes, current = (f"{quoted(schema)}.{quoted(t)}" for t in (CHANGES, CURRENT))
    cols = ", ".join(quoted(n) for n in names)
    keys = {t: ", ".join(KEYS[t]) for t in KEYS}
    updates = ", ".join(f"{quoted(n)} = EXCLUDED.{quoted(n)}" for n in names)
    return {
        "appended": f"INSERT INTO {changes} ({cols}) SELECT {cols} FROM {STAGING} "
        f"ON CONFLICT ({keys[CHANGES]}) DO NOTHING",
        "removed": f"DELETE FROM {current} AS c USING {STAGING} AS s "
        "WHERE s.change_type = 'deleted' AND c.source = s.source "
        "AND c.source_id = s.source_id AND c.fetched_at <= s.fetched_at",
        "upserted": f"INSERT INTO {current} ({cols}) SELECT DISTINCT ON ({keys[CURRENT]}) {cols} "
        f"FROM {STAGING} WHERE change_type <> 'deleted' "
        f"ORDER BY {keys[CURRENT]}, fetched_at DESC "
        f"ON CONFLICT ({keys[CURRENT]}) DO UPDATE SET {updates} "
        f"WHERE {current}.fetched_at <= EXCLUDED.fetched_at",
    }


def copy_rows(conn: psycopg.Connection, table: pa.Table) -> None:
    """``COPY`` ``table``'s rows into the staging table, a batch of columns at a time."""
    cols = ", ".join(quoted(n) for n in table.schema.names)
    with conn.cursor() as cursor, cursor.copy(f"COPY {STAGING} ({cols}) FROM STDIN") as copy:
        for batch in table.to_batches(COPY_BATCH_ROWS):
            for row in zip(*(column.to_pylist() for column in batch.columns), strict=True):
                copy.write_row(row)


def load_run(
    conn: psycopg.Connection, schema: str, run_id: str, table: pa.Table
) -> dict[str, int] | None:
    """Load one committed run in one transaction; None when it was delivered before."""
    with conn.transaction():
        conn.execute("SELECT pg_advisory_xact_lock(%s)", (LOCK_KEY,))
        delivered = f"{quoted(schema)}.{quoted(DELIVERED)}"
        if conn.execute(f"SELECT 1 FROM {delivered} WHERE run_id = %s", (run_id,)).fetchone():
            return None
        changes = f"{quoted(schema)}.{quoted(CHANGES)}"
        conn.execute(f"CREATE TEMP TABLE {STAGING} (LIKE {changes}) ON COMMIT DROP")
        copy_rows(conn, table)
        counts = {"rows": table.num_rows}
        for name, statement in merge_sql(schema, table.schema.names).items():
            counts[name] = conn.execute(statement).rowcount
        conn.execute(f"INSERT INTO {delivered} (run_id, rows) VALUES (%s, %s)",
                     (run_id, table.num_rows))  # fmt: skip
    return counts


def deliver(
    dsn: str,
    timeout: int,
    schema: str,
    committed: Iterable[str],
    rows_of: Callable[[str], pa.Table],
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
