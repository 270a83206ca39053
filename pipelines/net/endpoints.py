"""Endpoint overrides checked: https anywhere, plain http only on loopback hosts.

Apart from ``http`` (the client, which loads requests) so that reading the config and the
providers' settings does not load the HTTP stack.
"""

from __future__ import annotations

import ipaddress
from urllib.parse import urlsplit

from pipelines.errors import ConfigError


def is_loopback(host: str) -> bool:
    """True for ``localhost`` and every loopback address (127.0.0.0/8, ::1)."""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def check_endpoint(env_name: str, url: str) -> str:
    """Validate an endpoint override: https anywhere, plain http only on loopback hosts."""
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ConfigError(f"{env_name}: {url!r} is not an http(s) URL")
    if parts.scheme == "http" and not is_loopback(parts.hostname):
        raise ConfigError(
            f"{env_name}: plain http is only allowed for loopback hosts (127.0.0.1, ::1, "
            f"localhost); use https for {parts.hostname}"
        )
    return url.rstrip("/")
