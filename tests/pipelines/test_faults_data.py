"""Faults in the data, not the transport: eBay's 10,000-result cap, malformed records, Amazon's
partial errors, each in a whole run against the three fake APIs (see test_faults.py).
"""

from __future__ import annotations

from pathlib import Path

from tests.fakes.ebay import make_item
from tests.pipelines.fault_runs import ASINS, Fakes, committed, run


def test_ebay_stops_below_the_10000_result_cap(fakes: Fakes, tmp_path: Path) -> None:
    """A query matching 20,000 items reads exactly the 10,000 eBay serves; no 400 past them."""
    fakes.ebay.add_search(total=20_000, q="film camera")
    record = run(tmp_path, fakes, only=("ebay",), ebay_page_size=200)

    entry = record["providers"]["ebay"]
    assert (entry["status"], entry["fetched"], entry["pages"]) == ("ok", 10_000, 50)
    offsets = fakes.ebay.offsets()
    assert max(offsets) + 200 == 10_000
    assert len(set(offsets)) == len(offsets) == 50
    ebay_ids = [i for s, i, _ in committed(tmp_path) if s == "ebay"]
    assert len(ebay_ids) == len(set(ebay_ids)) == 10_000


def test_malformed_records_are_dropped_with_a_reason_and_the_run_goes_on(
    fakes: Fakes, tmp_path: Path
) -> None:
    items = [make_item(n) for n in range(8)]
    del items[2]["itemId"]  # a required field missing
    items[5]["title"] = ["not", "a", "string"]  # an unexpected type
    fakes.ebay.add_search(items, q="film camera")

    record = run(tmp_path, fakes)

    entry = record["providers"]["ebay"]
    assert (entry["status"], entry["fetched"]) == ("ok", 8)
    assert entry["dropped"] + entry["quarantined"] == 2
    assert entry["new"] == 6
    ebay_ids = {i for s, i, _ in committed(tmp_path) if s == "ebay"}
    assert ebay_ids == {items[n]["itemId"] for n in (0, 1, 3, 4, 6, 7)}


def test_amazon_partial_errors_keep_good_items_and_list_bad_asins(
    fakes: Fakes, tmp_path: Path
) -> None:
    fakes.amazon.inaccessible = {"B0TEST0003", "B0TEST0011"}

    record = run(tmp_path, fakes)

    entry = record["providers"]["amazon"]
    assert (entry["status"], entry["fetched"]) == ("ok", 10)
    assert entry["errors"] == [
        "ASIN B0TEST0003: ItemNotAccessible",
        "ASIN B0TEST0011: ItemNotAccessible",
    ]
    amazon_ids = {i for s, i, _ in committed(tmp_path) if s == "amazon"}
    assert amazon_ids == set(ASINS) - {"B0TEST0003", "B0TEST0011"}
