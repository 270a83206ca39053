"""The PostgreSQL sink against a real PostgreSQL server (``tests/postgres_server.py``): whole runs
through the fakes, re-delivery, a sink killed mid-COPY, migrations from an older schema,
secrets kept out of everything written, and the configuration and plan that go with it.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from decimal import Decimal
from pathlib import Path
from typing import Any

import psycopg
import pyarrow as pa
import pytest

from pipelines.cli.main import main
from pipelines.config import load_config
from pipelines.errors import ConfigError, SinkError
from pipelines.lake.lake import Lake
from pipelines.lake.order_schema import ORDER_LINES_SCHEMA, ORDER_SCHEMA_VERSION, ORDERS_SCHEMA
from pipelines.lake.schema import PRODUCT_SCHEMA, SCHEMA_VERSION
from pipelines.ops.plan import build_plan
from pipelines.ops.sink_config import SinksModel
from pipelines.run import postgres_load
from pipelines.run.options import RunOptions
from pipelines.run.postgres import PostgresSettings, PostgresStep
from pipelines.run.postgres_schema import (
    ADDED_COLUMNS,
    SINK_VERSION,
    STEPS,
    migrations,
    pg_type,
)
from pipelines.run.runner import Runner
from pipelines.validation import checked
from providers.amazon import AmazonProvider
from providers.ebay import EbayProvider
from providers.shopify import ShopifyProvider
from tests.pipelines.fault_runs import Fakes, write_config
from tests.pipelines.test_delta import RUN1, RUN2
from tests.postgres_server import PASSWORD, PostgresServer

REPO = Path(__file__).resolve().parents[2]
DSN_ENV = "PIPELINE_POSTGRES_DSN"
SINK = f'[sinks.postgres]\ndsn_env = "{DSN_ENV}"\n'
TABLES = ("products_changes", "products_current", "pipeline_delivered_runs")
VERSION_1_COLUMNS = {f.name for f in PRODUCT_SCHEMA} - {"gtin14"}
REGISTRY = {p.name: p for p in (ShopifyProvider(), AmazonProvider(), EbayProvider())}


def runner(root: Path, env: dict[str, str], run_id: str | None = None, sink: str = SINK) -> Runner:
    """A runner over ``root`` (lake and logs there) with ``sink`` in its ``pipeline.toml``."""
    path = write_config(root / "pipeline.toml", 10, data_dir=str(root / "data"),
                        log_dir=str(root / "logs"))  # fmt: skip
    path.write_text(path.read_text() + sink)
    config = load_config(path, REGISTRY)
    return Runner(config, REGISTRY, env, RunOptions(no_cache=True), run_id=run_id)


def rows(dsn: str, table: str) -> list[tuple[Any, ...]]:
    """Every row of ``table``, in key order; the delivery time left out."""
    query = {
        "pipeline_delivered_runs": "SELECT run_id, rows FROM {} ORDER BY 1",
        "products_current": "SELECT * FROM {} ORDER BY source, source_id",
    }.get(table, "SELECT * FROM {} ORDER BY run_id, source, source_id")
    with psycopg.connect(dsn) as conn:
        return conn.execute(query.format(table)).fetchall()


def snapshot(dsn: str) -> dict[str, list[tuple[Any, ...]]]:
    return {table: rows(dsn, table) for table in TABLES}


def committed_keys(root: Path) -> list[tuple[str, str]]:
    table = Lake(root / "data").dataset("normalized").to_table(columns=["source", "source_id"])
    return sorted(zip(*(table.column(c).to_pylist() for c in ("source", "source_id")), strict=True))


def test_a_run_loads_its_rows_and_loading_it_again_changes_nothing(
    tmp_path: Path, fakes: Fakes, postgres_dsn: str
) -> None:
    run = runner(tmp_path, {**fakes.env(), DSN_ENV: postgres_dsn})
    result = run.run()
    assert result.exit_code == 0, result.record
    assert result.record["sink_steps"]["postgres"]["runs_loaded"] == [run.run_id]
    loaded = snapshot(postgres_dsn)
    keys = committed_keys(tmp_path)
    assert len(keys) == 43
    assert [(r[0], r[1]) for r in loaded["products_current"]] == keys
    assert len(loaded["products_changes"]) == 43
    assert loaded["pipeline_delivered_runs"] == [(run.run_id, 43)]

    assert run.run_step("sink.postgres", force=True) == 0  # re-delivery of a committed run
    assert run.checkpoint.outputs("sink.postgres")["runs"] == {}
    with psycopg.connect(postgres_dsn) as conn:  # and the run's own transaction, again
        assert (
            postgres_load.load_run(conn, "public", run.run_id, PRODUCT_SCHEMA.empty_table()) is None
        )
    assert snapshot(postgres_dsn) == loaded


def settings(schema: str = "public") -> PostgresSettings:
    return PostgresSettings(dsn_env=DSN_ENV, pg_schema=schema, connect_timeout_seconds=5)


def test_changes_are_appended_and_the_current_catalog_follows_them(postgres_dsn: str) -> None:
    runs = {"run-1": RUN1, "run-2": RUN2}
    first = postgres_load.deliver(postgres_dsn, 5, "public", ["run-2", "run-1"], runs.get)
    assert first["migrations"] == list(range(1, SINK_VERSION + 1))
    assert list(first["runs"]) == ["run-1", "run-2"]  # oldest first
    assert first["runs"]["run-2"] == {"rows": 2, "appended": 2, "removed": 1, "upserted": 1}
    with psycopg.connect(postgres_dsn) as conn:
        current = conn.execute(
            "SELECT source_id, price_amount, tags, category_path, fetched_at, run_id "
            "FROM products_current ORDER BY source_id"
        ).fetchall()
    anvil = RUN2.to_pylist()[0]
    assert current == [
        ("anvil", Decimal("79.0001"), ["heavy", "iron"], ["Tools", "Anvils"],
         anvil["fetched_at"], "run-2"),
        ("book", *[RUN1.to_pylist()[2][c] for c in ("price_amount", "tags", "category_path",
                                                     "fetched_at")], "run-1"),
    ]  # fmt: skip
    assert current[0][4].tzinfo is not None  # timestamptz: UTC kept
    assert len(rows(postgres_dsn, "products_changes")) == 5
    loaded = snapshot(postgres_dsn)
    again = postgres_load.deliver(postgres_dsn, 5, "public", ["run-1", "run-2"], runs.get)
    assert again == {"migrations": [], "runs": {}}
    assert snapshot(postgres_dsn) == loaded


def _kill_mid_copy(root: Path, run_id: str, dsn: str, nth: int | None) -> int:
    """``run-step sink.postgres`` in a process of its own, SIGKILLed before the ``nth`` row
    written to COPY (or left alone with ``nth`` None); its exit code."""
    argv = ["run-step", "sink.postgres", "--run-id", run_id, "--config",
            str(root / "pipeline.toml")]  # fmt: skip
    script = [str(REPO / "tests/pipelines/kill_at.py"), "psycopg:Copy.write_row", str(nth), "--"]
    command = [sys.executable, *(script if nth else ["-m", "pipelines.run_pipeline"]), *argv]
    env = {"PATH": os.environ["PATH"], DSN_ENV: dsn, "PYTHONPATH": str(REPO)}
    done = subprocess.run(command, cwd=root, env=env, capture_output=True, text=True, timeout=120)
    return done.returncode


def test_a_sink_killed_mid_copy_loads_the_same_tables_next_time(
    tmp_path: Path, fakes: Fakes, postgres_server: PostgresServer, postgres_dsn: str
) -> None:
    run = runner(tmp_path, fakes.env())  # no DSN: the lake commits, the sink step fails alone
    result = run.run()
    assert result.exit_code == 1
    entry = result.record["sink_steps"]["postgres"]
    assert entry["status"] == "failed"
    assert f"{DSN_ENV} is not set" in entry["error"]
    assert all(p["status"] == "ok" for p in result.record["providers"].values())

    assert _kill_mid_copy(tmp_path, run.run_id, postgres_dsn, nth=20) == -9
    assert snapshot(postgres_dsn) == {table: [] for table in TABLES}  # nothing half-loaded
    assert _kill_mid_copy(tmp_path, run.run_id, postgres_dsn, nth=None) == 0

    with postgres_server.database() as clean:
        PostgresStep(settings(), {DSN_ENV: clean}, Lake(tmp_path / "data")).execute("live")
        assert snapshot(postgres_dsn) == snapshot(clean)
    assert len(rows(postgres_dsn, "products_changes")) == 43


def test_tables_of_an_older_schema_version_are_migrated_with_their_rows(
    postgres_dsn: str,
) -> None:
    old = RUN1.drop_columns(["gtin14"])  # the run as schema version 1 wrote it
    old = old.set_column(old.schema.get_field_index("schema_version"), "schema_version",
                         pa.array([1] * old.num_rows, pa.int16()))  # fmt: skip
    with psycopg.connect(postgres_dsn) as conn:
        assert postgres_load.migrate(conn, "public", upto=1) == [1]
        assert postgres_load.load_run(conn, "public", "run-1", old) is not None
    before = rows(postgres_dsn, "products_changes")
    gtin = pa.array(["04006381333931"] * RUN2.num_rows)
    new = RUN2.set_column(RUN2.schema.get_field_index("gtin14"), "gtin14", gtin)

    result = postgres_load.deliver(postgres_dsn, 5, "public", ["run-1", "run-2"],
                                   {"run-2": new}.get)  # fmt: skip
    assert result["migrations"] == [2, 3]
    assert list(result["runs"]) == ["run-2"]
    with psycopg.connect(postgres_dsn) as conn:
        versions = conn.execute("SELECT version, description FROM pipeline_schema_migrations "
                                "ORDER BY version").fetchall()  # fmt: skip
        kept = conn.execute("SELECT * FROM products_changes WHERE run_id = 'run-1' "
                            "ORDER BY source, source_id").fetchall()  # fmt: skip
        current = dict(conn.execute("SELECT source_id, gtin14 FROM products_current").fetchall())
    assert versions == [(1, "create the tables"), (2, "add gtin14"),
                        (3, "create the order tables")]  # fmt: skip
    assert kept == [(*row, None) for row in before]  # every value kept, gtin14 null
    assert current == {"anvil": "04006381333931", "book": None}


def test_a_database_migrated_past_this_pipeline_is_refused(postgres_dsn: str) -> None:
    with psycopg.connect(postgres_dsn) as conn:
        postgres_load.migrate(conn, "public")
        conn.execute("INSERT INTO pipeline_schema_migrations (version, description) "
                     "VALUES (99, 'from the future')")  # fmt: skip
    with pytest.raises(SinkError, match=r"at version 99, newer than this pipeline's"):
        postgres_load.deliver(postgres_dsn, 5, "public", ["run-1"], {"run-1": RUN1}.get)
    assert rows(postgres_dsn, "pipeline_delivered_runs") == []


def test_the_dsn_and_its_password_are_written_nowhere(
    tmp_path: Path, fakes: Fakes, postgres_server: PostgresServer, postgres_dsn: str,
    caplog: pytest.LogCaptureFixture,
) -> None:  # fmt: skip
    database = postgres_dsn.rsplit("/", 1)[1]
    wrong = postgres_server.dsn(database, password="wrong-pass-4d9f1c")  # pragma: allowlist secret
    run = runner(tmp_path, {**fakes.env(), DSN_ENV: wrong})
    result = run.run()
    assert result.exit_code == 1
    error = result.record["sink_steps"]["postgres"]["error"]
    assert error.startswith("sink.postgres: OperationalError: connection failed")
    assert "password authentication failed" in error

    again = runner(tmp_path, {**fakes.env(), DSN_ENV: postgres_dsn}, run_id=run.run_id)
    assert again.resume().exit_code == 0
    assert rows(postgres_dsn, "pipeline_delivered_runs") == [(run.run_id, 43)]
    written = b"\n".join(p.read_bytes() for p in tmp_path.rglob("*") if p.is_file())
    assert b"sink_steps" in written
    for secret in (wrong, postgres_dsn, "wrong-pass-4d9f1c", PASSWORD):
        assert secret.encode() not in written
        assert secret not in caplog.text


@pytest.mark.parametrize(
    ("table", "problem"),
    [
        ({"postgres": {"pg_schema": "Sales-DB"}}, "sinks.postgres.pg_schema: expected a lower"),
        ({"postgres": {"dsn": "postgresql://x"}}, "sinks.postgres.dsn: unknown key"),
        ({"postgres": {"connect_timeout_seconds": 0}}, "sinks.postgres.connect_timeout_seconds"),
        ({"postgress": {}}, "sinks.postgress: unknown key (known: runlog, postgres)"),
        ("postgres", "sinks: expected a table, got 'postgres'"),
    ],
)
def test_a_wrong_setting_is_one_line_naming_its_key(table: Any, problem: str) -> None:
    with pytest.raises(ConfigError) as caught:
        checked("sinks", SinksModel, table)
    assert problem in str(caught.value)


def test_a_wrong_setting_stops_the_command_before_anything_runs(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "pipeline.toml"
    path.write_text('[sinks.postgres]\npg_schema = "Bad Name"\n')
    assert main(["--config", str(path), "--dump-orchestration-plan"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1
    assert "sinks.postgres.pg_schema" in err


def test_the_plan_gets_the_sink_step_only_when_configured(tmp_path: Path) -> None:
    path = tmp_path / "pipeline.toml"
    path.write_text("")
    plain = build_plan(load_config(path, REGISTRY), REGISTRY)
    path.write_text(SINK)
    planned = build_plan(load_config(path, REGISTRY), REGISTRY)
    sink = next(s for s in planned["steps"] if s["name"] == "sink.postgres")
    assert [s for s in planned["steps"] if s["name"] != "sink.postgres"] == plain["steps"]
    assert sink["depends_on"] == ["write"]
    assert sink["retries"] == 3
    assert sink["command"][2:4] == ["run-step", "sink.postgres"]
    assert planned["environment"][-1] == {
        "name": DSN_ENV, "used_by": "sinks.postgres", "secret": True, "required": True
    }  # fmt: skip
    assert "sink.postgres" not in json.dumps(plain)


def test_without_psycopg_the_step_names_the_extra(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "psycopg", None)
    monkeypatch.delitem(sys.modules, "pipelines.run.postgres_load")
    step = PostgresStep(settings(), {DSN_ENV: "postgresql://x@127.0.0.1/db"}, Lake(Path("x")))
    with pytest.raises(
        ConfigError,
        match=r"\[sinks.postgres\] needs the optional 'postgres' dependencies \(psycopg is not",
    ):
        step.execute("live")
    assert step.execute("dry_run")["status"] == step.execute("offline")["status"] == "skipped"


def test_every_canonical_column_has_a_type_and_a_migration() -> None:
    assert pg_type(PRODUCT_SCHEMA.field("price_amount").type) == "numeric(18,4)"
    assert pg_type(PRODUCT_SCHEMA.field("fetched_at").type) == "timestamptz"
    assert pg_type(PRODUCT_SCHEMA.field("tags").type) == "text[]"
    assert pg_type(PRODUCT_SCHEMA.field("schema_version").type) == "smallint"
    found = migrations("public")
    assert [m.version for m in found] == list(range(1, SINK_VERSION + 1))
    added = {name for names in ADDED_COLUMNS.values() for name in names}
    assert set(PRODUCT_SCHEMA.names) - added == VERSION_1_COLUMNS  # a new column needs a version
    assert max(ADDED_COLUMNS) == SCHEMA_VERSION
    newest = dict(STEPS)  # the last step of each dataset: a schema bump needs a step
    assert newest == {"products": SCHEMA_VERSION, "orders": ORDER_SCHEMA_VERSION}


def test_the_next_run_loads_an_earlier_run_the_database_lacks(
    tmp_path: Path, fakes: Fakes, postgres_dsn: str
) -> None:
    first = runner(tmp_path, fakes.env())  # no DSN: committed, not loaded
    assert first.run().exit_code == 1
    fakes.shopify.products[0].update(title="Renamed anvil", updatedAt="2026-11-30T12:00:00Z")
    second = runner(tmp_path, {**fakes.env(), DSN_ENV: postgres_dsn})
    result = second.run()
    assert result.exit_code == 0
    loaded = result.record["sink_steps"]["postgres"]["runs_loaded"]
    assert loaded == sorted([first.run_id, second.run_id])  # both, by run id
    delivered = dict(rows(postgres_dsn, "pipeline_delivered_runs"))
    assert delivered[first.run_id] == 43
    assert delivered[second.run_id] == result.record["totals"]["written"] > 0
    with psycopg.connect(postgres_dsn) as conn:
        renamed = conn.execute("SELECT DISTINCT run_id FROM products_current "
                               "WHERE title LIKE 'Renamed anvil%'").fetchall()  # fmt: skip
    assert renamed == [(second.run_id,)]  # the changed rows replaced the first run's
    assert [(r[0], r[1]) for r in rows(postgres_dsn, "products_current")] == sorted(
        set(committed_keys(tmp_path))
    )


ORDER_TABLES = ("orders_changes", "orders_current", "order_lines_changes", "order_lines_current")
BUYER = ("name", "email", "phone", "address", "street", "city", "zip", "customer")


def columns_of(dsn: str, table: str) -> dict[str, str]:
    """``table``'s columns and their types, as the server reports them."""
    with psycopg.connect(dsn) as conn:
        found = conn.execute(
            "SELECT column_name, format_type(atttypid, atttypmod) FROM information_schema.columns"
            " JOIN pg_attribute ON attrelid = %s::regclass AND attname = column_name"
            " WHERE table_name = %s ORDER BY ordinal_position",
            (table, table),
        ).fetchall()
    return dict(found)


def test_a_lake_with_orders_loads_the_order_tables_once(tmp_path: Path, postgres_dsn: str) -> None:
    done = subprocess.run(
        [sys.executable, "-m", "pipelines.run_pipeline", "--offline", "--providers", "shopify",
         "--datasets", "products,orders", "--data-dir", str(tmp_path / "data")],
        cwd=tmp_path, env={**os.environ, "PYTHONPATH": str(REPO)}, capture_output=True,
        text=True, timeout=120,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    lake = Lake(tmp_path / "data" / "demo")
    (run_id,) = lake.manifest_ids()
    result = PostgresStep(settings(), {DSN_ENV: postgres_dsn}, lake).load()
    counts = result["runs"][run_id]
    assert counts["orders"] == {"rows": 6, "appended": 6, "removed": 0, "upserted": 6}
    assert counts["order_lines"] == {"rows": 9, "appended": 9, "removed": 0, "upserted": 9}
    assert counts["rows"] == counts["appended"] + 6 + 9  # one delivery, every table's rows
    assert rows(postgres_dsn, "pipeline_delivered_runs") == [(run_id, counts["rows"])]
    loaded = {table: rows(postgres_dsn, table) for table in (*TABLES, *ORDER_TABLES)}
    assert {t: len(r) for t, r in loaded.items() if t.startswith("order")} == {
        "orders_changes": 6, "orders_current": 6, "order_lines_changes": 9,
        "order_lines_current": 9,
    }  # fmt: skip
    again = PostgresStep(settings(), {DSN_ENV: postgres_dsn}, lake).load()
    assert again == {"migrations": [], "runs": {}}
    with psycopg.connect(postgres_dsn) as conn:
        assert postgres_load.load_run(conn, "public", run_id, {}) is None
    assert {table: rows(postgres_dsn, table) for table in loaded} == loaded
    for table, schema in (("orders_current", ORDERS_SCHEMA),
                          ("order_lines_changes", ORDER_LINES_SCHEMA)):  # fmt: skip
        columns = columns_of(postgres_dsn, table)
        assert list(columns) == schema.names  # the canonical columns, and only those
        assert not [c for c in columns if any(word in c for word in BUYER)]
    assert columns_of(postgres_dsn, "orders_current")["total_amount"] == "numeric(18,4)"
    assert columns_of(postgres_dsn, "orders_current")["created_at"] == ("timestamp with time zone")
