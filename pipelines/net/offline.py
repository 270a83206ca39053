"""Offline mode: replay a provider's recorded API exchanges from a loopback server.

Each provider ships ``offline/recording.json`` beside its module::

    {
      "env": {"SHOPIFY_API_URL": "{base_url}", "SHOPIFY_ACCESS_TOKEN": "offline-demo-token"},
      "options": {"page_size": 10},
      "exchanges": [
        {"method": "POST", "path": "/admin/api/2025-10/graphql.json",
         "match": {"json": {"variables": {"cursor": null}}},
         "status": 200, "headers": {"Content-Type": "application/json"}, "body": {...}}
      ]
    }

The server answers each request with the first exchange whose method and path
are equal and whose ``match`` is a subset of the request (``query``: the query
string parameters; ``json``: the JSON body; ``form``: the form body); a list in
``match`` answers any non-empty part of it (Amazon's GetItems asking for some of
the recorded ASINs), and an exchange's ``slice`` then keeps only the part of the
body that request asked for (``{"request": "json.itemIds", "items":
"itemsResult.items", "key": "asin", "messages": "errors"}``: the items whose
``asin`` was asked for, the errors whose message names one), so a ``--limit``
run is served from the same recording. ``body`` is sent as JSON unless it is a
string. ``{base_url}`` in ``env`` and in string
bodies becomes the server's address. ``options`` (the provider's
``pipeline.toml`` options the recording was made with, such as the searches
it answers) override the configured ones in an offline run. Because the provider is pointed at this
server through its usual endpoint overrides, an offline run goes through the
very client and normalizer code of a live run.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, urlsplit

from pipelines.errors import ConfigError


def is_subset(expected: Any, actual: Any) -> bool:
    """True when every key of ``expected`` is in ``actual`` with a matching value; a list
    matches any non-empty list of its members."""
    if isinstance(expected, dict):
        return isinstance(actual, dict) and all(
            key in actual and is_subset(value, actual[key]) for key, value in expected.items()
        )
    if isinstance(expected, list) and isinstance(actual, list):
        return bool(actual) and all(item in expected for item in actual)
    return expected == actual


def _at(payload: Any, dotted: str) -> Any:
    for key in dotted.split("."):
        payload = payload.get(key) if isinstance(payload, dict) else None
    return payload


def sliced_body(exchange: dict[str, Any], facts: dict[str, Any]) -> Any:
    """The exchange's body cut to what the request asked for (its ``slice``; else all of it)."""
    body, spec = exchange.get("body", ""), exchange.get("slice")
    if not spec or not isinstance(body, dict):
        return body
    asked = set(_at(facts, spec["request"]) or ())
    body = json.loads(json.dumps(body))
    parent_path, _, name = spec["items"].rpartition(".")
    parent = _at(body, parent_path) if parent_path else body
    if isinstance(parent, dict) and isinstance(parent.get(name), list):
        parent[name] = [item for item in parent[name] if item.get(spec["key"]) in asked]
    messages = spec.get("messages")
    if messages and isinstance(body.get(messages), list):
        kept = [m for m in body[messages] if any(a in str(m.get("message")) for a in asked)]
        body[messages] = kept
        if not kept:
            del body[messages]
    return body


class Recording:
    """The recorded exchanges of one provider."""

    def __init__(self, path: Path) -> None:
        try:
            payload = json.loads(path.read_text())
        except (OSError, ValueError) as exc:
            raise ConfigError(f"offline recording {path}: {exc}") from exc
        self.path = path
        self.env: dict[str, str] = payload.get("env", {})
        self.options: dict[str, Any] = payload.get("options", {})
        self.exchanges: list[dict[str, Any]] = payload["exchanges"]
        self.misses: list[str] = []  # requests the recording held no answer to

    def find(self, method: str, path: str, facts: dict[str, Any]) -> dict[str, Any] | None:
        """The first exchange answering this request (a miss is remembered in ``misses``)."""
        for exchange in self.exchanges:
            same_route = exchange["method"] == method and exchange["path"] == path
            if same_route and is_subset(exchange.get("match", {}), facts):
                return exchange
        asked = {k: v for k, v in facts.items() if v}
        self.misses.append(f"{method} {path} {json.dumps(asked, sort_keys=True)[:200]}")
        return None

    def miss_message(self) -> str | None:
        """What the demo recording lacks, when a request found no answer in it."""
        if not self.misses:
            return None
        return (
            f"the offline demo recording {self.path} holds no answer to {self.misses[0]} "
            "(a request the demo was not recorded for; no URL setting is involved)"
        )


def _request_facts(handler: BaseHTTPRequestHandler, body: bytes) -> dict[str, Any]:
    facts: dict[str, Any] = {"query": dict(parse_qsl(urlsplit(handler.path).query))}
    content_type = handler.headers.get("Content-Type", "")
    if "json" in content_type and body:
        facts["json"] = json.loads(body)
    elif "form" in content_type:
        facts["form"] = dict(parse_qsl(body.decode()))
    return facts


def _handler_for(recording: Recording, base_url: list[str]) -> type[BaseHTTPRequestHandler]:
    class ReplayHandler(BaseHTTPRequestHandler):
        def _answer(self) -> None:
            body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
            path = urlsplit(self.path).path
            facts = _request_facts(self, body)
            exchange = recording.find(self.command, path, facts)
            if exchange is None:
                self._send(
                    404, {"Content-Type": "application/json"}, b'{"errors":["no recording"]}'
                )
                return
            payload = sliced_body(exchange, facts)
            if isinstance(payload, str):
                data = payload.replace("{base_url}", base_url[0]).encode()
            else:
                data = json.dumps(payload).encode()
            headers = {"Content-Type": "application/json", **exchange.get("headers", {})}
            self._send(exchange.get("status", 200), headers, data)

        def _send(self, status: int, headers: dict[str, str], data: bytes) -> None:
            self.send_response(status)
            for name, value in headers.items():
                self.send_header(name, value)
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        do_GET = do_POST = _answer  # noqa: N815 (http.server's naming)

        def log_message(self, format: str, *args: Any) -> None:  # noqa: A002
            """Requests are counted by the HTTP layer; the server stays quiet."""

    return ReplayHandler


@contextmanager
def replay_server(recording: Recording) -> Iterator[str]:
    """Serve ``recording`` on 127.0.0.1 for the duration of the block; yields the base URL."""
    base_url: list[str] = [""]
    server = ThreadingHTTPServer(("127.0.0.1", 0), _handler_for(recording, base_url))
    base_url[0] = f"http://127.0.0.1:{server.server_port}"
    thread = threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    try:
        yield base_url[0]
    finally:
        server.shutdown()
        server.server_close()


def offline_env(recording: Recording, base_url: str) -> dict[str, str]:
    """The environment a provider reads in offline mode, pointing it at the replay server."""
    return {name: value.replace("{base_url}", base_url) for name, value in recording.env.items()}
