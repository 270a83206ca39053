"""The one HTTP layer every provider uses.

Timeouts on every call; retries with exponential backoff and full jitter on
connection errors, timeouts, 429 and 5xx, honouring ``Retry-After`` (urllib3's
``Retry`` does the loop); an optional response cache; call, retry and cache
counters for the run log; and one place that turns a failed response into an
error message that names the provider, what was asked and why it failed.
"""

from __future__ import annotations

import ipaddress
import json
import logging
import random
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

import requests
from requests.adapters import HTTPAdapter
from urllib3.util.retry import Retry

from pipelines.cache import ResponseCache, cache_key
from pipelines.errors import ConfigError, FatalProviderError, RetriableProviderError
from pipelines.secrets import mask
from providers.base import ProviderStats

RETRY_STATUSES = frozenset({429, 500, 502, 503, 504})
DEFAULT_TIMEOUT = (5.0, 30.0)
DEFAULT_MAX_RETRIES = 4
DEFAULT_BACKOFF_FACTOR = 0.5
DEFAULT_BACKOFF_MAX = 30.0
# Left out of cache keys, so that a refreshed token still finds the cached pages.
CREDENTIAL_HEADERS = frozenset({"authorization", "x-shopify-access-token", "cookie", "x-api-key"})
USER_AGENT = "product-pipeline/1.0 (+https://github.com/)"


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


class _CountingRetry(Retry):
    """urllib3 ``Retry`` with full jitter that reports every retry to a callback."""

    def __init__(self, *args: Any, on_retry: Any = None, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.on_retry = on_retry

    def new(self, **kw: Any) -> _CountingRetry:
        retry = super().new(**kw)
        retry.on_retry = self.on_retry
        return retry

    def get_backoff_time(self) -> float:
        # Full jitter (AWS architecture blog): sleep a uniform share of the exponential step.
        return random.uniform(0, super().get_backoff_time())

    def increment(self, method=None, url=None, response=None, error=None, *a, **kw):
        retry = super().increment(method, url, response, error, *a, **kw)
        if self.on_retry is not None:
            reason = f"HTTP {response.status}" if response is not None else type(error).__name__
            self.on_retry(urlsplit(url or "").path, reason)
        return retry


class HttpClient:
    """A ``requests`` session bound to one provider's counters and cache."""

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
    ) -> None:
        self.provider = provider
        self.stats = stats
        self.timeout = timeout
        self.cache = cache
        self.log = log or logging.getLogger(f"pipeline.http.{provider}")
        retry = _CountingRetry(
            total=max_retries,
            backoff_factor=backoff_factor,
            backoff_max=DEFAULT_BACKOFF_MAX,
            status_forcelist=RETRY_STATUSES,
            allowed_methods=None,  # GraphQL reads are POSTs and are safe to repeat
            respect_retry_after_header=True,
            raise_on_status=False,
            on_retry=self._count_retry,
        )
        self.session = requests.Session()
        self.session.headers["User-Agent"] = USER_AGENT
        adapter = HTTPAdapter(max_retries=retry)
        self.session.mount("http://", adapter)
        self.session.mount("https://", adapter)

    def _count_retry(self, path: str, reason: str) -> None:
        self.stats.retries += 1
        self.log.warning("%s: retrying %s after %s", self.provider, path, reason)

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
        data calls are served from and stored in the response cache.
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
        self.stats.api_calls += 1
        try:
            raw = self.session.request(
                method,
                url,
                params=params,
                json=json_body,
                data=data,
                headers=headers,
                auth=auth,
                timeout=self.timeout,
            )
        except (requests.ConnectionError, requests.Timeout) as exc:
            raise RetriableProviderError(
                f"{self.provider} {what}: {urlsplit(url).hostname} unreachable after retries "
                f"({type(exc).__name__})"
            ) from None
        response = HttpResponse(raw.status_code, dict(raw.headers), raw.content)
        if raw.status_code not in expected:
            raise self.status_error(response, what, raw.reason)
        if key is not None and response.status == 200 and not _reports_errors(response.body):
            self.cache.put(
                key,
                {
                    "status": response.status,
                    "headers": {"Content-Type": response.headers.get("Content-Type", "")},
                    "body": response.body.decode("utf-8", "replace"),
                },
            )
        return response

    def status_error(
        self, response: HttpResponse, what: str, reason: str = ""
    ) -> RetriableProviderError | FatalProviderError:
        """The error for a failed response: retriable for 429/5xx, fatal for the rest."""
        error_class = (
            RetriableProviderError if response.status in RETRY_STATUSES else FatalProviderError
        )
        detail = error_detail(response.body)
        message = f"{response.status} {reason} from {self.provider} {what}".replace("  ", " ")
        error = error_class(mask(f"{message}: {detail}" if detail else message))
        error.status = response.status
        return error


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
