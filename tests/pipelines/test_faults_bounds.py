"""Whole runs against servers that never finish: a trickling answer, an endless body, a cursor
that loops through empty pages, more pages than the cap, a repeated Retry-After, a run past its
--max-duration, and NaN/Infinity prices. Each ends with the lake compared against a clean run:
the provider hit fails (or drops exactly the bad records) and nothing else is lost, duplicated
or made up.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import orjson
import pytest
from werkzeug import Request, Response

from pipelines.cli.main import build_parser
from pipelines.config import load_config
from pipelines.errors import ConfigError
from pipelines.net import strict_json
from tests.fakes.ebay import make_item
from tests.pipelines.fault_runs import EBAY_ITEMS, Fakes, committed, run
from tests.pipelines.test_faults import (
    EBAY_FAILED,
    EBAY_PAGE_2,
    OK,
    assert_no_row_lost_or_duplicated,
)
from tests.pipelines.test_strict_json import raw_lines

SEARCH = "/buy/browse/v1/item_summary/search"


def trickle(start: bytes) -> Iterator[bytes]:
    """A body that starts at once and then sends one byte every 0.5 s, for 30 s."""
    yield start
    for _ in range(60):
        time.sleep(0.5)
        yield b" "


def trickling(request: Request) -> Response:
    return Response(trickle(b'{"total": 25, "itemSummaries": ['), content_type="application/json")


def endless(request: Request) -> Response:
    """A chunked body that never ends."""

    def body() -> Iterator[bytes]:
        yield b'{"itemSummaries": ['
        while True:
            yield b'{"itemId": "v1|1|0"},' * 1000

    return Response(body(), content_type="application/json")


def test_a_trickling_server_fails_its_provider_at_the_deadline(fakes: Fakes, clean_rows, tmp_path):
    fakes.ebay.search_faults = [None, trickling]

    record = run(tmp_path, fakes, http_deadline_seconds=2.0, http_timeout_seconds=5.0)

    statuses = {name: entry["status"] for name, entry in record["providers"].items()}
    assert (statuses, record["exit_code"]) == (EBAY_FAILED, 1)
    assert record["providers"]["ebay"]["error"] == (
        f"{EBAY_PAGE_2}: {fakes.ebay.base_url}{SEARCH}: no complete response within the 2 s "
        "deadline (pipeline.http_deadline_seconds)"
    )
    assert len(fakes.ebay.search_requests) == 2  # not retried
    assert_no_row_lost_or_duplicated(tmp_path, EBAY_FAILED, clean_rows)


def test_a_trickling_amazon_answer_fails_at_the_deadline_through_the_vendor_transport(
    fakes: Fakes, clean_rows, tmp_path
):
    fakes.amazon.fail_next(200, trickle(b'{"itemsResult": {"items": ['), after=1)

    record = run(tmp_path, fakes, http_deadline_seconds=1.0, http_timeout_seconds=5.0)

    amazon_failed = {**OK, "amazon": "failed"}
    assert record["providers"]["amazon"]["error"].startswith(
        "amazon getItems batch 2 (2 ASINs): no response after retries"
    )
    assert "no complete response within the 1 s deadline" in record["providers"]["amazon"]["error"]
    assert_no_row_lost_or_duplicated(tmp_path, amazon_failed, clean_rows)


def test_an_endless_body_fails_its_provider_at_the_size_cap(fakes: Fakes, clean_rows, tmp_path):
    fakes.ebay.search_faults = [None, endless]

    record = run(tmp_path, fakes, http_max_body_mb=1.0)

    assert record["providers"]["ebay"]["error"] == (
        f"{EBAY_PAGE_2}: {fakes.ebay.base_url}{SEARCH}: body passed the 1 MB cap "
        "(pipeline.http_max_body_mb) and was not read further"
    )
    assert_no_row_lost_or_duplicated(tmp_path, EBAY_FAILED, clean_rows)


def test_a_cursor_that_changes_on_every_empty_page_stops_after_k(
    fakes: Fakes, clean_rows, tmp_path
):
    fakes.shopify.endless_empty_pages = True

    record = run(tmp_path, fakes, max_empty_pages=3)

    shopify_failed = {**OK, "shopify": "failed"}
    assert record["providers"]["shopify"]["error"] == (
        "shopify products: 3 empty pages in a row, each pointing to another "
        "(pipeline.max_empty_pages = 3); stopped"
    )
    empty_pages = [r for r in fakes.shopify.requests if "empty-" in str(r.body)]
    assert len(empty_pages) == 3  # asked with cursors empty-1, empty-2, empty-3: then stopped
    assert_no_row_lost_or_duplicated(tmp_path, shopify_failed, clean_rows)


def test_the_page_cap_fails_a_listing_with_more_pages(fakes: Fakes, clean_rows, tmp_path):
    record = run(tmp_path, fakes, max_pages=2)  # eBay has 3 pages of 10, Shopify 1

    assert record["providers"]["ebay"]["error"] == (
        "ebay search 'film camera': more pages after 2 (pipeline.max_pages = 2); stopped"
    )
    assert fakes.ebay.offsets() == [0, 10]
    assert_no_row_lost_or_duplicated(tmp_path, EBAY_FAILED, clean_rows)


def test_a_repeated_retry_after_longer_than_the_call_budget_fails_naming_the_wait(
    fakes: Fakes, clean_rows, tmp_path
):
    throttled = (429, {"errors": [{"message": "Too many requests"}]}, {"Retry-After": "0.6"})
    fakes.ebay.search_faults = [None, *[throttled] * 5]

    record = run(tmp_path, fakes, http_call_budget_seconds=1.0)

    error = record["providers"]["ebay"]["error"]
    assert error.startswith(f"429 Too Many Requests from {EBAY_PAGE_2}")
    assert "asked to wait 0.6 s (Retry-After), more than the" in error
    assert "of this call's 1 s budget (pipeline.http_call_budget_seconds)" in error
    assert record["providers"]["ebay"]["throttle_waits"] == 1  # the second wait is refused
    assert_no_row_lost_or_duplicated(tmp_path, EBAY_FAILED, clean_rows)


def test_max_duration_fails_the_providers_still_fetching_and_commits_the_rest(
    fakes: Fakes, clean_rows, tmp_path
):
    fakes.ebay.search_faults = [None, trickling]

    record = run(tmp_path, fakes, max_duration=3.0, http_timeout_seconds=5.0)

    statuses = {name: entry["status"] for name, entry in record["providers"].items()}
    assert (statuses, record["exit_code"]) == (EBAY_FAILED, 1)
    assert record["providers"]["ebay"]["error"] == (
        f"{EBAY_PAGE_2}: {fakes.ebay.base_url}{SEARCH}: no complete response within the "
        "run's --max-duration"
    )
    assert_no_row_lost_or_duplicated(tmp_path, EBAY_FAILED, clean_rows)


BAD_PRICES = {2: b"NaN", 4: b"Infinity", 6: b"-Infinity", 8: b"1e999"}  # item number: token


def served_item(number: int) -> bytes:
    """Item ``number`` as the fake serves it, its price a number JSON does not allow."""
    item = orjson.dumps(make_item(number))
    price = f'"value":"{10 + number % 90}.99"'.encode()
    return item.replace(price, b'"value":' + BAD_PRICES[number])


def first_page_with_bad_prices(fakes: Fakes) -> Response:
    page = orjson.loads(
        fakes.ebay._search_page({"q": "film camera", "limit": "10"}, "EBAY_US").data
    )
    items = [served_item(n) if n in BAD_PRICES else orjson.dumps(make_item(n)) for n in range(10)]
    body = orjson.dumps({**page, "itemSummaries": []}).replace(
        b'"itemSummaries":[]', b'"itemSummaries":[' + b",".join(items) + b"]"
    )
    return Response(body, content_type="application/json")


def test_nan_and_infinity_prices_are_dropped_with_a_reason_and_landed_as_sent(
    fakes: Fakes, clean_rows, tmp_path: Path
):
    fakes.ebay.search_faults = [lambda request: first_page_with_bad_prices(fakes)]

    record = run(tmp_path, fakes)

    ebay = record["providers"]["ebay"]
    assert (ebay["status"], record["exit_code"]) == ("ok", 0)
    assert ebay["dropped_reasons"] == {"invalid_json_number": len(BAD_PRICES)}
    assert "ebay record 3: number not allowed in JSON (price.value = NaN)" in ebay["errors"]
    assert ebay["new"] == EBAY_ITEMS - len(BAD_PRICES)
    bad_ids = {f"v1|{100_000_000_000 + n}|0" for n in BAD_PRICES}
    rows = committed(tmp_path)
    assert {i for s, i, _ in rows if s == "ebay"} == {i for i, _ in clean_rows["ebay"]} - bad_ids
    kept = {key for key in clean_rows["ebay"] if key[0] not in bad_ids}
    assert {(i, h) for s, i, h in rows if s == "ebay"} == kept  # 0 lost, 0 changed, 0 garbage
    assert len(rows) == len(set(rows))
    for name in ("shopify", "amazon"):
        assert {(i, h) for s, i, h in rows if s == name} == clean_rows[name]

    (raw_file,) = (tmp_path / "data" / "raw").rglob("source=ebay/*")
    landed = {strict_json.loads(line)["itemId"]: line for line in raw_lines(raw_file)}
    context = b',"__marketplace":"EBAY_US","__query":"film camera"}'
    for number in BAD_PRICES:
        item_id = f"v1|{100_000_000_000 + number}|0"
        sent = strict_json.loads(served_item(number)[:-1] + context)
        assert landed[item_id] == strict_json.dumps(sent, canonical=True)  # as sent, keys sorted
        assert b'"value":' + BAD_PRICES[number] in landed[item_id]


def test_max_duration_must_be_a_positive_number_of_seconds(capsys):
    for bad in ("0", "-5", "soon", "inf"):
        with pytest.raises(SystemExit) as raised:
            build_parser().parse_args(["--max-duration", bad])
        assert raised.value.code == 2
    assert "--max-duration: must be a positive number of seconds, got 0" in capsys.readouterr().err
    assert build_parser().parse_args(["--max-duration", "90"]).max_duration == 90.0


def test_a_zero_deadline_is_a_config_error_not_a_failed_call(tmp_path):
    path = tmp_path / "pipeline.toml"
    path.write_text("[pipeline]\nhttp_deadline_seconds = 0\n")

    with pytest.raises(ConfigError, match=r"pipeline\.http_deadline_seconds: must be more than 0"):
        load_config(path, {})
