"""How a failed call is retried: urllib3 ``Retry`` with full jitter and ``Retry-After``, the
run-wide retry budget and the per-provider circuit breaker. Apart from ``http.py``, which holds the
client that applies this policy (to its own pool and, through it, to a vendor's urllib3 pool).
"""

from __future__ import annotations

import logging
import math
import random
import threading
import time
from collections.abc import Callable, Collection
from typing import Any

from urllib3.exceptions import (
    ConnectTimeoutError,
    InvalidHeader,
    MaxRetryError,
    NewConnectionError,
    ProtocolError,
    ReadTimeoutError,
    ResponseError,
)
from urllib3.util.retry import Retry

from pipelines.errors import FatalProviderError
from pipelines.net.deadline import active_deadline
from pipelines.net.stats import ProviderStats

RETRY_STATUSES = frozenset({429, 500, 502, 503, 504})
THROTTLE_STATUS = 429  # a request to slow down: waited out, but not a breaker failure
# What one call's attempts and waits may take together: a longer Retry-After (a daily quota
# spent, say) fails the call at once instead of stalling the run.
DEFAULT_CALL_BUDGET_SECONDS = 180.0

# Each retry is logged below with the provider and the call; urllib3's own line would repeat it
# without the run id.
logging.getLogger("urllib3.connectionpool").setLevel(logging.ERROR)


class RetryBudget:
    """Retries left for a whole run, shared by the HTTP clients of all its providers.

    ``None`` means unlimited (single-purpose clients outside a run).
    """

    def __init__(self, total: int | None = None) -> None:
        self.total = total
        self.spent = 0
        self._lock = threading.Lock()

    def take(self) -> bool:
        """Spend one retry; False when none is left."""
        with self._lock:
            if self.total is not None and self.spent >= self.total:
                return False
            self.spent += 1
            return True

    def __str__(self) -> str:
        return f"the run's retry budget of {self.total} is spent (pipeline.http_retry_budget)"


class CallGuard:
    """One provider's retry bookkeeping: log lines, counters, the run's budget, the breaker.

    The breaker counts consecutive failed attempts (connection errors, time-outs, 5xx; not
    429, which asks to slow down); after ``breaker_threshold`` of them (0: never) the
    provider makes no further call this run. Any other response closes the count.
    """

    def __init__(
        self, provider: str, stats: ProviderStats, log: logging.Logger | logging.LoggerAdapter,
        budget: RetryBudget, breaker_threshold: int, sleep: Callable[[float], None],
        call_budget: float = DEFAULT_CALL_BUDGET_SECONDS,
    ) -> None:  # fmt: skip
        self.provider, self.stats, self.log = provider, stats, log
        self.budget, self.breaker_threshold, self.sleep = budget, breaker_threshold, sleep
        self.call_budget = call_budget
        self.started, self.waited = time.monotonic(), 0.0
        self.failures = 0
        self.tripped: str | None = None  # why the breaker opened, once it has
        self.what = "call"  # the call under way, for log lines
        self.handled: frozenset[int] = frozenset()  # statuses the caller handles itself
        self.stop: str | None = None  # why the call under way was not retried further

    def start(self, what: str, handled: Collection[int] = ()) -> None:
        """Begin a call; refuse it when the breaker is open."""
        if self.tripped:
            raise FatalProviderError(f"{self.provider} {what}: not sent, {self.tripped}")
        self.what, self.handled, self.stop = what, frozenset(handled), None
        self.started, self.waited = time.monotonic(), 0.0

    def succeeded(self) -> None:
        """A response that is no failure: the consecutive count starts again."""
        self.failures = 0

    def failed(self, reason: str) -> None:
        """Count a failed attempt; open the breaker at the threshold."""
        self.failures += 1
        if self.tripped or not 0 < self.breaker_threshold <= self.failures:
            return
        self.tripped = (
            f"circuit breaker open after {self.failures} consecutive failures "
            f"(last: {reason} on {self.what})"
        )
        self.stats.breaker_trips += 1
        self.log.error("%s: %s; no more calls this run", self.provider, self.tripped)

    def refuse_retry(self, retry_after: float | None) -> str | None:
        """Why the failed attempt gets no retry (breaker, deadline, time, budget), or None."""
        deadline = active_deadline()
        if self.tripped:
            self.stop = self.tripped
        elif deadline is not None and deadline.expired:
            self.stop = f"no complete response within {deadline.reason()}; not retried"
        elif retry_after is not None and (late := self.too_long(retry_after)):
            self.stop = f"asked to wait {retry_after:g} s (Retry-After), {late}"
        elif late := self.too_long(0.0):
            self.stop = late
        elif not self.budget.take():
            self.stop = str(self.budget)
            self.log.warning("%s %s: not retried, %s", self.provider, self.what, self.stop)
        return self.stop

    def too_long(self, wait: float) -> str | None:
        """Why waiting ``wait`` more seconds would break this call's time budget, or None."""
        # The waits count even when ``sleep`` does not really sleep (tests).
        used = max(time.monotonic() - self.started, self.waited)
        left = self.call_budget - used
        if wait >= left:
            return (
                f"more than the {max(left, 0.0):.3g} s left of this call's "
                f"{self.call_budget:g} s budget (pipeline.http_call_budget_seconds)"
            )
        deadline = active_deadline()
        stop_at = deadline.stop_at if deadline is not None else None
        if stop_at is not None and time.monotonic() + wait >= stop_at:
            return "past the run's --max-duration"
        return None

    def wait(self, reason: str, seconds: float, *, throttled: bool) -> None:
        """Log, count and sleep before a retry; ``throttled`` when the server asked for it."""
        self.stats.retries += 1
        self.waited += seconds
        if throttled:
            self.stats.throttle_waits += 1
            self.stats.throttle_wait_seconds += seconds
        self.log.warning("%s %s: %s; retry in %.2f s%s", self.provider, self.what, reason,
                         seconds, " (throttled)" if throttled else "")  # fmt: skip
        self.sleep(seconds)


class GuardedRetry(Retry):
    """urllib3 ``Retry`` with full jitter, a lenient ``Retry-After`` and a ``CallGuard``."""

    guard: CallGuard
    reason = ""

    def new(self, **kw: Any) -> GuardedRetry:
        retry = super().new(**kw)
        retry.guard = self.guard
        return retry

    def is_retry(self, method: str, status_code: int, has_retry_after: bool = False) -> bool:
        # A status the caller expects (GitHub's 403 rate limit, Shopify's THROTTLED 429) is its own.
        if status_code in self.guard.handled:
            return False
        return super().is_retry(method, status_code, has_retry_after)

    def increment(
        self, method: str | None = None, url: str | None = None, response: Any = None,
        error: Exception | None = None, _pool: Any = None, _stacktrace: Any = None,
    ) -> GuardedRetry:  # fmt: skip
        reason = f"HTTP {response.status}" if response is not None else describe_failure(error)
        if response is None or response.status != THROTTLE_STATUS:
            self.guard.failed(reason)
        retry = super().increment(method, url, response, error, _pool, _stacktrace)
        retry_after = self.get_retry_after(response) if response is not None else None
        stop = self.guard.refuse_retry(retry_after)
        if stop:
            raise MaxRetryError(_pool, url, error or ResponseError(stop))  # type: ignore[arg-type]
        retry.reason = reason
        return retry

    def sleep(self, response: Any = None) -> None:
        asked = self.get_retry_after(response) if response is not None else None
        throttled = asked is not None or getattr(response, "status", None) == THROTTLE_STATUS
        seconds = asked if asked is not None else self.get_backoff_time()
        self.guard.wait(self.reason, seconds, throttled=throttled)

    def get_backoff_time(self) -> float:
        """Full jitter (AWS architecture blog): uniform(0, min(cap, factor × 2^(n-1)))."""
        attempts = len(self.history)
        if attempts == 0:
            return 0.0
        return random.uniform(0, min(self.backoff_max, self.backoff_factor * 2 ** (attempts - 1)))

    def get_retry_after(self, response: Any) -> float | None:
        """Seconds from ``Retry-After`` (whole, fractional or an HTTP date); None if unreadable."""
        value = response.headers.get("Retry-After")
        if value is None:
            return None
        try:
            seconds = float(value)
        except ValueError:
            try:
                return self.parse_retry_after(value)
            except InvalidHeader:
                return None
        return None if math.isnan(seconds) else max(seconds, 0.0)


def describe_failure(error: Exception | None) -> str:
    """A few words for a failed attempt without a response ("read timeout")."""
    if isinstance(error, ReadTimeoutError):
        return "read timeout"
    if isinstance(error, NewConnectionError):  # a subclass of ConnectTimeoutError in urllib3 2
        return "cannot connect"
    if isinstance(error, ConnectTimeoutError):
        return "connect timeout"
    if isinstance(error, ProtocolError):
        inner = error.args[-1] if error.args else None
        name = type(inner).__name__ if isinstance(inner, Exception) else "ProtocolError"
        return f"connection broken ({name})"
    return type(error).__name__ if error is not None else "unknown failure"
