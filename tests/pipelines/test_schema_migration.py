"""Schema version 2 (``gtin14``) on a lake that holds version-1 parts.

The first run's part is rewritten as version 1 wrote it (no ``gtin14``, ``schema_version``
1); the next run writes version 2 beside it. Every reader still reads both, the old rows with
a null ``gtin14``, and dedup still knows the old rows (``gtin14`` is not in the content hash).
"""

from __future__ import annotations

from pathlib import Path

import duckdb
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
import pytest

from pipelines.config import load_config
from pipelines.lake.lake import Lake
from pipelines.lake.schema import PRODUCT_SCHEMA, SCHEMA_VERSION
from pipelines.run.options import RunOptions
from pipelines.run.runner import Runner
from tests.catalog_provider import CatalogProvider, make_record

ENV = {"CATALOG_TOKEN": "t0ken-value"}
UPC_A = "036000291452"


def run(records: list[dict]) -> dict:
    registry = {"catalog": CatalogProvider(records)}
    return Runner(load_config(None, registry), registry, ENV, RunOptions()).run().record


def downgrade_to_version_1(path: Path) -> None:
    """Rewrite a part as schema version 1 wrote it."""
    table = pq.read_table(path).drop_columns(["gtin14"])
    column = table.schema.get_field_index("schema_version")
    version = pa.array([1] * table.num_rows, pa.int16())
    table = table.set_column(column, table.schema.field(column), version)
    table = table.replace_schema_metadata({"schema_version": "1"})
    pq.write_table(table, path)


@pytest.fixture
def lake(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Lake:
    monkeypatch.chdir(tmp_path)
    records = [make_record(i, gtin=UPC_A if i == 1 else None) for i in range(3)]
    assert run(records)["providers"]["catalog"]["new"] == 3
    lake = Lake(tmp_path / "data")
    [old_part] = lake.committed_files("normalized")
    downgrade_to_version_1(old_part)
    second = run([*records, make_record(3, gtin="4006381333931")])["providers"]["catalog"]
    assert (second["status"], second["new"], second["unchanged"]) == ("ok", 1, 3)
    return lake


def test_the_schema_version_is_2() -> None:
    assert SCHEMA_VERSION == 2
    assert PRODUCT_SCHEMA.metadata[b"schema_version"] == b"2"
    assert PRODUCT_SCHEMA.field("gtin14").type == pa.string()


def test_lake_dataset_reads_version_1_parts_with_a_null_gtin14(lake: Lake) -> None:
    table = lake.dataset("normalized").to_table().sort_by("source_id")

    assert table["schema_version"].to_pylist() == [1, 1, 1, 2]
    assert table["gtin"].to_pylist() == [None, UPC_A, None, "4006381333931"]
    assert table["gtin14"].to_pylist() == [None, None, None, "04006381333931"]


def test_the_canonical_schema_reads_both_versions(lake: Lake) -> None:
    files = lake.committed_files("normalized")
    table = lake.parts("normalized", files, PRODUCT_SCHEMA).to_table()

    assert table.schema.names == PRODUCT_SCHEMA.names
    assert pc.sum(pc.is_null(table["gtin14"])).as_py() == 3


def test_duckdb_reads_both_versions_by_name(lake: Lake) -> None:
    files = [str(f) for f in lake.committed_files("normalized")]
    query = f"""
        SELECT schema_version, count(*), count(gtin14)
        FROM read_parquet({files!r}, hive_partitioning = true, union_by_name = true)
        GROUP BY schema_version ORDER BY schema_version
    """
    assert duckdb.sql(query).fetchall() == [(1, 3, 0), (2, 1, 1)]
