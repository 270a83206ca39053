"""A fake Shopify GraphQL Admin API: a real HTTP server on 127.0.0.1.

It speaks the wire format of https://shopify.dev/docs/api/admin-graphql: POST
``/admin/api/{version}/graphql.json`` with ``X-Shopify-Access-Token``, the 401 body Shopify
really sends, the ``X-Shopify-API-Version`` header (an unsupported version is served as the
oldest supported one), MAX_COST_EXCEEDED above 1,000 requested points, and a leaky cost
bucket in real time: a query runs only when the bucket holds its requested cost, the unused
part is refunded, ``extensions.cost`` reports the bucket, and a query it cannot pay for is
answered THROTTLED. ``products`` pages (sorted by updatedAt, filtered by
``updated_at:>='…'``) nest their variants; ``productsCount`` counts them; bulk operations
run in "ticks" (one per poll or listing) and leave a JSONL file, ungrouped, behind a signed
loopback URL that refuses requests carrying the shop's token. Faults can be queued.
"""

from __future__ import annotations

import base64
import json
import random
import re
import time
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
THROTTLED_ERROR = {
    "message": "Throttled",
    "extensions": {
        "code": "THROTTLED",
        "documentation": "https://shopify.dev/api/usage/rate-limits",
    },
}
MAX_COST = 1000
_PATH_RE = re.compile(r"^/admin/api/(?P<version>[^/]+)/graphql\.json$")
_BULK_FILE_RE = re.compile(r"^/bulk-results/(?P<number>\d+)\.jsonl$")
_VERSION_RE = re.compile(r"^(\d{4}-\d{2}|unstable)$")
_SINCE_RE = re.compile(r"updated_at:>='([^']+)'")
_BULK_SEARCH_RE = re.compile(r"products\(query: (\"(?:[^\"\\]|\\.)*\")\)")


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
    retry_after: str | None = None
    errors: list[dict[str, Any]] = field(default_factory=list)
    short_by: float = 10.0


@dataclass
class CostBucket:
    """Shopify's leaky bucket of query cost points, restoring in real time."""

    maximum: float = 2000.0
    restore_rate: float = 100.0
    available: float = -1.0  # full unless given
    last: float = field(default_factory=time.monotonic)

    def __post_init__(self) -> None:
        if self.available < 0:
            self.available = self.maximum

    def refill(self) -> None:
        now = time.monotonic()
        self.available = min(self.maximum, self.available + (now - self.last) * self.restore_rate)
        self.last = now

    def status(self) -> dict[str, float]:
        return {
            "maximumAvailable": self.maximum,
            "currentlyAvailable": round(self.available, 1),
            "restoreRate": self.restore_rate,
        }


@dataclass
class BulkOp:
    """One bulk query operation the fake runs."""

    number: int
    query: str
    ticks_left: int
    status: str = "CREATED"
    error_code: str | None = None
    lines: list[str] = field(default_factory=list)

    @property
    def gid(self) -> str:
        return f"gid://shopify/BulkOperation/{self.number}"


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


def matching(products: list[dict[str, Any]], search: str | None) -> list[dict[str, Any]]:
    """The products a search matches (only ``updated_at:>='…'`` is understood), oldest first."""
    since = _SINCE_RE.findall(search or "")
    found = [p for p in products if all(_ts(p["updatedAt"]) >= _ts(s) for s in since)]
    return sorted(found, key=lambda p: (_ts(p["updatedAt"]), p["id"]))


def _ts(text: str) -> str:
    return text.replace("+00:00", "Z")


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
        bucket: CostBucket | None = None,
        bulk_limit: int = 1,
        server: HTTPServer | None = None,
    ) -> None:
        self.products = products
        self.token = token
        self.domain = domain
        self.currency = currency
        self.supported_versions = supported_versions
        self.bucket = bucket or CostBucket()
        self.bulk_limit = bulk_limit
        self.bulk_ops: list[BulkOp] = []
        self.bulk_ticks = 1  # polls or listings before a new operation ends
        self.bulk_failures: deque[str] = deque()
        self.requests: list[SeenRequest] = []
        self.faults: deque[Fault] = deque()
        self.throttled = 0  # THROTTLED answers, queued or earned
        self.charged = 0  # actual cost of every answered query
        self._last_view: tuple[Any, Any] = (None, None)
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

    def fail_next(
        self, status: int = 503, times: int = 1, after: int = 0, retry_after: str | None = None
    ) -> None:
        """Answer ``times`` requests with ``status``, once ``after`` more have been served."""
        self._queue([Fault("status", status=status, retry_after=retry_after)] * times, after)

    def throttle_next(
        self, times: int = 1, status: int = 200, after: int = 0, short_by: float = 10.0
    ) -> None:
        """Answer ``times`` requests THROTTLED (HTTP 200 or 429), the bucket ``short_by`` short."""
        self._queue([Fault("throttled", status=status, short_by=short_by)] * times, after)

    def error_next(self, *errors: dict[str, Any], with_data: bool = False, after: int = 0) -> None:
        """Answer one request with GraphQL ``errors``, with or without its data."""
        kind = "errors_with_data" if with_data else "errors"
        self._queue([Fault(kind, errors=list(errors) or [UNDEFINED_FIELD_ERROR])], after)

    def _queue(self, faults: list[Fault], after: int) -> None:
        self.faults.extend([Fault("pass")] * after + faults)

    def fail_next_bulk(self, error_code: str) -> None:
        """The next bulk operation started ends FAILED with ``error_code``."""
        self.bulk_failures.append(error_code)

    def start_bulk(self, query: str, ticks: int) -> BulkOp:
        """A bulk operation already running (a killed run's, or another job's of this app)."""
        op = BulkOp(len(self.bulk_ops) + 1, query, ticks, status="RUNNING")
        self.bulk_ops.append(op)
        return op

    def bulk_file_url(self, op: BulkOp) -> str:
        """The signed URL of an operation's result; only the fake knows the signature."""
        return f"{self.base_url}/bulk-results/{op.number}.jsonl?signature=sig-{op.number}-secret"

    # --- the API -----------------------------------------------------------------------------

    def handle(self, request: Request) -> Response:
        """One HTTP exchange, checked the way Shopify checks it."""
        body = request.get_json(silent=True) if request.data else None
        self.requests.append(SeenRequest(request.method, request.path, dict(request.headers), body))
        download = _BULK_FILE_RE.match(request.path)
        if download is not None:
            return self._download(request, int(download["number"]))
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
        payload, status = self._metered(body)
        return _json(payload, status, served)

    def _served_version(self, asked: str) -> str:
        """An unsupported version is served as the oldest supported one, without an error."""
        if asked in self.supported_versions or asked == "unstable":
            return asked
        return self.supported_versions[0]

    def _metered(self, body: dict[str, Any]) -> tuple[dict[str, Any], int]:
        """Answer if the bucket can pay the requested cost, else THROTTLED; add ``extensions``."""
        requested = self._requested(body)
        self.bucket.refill()
        if self.bucket.available < requested <= MAX_COST:  # over MAX_COST is refused unrun
            self.throttled += 1
            return {"errors": [THROTTLED_ERROR], "extensions": self._cost(requested, None)}, 200
        payload, status, actual = self._answer(body)
        if actual is None:
            return payload, status
        self.bucket.available -= actual
        self.charged += actual
        return {**payload, "extensions": self._cost(requested, actual)}, status

    def _requested(self, body: dict[str, Any]) -> int:
        variables = body.get("variables") or {}
        if re.search(r"\bproducts\s*\(", body["query"]):
            first, variants = variables.get("first"), variables.get("variantsFirst")
            if isinstance(first, int) and isinstance(variants, int):
                return requested_cost(first, variants)
        if "bulkOperationRunQuery" in body["query"]:
            return 10
        return 12 if "bulkOperations(" in body["query"] else 1

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
            count = {
                "count": len(matching(self.products, variables.get("query"))),
                "precision": "EXACT",
            }
            return {"data": {"productsCount": count}}, 200, 1
        if re.search(r"\bproducts\s*\(", query):
            return self._products(variables)
        if re.search(r"\bshop\s*\{", query):
            shop = {"currencyCode": self.currency, "myshopifyDomain": self.domain}
            return {"data": {"shop": shop}}, 200, 1
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
        actual = 2 + sum(6 + len(n["variants"]["nodes"]) for n in nodes)
        return {"data": {"products": connection}}, 200, actual

    def _view(self, search: str | None) -> tuple[list[dict[str, Any]], dict[str, int]]:
        """The products a search matches, and where each cursor resumes; the last one is kept,
        so that paging through 10,000s of products (the benchmark) stays cheap."""
        key = (search, tuple((id(p), p["updatedAt"]) for p in self.products))
        if self._last_view[0] != key:
            products = matching(self.products, search)
            after = {encode_cursor(p): index + 1 for index, p in enumerate(products)}
            self._last_view = (key, (products, after))
        return self._last_view[1]

    def _cost(self, requested: int, actual: int | None) -> dict[str, Any]:
        """``extensions`` with the cost and the throttle bucket, as on every real answer."""
        return {
            "cost": {
                "requestedQueryCost": requested,
                "actualQueryCost": actual,
                "throttleStatus": self.bucket.status(),
            }
        }

    # --- bulk operations ---------------------------------------------------------------------

    def _bulk_run(self, document: Any) -> dict[str, Any]:
        running = [op for op in self.bulk_ops if op.status in ("CREATED", "RUNNING")]
        if len(running) >= self.bulk_limit:
            error = {
                "field": None,
                "message": "A bulk query operation for this app and shop is already in progress: "
                + running[0].gid,
                "code": "OPERATION_IN_PROGRESS",
            }
            return {
                "data": {"bulkOperationRunQuery": {"bulkOperation": None, "userErrors": [error]}}
            }
        op = BulkOp(len(self.bulk_ops) + 1, str(document), self.bulk_ticks)
        if self.bulk_failures:
            op.error_code = self.bulk_failures.popleft()
        self.bulk_ops.append(op)
        created = {"id": op.gid, "status": op.status}
        return {"data": {"bulkOperationRunQuery": {"bulkOperation": created, "userErrors": []}}}

    def _tick(self) -> None:
        """Bulk operations make progress whenever the app asks about them."""
        for op in self.bulk_ops:
            if op.status not in ("CREATED", "RUNNING"):
                continue
            op.ticks_left -= 1
            op.status = "RUNNING"
            if op.ticks_left <= 0:
                op.status = "FAILED" if op.error_code else "COMPLETED"
                op.lines = [] if op.error_code else self._bulk_lines(op.query)

    def _bulk_poll(self, gid: Any) -> dict[str, Any]:
        self._tick()
        op = next((o for o in self.bulk_ops if o.gid == gid), None)
        if op is None:
            return {"data": {"bulkOperation": None}}
        done = op.status == "COMPLETED" and op.lines
        node = {
            "id": op.gid,
            "status": op.status,
            "errorCode": op.error_code,
            "objectCount": str(len(op.lines)),
            "rootObjectCount": str(sum('"__parentId"' not in line for line in op.lines)),
            "url": self.bulk_file_url(op) if done else None,
        }
        return {"data": {"bulkOperation": node}}

    def _bulk_list(self) -> dict[str, Any]:
        self._tick()
        nodes = [{"id": o.gid, "status": o.status, "query": o.query} for o in self.bulk_ops]
        return {"data": {"bulkOperations": {"nodes": nodes[::-1][:10]}}}

    def _bulk_lines(self, document: str) -> list[str]:
        """The JSONL of a bulk products query: one line per product and per variant, shuffled."""
        found = _BULK_SEARCH_RE.search(document)
        lines = []
        for product in matching(self.products, json.loads(found[1]) if found else None):
            node = {k: v for k, v in product.items() if k != "variants"}
            lines.append(json.dumps(node))
            for variant in product["variants"]["nodes"]:
                lines.append(json.dumps({**variant, "__parentId": product["id"]}))
        random.Random(len(lines)).shuffle(lines)  # ungrouped output promises no order
        return lines

    def _download(self, request: Request, number: int) -> Response:
        op = next((o for o in self.bulk_ops if o.number == number), None)
        signed = request.args.get("signature") == f"sig-{number}-secret"
        if op is None or not signed or "X-Shopify-Access-Token" in request.headers:
            return Response("<Error><Code>AccessDenied</Code></Error>", 403)
        fault = self.faults.popleft() if self.faults else Fault("pass")
        if fault.kind == "status":
            return Response("<Error><Code>Unavailable</Code></Error>", fault.status)
        return Response("".join(line + "\n" for line in op.lines), 200)

    def _fault(self, fault: Fault, body: dict[str, Any], served: str) -> Response:
        if fault.kind == "status":
            text = _STATUS_TEXT.get(fault.status, "Error")
            response = _json({"errors": text}, fault.status, served)
            if fault.retry_after is not None:
                response.headers["Retry-After"] = fault.retry_after
            return response
        if fault.kind == "throttled":
            self.throttled += 1
            requested = self._requested(body)
            self.bucket.refill()
            self.bucket.available = min(self.bucket.available, max(0.0, requested - fault.short_by))
            payload = {"errors": [THROTTLED_ERROR], "extensions": self._cost(requested, None)}
            return _json(payload, fault.status, served)
        if fault.kind == "errors_with_data":
            payload, status = self._metered(body)
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
