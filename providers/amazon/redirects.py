"""Keep the wrapper's two transports on their configured origins.

python-amazon-paapi 7.1 sends data calls through a urllib3 ``PoolManager`` (which follows
redirects itself) and the OAuth2 token request through ``requests.post`` (which, on a 307,
sends the form body with the credential secret again to wherever ``Location`` points).
Both are bound here to same-origin redirects, as ``HttpClient`` is
(``pipelines.net.redirects``). The hooks are private paths of the wrapper;
``tests/providers/amazon/test_amazon_redirects.py`` proves they are reached.
"""

from __future__ import annotations

from typing import Any

import requests
from amazon_creatorsapi import AmazonCreatorsApi
from amazon_creatorsapi.errors import AuthenticationError

from pipelines.net.redirects import OriginBoundSession, refuse_pool_redirects

LABEL = "amazon"


def refuse_foreign_redirects(api: AmazonCreatorsApi) -> None:
    """Bind the data calls and the token request of ``api`` to their configured origins."""
    client = api._api_client
    refuse_pool_redirects(client.rest_client.pool_manager, LABEL)
    manager = client.token_manager
    manager._request_token = lambda: request_token(manager)


def request_token(manager: Any) -> requests.Response:
    """The wrapper's token request (``TimeoutOAuth2TokenManager._request_token``), sent
    through a session that refuses redirects to another origin."""
    config = manager.config
    fields = {
        "grant_type": config.get_grant_type(),
        "client_id": config.get_credential_id(),
        "client_secret": config.get_credential_secret(),
        "scope": config.get_scope(),
    }
    body = {"json": fields} if config.is_lwa() else {"data": fields}
    try:
        with OriginBoundSession(f"{LABEL} token") as session:
            return session.post(config.get_cognito_endpoint(), timeout=manager._timeout, **body)
    except requests.RequestException as error:
        manager.clear_token()
        raise AuthenticationError(f"OAuth2 token request failed: {error}") from error
