"""The PostgreSQL sink's tables, made from the canonical schema, and the migrations between
schema versions.

Tables, in the configured PostgreSQL schema::

    products_changes            every committed row (new, changed, deleted) of every run;
                                primary key (run_id, source, source_id)
    products_current            the latest version of each product; primary key (source,
                                source_id); a ``deleted`` row removes its product
    pipeline_delivered_runs     the runs loaded: run_id (primary key), rows, delivered_at
    pipeline_schema_migrations  version (primary key), description, applied_at

Migration N brings the tables to the canonical ``schema_version`` N
(``pipelines/lake/schema.py``): migration 1 creates them with the columns version 1 had, and
each later migration adds the columns its version added (``ADDED_COLUMNS``, nullable, so rows
already loaded keep their values and read null there). Column types come from the Arrow
types (``pg_type``): money stays ``numeric(18,4)``, timestamps are ``timestamptz`` (UTC),
lists are arrays.
"""

from __future__ import annotations

from dataclasses import dataclass

import pyarrow as pa

from pipelines.lake.schema import PRODUCT_SCHEMA, SCHEMA_VERSION
from pipelines.run.postgres_settings import NAME

CHANGES, CURRENT = "products_changes", "products_current"
DELIVERED, MIGRATIONS = "pipeline_delivered_runs", "pipeline_schema_migrations"
KEYS = {CHANGES: ("run_id", "source", "source_id"), CURRENT: ("source", "source_id")}
# The columns each canonical schema version added after version 1 (a bump needs an entry here:
# tests/pipelines/test_postgres_sink.py checks that the newest migration is SCHEMA_VERSION).
ADDED_COLUMNS: dict[int, tuple[str, ...]] = {2: ("gtin14",)}
_SCALARS = {
    pa.string(): "text",
    pa.large_string(): "text",
    pa.bool_(): "boolean",
    pa.int16(): "smallint",
    pa.int32(): "integer",
    pa.int64(): "bigint",
    pa.float64(): "double precision",
    pa.date32(): "date",
}


def pg_type(arrow: pa.DataType) -> str:
    """The PostgreSQL type a canonical Arrow type is stored as."""
    if pa.types.is_decimal(arrow):
        return f"numeric({arrow.precision},{arrow.scale})"
    if pa.types.is_timestamp(arrow):
        return "timestamptz" if arrow.tz else "timestamp"
    if pa.types.is_list(arrow) or pa.types.is_large_list(arrow):
        return pg_type(arrow.value_type) + "[]"
    if arrow in _SCALARS:
        return _SCALARS[arrow]
    raise TypeError(f"no PostgreSQL type for Arrow type {arrow}")


def quoted(name: str) -> str:
    """An identifier checked against ``NAME`` (lower-case letters, digits, ``_``) and quoted."""
    if not NAME.match(name):
        raise ValueError(f"not a plain lower-case identifier: {name!r}")
    return f'"{name}"'


def column_sql(field: pa.Field, added: bool = False) -> str:
    """One column's definition; a column added by a migration is nullable whatever the schema
    says, since the rows loaded before it have no value."""
    not_null = " NOT NULL" if not field.nullable and not added else ""
    return f"{quoted(field.name)} {pg_type(field.type)}{not_null}"


def _since(name: str) -> int:
    return next((v for v, names in ADDED_COLUMNS.items() if name in names), 1)


def _create_products(schema: str, table: str) -> str:
    columns = [column_sql(f) for f in PRODUCT_SCHEMA if _since(f.name) == 1]
    key = ", ".join(quoted(k) for k in KEYS[table])
    body = ",\n  ".join([*columns, f"PRIMARY KEY ({key})"])
    return f"CREATE TABLE {schema}.{quoted(table)} (\n  {body}\n)"


def _first(schema: str) -> list[str]:
    return [
        _create_products(schema, CHANGES),
        _create_products(schema, CURRENT),
        f"CREATE TABLE {schema}.{quoted(DELIVERED)} (run_id text PRIMARY KEY, "
        "rows bigint NOT NULL, delivered_at timestamptz NOT NULL DEFAULT now())",
    ]


def _adding(schema: str, version: int) -> list[str]:
    fields = [PRODUCT_SCHEMA.field(name) for name in ADDED_COLUMNS.get(version, ())]
    return [
        f"ALTER TABLE {schema}.{quoted(table)} ADD COLUMN IF NOT EXISTS {column_sql(f, True)}"
        for table in (CHANGES, CURRENT)
        for f in fields
    ]


@dataclass(frozen=True)
class Migration:
    """The statements that bring the tables from ``version - 1`` to ``version``."""

    version: int
    description: str
    statements: tuple[str, ...]


def migrations(schema: str) -> list[Migration]:
    """Every migration for tables in ``schema``, oldest first, up to ``SCHEMA_VERSION``."""
    name = quoted(schema)
    found = [Migration(1, "create the tables", tuple(_first(name)))]
    for version in range(2, SCHEMA_VERSION + 1):
        added = ", ".join(ADDED_COLUMNS.get(version, ())) or "nothing"
        found.append(Migration(version, f"add {added}", tuple(_adding(name, version))))
    return found


def bootstrap_sql(schema: str) -> list[str]:
    """The schema and the migrations table, made when missing (before any migration)."""
    name = quoted(schema)
    return [
        f"CREATE SCHEMA IF NOT EXISTS {name}",
        f"CREATE TABLE IF NOT EXISTS {name}.{quoted(MIGRATIONS)} (version integer PRIMARY KEY, "
        "description text NOT NULL, applied_at timestamptz NOT NULL DEFAULT now())",
    ]
