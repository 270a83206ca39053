"""Amazon's batch (Arrow) normalizer gives exactly the rows of the per-record reference.

Both paths run through the normalize stage (``tests/batch_equivalence.py``): the staged
candidates, the quarantine and the counts must be the same.
"""

from __future__ import annotations

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from providers.amazon import AmazonProvider
from providers.amazon.columnar import normalize_block
from tests.batch_equivalence import assert_raw_keys_match, assert_same, recorded_records
from tests.marketplace_strategies import amazon_items


@settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(records=st.lists(amazon_items(), max_size=12), batch=st.integers(1, 8))
def test_generated_items_give_the_same_rows_both_ways(records, batch, tmp_path_factory):
    assert_same(AmazonProvider(), records, tmp_path_factory.mktemp("generated"), batch)


def test_the_offline_recording_gives_the_same_rows_both_ways(tmp_path, fetch_context):
    records = recorded_records(AmazonProvider(), fetch_context)
    assert records
    assert normalize_block(records).rest == []  # the API's own forms all go columnar
    assert_same(AmazonProvider(), records, tmp_path, batch=10)


@settings(max_examples=80, deadline=None)
@given(record=amazon_items())
def test_raw_keys_are_the_ids_normalize_gives(record):
    assert_raw_keys_match(AmazonProvider(), record)
