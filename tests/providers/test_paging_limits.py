"""Paging stops with a clear error on a repeated cursor, a run of empty pages and the page cap."""

from __future__ import annotations

import pytest

from pipelines.errors import FatalProviderError
from providers.base import CursorPaginator, OffsetPaginator, PagingLimits


def test_a_cursor_that_changes_on_every_empty_page_stops_after_k_of_them():
    paginator = CursorPaginator("shop products", PagingLimits(max_empty_pages=3))
    paginator.update(True, "c0", 50)

    paginator.update(True, "e1", 0)
    paginator.update(True, "e2", 0)
    with pytest.raises(FatalProviderError) as raised:
        paginator.update(True, "e3", 0)

    assert str(raised.value) == (
        "shop products: 3 empty pages in a row, each pointing to another "
        "(pipeline.max_empty_pages = 3); stopped"
    )


def test_a_page_with_records_resets_the_empty_count_and_a_last_empty_page_is_fine():
    paginator = CursorPaginator("shop products", PagingLimits(max_empty_pages=2))
    for cursor, records in [("a", 0), ("b", 5), ("c", 0), ("d", 5)]:
        paginator.update(True, cursor, records)
    paginator.update(False, None, 0)

    assert not paginator.has_more


def test_a_cursor_seen_before_is_still_a_loop():
    paginator = CursorPaginator("shop products")
    paginator.update(True, "a", 5)

    with pytest.raises(FatalProviderError, match="loop detected in pagination"):
        paginator.update(True, "a", 5)


def test_the_page_cap_stops_cursor_paging_but_not_a_listing_that_ends_there():
    paginator = CursorPaginator("shop products", PagingLimits(max_pages=2))
    paginator.update(True, "a", 5)
    with pytest.raises(FatalProviderError) as raised:
        paginator.update(True, "b", 5)
    assert str(raised.value) == (
        "shop products: more pages after 2 (pipeline.max_pages = 2); stopped"
    )

    ending = CursorPaginator("shop products", PagingLimits(max_pages=2))
    ending.update(True, "a", 5)
    ending.update(False, "b", 5)
    assert not ending.has_more


def test_the_page_cap_stops_offset_paging():
    paginator = OffsetPaginator("search", 10, limits=PagingLimits(max_pages=2))
    paginator.update(10, 100)

    with pytest.raises(
        FatalProviderError, match=r"search: more pages after 2 \(pipeline.max_pages"
    ):
        paginator.update(10, 100)


def test_a_zero_page_cap_means_no_cap():
    paginator = CursorPaginator("shop products", PagingLimits(max_pages=0, max_empty_pages=0))
    for number in range(50):
        paginator.update(True, f"c{number}", 0)

    assert paginator.has_more
