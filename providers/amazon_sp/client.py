"""Calls to the Selling Partner API: the LWA access token, pacing, 429s and refused tokens.

An access token comes from Login with Amazon: ``grant_type=refresh_token`` with the
application's client id and secret (https://developer-docs.amazon.com/sp-api/docs/
connecting-to-the-selling-partner-api); it lives an hour and is cached and refreshed by
``pipelines.net.oauth``. Every call is sent as ``x-amz-access-token``, paced by its
operation's ``RatePacer``. An answer is a JSON object (Orders v2026-01-01 sends the response
itself, Finances v2024-06-19 wraps it in ``payload``) or ``{"errors": [{code, message,
details}]}``; a 429 (``QuotaExceeded``) drains the bucket and slows it to the stated
``x-amzn-RateLimit-Limit``, then the call is tried again; a 403 ``Unauthorized`` gets one new
token. Answers are never cached: they carry buyer data until the scrubber has seen them.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any

from pipelines.errors import FatalProviderError, ProviderError, RetriableProviderError
from pipelines.net.oauth import ClientCredentialsToken, TokenRequest
from pipelines.net.pacing import RatePacer
from pipelines.net.secrets import mask
from providers.amazon_sp.settings import (
    CLIENT_ID_ENV,
    CLIENT_SECRET_ENV,
    MAX_THROTTLED,
    PROVIDER,
    RATE_LIMIT_HEADER,
    REFRESH_TOKEN_ENV,
)

if TYPE_CHECKING:
    from pipelines.net.http import HttpClient, HttpResponse


def _hint(error: str) -> str:
    if error in ("invalid_client", "unauthorized_client"):
        return f"; check {CLIENT_ID_ENV} and {CLIENT_SECRET_ENV}"
    if error == "invalid_grant":
        return f"; {REFRESH_TOKEN_ENV} is expired or revoked: authorize the application again"
    return ""


def lwa_token(
    settings: Mapping[str, str], url: str, *, clock: Callable[[], float] = time.monotonic
) -> ClientCredentialsToken:
    """The access-token cache of one seller authorization (refresh-token grant)."""
    form = {
        "grant_type": "refresh_token",
        "refresh_token": settings[REFRESH_TOKEN_ENV],
        "client_id": settings[CLIENT_ID_ENV],
        "client_secret": settings[CLIENT_SECRET_ENV],
    }
    return ClientCredentialsToken(TokenRequest(PROVIDER, url, form, hint=_hint), clock=clock)


class SpClient:
    """GETs one SP-API operation's answers, paced, with token refresh and 429 handling."""

    def __init__(self, http: HttpClient, endpoint: str, tokens: ClientCredentialsToken) -> None:
        self.http = http
        self.endpoint = endpoint.rstrip("/")
        self.tokens = tokens

    def get(
        self, path: str, params: Mapping[str, str], what: str, pacer: RatePacer
    ) -> dict[str, Any]:
        """The JSON object ``GET path`` answered; raises a provider error naming ``what``."""
        refreshed, throttled = False, 0
        while True:
            pacer.wait()
            token = self.tokens.get(self.http)
            response = self.http.request(
                "GET",
                self.endpoint + path,
                what=what,
                params=params,
                headers={"x-amz-access-token": token, "Accept": "application/json"},
                expected=(200, 403, 429),
            )
            pacer.observe(response.headers.get(RATE_LIMIT_HEADER))
            if response.status == 200:
                return _body(response, what)
            if response.status == 429:
                throttled += 1
                if throttled > MAX_THROTTLED:
                    raise _error(RetriableProviderError, response, what, f"{throttled} times")
                pacer.drain()
                self.http.log.warning("%s %s: throttled (429); waiting", PROVIDER, what)
                continue
            if refreshed or _code(response) != "Unauthorized":
                raise _error(FatalProviderError, response, what)
            # The cached token lapsed or was revoked early: mint once more and retry once.
            self.http.log.warning("%s %s: token refused (403); minting a new one", PROVIDER, what)
            self.tokens.invalidate()
            refreshed = True


def _body(response: HttpResponse, what: str) -> dict[str, Any]:
    body = response.json(f"{PROVIDER} {what}")
    if not isinstance(body, dict):
        raise FatalProviderError(f"{PROVIDER} {what}: response is not a JSON object")
    return body


def _errors(response: HttpResponse) -> list[dict[str, Any]]:
    try:
        body = response.json("errors")
    except FatalProviderError:
        return []
    errors = body.get("errors") if isinstance(body, dict) else None
    return [e for e in errors or [] if isinstance(e, dict)]


def _code(response: HttpResponse) -> str:
    errors = _errors(response)
    return str(errors[0].get("code") or "") if errors else ""


def _error(
    kind: type[ProviderError],
    response: HttpResponse,
    what: str,
    extra: str = "",
) -> ProviderError:
    """``amazon_sp searchOrders page 2: 403 Unauthorized: Access … denied`` as one line."""
    errors = _errors(response)
    detail = "; ".join(f"{e.get('code')}: {e.get('message')}" for e in errors[:3]) or "error"
    suffix = f" ({extra})" if extra else ""
    error = kind(mask(f"{PROVIDER} {what}: {response.status} {detail}{suffix}"))
    error.status = response.status
    return error
