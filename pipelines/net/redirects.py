"""Redirects never carry credentials to another origin.

Every API client sends its credentials (a header, HTTP Basic, a form field) to the one
endpoint it was configured with. A redirect is followed only when it stays on that origin
(same scheme, host and port), at most ``MAX_REDIRECTS`` times; a redirect anywhere else is a
``RedirectRefusedError`` naming both origins, raised before anything is sent there. That
also keeps the rule of ``check_endpoint`` after a redirect: a client configured for https
cannot be sent to plain http, and plain http stays on the loopback host it was allowed for.

Three transports carry the rule: ``OriginBoundSession`` (the ``requests`` session of the
shared ``HttpClient``, and of the Amazon token request), ``refuse_pool_redirects`` (a vendor
library's urllib3 pool) and ``storage_url`` (the one documented exception: GitHub's artifact
download answers with a redirect to short-lived blob storage, fetched with no credential).
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urljoin, urlsplit

import requests
import urllib3

from pipelines.errors import FatalProviderError
from pipelines.net.endpoints import is_loopback

MAX_REDIRECTS = 5
DEFAULT_PORTS = {"http": 80, "https": 443}


class RedirectRefusedError(FatalProviderError):
    """A redirect would have taken the request (and its credentials) to another origin."""


def origin(url: str) -> str:
    """``scheme://host:port`` of ``url``, the port spelled out even when it is the default."""
    parts = urlsplit(url)
    host = parts.hostname or ""
    host = f"[{host}]" if ":" in host else host
    port = parts.port or DEFAULT_PORTS.get(parts.scheme, 0)
    return f"{parts.scheme}://{host}:{port}"


def same_origin_target(label: str, current: str, location: str) -> str:
    """The absolute URL ``location`` points to from ``current``, when it is the same origin."""
    target = urljoin(current, location)
    if origin(target) != origin(current):
        raise RedirectRefusedError(
            f"{label}: refused a redirect from {origin(current)} to {origin(target)}: "
            "credentials are only sent to the configured endpoint (if the API really moved, "
            "configure its new address)"
        )
    return target


def storage_url(label: str, current: str, location: str) -> str:
    """The storage URL of a documented download redirect: https, or plain http on loopback.

    The caller fetches it with no credential at all.
    """
    target = urljoin(current, location)
    parts = urlsplit(target)
    secure = parts.scheme == "https" or (
        parts.scheme == "http" and is_loopback(parts.hostname or "")
    )
    if not secure or not parts.hostname:
        raise RedirectRefusedError(
            f"{label}: refused a redirect from {origin(current)} to {origin(target)}: "
            "downloads are only fetched over https (plain http only on loopback hosts)"
        )
    return target


def _too_many(label: str, url: str) -> RedirectRefusedError:
    return RedirectRefusedError(f"{label}: more than {MAX_REDIRECTS} redirects from {origin(url)}")


class OriginBoundSession(requests.Session):
    """A ``requests`` session that follows only same-origin redirects.

    ``requests`` calls ``rebuild_auth`` for every redirect after building the next request
    and before sending it, so raising there sends nothing to the new location. (On its own,
    ``requests`` strips ``Authorization`` on a cross-host redirect, but not other credential
    headers such as ``X-Shopify-Access-Token``, nor a form body that a 307 sends again.)
    """

    def __init__(self, label: str) -> None:
        super().__init__()
        self.label = label

    def resolve_redirects(self, resp: Any, req: Any, *args: Any, **kwargs: Any) -> Any:
        # With ``allow_redirects=False`` requests still builds the next request (for
        # ``response.next``, which nothing here reads) through this generator: skip that.
        if kwargs.pop("yield_requests", False):
            return iter(())
        return super().resolve_redirects(resp, req, *args, **kwargs)

    def rebuild_auth(self, prepared_request: requests.PreparedRequest, response: Any) -> None:
        if len(response.history) >= MAX_REDIRECTS:
            raise _too_many(self.label, response.url)
        same_origin_target(self.label, response.url, prepared_request.url or "")
        super().rebuild_auth(prepared_request, response)


def refuse_pool_redirects(pool: urllib3.PoolManager, label: str) -> None:
    """Make a vendor library's urllib3 pool follow only same-origin redirects.

    ``PoolManager`` follows redirects itself, with its default policy, whatever retries its
    pools were given; this replaces its ``urlopen`` on the instance with one that asks for
    each hop unredirected and checks where the next one goes.
    """
    send = pool.urlopen

    def urlopen(method: str, url: str, redirect: bool = True, **kw: Any) -> Any:
        for _ in range(MAX_REDIRECTS + 1):
            response = send(method, url, redirect=False, **kw)
            location = response.get_redirect_location() if redirect else None
            if not location:
                return response
            target = same_origin_target(label, url, location)
            response.drain_conn()
            if response.status == 303:  # RFC 9110 15.4.4: the next request is a GET
                method, kw["body"] = "GET", None
            url = target
        raise _too_many(label, url)

    pool.urlopen = urlopen  # type: ignore[method-assign]
