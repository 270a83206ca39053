"""``content_hash`` covers business values only: a product whose only upstream change is its
``updatedAt`` stays ``unchanged``, also right after upgrading from states hashed the old way."""

from __future__ import annotations

import hashlib
import json
import logging
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path

import numpy as np
import pyarrow as pa
import pytest

from pipelines.lake.dedup import load_state
from pipelines.lake.lake import Lake
from pipelines.lake.schema import BUSINESS_COLUMNS, canonical_json, hash_content
from pipelines.lake.state_index import hashed_columns
from pipelines.lake.state_save import save_state
from tests.pipelines.fault_runs import Fakes, run
from tests.pipelines.lake_compare import lake_rows


def touch_every_product(fakes: Fakes) -> None:
    """What Shopify does on a bulk re-save: ``updatedAt`` moves, nothing else."""
    for product in fakes.shopify.products:
        product["updatedAt"] = "2026-11-30T09:00:00Z"


def test_hash_content_ignores_source_updated_at_only() -> None:
    row = {"source": "s", "source_id": "1", "title": "T", "source_updated_at": "2026-01-01"}
    moved = {**row, "source_updated_at": "2026-02-02"}
    assert hash_content(row) == hash_content(moved)
    assert hash_content(row) != hash_content({**moved, "title": "T2"})


def test_hash_content_values_are_the_canonical_json_of_the_business_columns() -> None:
    """The hash values a state holds stay valid: sha256 of the sorted-key JSON, pinned."""
    row = {
        "source": "shopify", "source_id": "gid://shopify/ProductVariant/1", "title": "Mug é",
        "price_amount": Decimal("12.5000"), "list_price_amount": Decimal("0E-4"),
        "tags": ["b", "a"], "category_path": None, "inventory_quantity": 3,
        "source_created_at": datetime(2026, 1, 2, 3, 4, 5, 6, tzinfo=UTC),
        "source_updated_at": datetime(2026, 2, 2, tzinfo=UTC), "not_a_column": "x",
    }  # fmt: skip
    business = {k: row.get(k) for k in BUSINESS_COLUMNS if k != "source_updated_at"}
    expected = hashlib.sha256(canonical_json(business)).hexdigest()
    assert hash_content(row) == expected
    assert expected == "4c390828a85addd6a5a9612cb2a0e04a5dde430949a34e317e00b2f602558041"


def test_an_updated_at_only_change_is_unchanged(fakes: Fakes, tmp_path: Path) -> None:
    run(tmp_path, fakes, only=("shopify",))
    before = lake_rows(tmp_path / "data")
    touch_every_product(fakes)

    record = run(tmp_path, fakes, only=("shopify",))

    entry = record["providers"]["shopify"]
    assert (entry["fetched"], entry["changed"], entry["unchanged"], entry["written"]) == (
        6,
        0,
        6,
        0,
    )
    assert lake_rows(tmp_path / "data") == before


def _hash_v1(row: dict) -> str:
    """content_hash as version 1 made it: every business column, source_updated_at included."""
    return hashlib.sha256(canonical_json({k: row.get(k) for k in BUSINESS_COLUMNS})).hexdigest()


def downgrade_state(root: Path) -> None:
    """The state as the previous release left it: version-1 hashes, no version marker."""
    table = Lake(root).dataset("normalized").to_table()
    state = load_state(root)
    state.hash_version = 1
    v1 = pa.array([_hash_v1(row) for row in table.to_pylist()], pa.string())
    table = table.set_column(table.schema.get_field_index("content_hash"), "content_hash", v1)
    keys, content = hashed_columns(table, "content_hash")
    _, first = np.unique(keys[::-1], return_index=True)
    last = len(keys) - 1 - first
    state.set_content(keys[last], content[last])
    save_state(root, state)
    meta_path = root / "state/state.json"
    meta = json.loads(meta_path.read_text())
    del meta["content_hash_version"]
    meta_path.write_text(json.dumps(meta))


def test_an_old_state_is_migrated_without_spurious_changes(
    fakes: Fakes, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    run(tmp_path, fakes, only=("shopify",))
    downgrade_state(tmp_path / "data")
    before = lake_rows(tmp_path / "data")
    touch_every_product(fakes)
    fakes.shopify.products[0]["title"] = "A real change"

    with caplog.at_level(logging.WARNING):
        record = run(tmp_path, fakes, only=("shopify",))

    entry = record["providers"]["shopify"]
    assert (entry["changed"], entry["unchanged"], entry["written"]) == (1, 5, 1)
    assert any("recomputed to version 2 for 6 of 6" in r.getMessage() for r in caplog.records)
    assert json.loads((tmp_path / "data/state/state.json").read_text())["content_hash_version"] == 2
    after = lake_rows(tmp_path / "data")
    assert [r for r in after if r not in before] == [
        r for r in after if "A real change" in r and "changed" in r
    ]
    assert set(before) <= set(after)  # committed history is never rewritten
