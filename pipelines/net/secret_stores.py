"""Secrets read from a secret store: AWS Secrets Manager or HashiCorp Vault (KV version 2).

``pipeline.toml`` names where each secret lives, never its value::

    [secrets]
    source = "vault"                                   # the store of references without a prefix
    [secrets.refs]
    SHOPIFY_ACCESS_TOKEN = "aws:prod/shopify#access_token"
    EBAY_CLIENT_SECRET = "secret/data/pipeline#ebay_client_secret"   # vault, from `source`

A reference is ``[store:]path[#key]``. For AWS the path is the secret's name or ARN and the
key a field of its JSON ``SecretString`` (no key: the whole string). For Vault the path is
``mount/path`` or ``mount/data/path`` (one secret) and the key, required, a field of its data.
Every value read is registered for masking before anything else happens, and every error
names the variable and its reference, never a value.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from pipelines.errors import ConfigError
from pipelines.net.endpoints import check_endpoint
from pipelines.net.extras import require
from pipelines.net.secrets import register_secret

SOURCES = ("env", "aws", "vault")
STORES = ("aws", "vault")
_NAME = re.compile(r"[A-Z_][A-Z0-9_]*")
_TIMEOUT_SECONDS = (5, 30)


class StoreError(Exception):
    """A store could not deliver a secret; the text is a reason, never a value."""


@dataclass(frozen=True)
class SecretRef:
    """Where one variable's value lives: ``store`` (aws, vault), ``path`` and optional ``key``."""

    store: str
    path: str
    key: str | None
    text: str  # the reference as written, for messages

    @property
    def location(self) -> tuple[str, str]:
        """One fetch serves every reference to the same secret."""
        return self.store, self.path


def parse_reference(name: str, text: Any, default_store: str) -> SecretRef:
    """``text`` as a reference for variable ``name``; ValueError with the reason otherwise."""
    if not _NAME.fullmatch(name):
        raise ValueError("not an environment variable name (A-Z, 0-9, _)")
    if not isinstance(text, str) or not text.strip():
        raise ValueError('expected a reference such as "aws:prod/shopify#access_token"')
    store, colon, rest = text.partition(":")
    if not colon or store not in STORES:
        store, rest = default_store, text
    if store not in STORES:
        raise ValueError(f"{text!r} names no store: prefix it with aws: or vault:, "
                         'or set [secrets] source = "aws" or "vault"')  # fmt: skip
    path, hash_sign, key = rest.rpartition("#") if "#" in rest else (rest, "", "")
    if not path or (hash_sign and not key):
        raise ValueError(f"{text!r}: expected {store}:path#key")
    if store == "vault":
        mount, _, rest = path.strip("/").partition("/")
        path = f"{mount}/{rest.removeprefix('data/')}"  # the API path and the CLI's are one secret
        if not key or not rest.removeprefix("data/"):
            raise ValueError(f"{text!r}: a Vault reference is vault:mount/path#key")
    return SecretRef(store, path, key or None, text)


class AwsSecretsManager:
    """AWS Secrets Manager through boto3, configured by the usual AWS_* variables."""

    label = "AWS Secrets Manager"

    def __init__(self, env: Mapping[str, str]) -> None:
        require("aws", "a secret reference to " + self.label)
        import boto3  # only runs that use the store pay for the import
        from botocore.config import Config

        endpoint = env.get("AWS_ENDPOINT_URL_SECRETS_MANAGER") or env.get("AWS_ENDPOINT_URL")
        session = boto3.session.Session(
            aws_access_key_id=env.get("AWS_ACCESS_KEY_ID") or None,
            aws_secret_access_key=env.get("AWS_SECRET_ACCESS_KEY") or None,
            aws_session_token=env.get("AWS_SESSION_TOKEN") or None,
            region_name=env.get("AWS_REGION") or env.get("AWS_DEFAULT_REGION") or None,
        )
        self._client = session.client(
            "secretsmanager",
            endpoint_url=check_endpoint("AWS_ENDPOINT_URL", endpoint) if endpoint else None,
            config=Config(
                connect_timeout=_TIMEOUT_SECONDS[0],
                read_timeout=_TIMEOUT_SECONDS[1],
                retries={"max_attempts": 3, "mode": "standard"},
            ),
        )

    def read(self, path: str) -> str:
        """The ``SecretString`` of secret ``path``; ``StoreError`` with a reason otherwise."""
        from botocore.exceptions import BotoCoreError, ClientError

        try:
            answer = self._client.get_secret_value(SecretId=path)
        except ClientError as exc:
            code = exc.response.get("Error", {}).get("Code", "error")
            raise StoreError(_AWS_REASONS.get(code, code)) from None
        except BotoCoreError as exc:
            raise StoreError(type(exc).__name__) from None
        if "SecretString" not in answer:
            raise StoreError("the secret is binary; store it as a string")
        return answer["SecretString"]


_AWS_REASONS = {
    "ResourceNotFoundException": "no such secret",
    "AccessDeniedException": "access denied",
    "UnrecognizedClientException": "the AWS credentials were not accepted",
    "InvalidRequestException": "the secret cannot be read (deleted or disabled?)",
    "DecryptionFailure": "the secret cannot be decrypted with its KMS key",
}


class VaultKV2:
    """HashiCorp Vault's KV version 2 engine through hvac: VAULT_ADDR, VAULT_TOKEN.

    Redirects are refused rather than followed: requests would resend ``X-Vault-Token`` to
    whatever host a redirect names. Point VAULT_ADDR at the active node or a load balancer.
    """

    label = "Vault"

    def __init__(self, env: Mapping[str, str]) -> None:
        require("vault", "a secret reference to " + self.label)
        import hvac
        import requests

        address, token = env.get("VAULT_ADDR", ""), env.get("VAULT_TOKEN", "")
        if not address or not token:
            missing = " and ".join(n for n in ("VAULT_ADDR", "VAULT_TOKEN") if not env.get(n))
            raise StoreError(f"{missing} not set")
        register_secret(token)
        self.address = check_endpoint("VAULT_ADDR", address)
        session = requests.Session()
        session.max_redirects = 0  # a redirect raises TooManyRedirects instead of being followed
        self._client = hvac.Client(
            url=self.address, token=token, timeout=_TIMEOUT_SECONDS, session=session,
            namespace=env.get("VAULT_NAMESPACE") or None, verify=env.get("VAULT_CACERT") or True,
        )  # fmt: skip
        self._errors = hvac.exceptions
        self._requests_errors = requests.RequestException

    def read(self, path: str) -> Mapping[str, Any]:
        """The data of the newest version of secret ``rest`` in the KV v2 engine at ``mount``."""
        mount, _, rest = path.partition("/")
        try:
            answer = self._client.secrets.kv.v2.read_secret_version(
                path=rest, mount_point=mount, raise_on_deleted_version=True
            )
        except self._errors.VaultError as exc:
            raise StoreError(self._reason(exc)) from None
        except self._requests_errors as exc:
            raise StoreError(self._transport_reason(exc)) from None
        data = answer.get("data", {}).get("data") if isinstance(answer, dict) else None
        if not isinstance(data, dict):
            raise StoreError("the answer is not a KV version 2 secret")
        return data

    def _reason(self, exc: Exception) -> str:
        errors = self._errors
        reasons = (
            (errors.InvalidPath, "no such secret (or its newest version is deleted)"),
            (errors.Forbidden, "permission denied (check the token's policy)"),
            (errors.Unauthorized, "the token was not accepted"),
            (errors.VaultDown, "Vault is sealed or down"),
        )
        return next((text for kind, text in reasons if isinstance(exc, kind)), type(exc).__name__)

    def _transport_reason(self, exc: Exception) -> str:
        response = getattr(exc, "response", None)
        if response is not None and response.is_redirect:
            target = urlsplit(response.headers.get("Location", "")).netloc or "elsewhere"
            here = urlsplit(self.address).netloc
            return f"{here} answered with a redirect to {target}; it is not followed"
        return f"cannot reach {self.address} ({type(exc).__name__})"


STORE_CLIENTS: dict[str, Callable[[Mapping[str, str]], Any]] = {
    "aws": AwsSecretsManager,
    "vault": VaultKV2,
}


def _pick(ref: SecretRef, secret: Any) -> str:
    """The value ``ref`` names inside what its store returned."""
    if ref.key is None:
        if not isinstance(secret, str) or _is_json_object(secret):
            raise StoreError("the secret has fields; name one: path#key")
        return secret
    if isinstance(secret, str):
        try:
            secret = json.loads(secret)
        except ValueError:
            raise StoreError(f"#{ref.key}: the secret is not a JSON object") from None
    value = secret.get(ref.key) if isinstance(secret, dict) else None
    if not isinstance(value, str) or not value:
        raise StoreError(f"no field {ref.key!r} holding a non-empty string")
    return value


def _is_json_object(text: str) -> bool:
    try:
        return isinstance(json.loads(text), dict)
    except ValueError:
        return False


def read_references(refs: Mapping[str, SecretRef], env: Mapping[str, str]) -> dict[str, str]:
    """Each variable of ``refs`` with its value from its store, every value registered.

    One client per store and one read per secret, however many fields are taken from it.
    A failure is a ``ConfigError`` naming the variable, the reference and the reason.
    """
    clients: dict[str, Any] = {}
    fetched: dict[tuple[str, str], Any] = {}
    values: dict[str, str] = {}
    for name, ref in refs.items():
        try:
            if ref.store not in clients:
                clients[ref.store] = STORE_CLIENTS[ref.store](env)
            if ref.location not in fetched:
                fetched[ref.location] = clients[ref.store].read(ref.path)
            value = _pick(ref, fetched[ref.location])
        except StoreError as exc:
            store = STORE_CLIENTS[ref.store].label
            raise ConfigError(f"secrets.refs.{name} = {ref.text!r}: {store}: {exc}") from None
        register_secret(value)
        values[name] = value
    return values
