"""A fake Shopify GraphQL Admin API: a real HTTP server on 127.0.0.1.

It speaks the wire format of https://shopify.dev/docs/api/admin-graphql: POST
``/admin/api/{version}/graphql.json`` with ``X-Shopify-Access-Token``, the 401 body Shopify
really sends, the ``X-Shopify-API-Version`` header (an unsupported version is served as the
oldest supported one), ``extensions.cost`` on every answer, MAX_COST_EXCEEDED above 1,000
requested points, and cursor pages of ``products`` with nested ``variants``. Faults can be
queued: an HTTP status, a THROTTLED error, GraphQL errors with or without data.
"""

from __future__ import annotations

import base64
import json
import re
from collections import deque
from dataclasses import dataclass, field
from typing import Any

from pytest_httpserver import HTTPServer
from werkzeug import Request, Response

DEFAULT_TOKEN = "shpat_fake_0123456789abcdef"
DEFAULT_DOMAIN = "fake-shop.myshopify.com"
SUPPORTED_VERSIONS = ("2026-01", "2026-04", "2026-07", "2026-10")
INVALID_TOKEN_BODY = {
    "errors": "[API] Invalid API key or access token (unrecognized login or wrong password)"
}
UNDEFINED_FIELD_ERROR = {
    "message": "Field 'colour' doesn't exist on type 'ProductVariant'",
    "locations": [{"line": 23, "column": 11}],
    "path": ["query Products", "products", "nodes", "variants", "nodes", "colour"],
    "extensions": {"code": "undefinedField", "typeName": "ProductVariant", "fieldName": "colour"},
}
MAX_COST = 1000
_PATH_RE = re.compile(r"^/admin/api/(?P<version>[^/]+)/graphql\.json$")
_VERSION_RE = re.compile(r"^(\d{4}-\d{2}|unstable)$")


@dataclass
class SeenRequest:
    """What the fake received: for asserting what the client sent."""

    method: str
    path: str
    headers: dict[str, str]
    body: dict[str, Any] | None


@dataclass
class Fault:
    """A queued answer replacing the next normal one."""

    kind: str  # "pass", "status", "throttled", "errors", "errors_with_data"
    status: int = 200
    errors: list[dict[str, Any]] = field(default_factory=list)


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


def requested_cost(products: int, variants: int) -> int:
    """Shopify's requested cost for the products query: objects 1, connections 2 + first × node."""
    return 2 + products * (1 + 3 + 2 + variants)


def encode_cursor(product: dict[str, Any]) -> str:
    """An opaque cursor shaped like Shopify's (base64 of last_id and last_value)."""
    last = {"last_id": int(product["id"].rsplit("/", 1)[-1]), "last_value": product["updatedAt"]}
    return base64.b64encode(json.dumps(last, separators=(",", ":")).encode()).decode()


class FakeShopify:
    """Serves ``products`` (Product nodes, all variants nested) for one shop."""

    def __init__(
        self,
        products: list[dict[str, Any]],
        *,
        token: str = DEFAULT_TOKEN,
        domain: str = DEFAULT_DOMAIN,
        currency: str = "EUR",
        supported_versions: tuple[str, ...] = SUPPORTED_VERSIONS,
        server: HTTPServer | None = None,
    ) -> None:
        self.products = products
        self.token = token
        self.domain = domain
        self.currency = currency
        self.supported_versions = supported_versions
        self.requests: list[SeenRequest] = []
        self.faults: deque[Fault] = deque()
        self.available = 2000.0
        # A running server may be shared between tests: starting and stopping one costs ~0.5 s.
        self.owns_server = server is None
        self.server = server or HTTPServer(host="127.0.0.1", port=0)

    # --- lifecycle ---------------------------------------------------------------------------

    def __enter__(self) -> FakeShopify:
        self.server.clear()
        self.server.expect_request(re.compile(".*")).respond_with_handler(self.handle)
        if self.owns_server:
            self.server.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.clear()
        if self.owns_server:
            self.server.stop()

    @property
    def base_url(self) -> str:
        """What ``SHOPIFY_API_URL`` is set to: scheme and host, no path."""
        return f"http://127.0.0.1:{self.server.port}"

    def env(self, **overrides: str) -> dict[str, str]:
        """Environment settings pointing the provider at this fake."""
        env = {
            "SHOPIFY_SHOP_DOMAIN": self.domain,
            "SHOPIFY_ACCESS_TOKEN": self.token,
            "SHOPIFY_API_URL": self.base_url,
        }
        return {**env, **overrides}

    # --- fault injection ---------------------------------------------------------------------

    def fail_next(self, status: int = 503, times: int = 1, after: int = 0) -> None:
        """Answer ``times`` requests with ``status``, once ``after`` more have been served."""
        self._queue([Fault("status", status=status)] * times, after)

    def throttle_next(self, times: int = 1, status: int = 200, after: int = 0) -> None:
        """Answer ``times`` requests with a THROTTLED error (HTTP 200 or 429)."""
        self._queue([Fault("throttled", status=status)] * times, after)

    def error_next(self, *errors: dict[str, Any], with_data: bool = False, after: int = 0) -> None:
        """Answer one request with GraphQL ``errors``, with or without its data."""
        kind = "errors_with_data" if with_data else "errors"
        self._queue([Fault(kind, errors=list(errors) or [UNDEFINED_FIELD_ERROR])], after)

    def _queue(self, faults: list[Fault], after: int) -> None:
        self.faults.extend([Fault("pass")] * after + faults)

    # --- the API -----------------------------------------------------------------------------

    def handle(self, request: Request) -> Response:
        """One HTTP exchange, checked the way Shopify checks it."""
        body = request.get_json(silent=True) if request.data else None
        self.requests.append(SeenRequest(request.method, request.path, dict(request.headers), body))
        match = _PATH_RE.match(request.path)
        if match is None or not _VERSION_RE.match(match["version"]):
            return _json({"errors": "Not Found"}, 404)
        if request.headers.get("X-Shopify-Access-Token") != self.token:
            return _json(INVALID_TOKEN_BODY, 401)
        served = self._served_version(match["version"])
        if request.method != "POST":
            return _json({"errors": "Method Not Allowed"}, 405, served)
        if not isinstance(body, dict) or not isinstance(body.get("query"), str):
            return _json({"errors": {"query": "Required parameter missing or invalid"}}, 400)
        fault = self.faults.popleft() if self.faults else Fault("pass")
        if fault.kind != "pass":
            return self._fault(fault, body, served)
        payload, status = self._answer(body)
        return _json(payload, status, served)

    def _served_version(self, asked: str) -> str:
        """An unsupported version is served as the oldest supported one, without an error."""
        if asked in self.supported_versions or asked == "unstable":
            return asked
        return self.supported_versions[0]

    def _answer(self, body: dict[str, Any]) -> tuple[dict[str, Any], int]:
        variables = body.get("variables") or {}
        if re.search(r"\bproducts\s*\(", body["query"]):
            return self._products(variables)
        if re.search(r"\bshop\s*\{", body["query"]):
            shop = {"currencyCode": self.currency, "myshopifyDomain": self.domain}
            return {"data": {"shop": shop}, "extensions": self._cost(1, 1)}, 200
        return {"errors": [{"message": "Unknown query (fake)"}]}, 200

    def _products(self, variables: dict[str, Any]) -> tuple[dict[str, Any], int]:
        first, variants_first = variables.get("first"), variables.get("variantsFirst")
        if not isinstance(first, int) or not isinstance(variants_first, int):
            return _variable_error("first" if not isinstance(first, int) else "variantsFirst"), 200
        if first > 250 or variants_first > 250:
            return _first_too_large(), 200
        cost = requested_cost(first, variants_first)
        if cost > MAX_COST:
            return _max_cost_exceeded(cost), 200
        start = self._start_index(variables.get("cursor"))
        if start is None:
            return {"errors": [{"message": "Invalid cursor for current pagination."}]}, 200
        page = self.products[start : start + first]
        nodes = [_truncate_variants(p, variants_first) for p in page]
        has_next = start + first < len(self.products)
        connection = {
            "nodes": nodes,
            "pageInfo": {
                "hasNextPage": has_next,
                "endCursor": encode_cursor(page[-1]) if page else None,
            },
        }
        actual = 2 + sum(6 + len(n["variants"]["nodes"]) for n in nodes)
        return {"data": {"products": connection}, "extensions": self._cost(cost, actual)}, 200

    def _start_index(self, cursor: str | None) -> int | None:
        if cursor is None:
            return 0
        for index, product in enumerate(self.products):
            if encode_cursor(product) == cursor:
                return index + 1
        return None

    def _cost(self, requested: int, actual: int | None) -> dict[str, Any]:
        """``extensions`` with the cost and the throttle bucket, as on every real answer."""
        if actual is not None:
            self.available = max(0.0, min(2000.0, self.available + 100.0) - actual)
        return {
            "cost": {
                "requestedQueryCost": requested,
                "actualQueryCost": actual,
                "throttleStatus": {
                    "maximumAvailable": 2000.0,
                    "currentlyAvailable": self.available,
                    "restoreRate": 100.0,
                },
            }
        }

    def _fault(self, fault: Fault, body: dict[str, Any], served: str) -> Response:
        if fault.kind == "status":
            return _json({"errors": _STATUS_TEXT.get(fault.status, "Error")}, fault.status, served)
        if fault.kind == "throttled":
            throttled = {
                "message": "Throttled",
                "extensions": {
                    "code": "THROTTLED",
                    "documentation": "https://shopify.dev/api/usage/rate-limits",
                },
            }
            payload = {"errors": [throttled], "extensions": self._cost(956, None)}
            return _json(payload, fault.status, served)
        if fault.kind == "errors_with_data":
            payload, status = self._answer(body)
            return _json({**payload, "errors": fault.errors}, status, served)
        return _json({"errors": fault.errors}, 200, served)


_STATUS_TEXT = {
    403: "[API] This action requires merchant approval for read_products scope.",
    500: "Internal Server Error",
    502: "Bad Gateway",
    503: "Service Unavailable",
    504: "Gateway Timeout",
    429: "Exceeded 2 calls per second for api client. Reduce request rates to resume "
    "uninterrupted service.",
}


def _json(payload: Any, status: int, version: str | None = None) -> Response:
    headers = {"X-Shopify-API-Version": version} if version else {}
    return Response(json.dumps(payload), status, headers, content_type="application/json")


def _truncate_variants(product: dict[str, Any], first: int) -> dict[str, Any]:
    nodes = product["variants"]["nodes"]
    variants = {"nodes": nodes[:first], "pageInfo": {"hasNextPage": len(nodes) > first}}
    return {**product, "variants": variants}


def _max_cost_exceeded(cost: int) -> dict[str, Any]:
    message = (
        f"Query cost is {cost}, which exceeds the single query max cost limit ({MAX_COST}).\n\n"
        "See https://shopify.dev/concepts/about-apis/rate-limits for more information on how "
        "the\ncost of a query is calculated.\n"
    )
    extensions = {"code": "MAX_COST_EXCEEDED", "cost": cost, "maxCost": MAX_COST}
    return {"errors": [{"message": message, "extensions": extensions}]}


def _first_too_large() -> dict[str, Any]:
    return {"errors": [{"message": "The first argument must be less than or equal to 250."}]}


def _variable_error(name: str) -> dict[str, Any]:
    message = f"Variable ${name} of type Int! was provided invalid value"
    return {"errors": [{"message": message, "extensions": {"code": "INVALID_VARIABLE"}}]}
