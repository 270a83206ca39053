"""A product's variants to the end: the products page asks for the first ``variants_per_product``;
a product with more is completed with ``product(id:) { variants(first:, after:) }`` pages.

Every product's ``variantsCount`` is compared with the variants it ends up with (the tally),
so a nested connection is never cut at a page size without the pull failing.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from pipelines.errors import FatalProviderError
from providers.base import CursorPaginator
from providers.shopify import queries
from providers.shopify.client import ShopifyClient
from providers.shopify.settings import MAX_VARIANTS_PER_PRODUCT

PROVIDER = "shopify"
NAMED_SHORT = 5  # products named in the count's note when their variants fall short


@dataclass
class VariantTally:
    """``variantsCount`` summed over the products read, against the variants read."""

    source: int = 0
    read: int = 0
    short: list[str] = field(default_factory=list)

    def add(self, node: dict[str, Any]) -> None:
        """Count one completed product."""
        read = len(node["variants"]["nodes"])
        count = (node.get("variantsCount") or {}).get("count")
        source = count if isinstance(count, int) and not isinstance(count, bool) else read
        self.source += source
        self.read += read
        if read != source:
            self.short.append(f"{node.get('id')} ({read} of {source})")

    def note(self) -> str | None:
        """The first products whose variants disagree with their count."""
        if not self.short:
            return None
        named = "products " + ", ".join(self.short[:NAMED_SHORT])
        more = len(self.short) - NAMED_SHORT
        return f"{named} and {more} more" if more > 0 else named


def complete_variants(client: ShopifyClient, node: dict[str, Any]) -> dict[str, Any]:
    """``node`` with every variant, in the shape ``{nodes, pageInfo: {hasNextPage: false}}``."""
    connection = node.get("variants") or {}
    variants = list(connection.get("nodes") or [])
    page_info = connection.get("pageInfo") or {}
    if page_info.get("hasNextPage"):
        product_id = node.get("id")
        what = f"{PROVIDER} variants of product {product_id}"
        paginator = CursorPaginator(what)
        paginator.update(True, page_info.get("endCursor"))
        while paginator.has_more:
            page = _variants_page(client, product_id, paginator.cursor, what)
            variants += page.get("nodes") or []
            more = page.get("pageInfo") or {}
            paginator.update(bool(more.get("hasNextPage")), more.get("endCursor"))
    return {**node, "variants": {"nodes": variants, "pageInfo": {"hasNextPage": False}}}


def _variants_page(
    client: ShopifyClient, product_id: Any, cursor: str | None, what: str
) -> dict[str, Any]:
    variables = {"id": product_id, "first": MAX_VARIANTS_PER_PRODUCT, "cursor": cursor}
    data = client.execute(
        queries.VARIANTS_QUERY,
        queries.VARIANTS_OPERATION,
        variables,
        what,
        cost=queries.variants_query_cost(MAX_VARIANTS_PER_PRODUCT),
        cacheable=True,
    )
    connection = (data.get("product") or {}).get("variants")
    if not isinstance(connection, dict):
        raise FatalProviderError(f"{what}: response has no data.product.variants")
    return connection
