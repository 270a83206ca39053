"""A pull run as one bulk operation: run it (``bulk.py``), read its result file
(``bulk_result.py``), report progress, and hold Shopify's counts against what was read.

Products of a large catalog and orders of a backfill come this way; both yield their nodes in
the shape of a paged pull.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from pipelines.errors import FatalProviderError
from providers.base import FetchContext
from providers.shopify.bulk import BulkRunner
from providers.shopify.bulk_result import BulkTally, Clean, read_bulk_result
from providers.shopify.client import ShopifyClient
from providers.shopify.options import FetchOptions
from providers.shopify.queries import BulkShape
from providers.shopify.settings import MAX_PAGE_SIZE

PROVIDER = "shopify"


def pull_bulk(
    ctx: FetchContext,
    client: ShopifyClient,
    options: FetchOptions,
    document: str,
    shape: BulkShape,
    clean: Clean | None = None,
) -> Iterator[dict[str, Any]]:
    """Root nodes with all their children, from one bulk operation's result file; then the
    operation's ``objectCount`` and ``rootObjectCount`` against the lines read and joined.

    Progress is reported in pages of 250 roots, the largest page a paged pull asks for.
    """
    operation = BulkRunner(client, options, shape).run(document)
    tally = BulkTally()
    if operation.get("url"):
        pending = 0
        for node in read_bulk_result(ctx, operation["url"], tally, shape, clean):
            yield node
            pending += 1
            if pending == MAX_PAGE_SIZE:
                ctx.page_done(pending)
                pending = 0
        if pending:
            ctx.page_done(pending)
    else:  # Shopify gives no file when nothing matched (objectCount 0)
        ctx.log.info(
            "%s: bulk operation %s matched no %s", PROVIDER, operation.get("id"), shape.roots
        )
    expect_bulk_counts(ctx, operation, tally, shape)


def expect_bulk_counts(
    ctx: FetchContext, operation: dict[str, Any], tally: BulkTally, shape: BulkShape
) -> None:
    """The operation's counts against the result file: lines, roots, rows joined. A result
    cut short (or a COMPLETED operation without a file yet counting objects) fails here."""
    objects = _unsigned(operation.get("objectCount"), "objectCount")
    roots = _unsigned(operation.get("rootObjectCount"), "rootObjectCount")
    ctx.expect("bulk objects (JSONL lines)", source_count=objects, read=tally.lines)
    ctx.expect(f"bulk {shape.roots}", source_count=roots, read=tally.roots)
    ctx.expect(
        "bulk rows joined",
        source_count=tally.lines,
        read=tally.roots + tally.joined,
        note=f"{tally.orphans} {shape.child} line(s) point at none of the {shape.roots} in the file"
        if tally.orphans
        else None,
    )


def _unsigned(value: Any, name: str) -> int:
    """An ``UnsignedInt64`` (sent as a string) of the bulk operation."""
    try:
        return int(value)
    except (TypeError, ValueError):
        raise FatalProviderError(f"{PROVIDER} bulk operation: {name} is {value!r}") from None
