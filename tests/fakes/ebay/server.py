"""A fake eBay: the OAuth token endpoint and the Browse search, served over HTTP on 127.0.0.1.

It speaks eBay's wire format: HTTP Basic client credentials and a form body on the token
endpoint (OAuth error bodies on failure); bearer token and ``X-EBAY-C-MARKETPLACE-ID`` on the
search; ``limit``/``offset`` paging with ``total``, ``next``, ``itemSummaries`` (left out of an
empty page); and eBay's ``{"errors": [...]}`` bodies. It records every request it receives, so
tests can assert what was sent as well as what came back.

Faults are queued in ``search_faults`` / ``token_faults``: a ``(status, body[, headers])``
answer, a transport fault (``reset_connection``, ``truncated_body``, ``slow(seconds)``), or
``None`` to serve that request normally. ``expire_tokens_after(n)`` revokes every token once
``n`` search pages have been served, as when a token lapses mid-run. The server is threaded,
so a slow answer does not hold up the requests that follow it.

The error bodies and ``make_item`` are in ``payloads.py``. The seller's orders (getOrders,
with a user token minted by the refresh-token grant) are built and paged in ``orders.py``;
``order_faults`` queue faults for them, and ``expire_tokens_after`` counts their pages too.
"""

from __future__ import annotations

import base64
import itertools
import socket
import struct
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from http import HTTPStatus
from typing import Any
from urllib.parse import urlencode

import orjson
from pytest_httpserver import HTTPServer
from werkzeug import Request, Response

from tests.fakes.ebay.orders import FULFILLMENT_SCOPE, ORDERS_PATH, orders_page
from tests.fakes.ebay.payloads import (
    ACCESS_DENIED,
    BAD_LIMIT,
    INVALID_CLIENT,
    INVALID_GRANT,
    INVALID_SCOPE,
    INVALID_TOKEN,
    MISSING_CRITERIA,
    MISSING_TOKEN,
    OFFSET_NOT_MULTIPLE,
    OFFSET_TOO_LARGE,
    UNSUPPORTED_GRANT,
    make_item,
)

TOKEN_PATH = "/identity/v1/oauth2/token"
SEARCH_PATH = "/buy/browse/v1/item_summary/search"
SCOPE = "https://api.ebay.com/oauth/api_scope"
CRITERIA = ("q", "category_ids", "epid", "gtin")
RESULT_CAP = 10_000


@dataclass
class FakeSearch:
    """What the fake answers for one marketplace and set of criteria."""

    total: int
    item: Callable[[int], dict]
    drop_next_from: int | None = None  # leave ``next`` out once offset + limit reaches this


@dataclass
class SeenRequest:
    """One request as the fake received it."""

    path: str
    headers: dict[str, str]
    args: dict[str, str]
    form: dict[str, str] = field(default_factory=dict)


class FakeEbay:
    """The fake server; use as a context manager or call ``start``/``stop``."""

    def __init__(
        self,
        client_id: str = "fake-client-id",
        client_secret: str = "fake-client-secret",
        expires_in: int = 7200,
        refresh_token: str = "v^1.1#i^1#fake-refresh-token",  # pragma: allowlist secret
    ) -> None:
        self.server = HTTPServer(host="127.0.0.1", port=0, threaded=True)
        self._defaults = (client_id, client_secret, expires_in, refresh_token)
        self.reset()

    def reset(self) -> None:
        """Forget every search, token, request and fault (one server can serve many tests)."""
        self.client_id, self.client_secret, self.expires_in, self.refresh_token = self._defaults
        self.searches: dict[tuple[str, tuple[tuple[str, str], ...]], FakeSearch] = {}
        self.valid_tokens: set[str] = set()
        self.minted: list[str] = []
        self.reject_all_tokens = False
        self.token_requests: list[SeenRequest] = []
        self.search_requests: list[SeenRequest] = []
        self.search_faults: list[Fault] = []  # served, in order, before real answers
        self.token_faults: list[Fault] = []
        self.expire_after: int | None = None
        self.orders: list[dict] = []
        self.user_tokens: set[str] = set()
        self.order_requests: list[SeenRequest] = []
        self.order_faults: list[Fault] = []
        self.pages_served = 0
        self._counter = itertools.count(1)

    # --- lifecycle ----------------------------------------------------------------------------

    def start(self) -> FakeEbay:
        self.server.expect_request(TOKEN_PATH, method="POST").respond_with_handler(self._token)
        self.server.expect_request(SEARCH_PATH, method="GET").respond_with_handler(self._search)
        self.server.expect_request(ORDERS_PATH, method="GET").respond_with_handler(self._orders)
        self.server.start()
        return self

    def stop(self) -> None:
        self.server.clear()
        if self.server.is_running():
            self.server.stop()

    def __enter__(self) -> FakeEbay:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    @property
    def base_url(self) -> str:
        return self.server.url_for("").rstrip("/")

    def env(self, **extra: str) -> dict[str, str]:
        """Settings pointing the provider at this fake with its client credentials."""
        return {
            "EBAY_API_URL": self.base_url,
            "EBAY_OAUTH_URL": self.base_url + TOKEN_PATH,
            "EBAY_CLIENT_ID": self.client_id,
            "EBAY_CLIENT_SECRET": self.client_secret,
            "EBAY_REFRESH_TOKEN": self.refresh_token,
            **extra,
        }

    # --- set-up -------------------------------------------------------------------------------

    def add_search(
        self,
        items: list[dict] | None = None,
        *,
        marketplace: str = "EBAY_US",
        total: int | None = None,
        drop_next_from: int | None = None,
        prefix: int = 100_000_000_000,
        **criteria: str,
    ) -> None:
        """Answer searches with these criteria (``q="…"``, ``gtin="…"``) on ``marketplace``.

        Without ``items`` the fake makes ``total`` items on demand with ``make_item`` (item
        ids ``prefix + n``).
        """
        if items is not None:
            search = FakeSearch(len(items) if total is None else total, items.__getitem__)
        else:
            search = FakeSearch(total or 0, lambda n: make_item(n, marketplace, prefix))
        search.drop_next_from = drop_next_from
        self.searches[(marketplace, tuple(sorted(criteria.items())))] = search

    def accept_token(self, token: str) -> None:
        """Accept a token that was not minted here (a static EBAY_OAUTH_TOKEN)."""
        self.valid_tokens.add(token)

    def revoke_tokens(self) -> None:
        """Make every token issued so far invalid (as when one lapses early)."""
        self.valid_tokens.clear()

    def expire_tokens_after(self, pages: int) -> None:
        """Revoke every token once ``pages`` more search pages have been served."""
        self.expire_after = self.pages_served + pages

    # --- handlers -----------------------------------------------------------------------------

    def _token(self, request: Request) -> Response:
        form = dict(request.form.items())
        self.token_requests.append(_seen(request, form))
        fault = self.token_faults.pop(0) if self.token_faults else None
        if fault is not None:
            return _serve_fault(fault, request)
        expected = base64.b64encode(f"{self.client_id}:{self.client_secret}".encode()).decode()
        if request.headers.get("Authorization") != f"Basic {expected}":
            return _json(401, INVALID_CLIENT)
        if not request.content_type.startswith("application/x-www-form-urlencoded"):
            return _json(400, UNSUPPORTED_GRANT)
        if form.get("grant_type") == "refresh_token":
            return self._user_token(form)
        if form.get("grant_type") != "client_credentials":
            return _json(400, UNSUPPORTED_GRANT)
        if form.get("scope") != SCOPE:
            return _json(400, INVALID_SCOPE)
        token = f"v^1.1#i^1#fake-app-token-{next(self._counter)}"
        self.minted.append(token)
        self.valid_tokens.add(token)
        body = {
            "access_token": token,
            "expires_in": self.expires_in,
            "token_type": "Application Access Token",
        }
        return _json(200, body)

    def _user_token(self, form: dict[str, str]) -> Response:
        """The refresh-token grant: a user token for the consented scope (no new refresh
        token: eBay's answer to this grant carries none)."""
        if form.get("refresh_token") != self.refresh_token:
            return _json(400, INVALID_GRANT)
        if form.get("scope") != FULFILLMENT_SCOPE:
            return _json(400, INVALID_SCOPE)
        token = f"v^1.1#i^1#fake-user-token-{next(self._counter)}"
        self.minted.append(token)
        self.valid_tokens.add(token)
        self.user_tokens.add(token)
        return _json(200, {"access_token": token, "expires_in": self.expires_in,
                           "token_type": "User Access Token"})  # fmt: skip

    def _orders(self, request: Request) -> Response:
        args = dict(request.args.items())
        self.order_requests.append(_seen(request))
        fault = self.order_faults.pop(0) if self.order_faults else None
        if fault is not None:
            return _serve_fault(fault, request)
        token = request.headers.get("Authorization", "").removeprefix("Bearer ")
        if not token:
            return _json(400, MISSING_TOKEN)
        if token not in self.valid_tokens:
            return _json(401, INVALID_TOKEN)
        if token not in self.user_tokens:  # an application token: no seller behind it
            return _json(403, ACCESS_DENIED)
        status, body = orders_page(self.orders, args, self.base_url)
        self.pages_served += 1
        if self.pages_served == self.expire_after:
            self.revoke_tokens()
        return _json(status, body)

    def _search(self, request: Request) -> Response:
        args = dict(request.args.items())
        self.search_requests.append(_seen(request))
        fault = self.search_faults.pop(0) if self.search_faults else None
        if fault is not None:
            return _serve_fault(fault, request)
        auth = request.headers.get("Authorization", "")
        if not auth.startswith("Bearer "):
            return _json(400, MISSING_TOKEN)
        if self.reject_all_tokens or auth.removeprefix("Bearer ") not in self.valid_tokens:
            return _json(401, INVALID_TOKEN)
        return self._search_page(args, request.headers.get("X-EBAY-C-MARKETPLACE-ID", "EBAY_US"))

    def _search_page(self, args: dict[str, str], marketplace: str) -> Response:
        criteria = tuple(sorted((k, v) for k, v in args.items() if k in CRITERIA))
        if not criteria:
            return _json(400, MISSING_CRITERIA)
        try:
            limit, offset = int(args.get("limit", "50")), int(args.get("offset", "0"))
        except ValueError:
            return _json(400, BAD_LIMIT)
        if not 1 <= limit <= 200:
            return _json(400, BAD_LIMIT)
        if offset < 0 or offset % limit:
            return _json(400, OFFSET_NOT_MULTIPLE)
        if offset + limit > RESULT_CAP:
            return _json(400, OFFSET_TOO_LARGE)
        search = self.searches.get((marketplace, criteria), FakeSearch(0, make_item))
        body = self._page_body(search, args, limit, offset)
        self.pages_served += 1
        if self.pages_served == self.expire_after:
            self.revoke_tokens()
        return _json(200, body)

    def _page_body(self, search: FakeSearch, args: dict[str, str], limit: int, offset: int) -> dict:
        end = min(offset + limit, search.total)
        body: dict[str, Any] = {
            "href": self._href(args, limit, offset),
            "total": search.total,
            "limit": limit,
            "offset": offset,
        }
        has_next = offset + limit < search.total
        if search.drop_next_from is not None and offset + limit >= search.drop_next_from:
            has_next = False
        if has_next:
            body["next"] = self._href(args, limit, offset + limit)
        if offset > 0:
            body["prev"] = self._href(args, limit, max(0, offset - limit))
        items = [search.item(n) for n in range(offset, end)]
        if items:
            body["itemSummaries"] = items
        return body

    def _href(self, args: dict[str, str], limit: int, offset: int) -> str:
        query = {**args, "limit": str(limit), "offset": str(offset)}
        return f"{self.base_url}{SEARCH_PATH}?{urlencode(query)}"

    # --- assertions helpers -------------------------------------------------------------------

    def offsets(self) -> list[int]:
        """The ``offset`` of every search request, in order."""
        return [int(r.args.get("offset", "0")) for r in self.search_requests]

    def bearer_tokens(self) -> Iterator[str]:
        """The bearer token each search request carried."""
        for seen in self.search_requests:
            yield seen.headers.get("Authorization", "").removeprefix("Bearer ")


def _seen(request: Request, form: dict[str, str] | None = None) -> SeenRequest:
    return SeenRequest(
        request.path,
        dict(request.headers.items()),
        dict(request.args.items()),
        form or {},
    )


def _json(status: int, body: Any, headers: dict[str, str] | None = None) -> Response:
    data = body if isinstance(body, bytes | str) else orjson.dumps(body)
    return Response(
        data,
        status=f"{status} {HTTPStatus(status).phrase}",
        headers=headers,
        content_type="application/json",
    )


# --- transport faults ----------------------------------------------------------------------------

Answer = Callable[[Request], Response]
Fault = tuple[int, Any] | tuple[int, Any, dict[str, str]] | Answer | None


def _serve_fault(fault: Fault, request: Request) -> Response:
    return fault(request) if callable(fault) else _json(*fault)


def reset_connection(request: Request) -> Response:
    """Close the socket with SO_LINGER 0: the client gets a TCP reset and no response."""
    raw = socket.socket(fileno=request.environ["werkzeug.socket"].detach())
    raw.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    raw.close()
    return Response(status=500)  # never delivered: werkzeug finds its socket gone


def truncated_body(request: Request) -> Response:
    """Promise 100 bytes, send 7 and close: the body breaks off mid-way."""
    response = Response('{"a": 1', content_type="application/json")
    response.headers["Content-Length"] = "100"
    response.headers["Connection"] = "close"
    return response


def slow(seconds: float, then: tuple[int, Any]) -> Answer:
    """Answer ``then`` after ``seconds`` (past the client's read timeout, typically)."""

    def answer(request: Request) -> Response:
        time.sleep(seconds)
        return _json(*then)

    return answer
