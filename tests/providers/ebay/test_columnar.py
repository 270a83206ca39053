"""eBay's batch (Arrow) normalizer gives exactly the rows of the per-record reference.

Both paths run through the normalize stage (``tests/batch_equivalence.py``): the staged
candidates, the quarantine and the counts must be the same.
"""

from __future__ import annotations

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from providers.ebay import EbayProvider
from providers.ebay.columnar import normalize_block
from providers.ebay.normalize import CONDITION_BANDS, CONDITION_BY_ID
from tests.batch_equivalence import assert_raw_keys_match, assert_same, recorded_records
from tests.marketplace_strategies import ebay_summaries


@settings(
    max_examples=120, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(records=st.lists(ebay_summaries(), max_size=12), batch=st.integers(1, 8))
def test_generated_summaries_give_the_same_rows_both_ways(records, batch, tmp_path_factory):
    assert_same(EbayProvider(), records, tmp_path_factory.mktemp("generated"), batch)


def test_the_offline_recording_gives_the_same_rows_both_ways(tmp_path, fetch_context):
    records = recorded_records(EbayProvider(), fetch_context)
    assert records
    assert normalize_block(records).rest == []  # eBay's own forms all take the columnar path
    assert_same(EbayProvider(), records, tmp_path, batch=10)


def test_every_listed_condition_is_in_its_band():
    """The batch path maps conditions by band only: the table must agree with the bands."""
    for number, name in CONDITION_BY_ID.items():
        assert [band_name for band, band_name in CONDITION_BANDS if number in band] == [name]


@settings(max_examples=80, deadline=None)
@given(record=ebay_summaries())
def test_raw_keys_are_the_ids_normalize_gives(record):
    assert_raw_keys_match(EbayProvider(), record)
