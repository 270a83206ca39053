"""The shared HTTP client's limits against real servers on 127.0.0.1: a total deadline per
attempt (status line, headers and body), a body size cap, a per-call time budget, the run's
--max-duration, and the streamed download's deadline."""

from __future__ import annotations

import http.server
import socket
import socketserver
import threading
import time
from collections.abc import Iterator
from typing import ClassVar

import pytest
from werkzeug import Request, Response

from pipelines.errors import RetriableProviderError
from pipelines.net.deadline import BodyTooLargeError, DeadlineExceededError, HttpLimits
from pipelines.net.http import HttpClient
from providers.base import ProviderStats
from tests.test_http import Sleeps, get, status

LIMITS = HttpLimits(deadline=1.0, max_body_bytes=100_000, call_budget=250.0)


def client(limits: HttpLimits = LIMITS, **kwargs) -> tuple[HttpClient, ProviderStats, Sleeps]:
    stats, sleeps = ProviderStats(), Sleeps()
    options = {"timeout": (1.0, 5.0), "max_retries": 4, "backoff_factor": 0.01, **kwargs}
    return HttpClient("fake", stats, sleep=sleeps, limits=limits, **options), stats, sleeps


def trickle(first: bytes = b"{", every: float = 0.2, count: int = 100) -> Iterator[bytes]:
    """A body that arrives one byte every ``every`` seconds, each well inside the read timeout."""
    yield first
    for _ in range(count):
        time.sleep(every)
        yield b" "


@pytest.fixture
def trickling_headers() -> Iterator[str]:
    """A raw server that sends its status line and headers one byte every 0.2 s."""
    listener = socket.create_server(("127.0.0.1", 0))
    stop = threading.Event()

    def answer() -> None:
        conn, _ = listener.accept()
        with conn:
            for byte in b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n":
                if stop.wait(0.2):
                    return
                try:
                    conn.sendall(bytes([byte]))
                except OSError:
                    return

    thread = threading.Thread(target=answer, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{listener.getsockname()[1]}/api?key=secret"
    stop.set()
    listener.close()


def test_headers_trickling_past_the_deadline_fail_once_naming_the_call_and_url(
    trickling_headers,
):
    http, stats, sleeps = client()

    with pytest.raises(DeadlineExceededError) as raised:
        http.request("GET", trickling_headers, what="items page 3")

    port = trickling_headers.split(":")[2].split("/")[0]
    assert str(raised.value) == (
        f"fake items page 3: http://127.0.0.1:{port}/api: no complete response within the 1 s "
        "deadline (pipeline.http_deadline_seconds)"
    )
    assert (stats.api_calls, stats.retries, sleeps) == (1, 0, [])


def test_a_body_trickling_past_the_deadline_fails_and_is_not_retried(http_server, serve):
    seen = serve(lambda request: Response(trickle(), content_type="application/json"))
    http, stats, _ = client()

    with pytest.raises(DeadlineExceededError) as raised:
        get(http, http_server)

    assert str(raised.value) == (
        f"fake items page 3: {http_server.url_for('/api')}: no complete response within the 1 s "
        "deadline (pipeline.http_deadline_seconds)"
    )
    assert (len(seen), stats.retries) == (1, 0)


def endless(request: Request) -> Response:
    """A chunked body that never ends (64 KiB chunks)."""

    def chunks() -> Iterator[bytes]:
        while True:
            yield b"[" * 65536

    return Response(chunks(), content_type="application/json")


def test_an_endless_chunked_body_stops_at_the_cap(http_server, serve):
    seen = serve(endless)
    http, stats, _ = client()

    with pytest.raises(BodyTooLargeError) as raised:
        get(http, http_server)

    assert str(raised.value) == (
        f"fake items page 3: {http_server.url_for('/api')}: body passed the 0.1 MB cap "
        "(pipeline.http_max_body_mb) and was not read further"
    )
    assert (len(seen), stats.retries) == (1, 0)


def test_a_content_length_over_the_cap_is_refused_before_reading(http_server, serve):
    serve(Response(b"x" * 200_000, content_type="application/json"))
    http, _, _ = client()

    with pytest.raises(BodyTooLargeError, match=r"Content-Length 200000 bytes is over the 0\.1 MB"):
        get(http, http_server)


def test_a_body_under_the_cap_and_deadline_arrives_whole(http_server, serve):
    serve(Response(b'{"items": [' + b"1," * 40_000 + b"1]}", content_type="application/json"))
    http, _, _ = client()

    assert len(get(http, http_server).json("items")["items"]) == 40_001


def test_a_repeated_retry_after_is_waited_out_until_the_call_budget_and_named(http_server, serve):
    seen = serve(status(429, {"Retry-After": "100"}))
    http, stats, sleeps = client()

    with pytest.raises(RetriableProviderError) as raised:
        get(http, http_server)

    assert sleeps == [100.0, 100.0]  # the third wait would pass the 250 s budget
    assert len(seen) == 3
    assert str(raised.value).endswith(
        "(asked to wait 100 s (Retry-After), more than the 50 s left of this call's 250 s "
        "budget (pipeline.http_call_budget_seconds))"
    )
    assert stats.throttle_waits == 2


def test_a_call_after_the_runs_max_duration_is_not_sent(http_server, serve):
    seen = serve(Response("{}", content_type="application/json"))
    http, _, _ = client(HttpLimits(deadline=5.0, stop_at=time.monotonic() - 1))

    with pytest.raises(
        DeadlineExceededError, match="no complete response within the run's --max-duration"
    ):
        get(http, http_server)

    assert seen == []


def test_a_streamed_download_obeys_its_deadline_and_never_names_the_url(http_server, serve):
    serve(lambda request: Response(trickle(b'{"id": 1}\n'), content_type="application/jsonl"))
    http, _, _ = client(HttpLimits(download_deadline=1.0))
    url = http_server.url_for("/api") + "?signature=secret"

    with pytest.raises(DeadlineExceededError) as raised:
        list(http.download_lines(url, "bulk result download", lambda status: None))

    assert str(raised.value) == (
        "bulk result download: not complete within the 1 s deadline "
        "(pipeline.http_download_deadline_seconds)"
    )


def test_a_streamed_download_is_not_capped(http_server, serve):
    serve(Response(b'{"id": 1}\n' * 50_000, content_type="application/jsonl"))
    http, _, _ = client(HttpLimits(max_body_bytes=1_000))

    lines = list(http.download_lines(http_server.url_for("/api"), "download", lambda s: None))

    assert len(lines) == 50_000


class KeepAlive(http.server.BaseHTTPRequestHandler):
    """An HTTP/1.1 server that keeps connections open and notes each caller's port."""

    protocol_version = "HTTP/1.1"
    ports: ClassVar[list[int]] = []

    def do_GET(self) -> None:
        self.ports.append(self.client_address[1])
        self.send_response(200)
        self.send_header("Content-Length", "2")
        self.end_headers()
        self.wfile.write(b"{}")

    def log_message(self, *args) -> None:
        pass


def test_a_body_read_to_its_end_leaves_the_connection_for_the_next_call():
    server = socketserver.ThreadingTCPServer(("127.0.0.1", 0), KeepAlive)
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, daemon=True).start()
    http_client, _, _ = client()
    url = f"http://127.0.0.1:{server.server_address[1]}/api"
    try:
        for _ in range(3):
            http_client.request("GET", url, what="items")
    finally:
        server.shutdown()
        server.server_close()

    assert len(KeepAlive.ports) == 3
    assert len(set(KeepAlive.ports)) == 1
