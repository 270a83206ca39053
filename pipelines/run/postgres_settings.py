"""``[sinks.postgres]``: the PostgreSQL sink's settings model, light enough to check at load.

The sink itself (``postgres.py``) reads the lake and loads psycopg; the config check of
``pipeline.toml`` (``pipelines/ops/sink_config.py``) needs only this model.
"""

from __future__ import annotations

import re

from pipelines.validation import Section, setting

NAME = re.compile(r"^[a-z_][a-z0-9_]{0,62}$")


class PostgresSettings(Section):
    """``[sinks.postgres]`` of ``pipeline.toml``, checked when the file loads (``SinksModel``)."""

    dsn_env: str = setting(
        "PIPELINE_POSTGRES_DSN",
        "the name of an environment variable",
        "Environment variable holding the DSN (a libpq URL or key=value string).",
        min_length=1,
    )
    pg_schema: str = setting(
        "public",
        "a lower-case name of letters, digits and _",
        "PostgreSQL schema of the tables (created when missing).",
        pattern=NAME.pattern,
    )
    connect_timeout_seconds: int = setting(
        10, "a whole number of at least 1", "Connect timeout of the sink.", ge=1
    )
