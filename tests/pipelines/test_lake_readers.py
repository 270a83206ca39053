"""Common readers open the lake as written: the partition columns live in the folder names only.

One offline demo run (a subprocess, a few seconds) feeds every test in this module.
"""

from __future__ import annotations

from pathlib import Path

import duckdb
import pandas as pd
import pyarrow as pa
import pyarrow.dataset as ds
import pyarrow.parquet as pq
import pytest

from pipelines.lake.lake import Lake, PartWriter, StagedFile
from pipelines.lake.schema import PRODUCT_SCHEMA
from tests.pipelines.test_cli import cli

KEY = ["source_id", "content_hash", "change_type"]


@pytest.fixture(scope="module")
def lake_root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    workdir = tmp_path_factory.mktemp("lake_readers")
    result = cli("--offline", cwd=workdir)
    assert result.returncode == 0, result.stderr
    return workdir / "data" / "demo"


def expected_rows(root: Path, zone: str) -> list[tuple]:
    """(key columns…, source, dt) of every committed row, partition values from the manifests."""
    lake = Lake(root)
    rows = []
    for manifest in lake.manifests():
        for entry in manifest["files"]:
            if entry["zone"] == zone:
                table = pq.read_table(root / entry["path"], columns=KEY)
                rows += [(*r.values(), entry["source"], manifest["dt"]) for r in table.to_pylist()]
    assert {row[-2] for row in rows} >= {"shopify", "amazon", "ebay"}
    return sorted(rows)


def frame_rows(frame: pd.DataFrame) -> list[tuple]:
    frame = frame.astype({"source": str, "dt": str})
    return sorted(map(tuple, frame[[*KEY, "source", "dt"]].itertuples(index=False)))


def test_pandas_reads_the_normalized_zone_with_source_and_dt(lake_root: Path) -> None:
    frame = pd.read_parquet(lake_root / "normalized")
    assert frame_rows(frame) == expected_rows(lake_root, "normalized")


def test_pyarrow_hive_dataset_reads_normalized_and_quarantine(lake_root: Path) -> None:
    for zone in ("normalized", "quarantine"):
        table = ds.dataset(lake_root / zone, format="parquet", partitioning="hive").to_table()
        assert table.schema.names.count("source") == 1
        assert frame_rows(table.to_pandas()) == expected_rows(lake_root, zone)


def test_duckdb_hive_partitioning_keeps_canonical_types(lake_root: Path) -> None:
    glob = (lake_root / "normalized/**/*.parquet").as_posix()
    relation = duckdb.sql(f"SELECT * FROM read_parquet('{glob}', hive_partitioning=true)")
    types = dict(zip(relation.columns, map(str, relation.types), strict=True))
    assert (types["source"], types["price_amount"]) == ("VARCHAR", "DECIMAL(18,4)")
    assert types["fetched_at"] == "TIMESTAMP WITH TIME ZONE"
    frame = relation.to_arrow_table().to_pandas()
    frame["dt"] = frame["dt"].astype(str)
    assert frame_rows(frame) == expected_rows(lake_root, "normalized")


def test_lake_dataset_gives_source_and_dt_as_strings(lake_root: Path) -> None:
    table = Lake(lake_root).dataset("normalized").to_table()
    assert table.schema.field("source").type == pa.string()
    assert table.schema.field("dt").type == pa.string()
    assert frame_rows(table.to_pandas()) == expected_rows(lake_root, "normalized")


def test_a_part_read_alone_has_no_source_column(lake_root: Path) -> None:
    parts = list(lake_root.glob("normalized/*/*/*.parquet"))
    parts += list(lake_root.glob("quarantine/*/*/*.parquet"))
    assert {p.parts[-4] for p in parts} == {"normalized", "quarantine"}
    for part in parts:
        names = pq.read_schema(part).names
        assert "source_id" in names
        assert not {"source", "dt"} & set(names)


def test_part_writer_refuses_rows_of_another_source(tmp_path: Path) -> None:
    path = "normalized/dt=2026-01-01/source=shopify/part-x-0.parquet"
    part = StagedFile(tmp_path / "shopify.parquet", path, "normalized", "shopify")
    writer = PartWriter(
        part, pa.schema([PRODUCT_SCHEMA.field("source"), PRODUCT_SCHEMA.field("source_id")]), 10
    )
    rows = pa.table({"source": ["shopify", "ebay"], "source_id": ["1", "2"]})
    with pytest.raises(ValueError, match="rows of source ebay in the partition of source shopify"):
        writer.write(rows)


def test_a_lake_without_parts_reads_as_empty_tables(tmp_path: Path) -> None:
    lake = Lake(tmp_path / "new-lake")
    assert lake.dataset("normalized").to_table(columns=["source_id"]).num_rows == 0
    products = lake.dataset("normalized").to_table()
    assert products.num_rows == 0
    assert products.schema.names == [*PRODUCT_SCHEMA.names, "dt"]
    assert lake.dataset("quarantine").to_table().schema.names == ["dt", "source"]
    assert duckdb.sql("SELECT count(*) FROM products").fetchall() == [(0,)]


def test_part_writer_stores_per_row_columns_without_a_dictionary(tmp_path: Path) -> None:
    path = "normalized/dt=2026-01-01/source=shopify/part-x-0.parquet"
    part = StagedFile(tmp_path / "shopify.parquet", path, "normalized", "shopify")
    schema = pa.schema([PRODUCT_SCHEMA.field(n) for n in ("source", "source_id", "condition")])
    writer = PartWriter(part, schema, 10)
    rows = {"source": ["shopify"] * 3, "source_id": ["1", "2", "3"], "condition": ["new"] * 3}
    writer.write(pa.table(rows, schema=schema))
    writer.close()

    group = pq.ParquetFile(part.staged).metadata.row_group(0)
    encodings = {group.column(i).path_in_schema: group.column(i).encodings for i in range(2)}
    assert "RLE_DICTIONARY" in encodings["condition"]
    assert "RLE_DICTIONARY" not in encodings["source_id"]
    assert duckdb.sql(f"SELECT count(*) FROM '{part.staged}'").fetchall() == [(3,)]
    assert pq.read_table(part.staged).to_pydict() == {
        n: rows[n] for n in ("source_id", "condition")
    }


def test_part_writer_writes_whole_row_groups_whatever_the_batches(tmp_path: Path) -> None:
    path = "normalized/dt=2026-01-01/source=shopify/part-x-0.parquet"
    part = StagedFile(tmp_path / "shopify.parquet", path, "normalized", "shopify")
    schema = pa.schema([PRODUCT_SCHEMA.field("source"), PRODUCT_SCHEMA.field("source_id")])
    writer = PartWriter(part, schema, 10)
    for start in range(0, 24, 4):
        ids = [str(n) for n in range(start, start + 4)]
        writer.write(pa.table({"source": ["shopify"] * 4, "source_id": ids}, schema=schema))
    assert writer.close() is part
    assert part.rows == 24

    metadata = pq.ParquetFile(part.staged).metadata
    assert [metadata.row_group(i).num_rows for i in range(metadata.num_row_groups)] == [10, 10, 4]
    assert pq.read_table(part.staged)["source_id"].to_pylist() == [str(n) for n in range(24)]
