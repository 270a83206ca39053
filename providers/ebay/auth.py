"""eBay application tokens: minted with the client-credentials grant and cached until they lapse.

eBay application tokens live about two hours and minting is rate limited (about 1,000 a
day), so a token is reused until shortly before ``expires_in`` runs out, and minted again
only then or when the Browse API refuses it (``pipelines.net.oauth`` does the caching).
https://developer.ebay.com/api-docs/static/oauth-client-credentials-grant.html

Orders need a *user* token: the seller consents once (authorization-code grant, outside the
pipeline) and the resulting long-lived refresh token mints short-lived user tokens with the
refresh-token grant at the same endpoint, cached and refreshed the same way.
https://developer.ebay.com/api-docs/static/oauth-refresh-token-request.html
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import TYPE_CHECKING

from pipelines.net.oauth import ClientCredentialsToken, TokenRequest
from pipelines.net.secrets import register_secret
from providers.ebay.settings import (
    DEFAULT_SCOPE,
    DEFAULT_TOKEN_REFRESH_MARGIN,
    ENV_REFRESH_TOKEN,
    FULFILLMENT_SCOPE,
)

if TYPE_CHECKING:
    from pipelines.net.http import HttpClient

STATIC_TOKEN_HINT = (
    "the static EBAY_OAUTH_TOKEN has expired or is invalid (application tokens last about 2 "
    "hours); set EBAY_CLIENT_ID and EBAY_CLIENT_SECRET instead (preferred) so tokens are "
    "minted and refreshed"
)


class StaticToken:
    """A ready ``EBAY_OAUTH_TOKEN``, used as is: it cannot be refreshed."""

    can_refresh = False

    def __init__(self, token: str) -> None:
        self._token = token

    def get(self, http: HttpClient) -> str:
        return self._token

    def invalidate(self) -> None:
        """Nothing to do: a static token cannot be replaced."""


def _hint(error: str) -> str:
    if error == "invalid_client":
        return "; check EBAY_CLIENT_ID and EBAY_CLIENT_SECRET (and EBAY_OAUTH_URL)"
    return ""


def _user_hint(error: str) -> str:
    if error == "invalid_grant":
        return (
            f"; {ENV_REFRESH_TOKEN} is expired, revoked or belongs to another application: "
            "have the seller consent again and store the new refresh token"
        )
    if error == "invalid_scope":
        return f"; {ENV_REFRESH_TOKEN} was not granted {FULFILLMENT_SCOPE}"
    return _hint(error)


def application_token(
    client_id: str,
    client_secret: str,
    oauth_url: str,
    *,
    clock: Callable[[], float] = time.monotonic,
) -> ClientCredentialsToken:
    """The token cache of one eBay application: Basic auth, the public ``api_scope``."""
    request = TokenRequest(
        provider="ebay",
        url=oauth_url,
        form={"grant_type": "client_credentials", "scope": DEFAULT_SCOPE},
        auth=(client_id, client_secret),
        hint=_hint,
    )
    return ClientCredentialsToken(request, clock=clock, refresh_margin=DEFAULT_TOKEN_REFRESH_MARGIN)


def user_token(
    client_id: str,
    client_secret: str,
    refresh_token: str,
    oauth_url: str,
    *,
    clock: Callable[[], float] = time.monotonic,
) -> ClientCredentialsToken:
    """The token cache of one seller: the refresh-token grant, the fulfillment read scope."""
    register_secret(refresh_token)
    request = TokenRequest(
        provider="ebay",
        url=oauth_url,
        form={
            "grant_type": "refresh_token",
            "refresh_token": refresh_token,
            "scope": FULFILLMENT_SCOPE,
        },
        auth=(client_id, client_secret),
        hint=_user_hint,
    )
    return ClientCredentialsToken(request, clock=clock, refresh_margin=DEFAULT_TOKEN_REFRESH_MARGIN)
