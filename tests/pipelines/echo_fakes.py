"""The vendor fakes, able to answer with error bodies that echo the request back.

Some gateways and proxies do this: the error body repeats the request's headers
(``Authorization: Basic <base64 of id:secret>``, ``X-Shopify-Access-Token``, ``Bearer``
tokens) and its body (``client_secret=…`` form fields), in JSON fields, inside the
message itself, or as a plain proxy page. ``echo`` builds such an answer; each fake
here serves the queued answers of its ``echoes`` lists before its usual ones.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable

from werkzeug import Request, Response

from tests.fakes.amazon import FakeCreatorsApi
from tests.fakes.amazon_sp import FakeSellingPartner
from tests.fakes.github import FakeGitHub
from tests.fakes.shopify import FakeShopify

Answer = Callable[[Request], Response]


def echo(status: int, *, page: bool = False, delay: float = 0.0) -> Answer:
    """An error answer repeating the request's headers and body (a proxy page when ``page``)."""

    def answer(request: Request) -> Response:
        time.sleep(delay)
        headers = dict(request.headers.items())
        body = request.get_data(as_text=True)
        if page:
            lines = [f"{request.method} {request.full_path} HTTP/1.1"]
            lines += [f"{name}: {value}" for name, value in headers.items()]
            text = "\n".join([f"<html><body><h1>{status} Bad Gateway</h1><pre>", *lines, "",
                              body, "</pre></body></html>"])  # fmt: skip
            return Response(text, status, content_type="text/html")
        credential = (headers.get("Authorization") or headers.get("X-Shopify-Access-Token")
                      or headers.get("X-Amz-Access-Token"))  # fmt: skip
        message = f"denied for {credential}; request body {body}"
        payload = {
            "errors": [{"errorId": 1001, "message": message, "request": {"headers": headers}}],
            "error": "invalid_client",
            "error_description": message,
            "message": message,
            "request": {"headers": headers, "body": body},
        }
        return Response(json.dumps(payload), status, content_type="application/json")

    return answer


class EchoingShopify(FakeShopify):
    """Shopify whose GraphQL endpoint serves ``echoes`` first."""

    def __init__(self, *args: object, **kwargs: object) -> None:
        super().__init__(*args, **kwargs)
        self.echoes: list[Answer] = []

    def handle(self, request: Request) -> Response:
        if self.echoes:
            return self.echoes.pop(0)(request)
        return super().handle(request)


class EchoFirst:
    """A fake whose token endpoint serves ``token_echoes`` first and whose API operations
    (those wrapped by ``echoing``) serve ``echoes`` first."""

    def __init__(self, *args: object, **kwargs: object) -> None:
        super().__init__(*args, **kwargs)
        self.echoes: list[Answer] = []
        self.token_echoes: list[Answer] = []

    def _token(self, request: Request) -> Response:
        if self.token_echoes:
            return self.token_echoes.pop(0)(request)
        return super()._token(request)

    def echoing(self, request: Request, usual: Answer) -> Response:
        return self.echoes.pop(0)(request) if self.echoes else usual(request)


class EchoingCreatorsApi(EchoFirst, FakeCreatorsApi):
    """Amazon's Creators API, its catalog operation echoing first."""

    def _get_items(self, request: Request) -> Response:
        return self.echoing(request, super()._get_items)


class EchoingSellingPartner(EchoFirst, FakeSellingPartner):
    """The SP-API, its searchOrders and listTransactions echoing first."""

    def _orders(self, request: Request) -> Response:
        return self.echoing(request, super()._orders)

    def _transactions(self, request: Request) -> Response:
        return self.echoing(request, super()._transactions)


class EchoingGitHub(FakeGitHub):
    """GitHub whose REST API serves ``echoes`` first."""

    def reset(self) -> None:
        super().reset()
        self.echoes: list[Answer] = []

    def _dispatch(self, request: Request) -> Response:
        if self.echoes:
            return self.echoes.pop(0)(request)
        return super()._dispatch(request)
