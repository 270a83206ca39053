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

import json
import re
import time
from collections import deque
from collections.abc import Callable
from typing import Any

from pytest_httpserver import HTTPServer
from werkzeug import Request, Response

from tests.fakes.shopify.bulk import _BULK_FILE_RE, BulkEnd, BulkOp, BulkOperations
from tests.fakes.shopify.graphql import GraphQLQueries
from tests.fakes.shopify.oauth import DEFAULT_CLIENT_ID, DEFAULT_CLIENT_SECRET, AppCredentials
from tests.fakes.shopify.orders import OrderQueries
from tests.fakes.shopify.throttle import THROTTLED_ERROR, CostBucket, CostMeter
from tests.fakes.shopify.wire import Fault, SeenRequest

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
_PATH_RE = re.compile(r"^/admin/api/(?P<version>[^/]+)/graphql\.json$")
_VERSION_RE = re.compile(r"^(\d{4}-\d{2}|unstable)$")


class FakeShopify(GraphQLQueries, OrderQueries, BulkOperations, CostMeter, AppCredentials):
    """Serves ``products`` (Product nodes, all variants nested) for one shop.

    The HTTP side and fault injection are here; the queries are answered by
    ``GraphQLQueries`` (``graphql.py``), bulk operations run in ``BulkOperations``
    (``bulk.py``), every query is paid for by ``CostMeter`` (``throttle.py``) and the
    client credentials grant of a Dev Dashboard app is ``AppCredentials`` (``oauth.py``).
    """

    def __init__(
        self,
        products: list[dict[str, Any]],
        *,
        orders: list[dict[str, Any]] = (),
        token: str = DEFAULT_TOKEN,
        domain: str = DEFAULT_DOMAIN,
        currency: str = "EUR",
        supported_versions: tuple[str, ...] = SUPPORTED_VERSIONS,
        bucket: CostBucket | None = None,
        bulk_limit: int = 1,
        server: HTTPServer | None = None,
        client_id: str = DEFAULT_CLIENT_ID,
        client_secret: str = DEFAULT_CLIENT_SECRET,
        scopes: tuple[str, ...] = ("read_products",),
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.products = products
        self.orders: list[dict[str, Any]] = list(orders)
        self.token = token
        self.domain = domain
        self.currency = currency
        self.supported_versions = supported_versions
        self.bucket = bucket or CostBucket()
        self.bulk_limit = bulk_limit
        self.bulk_ops: list[BulkOp] = []
        self.bulk_ticks = 1  # polls or listings before a new operation ends
        self.bulk_failures: deque[BulkEnd] = deque()
        self.bulk_cut = 0
        self.count_offsets: deque[int] = deque()
        self.requests: list[SeenRequest] = []
        self.faults: deque[Fault] = deque()
        self.throttled = 0  # THROTTLED answers, queued or earned
        self.charged = 0  # actual cost of every answered query
        self._last_view: tuple[Any, Any] = (None, None)
        self.setup_app(client_id, client_secret)
        self.scopes = scopes
        self.clock = clock
        self.deprecated_reason: str | None = None  # sent as X-Shopify-API-Deprecated-Reason
        self.on_query: Callable[[dict[str, Any]], None] = lambda body: None  # before answering
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

    # --- the API -----------------------------------------------------------------------------

    def handle(self, request: Request) -> Response:
        """One HTTP exchange, checked the way Shopify checks it."""
        body = request.get_json(silent=True) if request.data else None
        self.requests.append(SeenRequest(request.method, request.path, dict(request.headers), body))
        download = _BULK_FILE_RE.match(request.path)
        if download is not None:
            return self._download(request, int(download["number"]))
        if request.path == "/admin/oauth/access_token" and request.method == "POST":
            return self.mint(request)
        match = _PATH_RE.match(request.path)
        if match is None or not _VERSION_RE.match(match["version"]):
            return _json({"errors": "Not Found"}, 404)
        if not self.accepts(request.headers.get("X-Shopify-Access-Token")):
            return _json(INVALID_TOKEN_BODY, 401)
        served = self._served_version(match["version"])
        if request.method != "POST":
            return _json({"errors": "Method Not Allowed"}, 405, served)
        if not isinstance(body, dict) or not isinstance(body.get("query"), str):
            return _json({"errors": {"query": "Required parameter missing or invalid"}}, 400)
        self.on_query(body)
        fault = self.faults.popleft() if self.faults else Fault("pass")
        if fault.kind != "pass":
            return self._fault(fault, body, served)
        payload, status = self._metered(body)
        response = _json(payload, status, served)
        if self.deprecated_reason:
            response.headers["X-Shopify-API-Deprecated-Reason"] = self.deprecated_reason
        return response

    def _served_version(self, asked: str) -> str:
        """An unsupported version is served as the oldest supported one, without an error."""
        if asked in self.supported_versions or asked == "unstable":
            return asked
        return self.supported_versions[0]

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
