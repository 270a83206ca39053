"""Comparing two lakes row by row: every committed normalized row, without what differs per run
(run id, fetch time), sorted; and the hashes of their dedup states."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from pipelines.lake.dedup import load_state
from pipelines.lake.lake import Lake
from pipelines.lake.schema import BUSINESS_COLUMNS

COMPARED = [*BUSINESS_COLUMNS, "raw_hash", "content_hash", "change_type"]


def lake_rows(root: Path) -> list[tuple[Any, ...]]:
    """Every committed normalized row of the lake at ``root`` as a tuple, sorted."""
    table = Lake(root).dataset("normalized").to_table(columns=COMPARED)
    return sorted(tuple(str(row[c]) for c in COMPARED) for row in table.to_pylist())


def assert_same_lake(root: Path, clean: Path) -> None:
    """0 rows lost, 0 duplicated, 0 garbage: the same rows, and the same state hashes."""
    rows, expected = lake_rows(root), lake_rows(clean)
    assert len(rows) == len(set(rows))
    assert rows == expected
    assert load_state(root).to_dict() == load_state(clean).to_dict()
