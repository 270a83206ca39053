"""The PostgreSQL sink's tables, made from the canonical schema, and the migrations between
schema versions.

Tables, in the configured PostgreSQL schema::

    products_changes            every committed row (new, changed, deleted) of every run;
                                primary key (run_id, source, source_id)
    products_current            the latest version of each product; primary key (source,
                                source_id); a ``deleted`` row removes its product
    orders_changes, order_lines_changes
                                every committed order and order line row of every run (the
                                ``orders`` dataset, docs/orders.md); keyed like products_changes
    orders_current, order_lines_current
                                the latest version of each order and line; keyed (source,
                                source_id)
    pipeline_delivered_runs     the runs loaded: run_id (primary key), rows, delivered_at
    pipeline_schema_migrations  version (primary key), description, applied_at

The migrations are numbered in the order they came (``STEPS``): 1 and 2 bring the product
tables to the canonical product ``schema_version`` 1 and 2 (``pipelines/lake/schema.py``;
migration 1 also creates the delivered-runs table), 3 creates the order tables at the order
schema version 1 (``pipelines/lake/order_schema.py``). A product schema bump adds the columns
its version added (``ADDED_COLUMNS``, nullable, so rows already loaded keep their values and
read null there) as the next migration. Column types come from the Arrow types
(``pg_type``): money stays ``numeric(18,4)``, timestamps are ``timestamptz`` (UTC), lists are
arrays.
"""

from __future__ import annotations

from dataclasses import dataclass

import pyarrow as pa

from pipelines.lake.order_schema import ORDER_LINES_SCHEMA, ORDERS_SCHEMA
from pipelines.lake.schema import PRODUCT_SCHEMA
from pipelines.run.postgres_settings import NAME

CHANGES, CURRENT = "products_changes", "products_current"
DELIVERED, MIGRATIONS = "pipeline_delivered_runs", "pipeline_schema_migrations"
CHANGE_KEY, CURRENT_KEY = ("run_id", "source", "source_id"), ("source", "source_id")
KEYS = {CHANGES: CHANGE_KEY, CURRENT: CURRENT_KEY}
# The lake's tables the sink loads (``pipelines/lake/datasets.py`` names), with their schemas;
# each is stored as ``<name>_changes`` and ``<name>_current``.
LOADED: dict[str, pa.Schema] = {
    "products": PRODUCT_SCHEMA, "orders": ORDERS_SCHEMA, "order_lines": ORDER_LINES_SCHEMA,
}  # fmt: skip
# The columns each canonical product schema version added after version 1 (a bump needs an
# entry here and in STEPS: tests/pipelines/test_postgres_sink.py checks both).
ADDED_COLUMNS: dict[int, tuple[str, ...]] = {2: ("gtin14",)}
# Migration N (1-based) does STEPS[N - 1]: (dataset, the dataset's schema version it reaches).
STEPS: tuple[tuple[str, int], ...] = (("products", 1), ("products", 2), ("orders", 1))
SINK_VERSION = len(STEPS)
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


def _create(schema: str, table: str, fields: list[pa.Field], key: tuple[str, ...]) -> str:
    columns = [column_sql(f) for f in fields]
    body = ",\n  ".join([*columns, f"PRIMARY KEY ({', '.join(quoted(k) for k in key)})"])
    return f"CREATE TABLE {schema}.{quoted(table)} (\n  {body}\n)"


def create_pair(schema: str, name: str, fields: list[pa.Field]) -> list[str]:
    """``<name>_changes`` and ``<name>_current`` with ``fields``."""
    return [
        _create(schema, f"{name}_changes", fields, CHANGE_KEY),
        _create(schema, f"{name}_current", fields, CURRENT_KEY),
    ]


def _first(schema: str) -> list[str]:
    return [
        *create_pair(schema, "products", [f for f in PRODUCT_SCHEMA if _since(f.name) == 1]),
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


def _migration(schema: str, number: int, dataset: str, version: int) -> Migration:
    if dataset == "orders":
        statements = [
            *create_pair(schema, "orders", list(ORDERS_SCHEMA)),
            *create_pair(schema, "order_lines", list(ORDER_LINES_SCHEMA)),
        ]
        return Migration(number, "create the order tables", tuple(statements))
    if version == 1:
        return Migration(number, "create the tables", tuple(_first(schema)))
    added = ", ".join(ADDED_COLUMNS.get(version, ())) or "nothing"
    return Migration(number, f"add {added}", tuple(_adding(schema, version)))


def migrations(schema: str) -> list[Migration]:
    """Every migration for tables in ``schema``, oldest first, up to ``SINK_VERSION``."""
    return [_migration(quoted(schema), n, *step) for n, step in enumerate(STEPS, 1)]


def bootstrap_sql(schema: str) -> list[str]:
    """The schema and the migrations table, made when missing (before any migration)."""
    name = quoted(schema)
    return [
        f"CREATE SCHEMA IF NOT EXISTS {name}",
        f"CREATE TABLE IF NOT EXISTS {name}.{quoted(MIGRATIONS)} (version integer PRIMARY KEY, "
        "description text NOT NULL, applied_at timestamptz NOT NULL DEFAULT now())",
    ]
