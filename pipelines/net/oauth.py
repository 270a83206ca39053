"""OAuth 2.0 client-credentials tokens (RFC 6749 §4.4): minted, cached, refreshed before they lapse.

Shared by the providers whose vendor hands out short-lived application tokens for a client id
and secret (eBay: about 2 hours; Shopify Dev Dashboard apps: about 24 hours). A token is reused
until shortly before ``expires_in`` runs out, so a run that outlives it (a long paged pull, a
bulk operation polled for hours) gets a fresh one on its next call; ``invalidate`` forgets it
when the API refuses it early. Every minted token is registered as a secret on arrival.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from http import HTTPStatus
from typing import TYPE_CHECKING, Any, Protocol

from pipelines.errors import FatalProviderError
from pipelines.net.redact import error_summary
from pipelines.net.secrets import register_basic_auth, register_secret

if TYPE_CHECKING:
    from pipelines.net.http import HttpClient

# A bad grant is answered with an OAuth error body (RFC 6749 §5.2), e.g.
# {"error": "invalid_client", "error_description": "client authentication failed"}.
OAUTH_ERROR_STATUSES = (400, 401, 403)
# Refresh this many seconds before a token lapses, at most a tenth of its life.
DEFAULT_REFRESH_MARGIN = 300.0


class TokenSource(Protocol):
    """Where a client gets the token it sends: a static one, or ``ClientCredentialsToken``."""

    can_refresh: bool

    def get(self, http: HttpClient) -> str:
        """A token believed to be valid now."""
        ...

    def invalidate(self) -> None:
        """Forget the current token (the API refused it)."""
        ...


@dataclass(frozen=True)
class MintedToken:
    """One token and what the token endpoint said about it (clock readings, not wall time)."""

    value: str
    scope: str | None
    expires_at: float  # when it lapses
    refresh_at: float  # after this a new one is minted

    def remaining(self, now: float) -> float:
        """Seconds of life left at clock reading ``now`` (never negative)."""
        return max(0.0, self.expires_at - now)


@dataclass(frozen=True)
class TokenRequest:
    """What one provider sends its token endpoint, and how it explains a refusal."""

    provider: str
    url: str
    form: Mapping[str, str]
    auth: tuple[str, str] | None = None  # HTTP Basic (eBay); None: credentials in the form
    hint: Callable[[str], str] = lambda error: ""  # OAuth error code -> "; check …"


class ClientCredentialsToken:
    """Mints tokens with the client-credentials grant and caches the current one."""

    can_refresh = True

    def __init__(
        self,
        request: TokenRequest,
        *,
        clock: Callable[[], float] = time.monotonic,
        refresh_margin: float = DEFAULT_REFRESH_MARGIN,
    ) -> None:
        self.request = request
        if request.auth:
            register_basic_auth(*request.auth)  # the Authorization header it makes
        self.clock = clock
        self.refresh_margin = refresh_margin
        self.minted = 0  # tokens minted so far (run-log material; never the tokens themselves)
        self.current: MintedToken | None = None

    def get(self, http: HttpClient) -> str:
        """A token believed valid now: the cached one, or a new one when it is due."""
        return self.token(http).value

    def token(self, http: HttpClient) -> MintedToken:
        """The current token with its scope and lifetime, minted when none is valid."""
        if self.current is None or self.clock() >= self.current.refresh_at:
            self.current = self._mint(http)
        return self.current

    def invalidate(self) -> None:
        """Forget the current token (the API refused it)."""
        self.current = None

    def _mint(self, http: HttpClient) -> MintedToken:
        request = self.request
        started = self.clock()
        response = http.request(
            "POST",
            request.url,
            what="token",
            data=dict(request.form),
            auth=request.auth,
            expected=(200, *OAUTH_ERROR_STATUSES),
        )
        if response.status != 200:
            error = FatalProviderError(oauth_error_message(request, response.status, response.body))
            error.status = response.status
            raise error
        payload = _json_object(response.body)
        value = payload.get("access_token")
        if not isinstance(value, str) or not value:
            raise FatalProviderError(
                f"{request.provider} token: the token response has no access_token"
            )
        register_secret(value)
        self.minted += 1
        lifetime = _seconds(payload.get("expires_in"))
        reuse = max(0.0, lifetime - min(self.refresh_margin, lifetime / 10))
        scope = payload.get("scope")
        http.log.info(
            "%s: minted an access token (scope %s), valid %.0f s",
            request.provider,
            scope or "not stated",
            lifetime,
        )
        return MintedToken(
            value, scope if isinstance(scope, str) else None, started + lifetime, started + reuse
        )


def _seconds(expires_in: Any) -> float:
    """``expires_in`` as seconds; an unknown lifetime means: use the token for one request."""
    try:
        return max(0.0, float(expires_in))
    except (TypeError, ValueError):
        return 0.0


def _json_object(body: bytes) -> dict[str, Any]:
    try:
        payload = json.loads(body)
    except ValueError:
        return {"error_description": body[:200].decode("utf-8", "replace").strip()}
    return payload if isinstance(payload, dict) else {}


def oauth_error_message(request: TokenRequest, status: int, body: bytes) -> str:
    """``ebay token: 401 Unauthorized: invalid_client (client authentication failed); …``.

    Only the OAuth error code and description are kept (``error_summary``): a proxy that
    echoes the request would otherwise put the credentials into the message.
    """
    try:
        reason = HTTPStatus(status).phrase
    except ValueError:
        reason = ""
    detail = error_summary(body) or "error"
    message = f"{request.provider} token: {status} {reason}: {detail}".replace("  ", " ")
    return message + request.hint(str(_json_object(body).get("error") or ""))
