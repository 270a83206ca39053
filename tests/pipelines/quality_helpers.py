"""Shared by test_quality and test_quality_generated: follow rows through the checker."""

from __future__ import annotations

from typing import Any

import pyarrow as pa

from pipelines.checks.quality import QualityResult
from providers.identifiers import gtin14
from tests.strategies import product_table


def numbered(rows: list[dict[str, Any]], start: int = 0) -> pa.Table:
    """A product table with ``gtin14`` made as the normalize stage makes it, and an extra
    ``row_no`` column to follow rows through the checker."""
    table = product_table(rows)
    table = table.append_column(
        "gtin14", pa.array([gtin14(r.get("gtin")) for r in rows], pa.string())
    )
    return table.append_column("row_no", pa.array(range(start, start + len(rows)), pa.int64()))


def rejected_reasons(result: QualityResult) -> dict[int, list[str]]:
    rejected = result.rejected
    return dict(zip(rejected["row_no"].to_pylist(), rejected["reasons"].to_pylist(), strict=True))
