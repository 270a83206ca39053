"""The one HTTP layer every provider uses.

Timeouts on every call; retries with exponential backoff and full jitter on
connection errors, timeouts, 429 and 5xx, honouring ``Retry-After`` (urllib3's
``Retry`` decides and waits, in the connection pool); a retry budget shared by
every provider of a run; a circuit breaker per provider; an optional response
cache; redirects followed only within one origin, so credentials never reach
another host (``pipelines.net.redirects``); call, retry, throttle and breaker
counters for the run log; and one place that turns a failed response into an
error message that names the provider, what was asked and why it failed.

A vendor library with its own urllib3 pool (the Amazon wrapper) is handed
``HttpClient.retry_policy()``, so its calls obey the same budget, breaker and
counters. That policy (``GuardedRetry``), the ``RetryBudget`` and the breaker
(``CallGuard``) live in ``pipelines.net.retry``; this module holds the client.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

import requests
from urllib3.exceptions import HTTPError, MaxRetryError, ProtocolError, ReadTimeoutError
from urllib3.util.retry import Retry

from pipelines.errors import FatalProviderError, ProviderError, RetriableProviderError
from pipelines.net import strict_json
from pipelines.net.budget import CallBudget
from pipelines.net.cache import ResponseCache, cache_key
from pipelines.net.deadline import (
    CHUNK_BYTES,
    BodyTooLargeError,
    Deadline,
    DeadlineAdapter,
    DeadlineExceededError,
    HttpLimits,
    deadline_scope,
    read_capped,
)
from pipelines.net.redact import error_summary
from pipelines.net.redirects import OriginBoundSession
from pipelines.net.retry import (
    RETRY_STATUSES,
    CallGuard,
    GuardedRetry,
    RetryBudget,
    describe_failure,
)
from pipelines.net.secrets import mask
from pipelines.net.stats import ProviderStats

DEFAULT_TIMEOUT = (5.0, 30.0)
DEFAULT_MAX_RETRIES = 4
DEFAULT_BACKOFF_FACTOR = 0.5
DEFAULT_BACKOFF_MAX = 30.0
DEFAULT_BREAKER_THRESHOLD = 5
# Left out of cache keys, so that a refreshed token still finds the cached pages.
CREDENTIAL_HEADERS = frozenset({"authorization", "x-shopify-access-token", "cookie", "x-api-key"})
USER_AGENT = "product-pipeline/1.0 (+https://github.com/)"


class ProviderUnreachableError(RetriableProviderError):
    """No usable response at all: connection refused or reset, time-out, broken body."""


@dataclass(frozen=True)
class HttpResponse:
    """A response as the providers see it, whether live or from the cache."""

    status: int
    headers: Mapping[str, str]
    body: bytes

    def json(self, what: str) -> Any:
        """The body parsed as JSON, or a ``FatalProviderError`` naming ``what``.

        ``NaN``, ``Infinity`` and out-of-range numbers come back as ``InvalidNumber``
        (``pipelines.net.strict_json``): kept as sent, never turned into a float or null.
        """
        try:
            return strict_json.loads(self.body)
        except ValueError as exc:
            snippet = mask(self.body[:80].decode("utf-8", "replace"))
            raise FatalProviderError(
                f"{what}: response is not valid JSON ({exc.msg} at byte {exc.pos}): {snippet!r}"
            ) from exc


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
        limits: HttpLimits | None = None,
        budget: CallBudget | None = None,
    ) -> None:
        self.provider = provider
        self.budget = budget
        self.limits = limits or HttpLimits()
        self.stats = stats
        self.timeout = timeout
        self.cache = cache
        self.log = log or logging.getLogger(f"pipeline.http.{provider}")
        budget = retry_budget or RetryBudget()
        self.guard = CallGuard(provider, stats, self.log, budget, breaker_threshold, sleep,
                               self.limits.call_budget)  # fmt: skip
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
        self.session = OriginBoundSession(provider)  # same-origin redirects only
        self.session.headers["User-Agent"] = USER_AGENT
        adapter = DeadlineAdapter(max_retries=self.retry)
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
            cached = self.cache.get_response(key)
            if cached is not None:
                self.stats.cache_hits += 1
                self.log_call(method, url, cached["status"], 0.0, cache="hit")
                return HttpResponse(cached["status"], cached["headers"], cached["body"].encode())
        self.charge(what)
        self.guard.start(what, expected)
        self.stats.api_calls += 1
        kwargs = {"params": params, "json": json_body, "data": data, "headers": headers}
        started = time.monotonic()
        raw, body = self._send(method, url, what, auth=auth, **kwargs)
        self.log_call(method, url, raw.status_code, time.monotonic() - started,
                      cache="miss" if key is not None else "off")  # fmt: skip
        if raw.status_code not in RETRY_STATUSES:
            self.guard.succeeded()
        response = HttpResponse(raw.status_code, dict(raw.headers), body)
        if raw.status_code not in expected:
            raise self.status_error(response, what, raw.reason)
        if key is not None and response.status == 200 and not _reports_errors(response.body):
            content_type = response.headers.get("Content-Type", "")
            body = response.body.decode("utf-8", "replace")
            self.cache.put(key, {"status": 200, "headers": {"Content-Type": content_type},
                                 "body": body})  # fmt: skip
        return response

    def log_call(self, method: str, url: str, status: int, seconds: float, *, cache: str) -> None:
        """``--verbose``: one debug line per call: method, host, path (never the query, which
        may carry a key or a signature), status, duration (retries included), cache use."""
        if self.log.isEnabledFor(logging.DEBUG):
            parts = urlsplit(url)
            host = parts.hostname or "?"
            host = f"{host}:{parts.port}" if parts.port else host
            line = f"{method} {host}{parts.path} -> {status} in {seconds * 1000:.0f} ms"
            self.log.debug("%s", mask(f"{line}, cache {cache}"))

    def charge(self, what: str) -> None:
        """Count one call against the daily budget; ``BudgetExhaustedError`` when it is spent."""
        if self.budget is not None:
            self.budget.charge(what)

    def _send(
        self, method: str, url: str, what: str, **kwargs: Any
    ) -> tuple[requests.Response, bytes]:
        """The adapter retries until a response arrives; a body that then breaks off is sent again.

        (urllib3 reads the body after its retry loop, so that case needs this one.) Every
        attempt runs against the call's deadline, and its body is read under the size cap.
        """
        retry = self.retry
        with deadline_scope(self.limits.call_deadline()) as deadline:
            while True:
                try:
                    return self._attempt(method, url, deadline, **kwargs)
                except (requests.RequestException, HTTPError) as exc:
                    broken = None if deadline.expired else _broken_body(exc)
                    if broken is None:
                        raise self._unreachable(exc, url, what, deadline) from None
                    try:
                        retry = retry.increment(method, url, error=broken)
                    except MaxRetryError:
                        raise self._unreachable(exc, url, what, deadline) from None
                    retry.sleep()
                except (DeadlineExceededError, BodyTooLargeError) as exc:
                    raise self.limit_error(exc, url, what) from None

    def _attempt(
        self, method: str, url: str, deadline: Deadline, **kwargs: Any
    ) -> tuple[requests.Response, bytes]:
        deadline.check()  # the run's --max-duration may be over before the call starts
        raw = self.session.request(method, url, timeout=self.timeout, stream=True, **kwargs)
        try:
            body = read_capped(raw.raw, deadline, self.limits.max_body_bytes)
        except BaseException:
            raw.close()  # a body not read to its end: the connection is not reused
            raise
        raw.raw.release_conn()  # read to its end: the connection goes back to the pool
        return raw, body

    def limit_error(self, exc: ProviderError, url: str, what: str) -> ProviderError:
        """``exc`` (a deadline or size limit) as one line naming the provider, call and URL."""
        return type(exc)(mask(f"{self.provider} {what}: {_where(url)}: {exc}"))

    def download_lines(
        self, url: str, what: str, check_status: Callable[[int], None]
    ) -> Iterator[bytes]:
        """Stream a large file's lines (a bulk JSONL result) without holding it in memory.

        No size cap, but the download deadline holds; no retries here (the caller retries
        the whole download). ``check_status`` raises for a status the caller refuses;
        ``requests`` errors are the caller's too, as the URL may be signed: ``what`` names
        the download in messages, never the URL.
        """
        session = self._download_session()
        with deadline_scope(self.limits.download()) as deadline:
            try:
                with session.get(url, stream=True, timeout=self.timeout) as raw:
                    check_status(raw.status_code)
                    yield from raw.iter_lines(chunk_size=CHUNK_BYTES)
                    deadline.check()
            except requests.RequestException:
                if deadline.expired:
                    raise _download_too_slow(what, deadline) from None
                raise
            except DeadlineExceededError:
                raise _download_too_slow(what, deadline) from None

    def _download_session(self) -> requests.Session:
        session = requests.Session()
        session.headers["User-Agent"] = USER_AGENT
        session.mount("http://", DeadlineAdapter(max_retries=0))
        session.mount("https://", DeadlineAdapter(max_retries=0))
        return session

    def _unreachable(
        self, exc: Exception, url: str, what: str, deadline: Deadline | None = None
    ) -> ProviderError:
        if deadline is not None and deadline.expired:
            return self.limit_error(deadline.exceeded(), url, what)
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
        detail = error_summary(response.body)
        message = f"{response.status} {reason} from {self.provider} {what}".replace("  ", " ")
        message = f"{message}: {detail}" if detail else message
        if self.guard.stop:
            message += f" ({self.guard.stop})"
        error = error_class(mask(message))
        error.status = response.status
        return error


def _broken_body(exc: Exception) -> Exception | None:
    """The urllib3 error when a response began but its body broke off or stalled, else None."""
    if isinstance(exc, ProtocolError | ReadTimeoutError):
        return exc  # raised while reading the streamed body
    cause = exc.args[0] if exc.args else None
    if isinstance(exc, requests.exceptions.ChunkedEncodingError):
        return cause if isinstance(cause, ProtocolError) else ProtocolError(str(exc))
    if isinstance(exc, requests.ConnectionError) and isinstance(cause, ReadTimeoutError):
        return cause
    return None


def _download_too_slow(what: str, deadline: Deadline) -> DeadlineExceededError:
    return DeadlineExceededError(f"{what}: not complete within {deadline.reason()}")


def _where(url: str) -> str:
    """The URL without its query (which may carry a key or a signature)."""
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}{parts.path}"


def _reports_errors(body: bytes) -> bool:
    """A 200 whose JSON carries top-level ``errors`` (GraphQL THROTTLED, say) is not cached."""
    payload = _json_or_none(body)
    return isinstance(payload, dict) and bool(payload.get("errors"))


def _json_or_none(body: bytes) -> Any:
    try:
        return json.loads(body)
    except ValueError:
        return None
