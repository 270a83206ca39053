"""eBay application tokens: minted with the client-credentials grant and cached until they lapse.

eBay application tokens live about two hours and minting is rate limited (about 1,000 a
day), so a token is reused until shortly before ``expires_in`` runs out, and minted again
only then or when the Browse API refuses it.
https://developer.ebay.com/api-docs/static/oauth-client-credentials-grant.html
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from dataclasses import dataclass
from http import HTTPStatus
from typing import TYPE_CHECKING, Any, Protocol

from pipelines.errors import FatalProviderError
from pipelines.net.redact import error_summary
from pipelines.net.secrets import register_basic_auth, register_secret
from providers.ebay.settings import DEFAULT_SCOPE, DEFAULT_TOKEN_REFRESH_MARGIN

if TYPE_CHECKING:
    from pipelines.net.http import HttpClient

# The token endpoint answers a bad grant with an OAuth error body (RFC 6749 §5.2), e.g.
# {"error": "invalid_client", "error_description": "client authentication failed"}.
OAUTH_ERROR_STATUSES = (400, 401, 403)
STATIC_TOKEN_HINT = (
    "the static EBAY_OAUTH_TOKEN has expired or is invalid (application tokens last about 2 "
    "hours); set EBAY_CLIENT_ID and EBAY_CLIENT_SECRET instead (preferred) so tokens are "
    "minted and refreshed"
)


class TokenSource(Protocol):
    """Where the Browse client gets its bearer token."""

    can_refresh: bool

    def get(self, http: HttpClient) -> str:
        """A token believed to be valid now."""
        ...

    def invalidate(self) -> None:
        """Forget the current token (the API refused it)."""
        ...


class StaticToken:
    """A ready ``EBAY_OAUTH_TOKEN``, used as is: it cannot be refreshed."""

    can_refresh = False

    def __init__(self, token: str) -> None:
        self._token = token

    def get(self, http: HttpClient) -> str:
        return self._token

    def invalidate(self) -> None:
        """Nothing to do: a static token cannot be replaced."""


@dataclass(frozen=True)
class _Minted:
    value: str
    refresh_at: float  # clock reading after which a new token is minted


class ClientCredentialsToken:
    """Mints application tokens from the client id/secret and caches the current one."""

    can_refresh = True

    def __init__(
        self,
        client_id: str,
        client_secret: str,
        oauth_url: str,
        *,
        scope: str = DEFAULT_SCOPE,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._credentials = (client_id, client_secret)
        register_basic_auth(client_id, client_secret)  # the Authorization header it makes
        self.oauth_url = oauth_url
        self.scope = scope
        self.clock = clock
        self.minted = 0  # tokens minted so far (run-log material; never the tokens themselves)
        self._current: _Minted | None = None

    def get(self, http: HttpClient) -> str:
        if self._current is None or self.clock() >= self._current.refresh_at:
            self._current = self._mint(http)
        return self._current.value

    def invalidate(self) -> None:
        self._current = None

    def _mint(self, http: HttpClient) -> _Minted:
        started = self.clock()
        response = http.request(
            "POST",
            self.oauth_url,
            what="token",
            data={"grant_type": "client_credentials", "scope": self.scope},
            auth=self._credentials,
            expected=(200, *OAUTH_ERROR_STATUSES),
        )
        if response.status != 200:
            error = FatalProviderError(_oauth_error_message(response.status, response.body))
            error.status = response.status
            raise error
        payload = _json_object(response.body)
        token = payload.get("access_token")
        if not isinstance(token, str) or not token:
            raise FatalProviderError("ebay token: the token response has no access_token")
        register_secret(token)
        self.minted += 1
        return _Minted(token, started + _reuse_seconds(payload.get("expires_in")))


def _reuse_seconds(expires_in: Any) -> float:
    """How long to reuse a token: its life less a safety margin (at most a tenth of it)."""
    try:
        lifetime = float(expires_in)
    except (TypeError, ValueError):
        lifetime = 0.0  # unknown lifetime: use the token for this request only
    return max(0.0, lifetime - min(DEFAULT_TOKEN_REFRESH_MARGIN, lifetime / 10))


def _json_object(body: bytes) -> dict[str, Any]:
    try:
        payload = json.loads(body)
    except ValueError:
        return {}
    return payload if isinstance(payload, dict) else {}


def _oauth_error_message(status: int, body: bytes) -> str:
    """``ebay token: 401 Unauthorized: invalid_client (client authentication failed); …``.

    Only the OAuth error code and description are kept (``error_summary``): a proxy that
    echoes the request would otherwise put the Basic credentials into the message.
    """
    try:
        reason = HTTPStatus(status).phrase
    except ValueError:
        reason = ""
    detail = error_summary(body) or "error"
    message = f"ebay token: {status} {reason}: {detail}".replace("  ", " ")
    if detail.startswith("invalid_client"):
        message += "; check EBAY_CLIENT_ID and EBAY_CLIENT_SECRET (and EBAY_OAUTH_URL)"
    return message
