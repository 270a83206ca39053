"""The API response cache under ``.cache/api/<provider>``.

Keys are hashes of what was asked (method, URL, parameters, body, and the
headers that are not credentials), so no credential reaches the cache. Only
successful data responses are stored; token endpoints are never cached.
"""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
import time
from pathlib import Path
from typing import Any


def cache_key(*parts: Any) -> str:
    """A stable key for a request made of JSON-serialisable parts."""
    blob = json.dumps(parts, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(blob.encode()).hexdigest()


class ResponseCache:
    """A directory of cached response bodies with a time-to-live.

    ``refresh`` (``--full-refresh``): nothing is read, fresh answers still replace entries.
    """

    def __init__(self, directory: Path, ttl_seconds: float, *, refresh: bool = False) -> None:
        self.directory = directory
        self.ttl_seconds = ttl_seconds
        self.refresh = refresh

    def _path(self, key: str) -> Path:
        return self.directory / key[:2] / f"{key}.json"

    def get(self, key: str) -> Any | None:
        """The cached value for ``key``, or None when absent or older than the TTL."""
        if self.refresh:
            return None
        path = self._path(key)
        try:
            if time.time() - path.stat().st_mtime > self.ttl_seconds:
                return None
            return json.loads(path.read_bytes())
        except (OSError, ValueError):
            return None

    def get_response(self, key: str) -> dict[str, Any] | None:
        """A cached HTTP response (``status``, ``headers``, ``body``), or None; an entry of
        any other shape (hand-edited, from an older version) is ignored, and the next answer
        overwrites it."""
        value = self.get(key)
        if (
            isinstance(value, dict)
            and isinstance(value.get("status"), int)
            and isinstance(value.get("headers"), dict)
            and isinstance(value.get("body"), str)
        ):
            return value
        return None

    def put(self, key: str, value: Any) -> None:
        """Store ``value`` atomically (write then rename)."""
        path = self._path(key)
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=path.parent, suffix=".tmp")
        with os.fdopen(fd, "w") as handle:
            json.dump(value, handle, separators=(",", ":"))
        os.replace(tmp, path)
