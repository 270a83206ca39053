"""Real vendor payload shapes in whole runs against the fakes: Amazon's two GetItems result keys
and its empty answer, each ending with the lake compared row by row against a clean run."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.fakes.ebay import make_item
from tests.pipelines.fault_runs import ASINS, Fakes
from tests.pipelines.fault_runs import run as run_in
from tests.pipelines.lake_compare import lake_rows


def run(root: Path, fakes: Fakes, **kwargs) -> dict:
    root.mkdir(exist_ok=True)
    return run_in(root, fakes, **kwargs)


@pytest.fixture
def clean(fakes: Fakes, tmp_path: Path) -> list[tuple]:
    """The rows of a run whose GetItems answers use the SDK model's key, itemsResult."""
    record = run(tmp_path / "clean", fakes, only=("amazon",))
    assert (record["exit_code"], record["providers"]["amazon"]["new"]) == (0, len(ASINS))
    return lake_rows(tmp_path / "clean/data")


def test_getitems_answers_keyed_itemresults_are_read_like_itemsresult(
    fakes: Fakes, tmp_path: Path, clean: list[tuple]
) -> None:
    fakes.amazon.items_key = "itemResults"  # the key the Creators API docs show

    record = run(tmp_path / "documented", fakes, only=("amazon",))

    entry = record["providers"]["amazon"]
    assert (record["exit_code"], entry["status"], entry["new"], entry["errors"]) == (
        0, "ok", len(ASINS), [],
    )  # fmt: skip
    assert lake_rows(tmp_path / "documented/data") == clean


def test_an_answer_with_no_items_and_no_errors_fails_the_provider(
    fakes: Fakes, tmp_path: Path, clean: list[tuple]
) -> None:
    fakes.amazon.items_key = ""  # 200 {}: nothing for any ASIN asked, and no error either

    record = run(tmp_path / "empty", fakes, only=("amazon",))

    entry = record["providers"]["amazon"]
    assert (record["exit_code"], entry["status"]) == (4, "failed")
    assert "no item and no error for any of the 10 ASIN(s) asked" in entry["error"]
    assert lake_rows(tmp_path / "empty/data") == []  # nothing committed, nothing deleted
    fakes.amazon.items_key = "itemsResult"
    run(tmp_path / "empty", fakes, only=("amazon",))
    assert lake_rows(tmp_path / "empty/data") == clean


def test_an_ebay_item_twice_on_one_page_is_counted_and_landed_once(
    fakes: Fakes, tmp_path: Path
) -> None:
    items = [make_item(n) for n in range(6)]
    fakes.ebay.add_search(items, q="film camera")
    run(tmp_path / "clean", fakes, only=("ebay",))
    fakes.ebay.add_search([*items[:4], make_item(2), *items[4:]], q="film camera")

    record = run(tmp_path / "twice", fakes, only=("ebay",))

    entry = record["providers"]["ebay"]
    assert (record["exit_code"], entry["fetched"], entry["duplicates"]) == (0, 6, 1)
    assert lake_rows(tmp_path / "twice/data") == lake_rows(tmp_path / "clean/data")
