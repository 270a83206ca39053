"""A small GraphQL Admin API client on the shared HTTP layer: endpoint, pacing, errors.

Why not the ``ShopifyAPI`` package: its GraphQL client has no timeout, retries or throttle
handling, and its session rewrites every host to ``*.myshopify.com`` (see PROVIDERS.md).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from pipelines.errors import ConfigError, FatalProviderError, RetriableProviderError
from pipelines.net.endpoints import check_endpoint
from pipelines.net.oauth import TokenSource
from pipelines.net.redact import one_line
from pipelines.net.secrets import mask
from providers.base import FetchContext
from providers.shopify.auth import StaticToken
from providers.shopify.queries import SIMPLE_QUERY_COST
from providers.shopify.settings import (
    ACCESS_TOKEN_ENV,
    ACCESS_TOKEN_HEADER,
    API_URL_ENV,
    API_VERSION_ENV,
    API_VERSION_HEADER,
    CLIENT_ID_ENV,
    CLIENT_SECRET_ENV,
    DEFAULT_API_VERSION,
    DEPRECATED_REASON_HEADER,
    GRAPHQL_PATH,
    MAX_THROTTLE_RETRIES,
    RELEASE_MONTHS,
    SHOP_DOMAIN_ENV,
)
from providers.shopify.throttle import CostPacer, actual_cost
from providers.shopify.versions import deprecation_message

if TYPE_CHECKING:
    from pipelines.net.http import HttpResponse

PROVIDER = "shopify"
_VERSION_RE = re.compile(r"^(\d{4}-\d{2}|unstable)$")
_DOMAIN_RE = re.compile(r"^[A-Za-z0-9]([A-Za-z0-9.-]*[A-Za-z0-9])?(:\d+)?$")


# --- configuration ---------------------------------------------------------------------------


def check_settings(settings: Mapping[str, str]) -> list[str]:
    """Problems with the shop domain, API version and URL override (empty when all is well)."""
    problems = []
    domain = settings.get(SHOP_DOMAIN_ENV)
    if domain and not _DOMAIN_RE.match(domain):
        problems.append(
            f"{SHOP_DOMAIN_ENV}: {domain!r} is not a bare host name (write example.myshopify.com, "
            "without https:// or a path)"
        )
    version = settings.get(API_VERSION_ENV) or DEFAULT_API_VERSION
    if not _VERSION_RE.match(version):
        problems.append(f"{API_VERSION_ENV}: {version!r} is not an API version like 2026-10")
    elif version != "unstable" and int(version[5:]) not in RELEASE_MONTHS:
        problems.append(
            f"{API_VERSION_ENV}: {version!r} is not a Shopify release (versions are "
            "YYYY-01, YYYY-04, YYYY-07 and YYYY-10)"
        )
    if settings.get(API_URL_ENV):
        try:
            check_endpoint(API_URL_ENV, settings[API_URL_ENV])
        except ConfigError as exc:
            problems.append(str(exc))
    return problems


def base_url(settings: Mapping[str, str]) -> str:
    """The override, or https://{shop}: the API and the token endpoint both sit under it."""
    problems = check_settings(settings)
    if problems:
        raise ConfigError("; ".join(problems))
    override = settings.get(API_URL_ENV)
    if not override and not settings.get(SHOP_DOMAIN_ENV):
        raise ConfigError(f"{SHOP_DOMAIN_ENV} is not set")
    return (
        check_endpoint(API_URL_ENV, override)
        if override
        else f"https://{settings[SHOP_DOMAIN_ENV]}"
    )


def graphql_url(settings: Mapping[str, str]) -> str:
    """``{base}/admin/api/{version}/graphql.json``."""
    version = settings.get(API_VERSION_ENV) or DEFAULT_API_VERSION
    return base_url(settings) + GRAPHQL_PATH.format(version=version)


# --- GraphQL transport -----------------------------------------------------------------------


class ShopifyClient:
    """POSTs GraphQL documents to one shop, paced by its cost bucket, and returns their ``data``.

    The token is asked of ``tokens`` for every call, so a minted one is replaced when it is due,
    even in the middle of a long pull or bulk operation; a 401 mints a new one once.
    """

    def __init__(self, ctx: FetchContext, tokens: TokenSource | None = None) -> None:
        self.ctx = ctx
        self.url = graphql_url(ctx.settings)
        self.version = ctx.settings.get(API_VERSION_ENV) or DEFAULT_API_VERSION
        self.served_version: str | None = None
        self.tokens = tokens or StaticToken(ctx.settings.get(ACCESS_TOKEN_ENV) or "")
        self.deprecations: set[str] = set()  # X-Shopify-API-Deprecated-Reason values seen
        self.pacer = CostPacer(ctx.stats, ctx.log)

    def execute(
        self,
        query: str,
        operation: str,
        variables: Mapping[str, Any],
        what: str,
        *,
        cost: int = SIMPLE_QUERY_COST,
        cacheable: bool = False,
    ) -> dict[str, Any]:
        """Run one query of requested ``cost``; wait out THROTTLED answers and HTTP 429s.

        A daily budget in points refuses the query (``BudgetExhaustedError``, nothing sent)
        when its requested cost would pass it, and is charged the cost the answer reports.
        Raises on errors without data, warns on errors with data.
        """
        body = {"query": query, "operationName": operation, "variables": dict(variables)}
        for attempt in range(MAX_THROTTLE_RETRIES + 1):
            self._afford(cost, what)
            self.pacer.wait_for(cost, what)
            payload, throttled, retry_after = self._post(body, what, cacheable, cost)
            if not throttled:
                return check_graphql(payload, what, self.ctx.log)
            if attempt < MAX_THROTTLE_RETRIES:
                self.pacer.wait_after_throttled(payload, cost, what, attempt, retry_after)
        raise RetriableProviderError(
            f"{PROVIDER} {what}: throttled by Shopify (THROTTLED or HTTP 429) "
            f"{MAX_THROTTLE_RETRIES + 1} times in a row{_throttle_note(payload)}"
        )

    def _post(
        self, body: dict[str, Any], what: str, cacheable: bool, cost: int
    ) -> tuple[dict[str, Any], bool, float | None]:
        """One POST of requested ``cost``: its JSON object, whether it was throttled, and any
        ``Retry-After``; a live answer that ran is charged to a points budget.

        A 429 is never retried by the HTTP layer (it is ``expected`` here): Shopify reports
        GraphQL throttling as THROTTLED with HTTP 200 or 429, and both are waited out here.
        """
        cache_hits = self.ctx.stats.cache_hits
        response = self._authorized_post(body, what, cacheable)
        if response.status == 429:
            return _json_object_or_none(response) or {}, True, _retry_after(response.headers)
        self._check_version(response)
        self._check_deprecations(response, what)
        payload = response.json(f"{PROVIDER} {what}")
        if not isinstance(payload, dict):
            raise FatalProviderError(f"{PROVIDER} {what}: response is not a JSON object")
        throttled = is_throttled(payload)
        if self.ctx.stats.cache_hits == cache_hits:  # a cached answer is stale and cost nothing
            self.pacer.observe(payload)
            if not throttled:
                self._spend(actual_cost(payload, cost))
        return payload, throttled, None

    def _afford(self, cost: int, what: str) -> None:
        """Refuse a query whose requested ``cost`` would pass a daily budget in points."""
        budget = self.ctx.http.budget
        if budget is not None and budget.unit == "points":
            budget.afford(what, cost)

    def _spend(self, cost: int) -> None:
        """Charge a daily budget in points what a query cost."""
        budget = self.ctx.http.budget
        if budget is not None and budget.unit == "points":
            budget.spend(cost)

    def _authorized_post(self, body: dict[str, Any], what: str, cacheable: bool) -> HttpResponse:
        """The POST with the current token; a refused minted token is replaced once."""
        response = self._send(body, what, cacheable)
        if response.status == 401 and self.tokens.can_refresh:
            self.ctx.log.warning(
                "%s %s: the token was refused (401); minting a new one", PROVIDER, what
            )
            self.tokens.invalidate()
            response = self._send(body, what, cacheable)
            if response.status == 401:
                raise self._refused(response, what)
        if response.status == 401:
            raise self.ctx.http.status_error(response, what, "Unauthorized")
        return response

    def _send(self, body: dict[str, Any], what: str, cacheable: bool) -> HttpResponse:
        return self.ctx.http.request(
            "POST",
            self.url,
            what=what,
            json_body=body,
            headers={ACCESS_TOKEN_HEADER: self.tokens.get(self.ctx.http)},
            cacheable=cacheable,
            expected=(200, 401, 429),
        )

    def _refused(self, response: HttpResponse, what: str) -> FatalProviderError:
        error = self.ctx.http.status_error(response, what, "Unauthorized")
        refused = FatalProviderError(
            mask(
                f"{error}; a newly minted token was refused too: the app was uninstalled from "
                f"the shop or its access revoked (reinstall it from the Dev Dashboard, then "
                f"check {CLIENT_ID_ENV} and {CLIENT_SECRET_ENV})"
            )
        )
        refused.status = 401
        return refused

    def _check_deprecations(self, response: HttpResponse, what: str) -> None:
        """Warn once per run for each ``X-Shopify-API-Deprecated-Reason`` value."""
        reason = _header(response.headers, DEPRECATED_REASON_HEADER)
        if not reason or reason in self.deprecations:
            return
        self.deprecations.add(reason)
        message = mask(deprecation_message(reason, what))
        self.ctx.log.warning("%s", message)
        self.ctx.stats.warnings.append(message)

    def _check_version(self, response: HttpResponse) -> None:
        """Warn once when Shopify served another version than asked for.

        An unsupported version is served as the oldest supported one, with no error:
        https://shopify.dev/docs/api/usage/versioning. Cached responses carry no such header.
        """
        served = _header(response.headers, API_VERSION_HEADER)
        if served is None or self.served_version is not None:
            return
        self.served_version = served
        if served != self.version:
            self.ctx.log.warning(
                "%s: asked for API version %s but Shopify served %s; set %s to a supported version",
                PROVIDER,
                self.version,
                served,
                API_VERSION_ENV,
            )


def _header(headers: Mapping[str, str], name: str) -> str | None:
    wanted = name.lower()
    return next((value for key, value in headers.items() if key.lower() == wanted), None)


def _retry_after(headers: Mapping[str, str]) -> float | None:
    """``Retry-After`` in seconds (Shopify sends a number), or None."""
    try:
        seconds = float(_header(headers, "Retry-After") or "")
    except ValueError:
        return None
    return seconds if seconds >= 0 else None


def _json_object_or_none(response: HttpResponse) -> dict[str, Any] | None:
    try:
        payload = response.json("")
    except FatalProviderError:
        return None
    return payload if isinstance(payload, dict) else None


def is_throttled(payload: Mapping[str, Any]) -> bool:
    """True for Shopify's THROTTLED error (https://shopify.dev/docs/api/usage/rate-limits)."""
    return any(_error_code(e) == "THROTTLED" for e in _errors(payload))


def check_graphql(payload: dict[str, Any], what: str, log: Any) -> dict[str, Any]:
    """The ``data`` of a GraphQL response, or the error its ``errors`` call for.

    Errors are fatal without data and only a warning with data (singer-sdk's GraphQLStream).
    """
    errors = _errors(payload)
    data = payload.get("data")
    if errors and not data:
        raise FatalProviderError(
            mask(f"GraphQL errors from {PROVIDER} {what}: {_messages(errors)}")
        )
    if errors:
        log.warning(
            "%s %s: GraphQL errors with data, going on: %s", PROVIDER, what, _messages(errors)
        )
    if not isinstance(data, dict):
        raise FatalProviderError(f"{PROVIDER} {what}: response has no data")
    return data


def _errors(payload: Mapping[str, Any]) -> list[Any]:
    errors = payload.get("errors") or []
    return [errors] if isinstance(errors, str | dict) else list(errors)


def _error_code(error: Any) -> str | None:
    if isinstance(error, dict) and isinstance(error.get("extensions"), dict):
        return error["extensions"].get("code")
    return None


def _messages(errors: list[Any]) -> str:
    parts = []
    for error in errors:
        if not isinstance(error, dict):
            parts.append(str(error))
            continue
        code = _error_code(error)
        parts.append(f"{error.get('message', error)}" + (f" ({code})" if code else ""))
    return one_line("; ".join(parts), 500)


def _throttle_note(payload: dict[str, Any]) -> str:
    """``: requested cost 956, 12 of 2000 points available, restoring 100/s``."""
    cost = (payload.get("extensions") or {}).get("cost") or {}
    status = cost.get("throttleStatus") or {}
    if not status:
        return ""
    return (
        f": requested cost {cost.get('requestedQueryCost')}, "
        f"{status.get('currentlyAvailable')} of {status.get('maximumAvailable')} points "
        f"available, restoring {status.get('restoreRate')}/s"
    )
