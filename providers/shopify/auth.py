"""Shopify credentials: a Dev Dashboard app's client id and secret, or a legacy app's token.

Since 2026-01-01 new apps come from the Dev Dashboard with a client id and secret; their Admin
API token comes from the client credentials grant at the shop's own token endpoint
(``POST {base}/admin/oauth/access_token``, form-encoded) and lives 86,399 seconds, so it is
cached and minted again shortly before it lapses (``pipelines.net.oauth``). A legacy custom
app's permanent ``shpat_…`` token (``SHOPIFY_ACCESS_TOKEN``) keeps working as it is. Setting
both kinds is refused: the run could not tell which app's scopes it works with.
https://shopify.dev/docs/apps/build/authentication-authorization/access-tokens/client-credentials-grant
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING
from urllib.parse import quote, quote_plus

from pipelines.net.oauth import ClientCredentialsToken, TokenRequest
from pipelines.net.secrets import register_secret
from providers.shopify.settings import (
    ACCESS_TOKEN_ENV,
    CLIENT_ID_ENV,
    CLIENT_SECRET_ENV,
    SHOP_DOMAIN_ENV,
    TOKEN_PATH,
    TOKEN_REFRESH_MARGIN,
)

if TYPE_CHECKING:
    from pipelines.net.http import HttpClient

CLIENT_CREDENTIALS = "client credentials"
ACCESS_TOKEN = "access token"
# OAuth error codes of the token endpoint and what to do about them.
OAUTH_HINTS = {
    "invalid_client": f"; check {CLIENT_ID_ENV} and {CLIENT_SECRET_ENV} (Dev Dashboard: your "
    "app, Settings); a rotated secret or an uninstalled app is refused the same way",
    "shop_not_permitted": "; the client credentials grant works only when the app and the "
    "store belong to the same organization in the Dev Dashboard (see docs/shopify.md)",
    "app_not_installed": f"; install the app on {SHOP_DOMAIN_ENV} from the Dev Dashboard",
}


class StaticToken:
    """A legacy custom app's permanent ``SHOPIFY_ACCESS_TOKEN``, used as is."""

    can_refresh = False

    def __init__(self, token: str) -> None:
        register_secret(token)
        self._token = token

    def get(self, http: HttpClient) -> str:
        return self._token

    def invalidate(self) -> None:
        """Nothing to do: a static token cannot be replaced."""


def credentials_kind(env: Mapping[str, str]) -> str | None:
    """Which kind of credentials ``env`` holds (client id/secret first), or None."""
    if env.get(CLIENT_ID_ENV) and env.get(CLIENT_SECRET_ENV):
        return CLIENT_CREDENTIALS
    return ACCESS_TOKEN if env.get(ACCESS_TOKEN_ENV) else None


def conflicting_credentials(env: Mapping[str, str]) -> list[str]:
    """Both kinds set at once: a usage error naming what to remove."""
    app = [name for name in (CLIENT_ID_ENV, CLIENT_SECRET_ENV) if env.get(name)]
    if not (app and env.get(ACCESS_TOKEN_ENV)):
        return []
    return [
        f"shopify: {ACCESS_TOKEN_ENV} and {' + '.join(app)} are both set; remove one kind: "
        f"{ACCESS_TOKEN_ENV} (a legacy custom app's token), or {CLIENT_ID_ENV} and "
        f"{CLIENT_SECRET_ENV} (a Dev Dashboard app)"
    ]


def missing_credentials(env: Mapping[str, str]) -> list[str]:
    """The settings still needed: the shop, and a client id/secret pair unless a token is set."""
    missing = [] if env.get(SHOP_DOMAIN_ENV) else [SHOP_DOMAIN_ENV]
    if credentials_kind(env) is None:
        missing += [name for name in (CLIENT_ID_ENV, CLIENT_SECRET_ENV) if not env.get(name)]
    return missing


def token_request(base_url: str, client_id: str, client_secret: str) -> TokenRequest:
    """The client credentials grant at ``{base_url}/admin/oauth/access_token``.

    The secret travels form-encoded, so its encoded forms are registered for masking too.
    """
    for form in (client_id, client_secret, quote_plus(client_secret), quote(client_secret, "")):
        register_secret(form)
    return TokenRequest(
        provider="shopify",
        url=base_url + TOKEN_PATH,
        form={
            "grant_type": "client_credentials",
            "client_id": client_id,
            "client_secret": client_secret,
        },
        hint=lambda error: OAUTH_HINTS.get(error, ""),
    )


def app_token(
    base_url: str,
    client_id: str,
    client_secret: str,
    *,
    clock: Callable[[], float] = time.monotonic,
) -> ClientCredentialsToken:
    """The token cache of one Dev Dashboard app installed on one shop."""
    request = token_request(base_url, client_id, client_secret)
    return ClientCredentialsToken(request, clock=clock, refresh_margin=TOKEN_REFRESH_MARGIN)
