"""A fake Amazon Creators API: the OAuth2 token endpoint and the catalog API on 127.0.0.1.

It speaks the wire format that python-amazon-paapi 7.x (and the ``creatorsapi_python_sdk``
it drives) sends and parses:

* Token (``POST /auth/o2/token``). Version 3.x credentials authenticate with Login with
  Amazon: a JSON body ``{grant_type, client_id, client_secret, scope: "creatorsapi::default"}``,
  no Basic auth. Version 2.x (Cognito) sends the same fields form-encoded with the scope
  ``creatorsapi/default``. Success is ``{access_token, token_type, expires_in}``; bad
  credentials are ``401 {"error": "invalid_client", ...}`` as LWA answers.
* API (``POST /catalog/v1/getItems`` and ``/catalog/v1/searchItems``): ``Authorization:
  Bearer <token>`` (2.x adds ``, Version 2.x``) and ``x-marketplace: www.amazon.com``;
  lowerCamelCase JSON bodies; partial failures listed in ``errors[{code, message}]`` next to
  the items; error bodies ``{type, message, reason}`` as the SDK's ``*ExceptionResponseContent``
  models describe them; a request id in ``x-amzn-RequestId``.

Every request is kept in ``token_requests`` / ``api_requests`` so tests can assert what the
client sent, and ``fail_next`` queues error responses (any status, a JSON or raw body, headers
such as ``Retry-After``) for the next API calls.
"""

from __future__ import annotations

import copy
import json
import threading
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qsl

from pytest_httpserver import HTTPServer
from werkzeug import Request, Response

TOKEN_PATH = "/auth/o2/token"
GET_ITEMS_PATH = "/catalog/v1/getItems"
SEARCH_ITEMS_PATH = "/catalog/v1/searchItems"
LWA_SCOPE = "creatorsapi::default"
COGNITO_SCOPE = "creatorsapi/default"
MAX_ITEM_IDS = 10


@dataclass
class Fault:
    """An error response served instead of the next API answer."""

    status: int
    body: dict[str, Any] | bytes | Iterator[bytes]  # an iterator: a body sent as it is made
    headers: dict[str, str] = field(default_factory=dict)


class FakeCreatorsApi:
    """The Creators API and its token endpoint, serving ``catalog`` to one set of credentials."""

    def __init__(
        self,
        catalog: Iterable[dict[str, Any]],
        *,
        searches: dict[str, list[str]] | None = None,
        credential_id: str = "fake-credential-id",
        credential_secret: str = "fake-credential-secret",
        version: str = "3.1",
        partner_tag: str = "pipelinetest-20",
        marketplace: str = "www.amazon.com",
        expires_in: int = 3600,
        inaccessible: Iterable[str] = (),
        silent: Iterable[str] = (),
        server: HTTPServer | None = None,
    ) -> None:
        self.catalog = {item["asin"]: item for item in catalog}
        self.searches = searches or {}
        self.credential_id = credential_id
        self.credential_secret = credential_secret
        self.version = version
        self.partner_tag = partner_tag
        self.marketplace = marketplace
        self.expires_in = expires_in
        self.inaccessible = set(inaccessible)
        self.silent = set(silent)  # left out of an answer with no error naming them
        # The GetItems result key: the SDK model reads "itemsResult", the API docs show
        # "itemResults"; "" answers an empty object (no items, no errors).
        self.items_key = "itemsResult"
        self.tokens_issued: list[str] = []
        self.valid_tokens: set[str] = set()
        self.token_requests: list[dict[str, Any]] = []
        self.api_requests: list[dict[str, Any]] = []
        self.faults: list[Fault | None] = []  # None: serve that call normally
        self._lock = threading.Lock()
        # A shared, already running server saves the half second a server takes to stop.
        self._own_server = server is None
        self.server = server or HTTPServer(host="127.0.0.1", port=0)

    # --- lifecycle ------------------------------------------------------------------------

    def __enter__(self) -> FakeCreatorsApi:
        self.server.clear()
        self.server.expect_request(TOKEN_PATH, method="POST").respond_with_handler(self._token)
        self.server.expect_request(GET_ITEMS_PATH, method="POST").respond_with_handler(
            self._get_items
        )
        self.server.expect_request(SEARCH_ITEMS_PATH, method="POST").respond_with_handler(
            self._search_items
        )
        if not self.server.is_running():
            self.server.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.clear()
        if self._own_server and self.server.is_running():
            self.server.stop()

    @property
    def url(self) -> str:
        """The API base URL (the wrapper's ``host``)."""
        return f"http://127.0.0.1:{self.server.port}"

    @property
    def token_url(self) -> str:
        """The complete token URL (the wrapper's ``auth_endpoint``)."""
        return self.url + TOKEN_PATH

    def env(self, **overrides: str) -> dict[str, str]:
        """The environment a provider needs to talk to this fake."""
        return {
            "AMAZON_CREATORS_CREDENTIAL_ID": self.credential_id,
            "AMAZON_CREATORS_CREDENTIAL_SECRET": self.credential_secret,
            "AMAZON_CREATORS_VERSION": self.version,
            "AMAZON_PARTNER_TAG": self.partner_tag,
            "AMAZON_CREATORS_API_URL": self.url,
            "AMAZON_CREATORS_AUTH_URL": self.token_url,
            **overrides,
        }

    # --- test controls --------------------------------------------------------------------

    def fail_next(
        self,
        status: int,
        body: dict[str, Any] | bytes | Iterator[bytes],
        headers: dict[str, str] | None = None,
        times: int = 1,
        after: int = 0,
    ) -> None:
        """Answer ``times`` API calls (not token calls) so, once ``after`` more were served."""
        self.faults.extend([None] * after)
        self.faults.extend(Fault(status, body, headers or {}) for _ in range(times))

    def revoke_tokens(self) -> None:
        """Invalidate every token issued so far (as when Amazon expires one early)."""
        self.valid_tokens.clear()

    def api_calls(self, path: str | None = None) -> list[dict[str, Any]]:
        """The API requests received, optionally only those for ``path``."""
        return [r for r in self.api_requests if path is None or r["path"] == path]

    # --- token endpoint -------------------------------------------------------------------

    def _token(self, request: Request) -> Response:
        lwa = self.version.startswith("3.")
        content_type = request.headers.get("Content-Type", "")
        if lwa:
            fields = json.loads(request.get_data() or b"{}") if "json" in content_type else {}
        else:
            fields = dict(parse_qsl(request.get_data(as_text=True)))
        self.token_requests.append(
            {
                "content_type": content_type,
                "authorization": request.headers.get("Authorization"),
                "fields": fields,
            }
        )
        if fields.get("grant_type") != "client_credentials":
            return _json(400, {"error": "unsupported_grant_type", "error_description": "bad grant"})
        if fields.get("scope") != (LWA_SCOPE if lwa else COGNITO_SCOPE):
            return _json(400, {"error": "invalid_scope", "error_description": "unknown scope"})
        if (fields.get("client_id"), fields.get("client_secret")) != (
            self.credential_id,
            self.credential_secret,
        ):
            return _json(
                401,
                {"error": "invalid_client", "error_description": "Client authentication failed"},
            )
        with self._lock:
            token = f"Atc|fake-access-token-{len(self.tokens_issued) + 1}"
            self.tokens_issued.append(token)
            self.valid_tokens.add(token)
        return _json(
            200, {"access_token": token, "token_type": "bearer", "expires_in": self.expires_in}
        )

    # --- catalog API ----------------------------------------------------------------------

    def _record(self, request: Request) -> dict[str, Any]:
        body = json.loads(request.get_data() or b"{}")
        entry = {
            "path": request.path,
            "authorization": request.headers.get("Authorization"),
            "marketplace": request.headers.get("x-marketplace"),
            "content_type": request.headers.get("Content-Type"),
            "json": body,
        }
        self.api_requests.append(entry)
        return entry

    def _check(self, entry: dict[str, Any]) -> Response | None:
        """The error response this request earns, or None when it may be served."""
        fault = self.faults.pop(0) if self.faults else None
        if fault is not None:
            return _json(fault.status, fault.body, fault.headers)
        auth = entry["authorization"] or ""
        token = _bearer_token(auth, self.version)
        if token is None:
            return _json(401, _unauthorized("MissingCredential", "Authorization header is missing"))
        if token not in self.valid_tokens:
            reason = "TokenExpired" if token in self.tokens_issued else "InvalidToken"
            return _json(401, _unauthorized(reason, "The access token is not valid"))
        if entry["marketplace"] != self.marketplace:
            return _json(400, _validation("FieldValidationFailed", "x-marketplace is not valid"))
        if entry["json"].get("partnerTag") != self.partner_tag:
            return _json(
                400,
                _validation(
                    "InvalidAssociate",
                    "The partner tag is not mapped to a valid associate store for the marketplace",
                ),
            )
        return None

    def _get_items(self, request: Request) -> Response:
        entry = self._record(request)
        rejected = self._check(entry)
        if rejected is not None:
            return rejected
        item_ids = entry["json"].get("itemIds") or []
        if not 1 <= len(item_ids) <= MAX_ITEM_IDS:
            return _json(400, _validation("FieldValidationFailed", "itemIds: 1 to 10 item ids"))
        items, errors = [], []
        for asin in item_ids:
            if asin in self.silent:
                continue
            if asin in self.inaccessible:
                errors.append(
                    {
                        "code": "ItemNotAccessible",
                        "message": f"The ItemId {asin} is not accessible through the Creators API.",
                    }
                )
            elif asin in self.catalog:
                items.append(copy.deepcopy(self.catalog[asin]))
            else:
                errors.append(
                    {
                        "code": "InvalidParameterValue",
                        "message": f"The ItemId {asin} provided in the request is invalid.",
                    }
                )
        payload: dict[str, Any] = {}
        if items and self.items_key:
            payload[self.items_key] = {"items": items}
        if errors:
            payload["errors"] = errors
        return _json(200, payload)

    def _search_items(self, request: Request) -> Response:
        entry = self._record(request)
        rejected = self._check(entry)
        if rejected is not None:
            return rejected
        body = entry["json"]
        count = int(body.get("itemCount") or 10)
        page = int(body.get("itemPage") or 1)
        found = self.searches.get(body.get("keywords", ""), [])
        window = found[(page - 1) * count : page * count]
        if not window:
            return _json(
                200,
                {
                    "errors": [
                        {"code": "NoResults", "message": "No results found for your request."}
                    ]
                },
            )
        keywords = body.get("keywords", "").replace(" ", "+")
        return _json(
            200,
            {
                "searchResult": {
                    "totalResultCount": len(found),
                    "searchURL": f"https://{self.marketplace}/s?k={keywords}&tag={self.partner_tag}",
                    "items": [copy.deepcopy(self.catalog[asin]) for asin in window],
                }
            },
        )


def _bearer_token(header: str, version: str) -> str | None:
    """The token of an Authorization header in the form this version uses."""
    if not header.startswith("Bearer "):
        return None
    value = header.removeprefix("Bearer ")
    if version.startswith("3."):
        return value if "," not in value else None
    token, _, suffix = value.partition(", ")
    return token if suffix == f"Version {version}" else None


def _unauthorized(reason: str, message: str) -> dict[str, Any]:
    return {"type": "UnauthorizedException", "message": message, "reason": reason}


def _validation(reason: str, message: str) -> dict[str, Any]:
    return {"type": "ValidationException", "message": message, "reason": reason}


def _json(
    status: int,
    body: dict[str, Any] | bytes | Iterator[bytes],
    headers: dict[str, str] | None = None,
) -> Response:
    return Response(
        json.dumps(body) if isinstance(body, dict) else body,
        status=status,
        headers={"x-amzn-RequestId": "fake-request-0001", **(headers or {})},
        content_type="application/json",
    )
