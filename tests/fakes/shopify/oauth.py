"""The client credentials grant in the fake: the shop's token endpoint and the tokens it mints.

``POST /admin/oauth/access_token`` (form-encoded ``grant_type=client_credentials``,
``client_id``, ``client_secret``) answers ``{"access_token", "scope", "expires_in": 86399}``
or an OAuth error body (RFC 6749 §5.2) such as Shopify's ``shop_not_permitted``. Minted tokens
lapse by the fake's clock, which a test may share with the provider and move by hand.
"""

from __future__ import annotations

import json
import secrets
from collections.abc import Callable
from typing import Any

from werkzeug import Request, Response

DEFAULT_CLIENT_ID = "0f1e2d3c4b5a69788796a5b4c3d2e1f0"
# Characters that change when form-encoded, so a test sees every form of it masked.
DEFAULT_CLIENT_SECRET = "shpss_fake+secret/0123=="
TOKEN_LIFETIME = 86399
INVALID_CLIENT = {
    "error": "invalid_client",
    "error_description": "Client authentication failed due to unknown client, no client "
    "authentication included, or unsupported authentication method.",
}
SHOP_NOT_PERMITTED = {
    "error": "shop_not_permitted",
    "error_description": "Client credentials cannot be performed on this shop.",
}
UNSUPPORTED_GRANT = {"error": "unsupported_grant_type", "error_description": "grant_type"}


class AppCredentials:
    """``FakeShopify``'s Dev Dashboard app: its client id/secret, and the tokens minted."""

    token: str
    clock: Callable[[], float]
    scopes: tuple[str, ...]

    def setup_app(self, client_id: str, client_secret: str) -> None:
        self.client_id, self.client_secret = client_id, client_secret
        self.minted: list[str] = []
        self.token_lapses: dict[str, float] = {}  # minted token -> clock reading it lapses at
        self.mint_refusal: tuple[int, dict[str, Any]] | None = None
        self.tokens_refused = False  # every token refused (the app's access was revoked)

    def app_env(self, **overrides: str) -> dict[str, str]:
        """Environment settings using the app's client credentials instead of a token."""
        env = {k: v for k, v in self.env().items() if k != "SHOPIFY_ACCESS_TOKEN"}  # type: ignore[attr-defined]
        env |= {"SHOPIFY_CLIENT_ID": self.client_id, "SHOPIFY_CLIENT_SECRET": self.client_secret}
        return {**env, **overrides}

    def refuse_mints(self, status: int = 401, body: dict[str, Any] | None = None) -> None:
        """From now on the token endpoint answers ``status`` with an OAuth error body."""
        self.mint_refusal = (status, body or INVALID_CLIENT)

    def revoke_tokens(self) -> None:
        """Tokens minted so far stop working (the app was reinstalled, say)."""
        self.token_lapses = {token: float("-inf") for token in self.token_lapses}

    def refuse_tokens(self) -> None:
        """From now on every token is refused, new ones too; minting still succeeds."""
        self.tokens_refused = True

    def accepts(self, token: str | None) -> bool:
        """The legacy static token, or a minted one that has not lapsed."""
        if self.tokens_refused:
            return False
        if token is not None and token == self.token:
            return True
        return token in self.token_lapses and self.clock() < self.token_lapses[token]

    def mint(self, request: Request) -> Response:
        form = request.form.to_dict()
        if "form" not in request.headers.get("Content-Type", ""):
            return _oauth(400, {"error": "invalid_request", "error_description": "form body"})
        if form.get("grant_type") != "client_credentials":
            return _oauth(400, UNSUPPORTED_GRANT)
        if form.get("client_id") != self.client_id or form.get("client_secret") != (
            self.client_secret
        ):
            return _oauth(401, INVALID_CLIENT)
        if self.mint_refusal is not None:
            return _oauth(*self.mint_refusal)
        token = "shpat_" + secrets.token_hex(16)
        self.minted.append(token)
        self.token_lapses[token] = self.clock() + TOKEN_LIFETIME
        scope = ",".join(self.scopes)
        return _oauth(200, {"access_token": token, "scope": scope, "expires_in": TOKEN_LIFETIME})


def _oauth(status: int, body: dict[str, Any]) -> Response:
    return Response(json.dumps(body), status, content_type="application/json")
