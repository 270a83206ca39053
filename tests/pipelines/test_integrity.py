"""Loud failures: schema drift before write, counts that do not reconcile, a source gone quiet."""

from __future__ import annotations

import logging
from pathlib import Path

import pyarrow as pa
import pytest

from pipelines.errors import SchemaDriftError
from pipelines.lake.schema import PRODUCT_SCHEMA
from pipelines.run.process import ProviderCounts, _check_schema
from pipelines.run.progress import Progress
from tests.catalog_provider import CatalogProvider, make_record
from tests.pipelines.test_runner import normalized_rows, run


def test_a_table_off_the_schema_version_fails_loudly_naming_the_column() -> None:
    table = PRODUCT_SCHEMA.empty_table()
    drifted = table.set_column(
        table.schema.get_field_index("price_amount"), "price_amount", pa.array([], pa.float64())
    )
    with pytest.raises(SchemaDriftError, match=r"price_amount: expected decimal128\(18, 4\)"):
        _check_schema(drifted, PRODUCT_SCHEMA)
    with pytest.raises(SchemaDriftError, match="tags: expected list<item: string>, got None"):
        _check_schema(table.drop_columns(["tags"]), PRODUCT_SCHEMA)


def test_counts_that_do_not_reconcile_fail_the_provider(
    workdir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(ProviderCounts, "reconciles", lambda self: False)
    other = CatalogProvider([make_record(1)], name="other")
    result = run([CatalogProvider([make_record(i) for i in range(3)]), other])
    entry = result.record["providers"]["catalog"]
    assert entry["status"] == "failed"
    assert "counts do not reconcile: fetched 3 != new 3" in entry["error"]
    assert normalized_rows(workdir / "data") == []


def test_zero_rows_from_a_provider_that_had_rows_is_a_warning(workdir: Path) -> None:
    run([CatalogProvider([make_record(i) for i in range(3)])])
    quiet = run([CatalogProvider([])])
    entry = quiet.record["providers"]["catalog"]
    assert entry["status"] == "ok"
    assert entry["warnings"] == ["catalog: fetched 0 rows, but earlier runs fetched up to 3"]


def test_progress_logs_plain_lines_off_a_terminal(caplog: pytest.LogCaptureFixture) -> None:
    progress = Progress("shopify", interactive=False)
    with caplog.at_level(logging.INFO, logger="pipeline.progress"):
        list(progress.count(range(2500)))
        progress.page(2500)
        progress.done()
    assert progress.records == 2500
    assert progress.pages == 1
    assert "shopify: 1 pages, 2500 records in" in caplog.text
