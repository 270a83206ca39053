"""Landed lines: canonical JSON, hashed as landed, read straight into Arrow where exact."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from pipelines.lake.lake import RawWriter, StagedFile, read_lines
from pipelines.lake.schema import PRODUCT_SCHEMA, hash_raw
from pipelines.net import strict_json
from pipelines.run.candidates import read_candidates
from pipelines.run.raw_arrow import arrow_records
from providers.shopify import ShopifyProvider
from tests.batch_equivalence import PerRecordOnly, landed, staged
from tests.batch_equivalence import assert_same as same_both_ways
from tests.marketplace_strategies import amazon_items, ebay_summaries
from tests.strategies import shopify_nodes

SCHEMA = pa.schema([("id", pa.string()), ("n", pa.int64()), ("tags", pa.list_(pa.string()))])
NODE = {"id": "gid://shopify/Product/1", "title": "Mug", "status": "ACTIVE",
        "variants": {"nodes": [{"id": "gid://shopify/ProductVariant/2", "price": "4.50"}]},
        "__shop": {"currencyCode": "CAD", "myshopifyDomain": "maple.myshopify.com"}}  # fmt: skip


@settings(max_examples=120, deadline=None)
@given(record=st.one_of(shopify_nodes(), ebay_summaries(), amazon_items()))
def test_a_landed_line_hashes_to_the_records_canonical_json_hash(record):
    try:
        line = strict_json.dumps(record, canonical=True)
    except TypeError:  # an integer JSON cannot hold: never landed
        assume(False)
    parsed = strict_json.loads_record(line)
    assume(not isinstance(parsed, strict_json.InvalidNumberRecord))
    assert hashlib.sha256(line).hexdigest() == hash_raw(parsed)


def test_the_writer_lands_canonical_lines_that_read_back_as_landed(tmp_path: Path) -> None:
    file = StagedFile(tmp_path / "raw.jsonl.zst", "raw/x.jsonl.zst", "raw", "shopify")
    writer = RawWriter(file)
    writer.write({"b": 1, "a": {"d": 2, "c": [3]}})
    writer.close()
    assert list(read_lines(file.staged)) == [b'{"a":{"c":[3],"d":2},"b":1}']


def test_lines_the_schema_cannot_hold_exactly_are_left_to_the_dict_path() -> None:
    lines = [
        b'{"id":"a","n":1}',
        b'{"id":7}',  # a number where text is read
        b'{"id":"b","n":3.0}',  # a float where an integer is
        b'{"id":"c","id":"d"}',  # a key given twice
        b'{"n":NaN}',  # not JSON's
        b'["not", "an", "object"]',
        b'{"id":"e","tags":["x"],"other":{"deep":[1]}}',  # fields not read are ignored
        b'{"tags":"xy"}',  # a string where a list is read
    ]
    table, read, refused = arrow_records(lines, SCHEMA)
    assert (read, refused) == ([0, 6], [1, 2, 3, 4, 5, 7])
    assert table.to_pylist() == [
        {"id": "a", "n": 1, "tags": None},
        {"id": "e", "n": None, "tags": ["x"]},
    ]


def test_a_line_landed_before_canonical_landing_is_hashed_as_landed(tmp_path: Path) -> None:
    canonical = landed([NODE])[0]
    old = json.dumps(NODE, separators=(",", ":")).encode()  # keys in the API's order
    assert old != canonical
    (rows_new, _), _ = staged(ShopifyProvider(), [canonical], tmp_path / "new")
    (rows_old, _), _ = staged(ShopifyProvider(), [old], tmp_path / "old")
    assert rows_new[0]["raw_hash"] == hash_raw(NODE)
    assert rows_old[0]["raw_hash"] == hashlib.sha256(old).hexdigest()
    rows_old[0]["raw_hash"] = rows_new[0]["raw_hash"]
    assert rows_old == rows_new
    reference = staged(PerRecordOnly(ShopifyProvider()), [old], tmp_path / "reference")
    assert reference[0][0] == staged(ShopifyProvider(), [old], tmp_path / "again")[0][0]


@settings(
    max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    records=st.lists(shopify_nodes(), max_size=6),
    odd=st.lists(
        st.sampled_from(
            [
                b'{"id":"gid://shopify/Product/9","id":"x","title":"T"}',
                b'{"id":"gid://shopify/Product/9","title":5}',
                b'["a"]',
                b'{"id":"gid://shopify/Product/9","title":"T","variants":{"nodes":'
                b'[{"id":"v","inventoryQuantity":1e2}]}}',
            ]
        ),
        max_size=3,
    ),
    batch=st.integers(1, 8),
)
def test_odd_lines_among_records_give_the_reference_rows(records, odd, batch, tmp_path_factory):
    lines = landed(records) + odd
    same_both_ways(ShopifyProvider(), lines, tmp_path_factory.mktemp("odd"), batch)


def test_candidates_staged_as_parquet_by_an_earlier_version_still_read(tmp_path: Path) -> None:
    (rows, _), _ = staged(ShopifyProvider(), [NODE], tmp_path / "stage")
    table = pa.Table.from_pylist(rows, schema=PRODUCT_SCHEMA)
    pq.write_table(table, tmp_path / "candidates.parquet")
    (back,) = read_candidates(tmp_path / "candidates.parquet", PRODUCT_SCHEMA, 100)
    assert back.to_pylist() == rows
