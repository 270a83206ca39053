"""A fake Selling Partner API (Orders v2026-01-01, Finances v2024-06-19) and LWA token
endpoint on 127.0.0.1.

LWA: ``POST /auth/o2/token`` with a form ``grant_type=refresh_token`` and the client's id,
secret and refresh token; OAuth error bodies on refusal. searchOrders:
``GET /orders/2026-01-01/orders`` (exactly one of ``lastUpdatedAfter`` and ``createdAfter``,
else 400 ``InvalidInput``; ``marketplaceIds``, ``maxResultsPerPage``, ``includedData``
comma-separated; the next page by ``paginationToken``), answering ``{"orders", "pagination":
{"nextToken"}, "lastUpdatedBefore"}`` with only the datasets ``includedData`` asked for.
listTransactions: ``GET /finances/2024-06-19/transactions`` by ``relatedIdentifierName=ORDER_ID``
and its value, ``{"payload": {"transactions", "nextToken"}}``. Every answer carries
``x-amzn-RateLimit-Limit``; the token comes in ``x-amz-access-token``, a bad one answered 403
``Unauthorized``. ``throttle(n)`` answers the next ``n`` searchOrders calls 429
``QuotaExceeded``; ``revoke_tokens`` refuses every token issued so far (``revoke_at``: when
the n-th call arrives, as when a token lapses mid-run).
"""

from __future__ import annotations

import base64
import itertools
import json
from dataclasses import dataclass, field
from typing import Any

from pytest_httpserver import HTTPServer
from werkzeug import Request, Response

from tests.fakes.amazon_sp.payloads import (
    INVALID_CLIENT,
    INVALID_GRANT,
    INVALID_INPUT,
    QUOTA_EXCEEDED,
    UNAUTHORIZED,
)

TOKEN_PATH = "/auth/o2/token"
ORDERS_PATH = "/orders/2026-01-01/orders"
TRANSACTIONS_PATH = "/finances/2024-06-19/transactions"
# includedData -> the keys of an order (and of its items) it brings
DATASETS = {"BUYER": "buyer", "RECIPIENT": "recipient", "PROCEEDS": "proceeds",
            "FULFILLMENT": "fulfillment"}  # fmt: skip
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
        transactions_page_size: int = 1,
        orders_rate: str = "0.0056",
        client_id: str = CLIENT_ID,
        client_secret: str = CLIENT_SECRET,
        refresh_token: str = REFRESH_TOKEN,
    ) -> None:
        self.credentials = (client_id, client_secret, refresh_token)
        self.orders = orders
        self.server = server
        self.page_size = page_size
        self.transactions_page_size = transactions_page_size
        self.orders_rate = orders_rate
        self.transactions: dict[str, list[dict[str, Any]]] = {}  # by order id
        self.seen: list[Seen] = []
        self.tokens: set[str] = set()
        self.issued: list[str] = []  # every access token minted, revoked ones too
        self.minted = 0
        self.throttled = 0
        self.revoke_at: int | None = None  # revoke every token when this request arrives
        self._ids = itertools.count(1)

    def __enter__(self) -> FakeSellingPartner:
        self.server.clear()
        self.server.expect_request(TOKEN_PATH, method="POST").respond_with_handler(self._token)
        self.server.expect_request(ORDERS_PATH, method="GET").respond_with_handler(self._orders)
        self.server.expect_request(TRANSACTIONS_PATH, method="GET").respond_with_handler(
            self._transactions
        )
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.clear()

    def env(self, **extra: str) -> dict[str, str]:
        base = self.server.url_for("").rstrip("/")
        client_id, client_secret, refresh_token = self.credentials
        return {"AMAZON_SP_LWA_CLIENT_ID": client_id, "AMAZON_SP_LWA_CLIENT_SECRET": client_secret,
                "AMAZON_SP_REFRESH_TOKEN": refresh_token, "AMAZON_SP_ENDPOINT": base,
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
        client_id, client_secret, refresh_token = self.credentials
        if form.get("client_id") != client_id or form.get("client_secret") != client_secret:
            return _json(INVALID_CLIENT, 401)
        if form.get("grant_type") != "refresh_token" or form.get("refresh_token") != refresh_token:
            return _json(INVALID_GRANT, 400)
        token = f"Atza|fake-access-{next(self._ids)}"
        self.tokens.add(token)
        self.issued.append(token)
        self.minted += 1
        return _json({"access_token": token, "refresh_token": refresh_token,
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
        if args.get("paginationToken"):
            since, offset = json.loads(base64.b64decode(args["paginationToken"]))
        elif bool(args.get("lastUpdatedAfter")) == bool(args.get("createdAfter")):
            return _json(INVALID_INPUT, 400, self.orders_rate)
        else:
            since, offset = args["lastUpdatedAfter"], 0
        size = min(self.page_size, int(args.get("maxResultsPerPage") or 100))
        markets = set(filter(None, args.get("marketplaceIds", "").split(",")))
        match = sorted((o for o in self.orders if o["lastUpdatedTime"] >= since
                        and (not markets or o["salesChannel"]["marketplaceId"] in markets)),
                       key=lambda o: o["lastUpdatedTime"])  # fmt: skip
        included = set(args.get("includedData", "").split(","))
        page = [_included(o, included) for o in match[offset : offset + size]]
        body: dict[str, Any] = {"orders": page, "lastUpdatedBefore": "2026-12-06T00:00:00Z"}
        if offset + size < len(match):
            body["pagination"] = {"nextToken": _token_of(since, offset + size)}
        return _json(body, 200, self.orders_rate)

    def _transactions(self, request: Request) -> Response:
        refused = self._refusal(request, "0.5")
        if refused is not None:
            return refused
        args = request.args
        if args.get("relatedIdentifierName") != "ORDER_ID" or not args.get(
            "relatedIdentifierValue"
        ):
            return _json(INVALID_INPUT, 400, "0.5")
        found = self.transactions.get(args["relatedIdentifierValue"], [])
        token = args.get("nextToken")
        offset = json.loads(base64.b64decode(token))[1] if token else 0
        size = self.transactions_page_size
        payload: dict[str, Any] = {"transactions": found[offset : offset + size]}
        if offset + size < len(found):
            payload["nextToken"] = _token_of(args["relatedIdentifierValue"], offset + size)
        return _json({"payload": payload}, 200, "0.5")


def _included(order: dict[str, Any], included: set[str]) -> dict[str, Any]:
    """The order without the datasets a request did not ask for (its items' too)."""
    left_out = {key for name, key in DATASETS.items() if name not in included}
    items = [{k: v for k, v in i.items() if k not in left_out} for i in order["orderItems"]]
    return {**{k: v for k, v in order.items() if k not in left_out}, "orderItems": items}


def _token_of(key: str, offset: int) -> str:
    return base64.b64encode(json.dumps([key, offset]).encode()).decode()


def _json(body: Any, status: int = 200, rate: str | None = None) -> Response:
    headers = {"x-amzn-RequestId": "fake-request-id"}
    if rate is not None:
        headers[RATE_HEADER] = rate
    return Response(json.dumps(body), status, headers, content_type="application/json")
