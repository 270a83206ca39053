"""The queries the fake answers: ``products`` pages, ``product(id:)`` variants, ``productsCount``
and ``shop``.

``products`` pages (sorted by updatedAt, filtered by ``updated_at:>='…'``) nest their first
variants and ``variantsCount``; ``product(id:) { variants(first:, after:) }`` serves the rest.
Cursors are shaped like Shopify's. A product's ``variantsCount`` may be set on the node to
make the fake claim more variants than it serves. The bulk operation queries are
answered by ``BulkOperations`` (``bulk.py``). ``make_product`` and ``make_variant`` build the
nodes in wire format.
"""

from __future__ import annotations

import base64
import json
import re
from collections import deque
from typing import Any

from tests.fakes.shopify.throttle import MAX_COST, _max_cost_exceeded, requested_cost

_SINCE_RE = re.compile(r"updated_at:>='([^']+)'")


def make_variant(product_number: int, number: int, **overrides: Any) -> dict[str, Any]:
    """A ProductVariant node in wire format."""
    variant_id = product_number * 100 + number
    node = {
        "id": f"gid://shopify/ProductVariant/{variant_id}",
        "title": "Default Title",
        "sku": f"SKU-{variant_id}",
        "barcode": f"{4006381333931 + variant_id}",
        "price": "19.99",
        "compareAtPrice": None,
        "inventoryQuantity": 5,
        "availableForSale": True,
        "createdAt": "2026-09-01T10:00:00Z",
        "updatedAt": f"2026-10-{(product_number % 28) + 1:02d}T12:00:00Z",
    }
    return {**node, **overrides}


def make_product(number: int, variants: int = 1, **overrides: Any) -> dict[str, Any]:
    """A Product node in wire format with ``variants`` variants (all of them)."""
    nodes = [make_variant(number, 1)]
    if variants > 1:
        nodes = [make_variant(number, i + 1, title=f"Size {i + 1}") for i in range(variants)]
    node = {
        "id": f"gid://shopify/Product/{number}",
        "title": f"Product {number}",
        "handle": f"product-{number}",
        "vendor": "Fake Vendor",
        "productType": "Widgets",
        "status": "ACTIVE",
        "tags": ["fake"],
        "createdAt": "2026-09-01T10:00:00Z",
        "updatedAt": f"2026-10-{(number % 28) + 1:02d}T12:00:00Z",
        "onlineStoreUrl": f"https://fake-shop.example/products/product-{number}",
        "description": f"Description of product {number}.",
        "featuredMedia": {"preview": {"image": {"url": f"https://cdn.example/p{number}.jpg"}}},
        "variants": {"nodes": nodes},
    }
    return {**node, **overrides}


def encode_cursor(product: dict[str, Any]) -> str:
    """An opaque cursor shaped like Shopify's (base64 of last_id and last_value)."""
    last = {"last_id": int(product["id"].rsplit("/", 1)[-1]), "last_value": product["updatedAt"]}
    return base64.b64encode(json.dumps(last, separators=(",", ":")).encode()).decode()


def matching(products: list[dict[str, Any]], search: str | None) -> list[dict[str, Any]]:
    """The products a search matches (only ``updated_at:>='…'`` is understood), oldest first."""
    since = _SINCE_RE.findall(search or "")
    found = [p for p in products if all(_ts(p["updatedAt"]) >= _ts(s) for s in since)]
    return sorted(found, key=lambda p: (_ts(p["updatedAt"]), p["id"]))


def _ts(text: str) -> str:
    return text.replace("+00:00", "Z")


class GraphQLQueries:
    """``FakeShopify``'s answers to the queries, with the actual cost of each."""

    products: list[dict[str, Any]]
    count_offsets: deque[int]  # added to the next productsCount answers, one each
    domain: str
    currency: str
    scopes: tuple[str, ...]
    _last_view: tuple[Any, Any]
    # A broken server: after the last product, empty pages that each point to a new cursor.
    endless_empty_pages: bool = False

    def _answer(self, body: dict[str, Any]) -> tuple[dict[str, Any], int, int | None]:
        """(payload, HTTP status, actual cost or None when the query was refused unrun)."""
        variables, query = body.get("variables") or {}, body["query"]
        if "bulkOperationRunQuery" in query:
            return self._bulk_run(variables.get("query")), 200, 10
        if re.search(r"\bbulkOperation\s*\(", query):
            return self._bulk_poll(variables.get("id")), 200, 1
        if "bulkOperations(" in query:
            return self._bulk_list(), 200, 12
        if "productsCount" in query:
            offset = self.count_offsets.popleft() if self.count_offsets else 0
            count = {
                "count": len(matching(self.products, variables.get("query"))) + offset,
                "precision": "EXACT",
            }
            return {"data": {"productsCount": count}}, 200, 1
        if re.search(r"\borders\s*\(", query):
            return self._orders(variables)
        if re.search(r"\bproducts\s*\(", query):
            return self._products(variables)
        if re.search(r"\bproduct\s*\(", query):
            return self._variants(variables)
        if re.search(r"\bshop\s*\{", query):
            shop = {"currencyCode": self.currency, "myshopifyDomain": self.domain}
            data: dict[str, Any] = {"shop": shop}
            if "currentAppInstallation" in query:
                scopes = [{"handle": scope} for scope in self.scopes]
                data["currentAppInstallation"] = {"accessScopes": scopes}
            return {"data": data}, 200, 1
        return {"errors": [{"message": "Unknown query (fake)"}]}, 200, None

    def _products(self, variables: dict[str, Any]) -> tuple[dict[str, Any], int, int | None]:
        first, variants_first = variables.get("first"), variables.get("variantsFirst")
        if not isinstance(first, int) or not isinstance(variants_first, int):
            bad = "first" if not isinstance(first, int) else "variantsFirst"
            return _variable_error(bad), 200, None
        if first > 250 or variants_first > 250:
            return _first_too_large(), 200, None
        cost = requested_cost(first, variants_first)
        if cost > MAX_COST:
            return _max_cost_exceeded(cost), 200, None
        products, after = self._view(variables.get("query"))
        cursor = variables.get("cursor")
        if self.endless_empty_pages and (cursor or "").startswith("empty-"):
            return _empty_page(int(cursor.removeprefix("empty-")) + 1), 200, 2
        start = 0 if cursor is None else after.get(cursor)
        if start is None:
            return {"errors": [{"message": "Invalid cursor for current pagination."}]}, 200, 1
        page = products[start : start + first]
        nodes = [_truncate_variants(p, variants_first) for p in page]
        connection = {
            "nodes": nodes,
            "pageInfo": {
                "hasNextPage": start + first < len(products),
                "endCursor": encode_cursor(page[-1]) if page else None,
            },
        }
        if self.endless_empty_pages and not connection["pageInfo"]["hasNextPage"]:
            connection["pageInfo"] = {"hasNextPage": True, "endCursor": "empty-1"}
        actual = 2 + sum(7 + len(n["variants"]["nodes"]) for n in nodes)
        return {"data": {"products": connection}}, 200, actual

    def _variants(self, variables: dict[str, Any]) -> tuple[dict[str, Any], int, int | None]:
        """``product(id:) { variants(first:, after:) }``; a cursor is the last variant's id."""
        first, cursor = variables.get("first"), variables.get("cursor")
        if not isinstance(first, int):
            return _variable_error("first"), 200, None
        product = next((p for p in self.products if p["id"] == variables.get("id")), None)
        if product is None:
            return {"data": {"product": None}}, 200, 1
        nodes = product["variants"]["nodes"]
        ids = [_variant_cursor(v) for v in nodes]
        start = 0 if cursor is None else ids.index(cursor) + 1 if cursor in ids else None
        if start is None:
            return {"errors": [{"message": "Invalid cursor for current pagination."}]}, 200, 1
        page = nodes[start : start + first]
        connection = {
            "nodes": page,
            "pageInfo": {
                "hasNextPage": start + first < len(nodes),
                "endCursor": _variant_cursor(page[-1]) if page else None,
            },
        }
        return {"data": {"product": {"variants": connection}}}, 200, 3 + len(page)

    def _view(self, search: str | None) -> tuple[list[dict[str, Any]], dict[str, int]]:
        """The products a search matches, and where each cursor resumes; the last one is kept,
        so that paging through 10,000s of products (the benchmark) stays cheap."""
        key = (search, tuple((id(p), p["updatedAt"]) for p in self.products))
        if self._last_view[0] != key:
            products = matching(self.products, search)
            after = {encode_cursor(p): index + 1 for index, p in enumerate(products)}
            self._last_view = (key, (products, after))
        return self._last_view[1]


def _empty_page(number: int) -> dict[str, Any]:
    """A broken server's page: no products, yet "more", behind a cursor never seen before."""
    page_info = {"hasNextPage": True, "endCursor": f"empty-{number}"}
    return {"data": {"products": {"nodes": [], "pageInfo": page_info}}}


def _truncate_variants(product: dict[str, Any], first: int) -> dict[str, Any]:
    nodes = product["variants"]["nodes"]
    page = nodes[:first]
    page_info = {
        "hasNextPage": len(nodes) > first,
        "endCursor": _variant_cursor(page[-1]) if page else None,
    }
    count = product.get("variantsCount") or {"count": len(nodes)}
    return {**product, "variantsCount": count, "variants": {"nodes": page, "pageInfo": page_info}}


def _variant_cursor(variant: dict[str, Any]) -> str:
    return base64.b64encode(variant["id"].encode()).decode()


def _first_too_large() -> dict[str, Any]:
    return {"errors": [{"message": "The first argument must be less than or equal to 250."}]}


def _variable_error(name: str) -> dict[str, Any]:
    message = f"Variable ${name} of type Int! was provided invalid value"
    return {"errors": [{"message": message, "extensions": {"code": "INVALID_VARIABLE"}}]}
