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
counters. That policy (``GuardedRetry``), the ``RetryBudget`` and the breaker
(``CallGuard``) live in ``pipelines.net.retry``; this module holds the client.
"""

from __future__ import annotations

import ipaddress
import json
import logging
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

import requests
from requests.adapters import HTTPAdapter
from urllib3.exceptions import MaxRetryError, ProtocolError, ReadTimeoutError
from urllib3.util.retry import Retry

from pipelines.errors import ConfigError, FatalProviderError, ProviderError, RetriableProviderError
from pipelines.net.cache import ResponseCache, cache_key
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
            cached = self.cache.get_response(key)
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
