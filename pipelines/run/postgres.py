"""The PostgreSQL sink: ``[sinks.postgres]`` read and checked, and the ``sink.postgres`` step.

The step runs after ``write`` (``pipelines/run/steps.py``) and loads every committed run of
the lake that the database has not got yet, oldest first, this run's included: a run whose
load failed (the database was down, the process was killed) is loaded by the step's retry,
by ``--resume``, or by the next run's step. Rows are read from the lake's committed parts,
checked against their manifest first: the product table's and, when the lake holds the
``orders`` dataset, the ``orders`` and ``order_lines`` tables' (their own lakes in folders of
the lake, ``pipelines/lake/datasets.py``), all of a run in its one transaction. The database
work is in ``postgres_load.py`` (psycopg 3, imported only when the step runs: the
``postgres`` extra), the tables and migrations in ``postgres_schema.py``. See docs/postgres.md.

The DSN comes from the environment variable ``dsn_env`` names (``[secrets.refs]`` can fill it
from a secret store); the whole DSN and its password are registered for masking before the
first connection, so neither appears in a log line, an error or the run log.
"""

from __future__ import annotations

import importlib
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from pipelines.errors import ConfigError
from pipelines.lake.datasets import DATASETS
from pipelines.lake.integrity import verify_run
from pipelines.lake.lake import Lake
from pipelines.net.extras import require
from pipelines.net.secrets import register_secret
from pipelines.run.postgres_schema import LOADED
from pipelines.run.postgres_settings import PostgresSettings
from pipelines.run.write import committed_rows
from pipelines.validation import checked


def postgres_settings(sinks: Any) -> PostgresSettings | None:
    """The checked ``[sinks.postgres]`` table; None when there is none."""
    if not isinstance(sinks, Mapping) or "postgres" not in sinks:
        return None
    return checked("sinks.postgres", PostgresSettings, sinks["postgres"])


def sink_names(sinks: Any) -> tuple[str, ...]:
    """The sinks that get a step of their own in the graph (``sink.<name>``)."""
    return ("postgres",) if postgres_settings(sinks) else ()


def _loader() -> Any:
    """``postgres_load`` (psycopg); a missing psycopg is one line naming the extra."""
    require("postgres", "[sinks.postgres]")
    return importlib.import_module("pipelines.run.postgres_load")


def read_dsn(settings: PostgresSettings, env: Mapping[str, str]) -> str:
    """The DSN from the environment, registered for masking with its password."""
    dsn = env.get(settings.dsn_env, "")
    if not dsn:
        raise ConfigError(
            f"sinks.postgres.dsn_env: {settings.dsn_env} is not set (the PostgreSQL DSN, from "
            "the environment or a [secrets.refs] entry of that name)"
        )
    register_secret(dsn)
    from psycopg import ProgrammingError
    from psycopg.conninfo import conninfo_to_dict

    try:
        parts = conninfo_to_dict(dsn)
    except ProgrammingError:  # its message quotes the string: not shown
        raise ConfigError(f"{settings.dsn_env}: not a valid PostgreSQL DSN") from None
    register_secret(str(parts.get("password") or ""))
    return dsn


@dataclass
class PostgresStep:
    """The ``sink.postgres`` step of one run."""

    settings: PostgresSettings
    env: Mapping[str, str]
    lake: Lake

    def execute(self, mode: str) -> dict[str, Any]:
        """Load what the database lacks; dry and offline demo runs load nothing."""
        if mode == "dry_run":
            return {"status": "skipped", "reason": "dry run"}
        if mode == "offline":
            return {"status": "skipped", "reason": "offline demo run: the demo lake is not loaded"}
        return {"status": "ok", **self.load()}

    def load(self) -> dict[str, Any]:
        """Migrate, then load every committed run of the lake the database lacks, whatever the
        run's mode: the step's work, also used by ``make dbt-postgres`` on the demo lake."""
        loader = _loader()
        dsn = read_dsn(self.settings, self.env)
        committed = {run_id for lake in self.lakes().values() for run_id in lake.manifest_ids()}
        return loader.deliver(dsn, self.settings.connect_timeout_seconds, self.settings.pg_schema,
                              committed, self.rows_of)  # fmt: skip

    def lakes(self) -> dict[str, Lake]:
        """The lake of each table the sink loads, by table name (an order table's lake is a
        folder of the product lake, there once an orders run committed)."""
        tables = [t for d in DATASETS.values() for t in d.tables if t.name in LOADED]
        return {t.name: Lake(t.storage(self.lake.storage)) for t in tables}

    def rows_of(self, run_id: str) -> dict[str, Any]:
        """Run ``run_id``'s committed rows of each table it committed, by table name."""
        found = {}
        for name, lake in self.lakes().items():
            if lake.read_manifest(run_id) is None:
                continue  # the run did not pull this table's dataset
            verify_run(lake, run_id, "normalized")  # only what the manifest vouches for
            found[name] = committed_rows(lake, run_id, schema=LOADED[name])
        return found
