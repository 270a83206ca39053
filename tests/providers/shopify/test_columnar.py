"""The batch (Arrow) normalizer gives exactly the rows of the per-record reference.

Both paths run through the normalize stage (``tests/batch_equivalence.py``): the staged
candidates, the quarantine and the counts must be the same.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import pyarrow as pa
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from pipelines.run.raw_arrow import arrow_records
from providers.identifiers import PY_WHITESPACE, gtin14, gtin14_array
from providers.shopify import ShopifyProvider
from providers.shopify.columnar import JSON_SCHEMA, _id_number, normalize_block, normalize_table
from tests.batch_equivalence import assert_raw_keys_match, landed, recorded_records
from tests.batch_equivalence import assert_same as same_both_ways
from tests.strategies import gtins, shopify_nodes, tricky_text

DIGITS = "0123456789 -\u2003"  # digits and separators: mostly valid GTINs
BENCH = Path(__file__).resolve().parents[3] / "bench"


def assert_same(records: list[dict[str, Any]], tmp_path: Path, batch: int = 7) -> None:
    same_both_ways(ShopifyProvider(), records, tmp_path, batch)


def test_whitespace_is_what_str_strip_removes():
    assert set(PY_WHITESPACE) == {chr(c) for c in range(0x110000) if chr(c).isspace()}


@settings(
    max_examples=80, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(records=st.lists(shopify_nodes(), max_size=12), batch=st.integers(1, 8))
def test_generated_records_give_the_same_rows_both_ways(records, batch, tmp_path_factory):
    assert_same(records, tmp_path_factory.mktemp("generated"), batch)


def test_the_bench_records_take_the_columnar_path_and_match(tmp_path):
    sys.path.insert(0, str(BENCH))
    from bench_replay import synthetic_product

    records = [synthetic_product(n, 1 + n % 4) for n in range(40)]
    assert normalize_block(records).rest == []
    assert_same(records, tmp_path, batch=16)


def test_the_offline_recording_gives_the_same_rows_both_ways(tmp_path, fetch_context):
    records = recorded_records(ShopifyProvider(), fetch_context)
    block = normalize_block(records)
    assert block.rows is not None
    assert len(block.rest) < len(records) / 2  # mostly columnar
    table, read, refused = arrow_records(landed(records), JSON_SCHEMA)  # the path a run takes
    assert (len(read), refused) == (len(records), [])
    assert normalize_table(table).rest == block.rest
    assert_same(records, tmp_path, batch=10)


def test_the_bench_lines_are_read_and_normalized_in_arrow():
    sys.path.insert(0, str(BENCH))
    from bench_replay import synthetic_product

    lines = landed([synthetic_product(n, 1 + n % 4) for n in range(40)])
    table, read, refused = arrow_records(lines, JSON_SCHEMA)
    assert (len(read), refused, normalize_table(table).rest) == (40, [], [])


@settings(max_examples=200, deadline=None)
@given(
    values=st.lists(
        st.one_of(st.none(), gtins(), tricky_text, st.text("0123456789 -\u2003", max_size=16))
    )
)
def test_gtin14_over_a_column_is_gtin14_of_each_value(values):
    assert gtin14_array(pa.array(values, pa.string())).to_pylist() == [gtin14(v) for v in values]


def test_gtin14_over_a_sliced_column_of_digits_only_or_not() -> None:
    digits = ["0012345678905", None, "4006381333931", "4006381333932", "12345670", "123"]
    for first in ("x", "1", "40-06381-333931"):
        values = [first, *digits]
        sliced = pa.array(values, pa.string()).slice(1)
        assert gtin14_array(sliced).to_pylist() == [gtin14(v) for v in digits]
        assert gtin14_array(pa.array(values)).to_pylist() == [gtin14(v) for v in values]


@settings(max_examples=80, deadline=None)
@given(record=shopify_nodes())
def test_raw_keys_are_the_ids_normalize_gives(record):
    assert_raw_keys_match(ShopifyProvider(), record)


def test_the_number_of_variant_gids_and_of_other_ids_is_what_follows_the_last_slash():
    gids = ["gid://shopify/ProductVariant/12", "gid://shopify/ProductVariant/", "x/é/3"]
    odd = ["gid://shopify/ProductVariant/1/2", "plain", "a/b\nc"]
    for ids in (gids[:2], gids, gids[:2] + odd):
        numbers = _id_number(pa.array([*ids, None], pa.string())).to_pylist()
        assert numbers == [i.rsplit("/", 1)[-1] for i in ids] + [None]
