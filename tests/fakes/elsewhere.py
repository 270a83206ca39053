"""Another origin for redirect tests: a server on 127.0.0.2 that records what it receives.

Every fake API listens on 127.0.0.1; a redirect to this server leaves that origin (another
host), as a redirect to an attacker's or a proxy's host would. It answers every request
with a canned body, plausible rows for the API under test, so a client that followed the
redirect would have something to land; the tests assert it received nothing.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from pytest_httpserver import HTTPServer
from werkzeug import Request, Response

HOST = "127.0.0.2"  # all of 127.0.0.0/8 is loopback on Linux: no set-up needed


@dataclass
class Seen:
    method: str
    path: str
    headers: dict[str, str]
    body: bytes


class Elsewhere:
    """``with Elsewhere(body) as other:`` starts it; ``other.seen`` lists what reached it."""

    def __init__(self, body: Any = None) -> None:
        self.body = json.dumps(body if body is not None else {}).encode()
        self.server = HTTPServer(host=HOST, port=0)
        self.seen: list[Seen] = []

    def __enter__(self) -> Elsewhere:
        self.server.expect_request(re.compile(".*")).respond_with_handler(self._record)
        self.server.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.clear()
        self.server.stop()

    @property
    def origin(self) -> str:
        return f"http://{HOST}:{self.server.port}"

    def redirect(self, status: int) -> Callable[[Request], Response]:
        """A handler answering ``status`` with ``Location`` at the same path here."""

        def answer(request: Request) -> Response:
            location = self.origin + request.full_path.rstrip("?")
            return Response(b"", status=status, headers={"Location": location})

        return answer

    def _record(self, request: Request) -> Response:
        self.seen.append(
            Seen(request.method, request.path, dict(request.headers), request.get_data())
        )
        return Response(self.body, status=200, content_type="application/json")
