"""Fake run-log sinks on 127.0.0.1: an OpenSearch ``_bulk`` endpoint and a JSON webhook.

``FakeOpenSearch`` speaks the bulk API as OpenSearch and Elasticsearch do: an NDJSON body
(an action line, then the document, each line ending in a newline), Basic auth answered
with a ``security_exception`` body, and a ``200`` answer whose ``errors`` flag and per-item
``status`` say which documents were indexed (``201 created``, ``200 updated`` for an id it
already holds) and which were not (``429 es_rejected_execution_exception``,
``400 mapper_parsing_exception``). ``item_failures`` makes chosen documents fail once.
``FakeWebhook`` takes JSON POSTs and keeps every request it saw, with its headers.
Either answers ``503`` to everything while ``down`` is set.
"""

from __future__ import annotations

import base64
import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest

USER, PASSWORD = "sink-user", "sink-password-5150"  # pragma: allowlist secret
ITEM_ERRORS = {
    429: ("es_rejected_execution_exception", "rejected execution of coordinating operation"),
    400: ("mapper_parsing_exception", "failed to parse field [providers] of type [keyword]"),
}


class _Server:
    """A threaded HTTP server whose requests go to ``handle(method, path, headers, body)``."""

    def __init__(self) -> None:
        owner = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                status, payload = owner.dispatch(self.path, dict(self.headers), body)
                data = json.dumps(payload).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json; charset=UTF-8")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, *args: Any) -> None:
                pass

        self.down = False
        self.requests: list[tuple[str, dict[str, str], bytes]] = []
        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self.thread.start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.httpd.server_port}"

    def dispatch(self, path: str, headers: dict[str, str], body: bytes) -> tuple[int, Any]:
        self.requests.append((path, headers, body))
        if self.down:
            return 503, {"error": "service unavailable", "status": 503}
        return self.handle(path, headers, body)

    def handle(self, path: str, headers: dict[str, str], body: bytes) -> tuple[int, Any]:
        raise NotImplementedError

    def stop(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


class FakeOpenSearch(_Server):
    """``POST /_bulk`` with ``index`` actions; documents kept per index and id."""

    def __init__(self) -> None:
        super().__init__()
        self.docs: dict[tuple[str, str], dict[str, Any]] = {}
        self.item_failures: dict[str, int] = {}  # document id -> the status it gets once

    def handle(self, path: str, headers: dict[str, str], body: bytes) -> tuple[int, Any]:
        if path != "/_bulk":
            return 404, _error("index_not_found_exception", f"no such index [{path}]", 404)
        expected = "Basic " + base64.b64encode(f"{USER}:{PASSWORD}".encode()).decode()
        if headers.get("Authorization") != expected:
            return 401, _error("security_exception", "missing authentication credentials", 401)
        if not headers.get("Content-Type", "").startswith("application/x-ndjson"):
            return 406, _error("media_type_header_exception", "expected application/x-ndjson", 406)
        text = body.decode()
        if not text.endswith("\n"):
            reason = "The bulk request must be terminated by a newline [\\n]"
            return 400, _error("illegal_argument_exception", reason, 400)
        lines = text.splitlines()
        items = [self._index(json.loads(a)["index"], json.loads(d))
                 for a, d in zip(lines[::2], lines[1::2], strict=True)]  # fmt: skip
        errors = any("error" in item["index"] for item in items)
        return 200, {"took": 3, "errors": errors, "items": items}

    def _index(self, action: dict[str, str], doc: dict[str, Any]) -> dict[str, Any]:
        index, doc_id = action["_index"], action["_id"]
        status = self.item_failures.pop(doc_id, None)
        if status is not None:
            kind, reason = ITEM_ERRORS[status]
            return {"index": {"_index": index, "_id": doc_id, "status": status,
                              "error": {"type": kind, "reason": reason}}}  # fmt: skip
        existed = (index, doc_id) in self.docs
        self.docs[(index, doc_id)] = doc
        return {"index": {"_index": index, "_id": doc_id, "_version": 1 + existed,
                          "result": "updated" if existed else "created",
                          "status": 200 if existed else 201,
                          "_shards": {"total": 1, "successful": 1, "failed": 0}}}  # fmt: skip

    def bulk_requests(self) -> list[list[str]]:
        """The document ids of every ``_bulk`` request answered, in order."""
        return [[json.loads(line)["index"]["_id"] for line in body.decode().splitlines()[::2]]
                for path, _, body in self.requests if path == "/_bulk"]  # fmt: skip


class FakeWebhook(_Server):
    """Any JSON POST: ``202`` and the body kept (``received``)."""

    def __init__(self) -> None:
        super().__init__()
        self.received: list[tuple[dict[str, str], dict[str, Any]]] = []

    def handle(self, path: str, headers: dict[str, str], body: bytes) -> tuple[int, Any]:
        try:
            document = json.loads(body)
        except ValueError:
            return 400, {"error": "body is not JSON"}
        self.received.append((headers, document))
        return 202, {"accepted": True}


def _error(kind: str, reason: str, status: int) -> dict[str, Any]:
    return {"error": {"root_cause": [{"type": kind, "reason": reason}], "type": kind,
                      "reason": reason}, "status": status}  # fmt: skip


@pytest.fixture
def opensearch() -> Iterator[FakeOpenSearch]:
    server = FakeOpenSearch()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def webhook() -> Iterator[FakeWebhook]:
    server = FakeWebhook()
    try:
        yield server
    finally:
        server.stop()
