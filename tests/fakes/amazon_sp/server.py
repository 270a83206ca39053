"""A fake Selling Partner API (Orders v0) and LWA token endpoint on 127.0.0.1.

LWA: ``POST /auth/o2/token`` with a form ``grant_type=refresh_token`` and the client's id,
secret and refresh token; OAuth error bodies on refusal. Orders: ``GET /orders/v0/orders``
(``MarketplaceIds`` required, ``LastUpdatedAfter``, ``MaxResultsPerPage``; a ``NextToken``
page needs only ``MarketplaceIds``) and ``GET /orders/v0/orders/{id}/orderItems``, each answer
``{"payload": …}`` with ``x-amzn-RateLimit-Limit``; the token in ``x-amz-access-token``, a bad
one answered 403 ``Unauthorized``. ``throttle(n)`` answers the next ``n`` order calls 429
``QuotaExceeded``; ``revoke_tokens`` refuses every token issued so far (``revoke_at``: when
the n-th call arrives, as when a token lapses mid-run).
"""

from __future__ import annotations

import base64
import itertools
import json
import re
from dataclasses import dataclass, field
from typing import Any

from pytest_httpserver import HTTPServer
from werkzeug import Request, Response

from tests.fakes.amazon_sp.payloads import (
    INVALID_CLIENT,
    INVALID_GRANT,
    INVALID_INPUT,
    NOT_FOUND,
    QUOTA_EXCEEDED,
    UNAUTHORIZED,
)

TOKEN_PATH = "/auth/o2/token"
ORDERS_PATH = "/orders/v0/orders"
ITEMS_PATH = re.compile(r"^/orders/v0/orders/([^/]+)/orderItems$")
RATE_HEADER = "x-amzn-RateLimit-Limit"
CLIENT_ID = "amzn1.application-oa2-client.fake"
CLIENT_SECRET = "fake-lwa-client-secret"  # pragma: allowlist secret
REFRESH_TOKEN = "Atzr|fake-refresh-token"  # pragma: allowlist secret


@dataclass
class Seen:
    path: str
    args: dict[str, str]
    headers: dict[str, str] = field(default_factory=dict)


class FakeSellingPartner:
    """The fake; a context manager that registers its handlers on ``server``."""

    def __init__(
        self,
        orders: list[dict[str, Any]],
        server: HTTPServer,
        *,
        page_size: int = 2,
        items_page_size: int = 1,
        orders_rate: str = "0.0167",
    ) -> None:
        self.orders = orders
        self.server = server
        self.page_size = page_size
        self.items_page_size = items_page_size
        self.orders_rate = orders_rate
        self.seen: list[Seen] = []
        self.tokens: set[str] = set()
        self.minted = 0
        self.throttled = 0
        self.revoke_at: int | None = None  # revoke every token when this request arrives
        self._ids = itertools.count(1)

    def __enter__(self) -> FakeSellingPartner:
        self.server.clear()
        self.server.expect_request(TOKEN_PATH, method="POST").respond_with_handler(self._token)
        self.server.expect_request(ORDERS_PATH, method="GET").respond_with_handler(self._orders)
        self.server.expect_request(ITEMS_PATH, method="GET").respond_with_handler(self._items)
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.clear()

    def env(self, **extra: str) -> dict[str, str]:
        base = self.server.url_for("").rstrip("/")
        return {"AMAZON_SP_LWA_CLIENT_ID": CLIENT_ID, "AMAZON_SP_LWA_CLIENT_SECRET": CLIENT_SECRET,
                "AMAZON_SP_REFRESH_TOKEN": REFRESH_TOKEN, "AMAZON_SP_ENDPOINT": base,
                "AMAZON_SP_LWA_URL": base + TOKEN_PATH, **extra}  # fmt: skip

    def throttle(self, calls: int) -> None:
        self.throttled = calls

    def revoke_tokens(self) -> None:
        self.tokens.clear()

    def calls(self, path: str = ORDERS_PATH) -> list[Seen]:
        return [s for s in self.seen if s.path == path]

    # --- handlers ------------------------------------------------------------------------

    def _token(self, request: Request) -> Response:
        form = request.form
        if form.get("client_id") != CLIENT_ID or form.get("client_secret") != CLIENT_SECRET:
            return _json(INVALID_CLIENT, 401)
        if form.get("grant_type") != "refresh_token" or form.get("refresh_token") != REFRESH_TOKEN:
            return _json(INVALID_GRANT, 400)
        token = f"Atza|fake-access-{next(self._ids)}"
        self.tokens.add(token)
        self.minted += 1
        return _json({"access_token": token, "refresh_token": REFRESH_TOKEN,
                      "token_type": "bearer", "expires_in": 3600})  # fmt: skip

    def _refusal(self, request: Request, rate: str) -> Response | None:
        self.seen.append(Seen(request.path, dict(request.args), dict(request.headers)))
        if len(self.seen) == self.revoke_at:
            self.revoke_tokens()
        if request.headers.get("x-amz-access-token") not in self.tokens:
            return _json(UNAUTHORIZED, 403)
        if request.path == ORDERS_PATH and self.throttled:
            self.throttled -= 1
            return _json(QUOTA_EXCEEDED, 429, rate)
        return None

    def _orders(self, request: Request) -> Response:
        refused = self._refusal(request, self.orders_rate)
        if refused is not None:
            return refused
        args = request.args
        if not args.get("MarketplaceIds"):
            return _json(INVALID_INPUT, 400, self.orders_rate)
        if args.get("NextToken"):
            since, offset = json.loads(base64.b64decode(args["NextToken"]))
        else:
            since, offset = args.get("LastUpdatedAfter", ""), 0
        size = min(self.page_size, int(args.get("MaxResultsPerPage") or 100))
        match = sorted((o for o in self.orders if o["LastUpdateDate"] >= since),
                       key=lambda o: o["LastUpdateDate"])  # fmt: skip
        page = [
            {k: v for k, v in o.items() if k != "__items"} for o in match[offset : offset + size]
        ]
        payload: dict[str, Any] = {"Orders": page, "LastUpdatedBefore": "2026-12-06T00:00:00Z"}
        if offset + size < len(match):
            payload["NextToken"] = _token_of(since, offset + size)
        return _json({"payload": payload}, 200, self.orders_rate)

    def _items(self, request: Request) -> Response:
        refused = self._refusal(request, "0.5")
        if refused is not None:
            return refused
        order_id = ITEMS_PATH.match(request.path).group(1)
        order = next((o for o in self.orders if o["AmazonOrderId"] == order_id), None)
        if order is None:
            return _json(NOT_FOUND, 404, "0.5")
        token = request.args.get("NextToken")
        offset = json.loads(base64.b64decode(token))[1] if token else 0
        items = order["__items"][offset : offset + self.items_page_size]
        payload: dict[str, Any] = {"AmazonOrderId": order_id, "OrderItems": items}
        if offset + self.items_page_size < len(order["__items"]):
            payload["NextToken"] = _token_of(order_id, offset + self.items_page_size)
        return _json({"payload": payload}, 200, "0.5")


def _token_of(key: str, offset: int) -> str:
    return base64.b64encode(json.dumps([key, offset]).encode()).decode()


def _json(body: Any, status: int = 200, rate: str | None = None) -> Response:
    headers = {"x-amzn-RequestId": "fake-request-id"}
    if rate is not None:
        headers[RATE_HEADER] = rate
    return Response(json.dumps(body), status, headers, content_type="application/json")
