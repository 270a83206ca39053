"""The shared HTTP layer against a real server on 127.0.0.1: retries, waits, budget, breaker."""

from __future__ import annotations

import logging
import socket
import time
from collections.abc import Callable
from email.utils import formatdate

import pytest
from pytest_httpserver import HTTPServer
from werkzeug import Request, Response

from pipelines.errors import FatalProviderError, RetriableProviderError
from pipelines.net.http import HttpClient, ProviderUnreachableError
from pipelines.net.retry import RetryBudget
from providers.base import ProviderStats
from tests.fakes.ebay import reset_connection, slow, truncated_body

Answer = Callable[[Request], Response]
OK = Response('{"ok": true}', content_type="application/json")


class Sleeps(list):
    """Records the waits instead of sleeping them."""

    def __call__(self, seconds: float) -> None:
        self.append(seconds)


def client(**kwargs) -> tuple[HttpClient, ProviderStats, Sleeps]:
    stats, sleeps = ProviderStats(), Sleeps()
    options = {"timeout": (1.0, 2.0), "max_retries": 4, "backoff_factor": 0.1, **kwargs}
    return HttpClient("fake", stats, sleep=sleeps, **options), stats, sleeps


def get(http: HttpClient, http_server: HTTPServer, **kwargs):
    return http.request("GET", http_server.url_for("/api"), what="items page 3", **kwargs)


def status(code: int, headers: dict[str, str] | None = None) -> Response:
    return Response('{"errors": [{"message": "try later"}]}', code, headers or {})


# --- retries and waits -----------------------------------------------------------------------


def test_5xx_burst_is_retried_with_growing_full_jitter_backoff(
    http_server, serve, monkeypatch, caplog
):
    monkeypatch.setattr("pipelines.net.retry.random.uniform", lambda low, high: high)  # the ceiling
    seen = serve(status(500), status(502), status(503), OK)
    http, stats, sleeps = client()

    with caplog.at_level(logging.WARNING):
        response = get(http, http_server)

    assert response.status == 200
    assert len(seen) == 4
    assert (stats.api_calls, stats.retries, stats.throttle_waits) == (1, 3, 0)
    assert sleeps == pytest.approx([0.1, 0.2, 0.4])  # factor × 2^(n-1), jittered below that
    assert [r.getMessage() for r in caplog.records] == [
        "fake items page 3: HTTP 500; retry in 0.10 s",
        "fake items page 3: HTTP 502; retry in 0.20 s",
        "fake items page 3: HTTP 503; retry in 0.40 s",
    ]


def test_full_jitter_draws_between_zero_and_the_step(http_server, serve, monkeypatch):
    bounds: list[tuple[float, float]] = []
    monkeypatch.setattr(
        "pipelines.net.retry.random.uniform", lambda low, high: bounds.append((low, high)) or 0.0
    )
    serve(status(503), status(503), OK)
    http, _, sleeps = client(backoff_factor=1.0)

    get(http, http_server)

    assert bounds == [(0, 1.0), (0, 2.0)]
    assert sleeps == [0.0, 0.0]


@pytest.mark.parametrize(
    ("retry_after", "waited"),
    [
        (lambda: "2", 2.0),
        (lambda: "0.5", 0.5),  # not in RFC 9110, but some APIs send it: honoured, not refused
        (lambda: formatdate(time.time() + 30, usegmt=True), 30.0),  # an HTTP date
    ],
    ids=["seconds", "fraction", "http-date"],
)
def test_429_honours_retry_after_and_counts_a_throttle_wait(
    http_server, serve, retry_after, waited
):
    serve(status(429, {"Retry-After": retry_after()}), OK)
    http, stats, sleeps = client()

    assert get(http, http_server).status == 200

    assert sleeps == [pytest.approx(waited, abs=1.5)]
    assert (stats.retries, stats.throttle_waits) == (1, 1)
    assert stats.throttle_wait_seconds == pytest.approx(waited, abs=1.5)


def test_429_without_retry_after_backs_off_and_counts_a_throttle_wait(http_server, serve):
    serve(status(429), OK)
    http, stats, sleeps = client()

    assert get(http, http_server).status == 200

    assert len(sleeps) == 1
    assert 0 <= sleeps[0] <= 0.1
    assert (stats.retries, stats.throttle_waits) == (1, 1)


def test_unreadable_retry_after_falls_back_to_backoff(http_server, serve):
    serve(status(503, {"Retry-After": "soon"}), OK)
    http, stats, sleeps = client()

    assert get(http, http_server).status == 200
    assert len(sleeps) == 1
    assert 0 <= sleeps[0] <= 0.1
    assert stats.throttle_waits == 0


def test_retry_after_longer_than_the_call_budget_fails_at_once(http_server, serve):
    seen = serve(status(429, {"Retry-After": "3600"}))
    http, _, sleeps = client()

    with pytest.raises(RetriableProviderError) as raised:
        get(http, http_server)

    assert len(seen) == 1
    assert sleeps == []
    assert str(raised.value) == (
        "429 TOO MANY REQUESTS from fake items page 3: try later (asked to wait 3600 s "
        "(Retry-After), more than the 180 s left of this call's 180 s budget "
        "(pipeline.http_call_budget_seconds))"
    )
    assert raised.value.status == 429


def test_retries_end_with_the_last_status_and_its_message(http_server, serve):
    seen = serve(status(503))
    http, stats, _ = client(max_retries=2)

    with pytest.raises(RetriableProviderError) as raised:
        get(http, http_server)

    assert len(seen) == 3
    assert stats.retries == 2
    assert str(raised.value) == "503 SERVICE UNAVAILABLE from fake items page 3: try later"


def test_a_status_the_caller_expects_is_returned_not_retried(http_server, serve):
    seen = serve(status(429))
    http, stats, sleeps = client()

    assert get(http, http_server, expected=(200, 429)).status == 429
    assert (len(seen), stats.retries, sleeps) == (1, 0, [])


def test_4xx_is_fatal_and_not_retried(http_server, serve):
    seen = serve(status(401))
    http, stats, _ = client()

    with pytest.raises(FatalProviderError) as raised:
        get(http, http_server)

    assert (len(seen), stats.retries, raised.value.status) == (1, 0, 401)


# --- faults without a usable response ----------------------------------------------------------


@pytest.mark.parametrize(
    ("fault", "reason"),
    [
        (reset_connection, "connection broken (ConnectionResetError)"),
        (truncated_body, "connection broken (IncompleteRead)"),
        (slow(0.5, (200, {"ok": True})), "read timeout"),
    ],
    ids=["reset", "truncated-body", "read-timeout"],
)
def test_a_fault_without_response_is_retried(http_server, serve, caplog, fault, reason):
    serve(fault, OK)
    http, stats, _ = client(timeout=(1.0, 0.3))

    with caplog.at_level(logging.WARNING, logger="pipeline.http.fake"):
        assert get(http, http_server).json("test") == {"ok": True}

    assert stats.retries == 1
    assert f"fake items page 3: {reason}; retry in" in caplog.text


def test_unreachable_host_fails_clearly_after_retries(http_server):
    closed = socket.socket()
    closed.bind(("127.0.0.1", 0))
    port = closed.getsockname()[1]
    closed.close()  # nothing listens there now
    http, stats, sleeps = client(max_retries=2)

    with pytest.raises(ProviderUnreachableError) as raised:
        http.request("GET", f"http://127.0.0.1:{port}/api", what="items page 3")

    assert str(raised.value) == "fake items page 3: 127.0.0.1 unreachable (cannot connect)"
    assert (stats.retries, len(sleeps)) == (2, 2)


# --- run budget and circuit breaker --------------------------------------------------------------


def test_retry_budget_is_shared_by_the_clients_of_a_run(http_server, serve):
    budget = RetryBudget(2)
    first, first_stats, _ = client(retry_budget=budget)
    second, second_stats, _ = client(retry_budget=budget)
    serve(status(503), status(503), OK)
    assert get(first, http_server).status == 200

    seen = serve(status(503), OK)
    with pytest.raises(RetriableProviderError) as raised:
        get(second, http_server)

    assert (first_stats.retries, second_stats.retries, len(seen)) == (2, 0, 1)
    assert budget.spent == 2
    assert str(raised.value).endswith(
        "(the run's retry budget of 2 is spent (pipeline.http_retry_budget))"
    )


def test_breaker_opens_after_k_consecutive_failures_and_stops_calls(http_server, serve, caplog):
    seen = serve(status(503))
    http, stats, _ = client(max_retries=10, breaker_threshold=3)

    with pytest.raises(RetriableProviderError) as raised:
        get(http, http_server)
    with pytest.raises(FatalProviderError) as refused:
        get(http, http_server)

    assert len(seen) == 3  # the second call never left
    assert (stats.retries, stats.breaker_trips, stats.api_calls) == (2, 1, 1)
    assert "circuit breaker open after 3 consecutive failures" in str(raised.value)
    assert str(refused.value) == (
        "fake items page 3: not sent, circuit breaker open after 3 consecutive failures "
        "(last: HTTP 503 on items page 3)"
    )
    assert "no more calls this run" in caplog.text


def test_breaker_counts_failures_in_a_row_only(http_server, serve):
    http, stats, _ = client(breaker_threshold=3)
    for _ in range(3):
        serve(status(502), status(500), OK)
        assert get(http, http_server).status == 200

    assert (stats.retries, stats.breaker_trips) == (6, 0)


def test_throttling_is_no_breaker_failure(http_server, serve):
    serve(status(429), status(429), status(429), OK)
    http, stats, _ = client(breaker_threshold=2)

    assert get(http, http_server).status == 200
    assert (stats.retries, stats.breaker_trips) == (3, 0)


def test_timeouts_count_towards_the_breaker(http_server, serve):
    serve(slow(0.5, (200, {"ok": True})))
    http, stats, _ = client(timeout=(1.0, 0.2), max_retries=5, breaker_threshold=2)

    with pytest.raises(ProviderUnreachableError) as raised:
        get(http, http_server)

    assert str(raised.value) == (
        "fake items page 3: 127.0.0.1 unreachable (read timeout); circuit breaker open "
        "after 2 consecutive failures (last: read timeout on items page 3)"
    )
    assert (stats.retries, stats.breaker_trips) == (1, 1)
