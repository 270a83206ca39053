"""A fake HashiCorp Vault serving the KV version 2 secrets engine on 127.0.0.1.

It speaks Vault's wire format for a read: ``GET /v1/{mount}/data/{path}`` (optional
``?version=N``) with the token in ``X-Vault-Token`` (or ``Authorization: Bearer``); ``200`` with
``{"data": {"data": {...}, "metadata": {...}}, "lease_id": "", ...}``; ``403
{"errors": ["permission denied"]}`` for a missing or unknown token or a path its policy does not
grant; ``404 {"errors": []}`` for no such secret, and ``404`` with ``data: null`` and the
metadata's ``deletion_time`` when the newest version was deleted; ``503 {"errors": ["Vault is
sealed"]}`` while sealed; and, as a standby node would, a ``307`` to another address.
"""

from __future__ import annotations

import json
import re
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import pytest
from pytest_httpserver import HTTPServer
from werkzeug import Request, Response

ROOT_TOKEN = "hvs.fake-root-token-0123456789"  # pragma: allowlist secret
CREATED = "2026-11-02T09:15:00.000000Z"
_ANY_PATH = re.compile(r"^/v1/.*")


@dataclass
class SecretVersions:
    """Every version of one secret (1-based, as Vault numbers them) and which are deleted."""

    versions: list[dict[str, Any]] = field(default_factory=list)
    deleted: set[int] = field(default_factory=set)

    def metadata(self, version: int) -> dict[str, Any]:
        return {
            "created_time": CREATED,
            "custom_metadata": None,
            "deletion_time": CREATED if version in self.deleted else "",
            "destroyed": False,
            "version": version,
        }


class FakeVault:
    """One Vault server: mounts of KV v2 secrets, tokens with the path prefixes they may read."""

    def __init__(self) -> None:
        self.server = HTTPServer(host="127.0.0.1", port=0)
        self.reset()

    def reset(self) -> None:
        self.secrets: dict[tuple[str, str], SecretVersions] = {}
        self.tokens: dict[str, tuple[str, ...]] = {ROOT_TOKEN: ("",)}
        self.requests: list[dict[str, Any]] = []
        self.sealed = False
        self.redirect_to: str | None = None

    def start(self) -> FakeVault:
        self.server.expect_request(_ANY_PATH).respond_with_handler(self._handle)
        self.server.start()
        return self

    def stop(self) -> None:
        self.server.clear()
        if self.server.is_running():
            self.server.stop()

    @property
    def url(self) -> str:
        return self.server.url_for("").rstrip("/")

    def env(self, token: str = ROOT_TOKEN) -> dict[str, str]:
        return {"VAULT_ADDR": self.url, "VAULT_TOKEN": token}

    # --- set-up -------------------------------------------------------------------------------

    def put(self, mount: str, path: str, data: dict[str, Any]) -> None:
        """Write a new version of ``mount/path`` (as ``vault kv put`` does)."""
        self.secrets.setdefault((mount, path), SecretVersions()).versions.append(dict(data))

    def delete_latest(self, mount: str, path: str) -> None:
        secret = self.secrets[(mount, path)]
        secret.deleted.add(len(secret.versions))

    def add_token(self, token: str, *prefixes: str) -> None:
        """A token whose policy allows reading ``mount/data/<prefix>…`` for each prefix."""
        self.tokens[token] = prefixes

    # --- the API ------------------------------------------------------------------------------

    def _handle(self, request: Request) -> Response:
        token = request.headers.get("X-Vault-Token") or request.headers.get(
            "Authorization", ""
        ).removeprefix("Bearer ")
        self.requests.append({"path": request.path, "token": token, "args": dict(request.args)})
        if self.redirect_to:
            return Response(status=307, headers={"Location": self.redirect_to + request.full_path})
        if self.sealed:
            return _errors(503, ["Vault is sealed"])
        mount, _, rest = request.path.removeprefix("/v1/").partition("/")
        if request.method != "GET" or not rest.startswith("data/"):
            return _errors(405 if request.method != "GET" else 404, [])
        path = rest.removeprefix("data/")
        allowed = self.tokens.get(token)
        if allowed is None or not any(f"{mount}/{path}".startswith(p) for p in allowed):
            return _errors(403, ["permission denied"])
        return self._read(mount, path, request.args.get("version"))

    def _read(self, mount: str, path: str, version_arg: str | None) -> Response:
        secret = self.secrets.get((mount, path))
        if secret is None or not secret.versions:
            return _errors(404, [])
        version = int(version_arg) if version_arg else len(secret.versions)
        if not 1 <= version <= len(secret.versions):
            return _errors(404, [])
        deleted = version in secret.deleted
        body = {
            "request_id": str(uuid.uuid4()),
            "lease_id": "",
            "renewable": False,
            "lease_duration": 0,
            "data": {
                "data": None if deleted else secret.versions[version - 1],
                "metadata": secret.metadata(version),
            },
            "wrap_info": None,
            "warnings": None,
            "auth": None,
            "mount_type": "kv",
        }
        return _json(404 if deleted else 200, body)


def _json(status: int, body: Any) -> Response:
    return Response(json.dumps(body), status=status, content_type="application/json")


def _errors(status: int, errors: list[str]) -> Response:
    return _json(status, {"errors": errors})


@pytest.fixture(scope="module")
def vault_server() -> Iterator[FakeVault]:
    fake = FakeVault().start()
    try:
        yield fake
    finally:
        fake.stop()


@pytest.fixture
def vault(vault_server: FakeVault) -> FakeVault:
    vault_server.reset()
    return vault_server
