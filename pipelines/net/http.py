"""The one HTTP layer every provider uses.

Timeouts on every call; retries with exponential backoff and full jitter on
connection errors, timeouts, 429 and 5xx, honouring ``Retry-After`` (urllib3's
``Retry`` decides and waits, in the connection pool); a retry budget shared by
every provider of a run; a circuit breaker per provider; an optional response
cache; call, retry, throttle and breaker counters for the run log; and one place
that turns a failed response into an error message that names the provider,
what was asked and why it failed.

A vendor library with its own urllib3 pool (the Amazon wrapper) is handed
``HttpClient.retry_policy()``, so its calls obey the same budget, breaker and
counters.
"""

from __future__ import annotations

import ipaddress
import json
import logging
import math
import random
import threading
import time
from collections.abc import Callable, Collection, Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

import requests
from requests.adapters import HTTPAdapter
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

from pipelines.errors import ConfigError, FatalProviderError, ProviderError, RetriableProviderError
from pipelines.net.cache import ResponseCache, cache_key
from pipelines.net.secrets import mask
from pipelines.net.stats import ProviderStats

RETRY_STATUSES = frozenset({429, 500, 502, 503, 504})
THROTTLE_STATUS = 429  # a request to slow down: waited out, but not a breaker failure
DEFAULT_TIMEOUT = (5.0, 30.0)
DEFAULT_MAX_RETRIES = 4
DEFAULT_BACKOFF_FACTOR = 0.5
DEFAULT_BACKOFF_MAX = 30.0
DEFAULT_BREAKER_THRESHOLD = 5
# A longer Retry-After (a daily quota spent, say) fails the call instead of stalling the run.
MAX_RETRY_AFTER_SECONDS = 120.0
# Left out of cache keys, so that a refreshed token still finds the cached pages.
CREDENTIAL_HEADERS = frozenset({"authorization", "x-shopify-access-token", "cookie", "x-api-key"})
USER_AGENT = "product-pipeline/1.0 (+https://github.com/)"

# Each retry is logged below with the provider and the call; urllib3's own line would repeat it
# without the run id.
logging.getLogger("urllib3.connectionpool").setLevel(logging.ERROR)


class ProviderUnreachableError(RetriableProviderError):
    """No usable response at all: connection refused or reset, time-out, broken body."""


def check_endpoint(env_name: str, url: str) -> str:
    """Validate an endpoint override: https anywhere, plain http only on loopback hosts."""
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ConfigError(f"{env_name}: {url!r} is not an http(s) URL")
    if parts.scheme == "http" and not _is_loopback(parts.hostname):
        raise ConfigError(
            f"{env_name}: plain http is only allowed for loopback hosts (127.0.0.1, ::1, "
            f"localhost); use https for {parts.hostname}"
        )
    return url.rstrip("/")


def _is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


@dataclass(frozen=True)
class HttpResponse:
    """A response as the providers see it, whether live or from the cache."""

    status: int
    headers: Mapping[str, str]
    body: bytes

    def json(self, what: str) -> Any:
        """The body parsed as JSON, or a ``FatalProviderError`` naming ``what``."""
        try:
            return json.loads(self.body)
        except ValueError as exc:
            snippet = self.body[:80].decode("utf-8", "replace")
            raise FatalProviderError(
                f"{what}: response is not valid JSON ({exc.msg} at byte {exc.pos}): {snippet!r}"
            ) from exc


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
    ) -> None:  # fmt: skip
        self.provider, self.stats, self.log = provider, stats, log
        self.budget, self.breaker_threshold, self.sleep = budget, breaker_threshold, sleep
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
        """Why the failed attempt gets no retry (breaker, long Retry-After, budget), or None."""
        if self.tripped:
            self.stop = self.tripped
        elif retry_after is not None and retry_after > MAX_RETRY_AFTER_SECONDS:
            self.stop = (
                f"asked to wait {retry_after:.0f} s (Retry-After), more than the "
                f"{MAX_RETRY_AFTER_SECONDS:.0f} s a run waits"
            )
        elif not self.budget.take():
            self.stop = str(self.budget)
            self.log.warning("%s %s: not retried, %s", self.provider, self.what, self.stop)
        return self.stop

    def wait(self, reason: str, seconds: float, *, throttled: bool) -> None:
        """Log, count and sleep before a retry; ``throttled`` when the server asked for it."""
        self.stats.retries += 1
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


class HttpClient:
    """A ``requests`` session bound to one provider's counters, cache, budget and breaker."""

    def __init__(
        self,
        provider: str,
        stats: ProviderStats,
        *,
        timeout: tuple[float, float] = DEFAULT_TIMEOUT,
        max_retries: int = DEFAULT_MAX_RETRIES,
        backoff_factor: float = DEFAULT_BACKOFF_FACTOR,
        cache: ResponseCache | None = None,
        log: logging.Logger | logging.LoggerAdapter | None = None,
        retry_budget: RetryBudget | None = None,
        breaker_threshold: int = DEFAULT_BREAKER_THRESHOLD,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.provider = provider
        self.stats = stats
        self.timeout = timeout
        self.cache = cache
        self.log = log or logging.getLogger(f"pipeline.http.{provider}")
        budget = retry_budget or RetryBudget()
        self.guard = CallGuard(provider, stats, self.log, budget, breaker_threshold, sleep)
        self.retry = GuardedRetry(
            total=max_retries,
            backoff_factor=backoff_factor,
            backoff_max=DEFAULT_BACKOFF_MAX,
            status_forcelist=RETRY_STATUSES,
            allowed_methods=None,  # GraphQL reads are POSTs and are safe to repeat
            respect_retry_after_header=True,
            raise_on_status=False,
        )
        self.retry.guard = self.guard
        self.session = requests.Session()
        self.session.headers["User-Agent"] = USER_AGENT
        adapter = HTTPAdapter(max_retries=self.retry)
        self.session.mount("http://", adapter)
        self.session.mount("https://", adapter)

    def retry_policy(self, total: int | None = None) -> Retry:
        """This client's retry policy (optionally another per-call count) for a vendor's pool."""
        return self.retry if total is None else self.retry.new(total=total)

    def request(
        self,
        method: str,
        url: str,
        *,
        what: str,
        params: Mapping[str, Any] | None = None,
        json_body: Any = None,
        data: Mapping[str, str] | None = None,
        headers: Mapping[str, str] | None = None,
        auth: Any = None,
        cacheable: bool = False,
        expected: tuple[int, ...] = (200,),
    ) -> HttpResponse:
        """Send one request (with retries) and return it, or raise a provider error.

        ``what`` names the call in messages ("products page 4"). ``cacheable``
        data calls are served from and stored in the response cache. A status in
        ``expected`` is returned as is, never retried: the caller handles it.
        """
        key = None
        if cacheable and self.cache:
            vary = {k: v for k, v in (headers or {}).items() if k.lower() not in CREDENTIAL_HEADERS}
            key = cache_key(method, url, params, json_body, data, vary)
        if key is not None:
            cached = self.cache.get(key)
            if cached is not None:
                self.stats.cache_hits += 1
                return HttpResponse(cached["status"], cached["headers"], cached["body"].encode())
        self.guard.start(what, expected)
        self.stats.api_calls += 1
        kwargs = {"params": params, "json": json_body, "data": data, "headers": headers}
        raw = self._send(method, url, what, auth=auth, **kwargs)
        if raw.status_code not in RETRY_STATUSES:
            self.guard.succeeded()
        response = HttpResponse(raw.status_code, dict(raw.headers), raw.content)
        if raw.status_code not in expected:
            raise self.status_error(response, what, raw.reason)
        if key is not None and response.status == 200 and not _reports_errors(response.body):
            content_type = response.headers.get("Content-Type", "")
            body = response.body.decode("utf-8", "replace")
            self.cache.put(key, {"status": 200, "headers": {"Content-Type": content_type},
                                 "body": body})  # fmt: skip
        return response

    def _send(self, method: str, url: str, what: str, **kwargs: Any) -> requests.Response:
        """The adapter retries until a response arrives; a body that then breaks off is sent again.

        (urllib3 reads the body after its retry loop, so that case needs this one.)
        """
        retry = self.retry
        while True:
            try:
                return self.session.request(method, url, timeout=self.timeout, **kwargs)
            except requests.RequestException as exc:
                broken = _broken_body(exc)
                if broken is None:
                    raise self._unreachable(exc, url, what) from None
                try:
                    retry = retry.increment(method, url, error=broken)
                except MaxRetryError:
                    raise self._unreachable(exc, url, what) from None
                retry.sleep()

    def _unreachable(self, exc: requests.RequestException, url: str, what: str) -> ProviderError:
        cause = exc.args[0] if exc.args and isinstance(exc.args[0], Exception) else exc
        if isinstance(cause, MaxRetryError) and cause.reason is not None:
            cause = cause.reason
        host = urlsplit(url).hostname
        message = f"{self.provider} {what}: {host} unreachable ({describe_failure(cause)})"
        if self.guard.stop:
            message += f"; {self.guard.stop}"
        return ProviderUnreachableError(mask(message))

    def status_error(
        self, response: HttpResponse, what: str, reason: str = ""
    ) -> RetriableProviderError | FatalProviderError:
        """The error for a failed response: retriable for 429/5xx, fatal for the rest."""
        error_class = (
            RetriableProviderError if response.status in RETRY_STATUSES else FatalProviderError
        )
        detail = error_detail(response.body)
        message = f"{response.status} {reason} from {self.provider} {what}".replace("  ", " ")
        message = f"{message}: {detail}" if detail else message
        if self.guard.stop:
            message += f" ({self.guard.stop})"
        error = error_class(mask(message))
        error.status = response.status
        return error


def _broken_body(exc: requests.RequestException) -> Exception | None:
    """The urllib3 error when a response began but its body broke off or stalled, else None."""
    cause = exc.args[0] if exc.args else None
    if isinstance(exc, requests.exceptions.ChunkedEncodingError):
        return cause if isinstance(cause, ProtocolError) else ProtocolError(str(exc))
    if isinstance(exc, requests.ConnectionError) and isinstance(cause, ReadTimeoutError):
        return cause
    return None


def _reports_errors(body: bytes) -> bool:
    """A 200 whose JSON carries top-level ``errors`` (GraphQL THROTTLED, say) is not cached."""
    payload = _json_or_none(body)
    return isinstance(payload, dict) and bool(payload.get("errors"))


def _json_or_none(body: bytes) -> Any:
    try:
        return json.loads(body)
    except ValueError:
        return None


def error_detail(body: bytes, limit: int = 300) -> str:
    """The human part of an error body: `errors[].message`, `error_description`, or text."""
    payload = _json_or_none(body)
    if payload is None:
        return body[:limit].decode("utf-8", "replace").strip()
    if isinstance(payload, dict):
        errors = payload.get("errors")
        if isinstance(errors, list) and errors:
            return "; ".join(_error_message(e) for e in errors)[:limit]
        for key in ("error_description", "message", "error", "errors"):
            if payload.get(key):
                return str(payload[key])[:limit]
    return json.dumps(payload)[:limit]


def _error_message(error: Any) -> str:
    if isinstance(error, dict):
        return str(error.get("longMessage") or error.get("message") or error)
    return str(error)
