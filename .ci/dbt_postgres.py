"""The dbt models on the PostgreSQL sink (``make dbt-postgres``, docs/dbt.md).

1. starts a throwaway PostgreSQL server (``tests/postgres_server.py``: ``initdb`` and ``pg_ctl``
   from Debian's ``postgresql`` package, on 127.0.0.1 in a temp folder) and creates the
   database ``products``;
2. loads every committed run of the lake into it with the sink's own code
   (``PostgresStep.load``: the migrations, then ``COPY`` and the upserts, per run), as the
   ``sink.postgres`` step of a live run would;
3. runs ``dbt build --target postgres`` in ``dbt/`` with ``.venv-dbt``, the connection given
   by the libpq variables the profile reads, its files in ``dbt/target/postgres`` (so the
   duckdb target's partial parse survives);
4. stops the server and removes its folder, whatever happened.

Usage: ``PYTHONPATH=. python .ci/dbt_postgres.py LAKE [DBT BUILD ARGUMENTS...]``. The exit code
is dbt's (1 when a model or test fails).
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

from pipelines.errors import PipelineError
from pipelines.lake.lake import Lake
from pipelines.run.postgres import PostgresStep, postgres_settings
from tests.postgres_server import PASSWORD, SUPERUSER, PostgresServer, find_bindir

REPO = Path(__file__).resolve().parent.parent
DATABASE, SINK_SCHEMA = "products", "public"
TARGET = "postgres"  # the profile's output (dbt/profiles.yml)


def load_lake(server: PostgresServer, lake: Path) -> None:
    """The lake's committed runs into ``products`` (schema ``public``), through the sink."""
    server.admin(f'CREATE DATABASE "{DATABASE}"')
    settings = postgres_settings({"postgres": {"pg_schema": SINK_SCHEMA}})
    env = {settings.dsn_env: server.dsn(DATABASE)}
    result = PostgresStep(settings, env, Lake(lake)).load()
    rows = sum(counts["rows"] for counts in result["runs"].values())
    print(f"sink.postgres: {len(result['runs'])} run(s), {rows} rows loaded from {lake} "
          f"(migrations applied: {result['migrations']})", flush=True)  # fmt: skip


def dbt_build(server: PostgresServer, arguments: list[str]) -> int:
    """``dbt build --target postgres`` against the server; dbt's exit code."""
    env = dict(os.environ, PGHOST="127.0.0.1", PGPORT=str(server.port), PGUSER=SUPERUSER,
               PGPASSWORD=PASSWORD, PGDATABASE=DATABASE, DBT_PG_SOURCE_SCHEMA=SINK_SCHEMA,
               DO_NOT_TRACK="1",
               DBT_SEND_ANONYMOUS_USAGE_STATS="false",
               DBT_TARGET_PATH="target/postgres")  # fmt: skip
    command = [str(REPO / ".venv-dbt/bin/dbt"), "build", "--profiles-dir", ".", "--target",
               TARGET, *arguments]  # fmt: skip
    return subprocess.run(command, cwd=REPO / "dbt", env=env).returncode


def main(argv: list[str]) -> int:
    if not argv:
        print("usage: dbt_postgres.py LAKE [DBT BUILD ARGUMENTS...]", file=sys.stderr)
        return 2
    lake = Path(argv[0]).resolve()
    if not (lake / "_manifests").is_dir():
        print(f"{lake}: not a lake (no _manifests/ folder)", file=sys.stderr)
        return 2
    bindir = find_bindir()
    if bindir is None:
        print("PostgreSQL server binaries not found: apt-get install postgresql", file=sys.stderr)
        return 2
    server = PostgresServer(bindir, Path(tempfile.mkdtemp(prefix="dbt-postgres-")))
    try:
        server.start()
        load_lake(server, lake)
        return dbt_build(server, argv[1:])
    except (PipelineError, RuntimeError) as exc:  # the sink's one line, or initdb/pg_ctl's
        print(f"dbt-postgres: {exc}", file=sys.stderr)
        return 1
    finally:
        if (server.data / "postmaster.pid").exists():
            server.stop()
        shutil.rmtree(server.folder, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
