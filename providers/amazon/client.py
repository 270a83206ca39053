"""Creators API calls through python-amazon-paapi 7.x (``amazon_creatorsapi.AmazonCreatorsApi``).

The wrapper owns the transport: urllib3 for data calls, ``requests`` for the OAuth2 token,
one token refresh on a 401, and its token cache. Its own retry loop is switched off: the
wrapper's urllib3 pool gets the shared HTTP layer's retry policy instead
(``ctx.http.retry_policy``), so 429, 5xx and connection errors are retried with the run's
backoff, ``Retry-After`` handling, retry budget, circuit breaker and counters. This module
does the rest of what ``HttpClient`` would do: it counts calls in ``ctx.stats``, serves and
fills ``ctx.cache``, registers the tokens the wrapper mints as secrets, and turns the
wrapper's exceptions into provider errors whose messages name the call and say what to do.
The token request itself (``requests.post`` inside the wrapper) is not retried.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, TypeVar

import requests
import urllib3
from amazon_creatorsapi import AmazonCreatorsApi
from amazon_creatorsapi.core.constants import DEFAULT_HOST
from amazon_creatorsapi.errors import (
    AccessDeniedError,
    AmazonCreatorsApiError,
    AssociateValidationError,
    AuthenticationError,
    InvalidArgumentError,
    ItemsNotFoundError,
    RequestError,
    TooManyRequestsError,
)
from creatorsapi_python_sdk.models.error_data import ErrorData
from creatorsapi_python_sdk.models.item import Item

from pipelines.errors import ConfigError, FatalProviderError, ProviderError, RetriableProviderError
from pipelines.net.cache import cache_key
from pipelines.net.deadline import deadline_scope, use_deadlines
from pipelines.net.endpoints import check_endpoint
from pipelines.net.http import ProviderUnreachableError
from pipelines.net.redact import one_line, reduce_message
from pipelines.net.secrets import register_secret
from providers.amazon.redirects import refuse_foreign_redirects
from providers.amazon.settings import (
    API_URL_ENV,
    AUTH_URL_ENV,
    CREDENTIAL_ID_ENV,
    CREDENTIAL_SECRET_ENV,
    DEFAULT_RETRIES,
    DEFAULT_SEARCH_ITEM_COUNT,
    PARTNER_TAG_ENV,
    VERSION_ENV,
)
from providers.base import FetchContext, ProviderStats

T = TypeVar("T")


@dataclass(frozen=True)
class Page:
    """One call's items in their wire form, and its partial errors (``{code, message}``)."""

    items: list[dict[str, Any]]
    errors: list[dict[str, str]]


def wire_item(item: Item) -> dict[str, Any]:
    """The item as Amazon sent it: lowerCamelCase keys, JSON types, no nulls.

    The SDK's ``to_dict()`` also uses the wire names (``by_alias``) but keeps enum members
    (``savingBasisType``) as Python objects; ``mode="json"`` gives the plain JSON values.
    Fields the SDK's models do not know are dropped by the SDK before we see the item.
    """
    return item.model_dump(mode="json", by_alias=True, exclude_none=True)


def wire_error(error: ErrorData) -> dict[str, str]:
    """A partial error as on the wire."""
    return {"code": error.code, "message": error.message}


def errors_from_message(message: str) -> list[dict[str, str]]:
    """Partial errors the wrapper folded into an ``ItemsNotFoundError`` message.

    When no item of a GetItems call comes back, the wrapper raises instead of returning
    ``.errors``, with the message ``"No items have been found (Code: message; ...)"``.
    """
    _, found, inner = message.partition(" (")
    if not found or not inner.endswith(")"):
        return []  # no partial error at all
    errors = []
    for part in inner[:-1].split("; "):
        code, _, text = part.partition(": ")
        errors.append({"code": code.strip() or "ItemsNotFound", "message": text.strip()})
    return errors


class CreatorsClient:
    """GetItems and SearchItems for one run, with call counting and the response cache."""

    def __init__(self, ctx: FetchContext, marketplace: str) -> None:
        self.ctx = ctx
        self.marketplace = marketplace
        self.host = _endpoint(ctx.settings, API_URL_ENV) or DEFAULT_HOST
        self.auth_endpoint = _endpoint(ctx.settings, AUTH_URL_ENV)
        self._api: AmazonCreatorsApi | None = None

    @property
    def api(self) -> AmazonCreatorsApi:
        """The wrapper, built on the first call that the cache cannot answer."""
        if self._api is None:
            self._api = self._build()
        return self._api

    def close(self) -> None:
        """Release the wrapper's connection pool."""
        if self._api is not None:
            self._api.close()

    def get_items(self, asins: list[str], what: str) -> Page:
        """GetItems for at most 10 ASINs; items the API could not return are in ``errors``."""
        return self._cached(("getItems", asins), lambda: self._get_items(asins, what))

    def search_items(
        self,
        keywords: str,
        search_index: str | None,
        page: int,
        what: str,
        item_count: int = DEFAULT_SEARCH_ITEM_COUNT,
    ) -> Page:
        """One SearchItems page (of 10); no results is an empty page, not a failure."""
        params = {"keywords": keywords, "search_index": search_index, "item_page": page}
        if item_count != DEFAULT_SEARCH_ITEM_COUNT:
            params["item_count"] = item_count
        return self._cached(("searchItems", params), lambda: self._search_items(params, what))

    # --- calls ----------------------------------------------------------------------------

    def _get_items(self, asins: list[str], what: str) -> Page:
        """One GetItems call; an answer with no item and no error for any ASIN asked is an
        unusable response (a renamed result key, say), never a silent empty success."""
        try:
            result = self._invoke(what, lambda: self.api.get_items(asins))
        except ItemsNotFoundError as exc:
            errors = errors_from_message(str(exc))
            if not errors:
                raise FatalProviderError(
                    f"amazon {what}: the answer holds no item and no error for any of the "
                    f"{len(asins)} ASIN(s) asked (neither itemsResult nor itemResults)"
                ) from exc
            return Page([], errors)
        return Page([wire_item(i) for i in result], [wire_error(e) for e in result.errors])

    def _search_items(self, params: dict[str, Any], what: str) -> Page:
        try:
            result = self._invoke(
                what,
                lambda: self.api.search_items(
                    keywords=params["keywords"],
                    search_index=params["search_index"],
                    item_count=params.get("item_count", DEFAULT_SEARCH_ITEM_COUNT),
                    item_page=params["item_page"],
                ),
            )
        except ItemsNotFoundError:
            return Page([], [])
        return Page([wire_item(i) for i in result.items or []], [])

    def _invoke(self, what: str, call: Callable[[], T]) -> T:
        """Run one wrapper call: counted, refused by an open breaker, its errors made ours."""
        self.ctx.http.charge(what)
        self.ctx.http.guard.start(what)
        self.ctx.stats.api_calls += 1
        deadline = self.ctx.http.limits.call_deadline()  # each attempt's, body included
        try:
            with deadline_scope(deadline):
                result = call()
        except ItemsNotFoundError as exc:
            if _status(exc) == 404:  # not "no such item": the URL is wrong
                raise provider_error(exc, what, self.marketplace) from exc
            raise
        except AmazonCreatorsApiError as exc:
            stop = self.ctx.http.guard.stop
            if deadline.expired and not stop:  # the SDK reads the body after the retries
                stop = f"no complete response within {deadline.reason()}"
            raise provider_error(exc, what, self.marketplace, stop) from exc
        except ValueError as exc:  # pydantic: the response does not fit the SDK's models
            raise FatalProviderError(
                f"amazon {what}: the response does not match the Creators API models: "
                f"{one_line(str(exc))}"
            ) from exc
        self.ctx.http.guard.succeeded()
        return result

    def _cached(self, request: tuple[str, Any], call: Callable[[], Page]) -> Page:
        """Serve ``request`` from ``ctx.cache`` when it holds it; store successful answers."""
        cache = self.ctx.cache
        if cache is None:
            return call()
        # What was asked and where, never the credentials (the partner tag is in every URL).
        key = cache_key(
            "amazon", self.host, self.marketplace, self.ctx.settings[PARTNER_TAG_ENV], *request
        )
        hit = cache.get(key)
        if _is_page(hit):  # anything else (a hand-edited entry) is ignored and overwritten
            self.ctx.stats.cache_hits += 1
            return Page(hit["items"], hit["errors"])
        page = call()
        cache.put(key, {"items": page.items, "errors": page.errors})
        return page

    def _build(self) -> AmazonCreatorsApi:
        settings, options = self.ctx.settings, self.ctx.options
        try:
            api = AmazonCreatorsApi(
                credential_id=settings[CREDENTIAL_ID_ENV],
                credential_secret=settings[CREDENTIAL_SECRET_ENV],
                version=settings[VERSION_ENV],
                tag=settings[PARTNER_TAG_ENV],
                marketplace=self.marketplace,
                throttling=float(options["throttling_seconds"]),
                timeout=self.ctx.http.timeout,
                retries=0,  # the shared policy below retries instead
                host=self.host,
                auth_endpoint=self.auth_endpoint,
            )
        except InvalidArgumentError as exc:
            raise ConfigError(
                f"amazon: {exc} (check {VERSION_ENV} and [providers.amazon] throttling_seconds)"
            ) from exc
        # The pool is built lazily per host from these keywords, so this reaches every call
        # (a private path of python-amazon-paapi 7.1; tests/pipelines/test_faults.py proves it).
        pool = api._api_client.rest_client.pool_manager
        pool.connection_pool_kw["retries"] = self.ctx.http.retry_policy(DEFAULT_RETRIES)
        refuse_foreign_redirects(api)  # before watch_tokens, which wraps the token refresh
        use_deadlines(pool)  # the deadline, not the body cap: the SDK reads bodies whole
        watch_tokens(api, self.ctx.stats)
        accept_item_results(api)
        return api


def accept_item_results(api: AmazonCreatorsApi) -> None:
    """Read GetItems answers keyed ``itemResults`` (the Creators API docs) like ``itemsResult``
    (what python-amazon-paapi 7.1's model reads); without this, every item of such an answer
    would be dropped. Wraps the SDK client's ``deserialize`` (a private path, like the pool's
    retries above); a release that moves it leaves the empty-answer error as the safety net.
    """
    client = getattr(api, "_api_client", None)
    original = getattr(client, "deserialize", None)
    if original is None:
        return

    def deserialize(text: str, response_type: str, content_type: str | None) -> Any:
        if response_type == "GetItemsResponseContent" and '"itemResults"' in text:
            text = _rename_item_results(text)
        return original(text, response_type, content_type)

    client.deserialize = deserialize


def _rename_item_results(text: str) -> str:
    try:
        payload = json.loads(text)
    except ValueError:
        return text  # the SDK reports it
    if isinstance(payload, dict) and "itemsResult" not in payload:
        result = payload.pop("itemResults", None)
        payload["itemsResult"] = {"items": result} if isinstance(result, list) else result
    return json.dumps(payload)


def _is_page(hit: Any) -> bool:
    return (
        isinstance(hit, dict)
        and isinstance(hit.get("items"), list)
        and isinstance(hit.get("errors"), list)
    )


def watch_tokens(api: AmazonCreatorsApi, stats: ProviderStats) -> None:
    """Count the wrapper's token requests and register every token it mints as a secret.

    The wrapper keeps its OAuth2 token manager on a private attribute; should a later
    release move it, tokens are no longer masked in logs (we never log them ourselves)
    and token calls are no longer counted, but fetching works the same.
    """
    manager = getattr(getattr(api, "_api_client", None), "token_manager", None)
    refresh = getattr(manager, "refresh_token", None)
    if refresh is None:
        return

    def refresh_and_register() -> str:
        stats.api_calls += 1
        token = refresh()
        register_secret(token)
        return token

    manager.refresh_token = refresh_and_register


def provider_error(
    exc: AmazonCreatorsApiError, what: str, marketplace: str, stop: str | None = None
) -> ProviderError:
    """Our error for a wrapper error, with what to do about it and its HTTP status if any.

    ``stop`` says why the shared retry policy gave up early (budget, breaker), when it did.
    """
    detail = reduce_message(str(exc)) + (f"; {stop}" if stop else "")
    error = _translate(exc, f"amazon {what}", detail, marketplace)
    error.status = _status(exc)
    return error


def _translate(
    exc: AmazonCreatorsApiError, prefix: str, detail: str, marketplace: str
) -> ProviderError:
    if isinstance(exc, AuthenticationError):
        if isinstance(exc.__cause__, requests.RequestException):
            return ProviderUnreachableError(f"{prefix}: token endpoint unreachable ({detail})")
        return FatalProviderError(
            f"{prefix}: authentication failed; check {CREDENTIAL_ID_ENV}, "
            f"{CREDENTIAL_SECRET_ENV} and that {VERSION_ENV} is the version Amazon issued "
            f"them for ({detail})"
        )
    if isinstance(exc, AccessDeniedError):
        return FatalProviderError(
            f"{prefix}: access denied; the Associates account may not be eligible for the "
            f"Creators API yet ({detail})"
        )
    if isinstance(exc, AssociateValidationError):
        return FatalProviderError(
            f"{prefix}: {PARTNER_TAG_ENV} is not a valid tracking id for {marketplace} ({detail})"
        )
    if isinstance(exc, TooManyRequestsError):
        return RetriableProviderError(
            f"{prefix}: rate limited by Amazon after retries; raise [providers.amazon] "
            f"throttling_seconds ({detail})"
        )
    if isinstance(exc, InvalidArgumentError):
        return FatalProviderError(f"{prefix}: request rejected ({detail})")
    if isinstance(exc, ItemsNotFoundError):
        return FatalProviderError(f"{prefix}: 404 Not Found; check {API_URL_ENV} ({detail})")
    if isinstance(exc, RequestError) and isinstance(exc.__cause__, urllib3.exceptions.HTTPError):
        return ProviderUnreachableError(f"{prefix}: no response after retries ({detail})")
    if isinstance(exc, RequestError):
        return RetriableProviderError(f"{prefix}: request failed after retries ({detail})")
    return FatalProviderError(f"{prefix}: {type(exc).__name__}: {detail}")


def _status(exc: AmazonCreatorsApiError) -> int | None:
    """The HTTP status behind a wrapper error (401 for credentials the token endpoint refused)."""
    status = getattr(exc.__cause__, "status", None)
    if isinstance(status, int) and status:
        return status
    if isinstance(exc, AuthenticationError) and exc.__cause__ is None:
        return 401
    return None


def _endpoint(settings: Mapping[str, str], env_name: str) -> str | None:
    """A validated endpoint override, or None when unset."""
    value = settings.get(env_name)
    return check_endpoint(env_name, value) if value else None
