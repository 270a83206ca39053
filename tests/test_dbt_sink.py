"""The dbt project's postgres target agrees with the PostgreSQL sink (docs/dbt.md); no dbt needed.

``make dbt-postgres`` loads the demo lake through the sink and builds the models on it (CI runs
it). These checks read the sink's own DDL (``pipelines/run/postgres_schema.py``: every migration
up to the current schema version, the statements the database gets) and the dbt files, so a
renamed table, a new canonical column or a retyped one cannot drift past the postgres target
unnoticed: the tables the ``sink`` source names exist, in the schema the sink writes by default;
every column the models select is one of the sink's (the product and the order tables), and the
unit tests' SQL fixtures type their columns as the sink types the table they stand for.
"""

from __future__ import annotations

import importlib.util
import re
from pathlib import Path
from typing import Any

from ruamel.yaml import YAML

from pipelines.run.postgres import postgres_settings
from pipelines.run.postgres_schema import CHANGES, CURRENT, migrations

REPO = Path(__file__).resolve().parents[1]
DBT = REPO / "dbt"
SCHEMA = "public"
_CREATE = re.compile(r'^CREATE TABLE "\w+"\."(\w+)" \((.*)\)$', re.S)
_ADD = re.compile(r'^ALTER TABLE "\w+"\."(\w+)" ADD COLUMN IF NOT EXISTS "(\w+)" ([^"]+)$')
_COLUMN = re.compile(r'^"(\w+)" (.+?)(?: NOT NULL)?$')
_CAST = re.compile(r"cast\([^()]*\bas ([a-z ]+(?:\(\d+, ?\d+\))?)\) as (\w+)", re.I)
# SQL type names the fixtures may spell differently from the sink's DDL.
_SYNONYMS = {"decimal": "numeric", "timestamp with time zone": "timestamptz", "varchar": "text"}


def _load(path: Path) -> Any:
    return YAML(typ="safe").load(path.read_text())


def sink_columns(schema: str = SCHEMA) -> dict[str, dict[str, str]]:
    """table -> column -> type, after every migration up to the current schema version."""
    tables: dict[str, dict[str, str]] = {}
    for migration in migrations(schema):
        for statement in migration.statements:
            if created := _CREATE.match(statement):
                lines = [line.strip().rstrip(",") for line in created[2].splitlines()]
                columns = [_COLUMN.match(line) for line in lines if line.startswith('"')]
                tables[created[1]] = {c[1]: c[2] for c in columns if c}
            elif added := _ADD.match(statement):
                tables[added[1]][added[2]] = added[3].removesuffix(" NOT NULL")
    return tables


def normalised(sql_type: str) -> str:
    """A type name as the sink's DDL spells it: lower case, no spaces in precision, synonyms."""
    name = re.sub(r",\s+", ",", sql_type.strip().lower())
    base, _, precision = name.partition("(")
    base = _SYNONYMS.get(base.strip(), base.strip())
    return f"{base}({precision}" if precision else base


def test_the_sinks_ddl_is_read_whole() -> None:
    tables = sink_columns()
    assert tables[CHANGES]["price_amount"] == "numeric(18,4)"
    assert tables[CHANGES]["fetched_at"] == "timestamptz"
    assert tables[CHANGES]["tags"] == "text[]"
    assert tables[CURRENT]["gtin14"] == "text"  # added by migration 2
    assert tables[CHANGES].keys() == tables[CURRENT].keys()


def test_the_sink_source_names_the_sinks_tables_in_its_default_schema() -> None:
    (source,) = _load(DBT / "models" / "sources.yml")["sources"]
    assert source["name"] == "sink"
    names = {table["name"] for table in source["tables"]}
    assert names >= {CHANGES, "orders_changes", "order_lines_changes"}
    assert names <= set(sink_columns())
    default = re.fullmatch(
        r"\{\{ env_var\('DBT_PG_SOURCE_SCHEMA', '(\w+)'\) \}\}", source["schema"]
    )
    assert default, source["schema"]
    assert default[1] == postgres_settings({"postgres": {}}).pg_schema


def test_the_models_columns_are_the_sinks_columns() -> None:
    tables = sink_columns()
    canonical = _load(DBT / "dbt_project.yml")["vars"]["canonical_columns"]
    assert set(canonical) == set(tables[CHANGES]) == set(tables[CURRENT])
    variables = _load(DBT / "dbt_project.yml")["vars"]
    assert variables["order_columns"] == list(tables["orders_changes"])
    assert variables["order_line_columns"] == list(tables["order_lines_changes"])


def test_the_unit_test_fixtures_type_columns_as_the_sink_does() -> None:
    tables = sink_columns()
    fixtures = [
        (re.fullmatch(r"ref\('(?:stg_)?(\w+)'\)", given["input"])[1], given["rows"])
        for name in ("marts.yml", "orders.yml")
        for unit_test in _load(DBT / "models" / "marts" / name)["unit_tests"]
        for given in unit_test["given"]
        if given.get("format") == "sql"
    ]
    casts = [(table, *cast) for table, sql in fixtures for cast in _CAST.findall(sql)]
    assert {column for *_, column in casts} >= {"price_amount", "fetched_at", "line_total_amount"}
    for table, sql_type, column in casts:
        expected = tables[table][column]
        assert normalised(sql_type) == expected, f"unit test fixture {table}.{column}: {sql_type}"


def test_type_names_are_compared_as_the_sink_spells_them() -> None:
    assert normalised("decimal(18, 4)") == "numeric(18,4)"
    assert normalised("timestamp with time zone") == "timestamptz"
    assert normalised("timestamp") != "timestamptz"
    assert normalised("decimal(18, 2)") != "numeric(18,4)"


def _script() -> Any:
    """``.ci/dbt_postgres.py``, what ``make dbt-postgres`` runs, as a module."""
    spec = importlib.util.spec_from_file_location("dbt_postgres", REPO / ".ci/dbt_postgres.py")
    assert spec
    assert spec.loader
    script = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(script)
    return script


def test_ci_builds_the_models_on_the_sink_after_duckdb() -> None:
    commands = (REPO / ".ci" / "run").read_text().splitlines()
    assert commands.index("make dbt-postgres") > commands.index("make dbt")
    outputs = _load(DBT / "profiles.yml")["products"]["outputs"]
    assert outputs[_script().TARGET]["type"] == "postgres"


def test_dbt_postgres_refuses_a_folder_that_is_no_lake_before_starting_a_server(
    tmp_path: Path, capsys: Any
) -> None:
    assert _script().main([str(tmp_path)]) == 2
    assert capsys.readouterr().err == f"{tmp_path.resolve()}: not a lake (no _manifests/ folder)\n"
