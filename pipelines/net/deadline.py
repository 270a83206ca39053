"""Total deadlines for HTTP calls: connect, headers and body together, not per socket read.

A socket read time-out restarts with every byte, so a server that trickles one byte every few
seconds never trips it. Here every attempt of a call gets a ``Deadline``: the connection that
sends the attempt arms a timer, and when it fires the socket is shut down, which ends any read
blocked on it (status line, headers or body) at once. The body is read in chunks against the
same deadline and a size cap (``read_capped``). An attempt that passed its deadline is not
retried: the server answered too slowly once, and each retry would wait as long again.

``DeadlineAdapter`` mounts the deadline-aware connections on a ``requests`` session;
``use_deadlines`` does the same for a vendor library's own urllib3 pool (the Amazon wrapper).
A run's ``--max-duration`` reaches every call as ``stop_at``: no attempt outlives it.
"""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from typing import Any

from requests.adapters import HTTPAdapter
from urllib3 import HTTPConnectionPool, HTTPSConnectionPool, PoolManager
from urllib3.connection import HTTPConnection, HTTPSConnection

from pipelines.errors import FatalProviderError, RetriableProviderError

CHUNK_BYTES = 64 * 1024
_active = threading.local()  # the Deadline of the call under way in this thread


@dataclass(frozen=True)
class HttpLimits:
    """How long and how large one provider's calls may be (``[pipeline]`` settings).

    ``stop_at`` is the run's end as a ``time.monotonic()`` value (``--max-duration``), or None.
    """

    deadline: float = 120.0
    max_body_bytes: int | None = 64_000_000
    call_budget: float = 180.0
    download_deadline: float = 3600.0
    stop_at: float | None = None

    def call_deadline(self) -> Deadline:
        """A fresh deadline for one call."""
        return Deadline(self.deadline, self.stop_at)

    def download(self) -> Deadline:
        """A fresh deadline for one streamed download."""
        why = f"the {self.download_deadline:g} s deadline (pipeline.http_download_deadline_seconds)"
        return Deadline(self.download_deadline, self.stop_at, why)


class DeadlineExceededError(RetriableProviderError):
    """A call had no complete response within its deadline (or the run's --max-duration)."""


class BodyTooLargeError(FatalProviderError):
    """A response body passed the configured cap."""


class Deadline:
    """The time limit of one call's attempts: ``seconds`` each, never past ``stop_at``.

    ``stop_at`` (a ``time.monotonic()`` value) is the run's end (``--max-duration``), or None.
    """

    def __init__(self, seconds: float, stop_at: float | None = None, why: str = "") -> None:
        self.seconds, self.stop_at = seconds, stop_at
        self.why = why or f"the {seconds:g} s deadline (pipeline.http_deadline_seconds)"
        self.expires = self._next_expiry()
        self.expired = False
        self._timer: threading.Timer | None = None
        self._lock = threading.Lock()

    def _next_expiry(self) -> float:
        expires = time.monotonic() + self.seconds
        return expires if self.stop_at is None else min(expires, self.stop_at)

    @property
    def run_over(self) -> bool:
        """True once the run's ``--max-duration`` has passed."""
        return self.stop_at is not None and time.monotonic() >= self.stop_at

    def reason(self) -> str:
        """What was exceeded, in words."""
        return "the run's --max-duration" if self.run_over else self.why

    def exceeded(self) -> DeadlineExceededError:
        """The error for an attempt that passed this deadline."""
        self.expired = True
        return DeadlineExceededError(f"no complete response within {self.reason()}")

    def attempt(self, conn: HTTPConnection) -> None:
        """A new attempt on ``conn``: its own ``seconds`` from now, its socket watched."""
        self.cancel()
        with self._lock:
            self.expires = self._next_expiry()
            if self.expires <= time.monotonic():
                raise self.exceeded()
            self._timer = threading.Timer(self.expires - time.monotonic(), self._fire, (conn,))
            self._timer.daemon = True
            self._timer.start()

    def _fire(self, conn: HTTPConnection) -> None:
        with self._lock:
            self.expired = True
            # ``sock`` is None once http.client hands a close-delimited body to the response.
            sock = getattr(conn, "watched_sock", None) or getattr(conn, "sock", None)
        if sock is not None:
            with suppress(OSError):  # already closed: nothing left to interrupt
                sock.shutdown(socket.SHUT_RDWR)

    def check(self) -> None:
        """Raise once the deadline has passed (between body chunks)."""
        if self.expired or time.monotonic() >= self.expires:
            raise self.exceeded()

    def cancel(self) -> None:
        """Stop watching the current attempt."""
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None


@contextmanager
def deadline_scope(deadline: Deadline) -> Iterator[Deadline]:
    """Make ``deadline`` the one every connection in this thread arms, until the block ends."""
    previous = getattr(_active, "deadline", None)
    _active.deadline = deadline
    try:
        yield deadline
    finally:
        deadline.cancel()
        _active.deadline = previous


def active_deadline() -> Deadline | None:
    """The deadline of the call under way in this thread, if any."""
    return getattr(_active, "deadline", None)


class _Watched:
    """Mixin for urllib3 connections: every request (each attempt) arms the active deadline."""

    watched_sock: socket.socket | None = None

    def connect(self) -> None:
        super().connect()  # type: ignore[misc]
        self.watched_sock = self.sock  # type: ignore[attr-defined]

    def request(self, *args: Any, **kwargs: Any) -> None:
        deadline = active_deadline()
        if deadline is not None:
            deadline.attempt(self)  # type: ignore[arg-type]
        super().request(*args, **kwargs)  # type: ignore[misc]


class WatchedHTTPConnection(_Watched, HTTPConnection):
    pass


class WatchedHTTPSConnection(_Watched, HTTPSConnection):
    pass


class _WatchedPool(HTTPConnectionPool):
    ConnectionCls = WatchedHTTPConnection


class _WatchedHTTPSPool(HTTPSConnectionPool):
    ConnectionCls = WatchedHTTPSConnection


def use_deadlines(pool: PoolManager) -> None:
    """Make ``pool`` build connections that obey the active deadline (before its first call)."""
    pool.pool_classes_by_scheme = {"http": _WatchedPool, "https": _WatchedHTTPSPool}


class DeadlineAdapter(HTTPAdapter):
    """A ``requests`` adapter whose connections obey the active deadline."""

    def init_poolmanager(self, *args: Any, **kwargs: Any) -> None:
        super().init_poolmanager(*args, **kwargs)
        use_deadlines(self.poolmanager)


def read_capped(raw: Any, deadline: Deadline, max_bytes: int | None) -> bytes:
    """The body of a streamed urllib3 response, read in chunks against the deadline and cap.

    ``max_bytes`` None: no cap (the caller streams, and holds one chunk at a time).
    """
    length = raw.headers.get("Content-Length", "")
    if max_bytes is not None and length.isdigit() and int(length) > max_bytes:
        raise BodyTooLargeError(f"Content-Length {int(length)} bytes is over {_mb(max_bytes)}")
    parts, size = [], 0
    for chunk in iter_chunks(raw, deadline):
        size += len(chunk)
        if max_bytes is not None and size > max_bytes:
            raise BodyTooLargeError(f"body passed {_mb(max_bytes)} and was not read further")
        parts.append(chunk)
    return b"".join(parts)


def iter_chunks(raw: Any, deadline: Deadline) -> Iterator[bytes]:
    """Decoded body chunks as they arrive (``read1``: never waits for a full chunk)."""
    while True:
        deadline.check()
        chunk = raw.read1(CHUNK_BYTES, decode_content=True)
        if not chunk:
            deadline.check()  # a shut-down socket also ends in an empty read
            return
        yield chunk


def _mb(max_bytes: int) -> str:
    return f"the {max_bytes / 1_000_000:g} MB cap (pipeline.http_max_body_mb)"
