"""Bulk operations: start one (or join one already running), poll it until it ends.

A bulk query runs at Shopify in the background and leaves a JSONL file behind a signed URL
(https://shopify.dev/docs/api/usage/bulk-operations/queries). Apps may run a limited
number at a time per shop (one before API 2026-01, five since). When that limit is reached
(``OPERATION_IN_PROGRESS`` or ``LIMIT_REACHED``) an operation of this app already running
the very same document is joined (typically the one a killed run left behind); otherwise the
start is retried, with backoff, once the running ones finish.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from pipelines.errors import FatalProviderError, ProviderError, RetriableProviderError
from pipelines.net.redact import one_line
from pipelines.net.secrets import mask, register_secret
from providers.shopify import queries
from providers.shopify.client import ShopifyClient
from providers.shopify.options import FetchOptions
from providers.shopify.queries import PRODUCTS_BULK, BulkShape
from providers.shopify.settings import MAX_BULK_POLL_SECONDS

PROVIDER = "shopify"
BUSY_CODES = frozenset({"OPERATION_IN_PROGRESS", "LIMIT_REACHED"})
RUNNING = frozenset({"CREATED", "RUNNING"})
# https://shopify.dev/docs/api/admin-graphql/latest/enums/BulkOperationErrorCode
FAILURE_HINTS = {
    "ACCESS_DENIED": "the access token lacks a scope the query needs ({scope})",
    "TIMEOUT": "Shopify timed out running it; the next run tries again",
    "INTERNAL_SERVER_ERROR": "an intermittent error at Shopify; the next run tries again",
}


class BulkRunner:
    """Runs one bulk query document to completion and returns the operation it ended as."""

    def __init__(
        self,
        client: ShopifyClient,
        options: FetchOptions,
        shape: BulkShape = PRODUCTS_BULK,
        *,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.client = client
        self.shape = shape
        self.log = client.ctx.log
        self.poll_seconds = options.bulk_poll_seconds
        self.timeout = options.bulk_timeout_seconds
        self.clock = clock
        self.sleep = sleep

    def run(self, document: str) -> dict[str, Any]:
        """Start (or join) the operation and wait for it; the COMPLETED ``BulkOperation``."""
        deadline = self.clock() + self.timeout
        operation_id = self._start(document, deadline)
        return self._wait(operation_id, deadline)

    def _start(self, document: str, deadline: float) -> str:
        delay = self.poll_seconds
        while True:
            data = self.client.execute(
                queries.bulk_run_mutation(self.shape.operation),
                self.shape.operation,
                {"query": document},
                "bulk operation start",
                cost=queries.BULK_RUN_COST,
            )
            payload = data.get("bulkOperationRunQuery") or {}
            errors = payload.get("userErrors") or []
            operation = payload.get("bulkOperation") or {}
            if not errors and operation.get("id"):
                self.log.info("%s: started bulk operation %s", PROVIDER, operation["id"])
                return operation["id"]
            if not any(e.get("code") in BUSY_CODES for e in errors):
                raise FatalProviderError(
                    mask(f"{PROVIDER} bulk operation start refused: {_user_errors(errors)}")
                )
            running = self._running_operations()
            same = next((op for op in running if op.get("query") == document), None)
            if same is not None:
                self.log.info(
                    "%s: joining bulk operation %s, already running the same query",
                    PROVIDER,
                    same["id"],
                )
                return same["id"]
            self._pause(delay, deadline, f"other bulk operations still running: {_ids(running)}")
            self.log.info(
                "%s: bulk operations of this app already running (%s); retrying in %.1f s",
                PROVIDER,
                _ids(running) or "none listed",
                delay,
            )
            self.sleep(delay)
            delay = min(delay * 2, MAX_BULK_POLL_SECONDS)

    def _running_operations(self) -> list[dict[str, Any]]:
        data = self.client.execute(
            queries.BULK_LIST_QUERY,
            queries.BULK_LIST_OPERATION,
            {},
            "bulk operations list",
            cost=queries.BULK_LIST_COST,
        )
        nodes = (data.get("bulkOperations") or {}).get("nodes") or []
        return [op for op in nodes if isinstance(op, dict) and op.get("status") in RUNNING]

    def _wait(self, operation_id: str, deadline: float) -> dict[str, Any]:
        delay = self.poll_seconds
        while True:
            operation = self._poll(operation_id)
            status = operation.get("status")
            if status == "COMPLETED":
                self.log.info(
                    "%s: bulk operation %s completed: %s objects, %s %s",
                    PROVIDER,
                    operation_id,
                    operation.get("objectCount"),
                    operation.get("rootObjectCount"),
                    self.shape.roots,
                )
                return operation
            if status not in RUNNING:
                raise bulk_failure(operation_id, operation, self.shape)
            self._pause(delay, deadline, f"bulk operation {operation_id} still {status}")
            self.log.info(
                "%s: bulk operation %s %s, %s objects so far; next poll in %.1f s",
                PROVIDER,
                operation_id,
                status,
                operation.get("objectCount"),
                delay,
            )
            self.sleep(delay)
            delay = min(delay * 2, MAX_BULK_POLL_SECONDS)

    def _poll(self, operation_id: str) -> dict[str, Any]:
        data = self.client.execute(
            queries.BULK_POLL_QUERY,
            queries.BULK_POLL_OPERATION,
            {"id": operation_id},
            "bulk operation poll",
        )
        operation = data.get("bulkOperation")
        if not isinstance(operation, dict):
            raise FatalProviderError(f"{PROVIDER} bulk operation {operation_id}: not found")
        for signed in ("url", "partialDataUrl"):  # never shown; masked should one slip out
            register_secret(operation.get(signed))
        return operation

    def _pause(self, delay: float, deadline: float, state: str) -> None:
        """Fail when waiting ``delay`` more seconds would pass the deadline."""
        if self.clock() + delay > deadline:
            raise RetriableProviderError(
                f"{PROVIDER}: {state} after {self.timeout} s (bulk_timeout_seconds); "
                "a running operation goes on at Shopify and the next run joins it if it runs "
                "the same query"
            )


def bulk_failure(
    operation_id: str, operation: dict[str, Any], shape: BulkShape = PRODUCTS_BULK
) -> ProviderError:
    """The error for a bulk operation that ended without completing (FAILED, CANCELED,
    EXPIRED): its ``errorCode`` and what to do. Partial data a failed operation leaves behind
    (``partialDataUrl``) is never used: it is an arbitrary part of the result, and landing it
    would move the watermark past what was not read."""
    status = operation.get("status")
    code = operation.get("errorCode")
    partial = _partial_note(operation)
    if status == "FAILED":
        hint = FAILURE_HINTS.get(code, "see BulkOperationErrorCode in Shopify's reference")
        error_class = FatalProviderError if code == "ACCESS_DENIED" else RetriableProviderError
        return error_class(
            f"{PROVIDER} bulk operation {operation_id} failed with {code or 'no error code'}: "
            f"{hint.format(scope=shape.scope)}{partial}"
        )
    coded = f" with {code}" if code else ""
    return FatalProviderError(
        f"{PROVIDER} bulk operation {operation_id} ended as {status}{coded} (canceled or "
        f"expired at Shopify); nothing was fetched{partial}"
    )


def _partial_note(operation: dict[str, Any]) -> str:
    """What is said of the partial result of a failed operation, if Shopify kept one."""
    if not operation.get("partialDataUrl"):
        return ""
    return (
        f"; its partial result ({operation.get('objectCount')} objects) was left unused, "
        "the next run starts over"
    )


def _user_errors(errors: list[Any]) -> str:
    return one_line(
        "; ".join(
            f"{e.get('message')} ({e.get('code')})" if isinstance(e, dict) else str(e)
            for e in errors
        ),
        500,
    )


def _ids(operations: list[dict[str, Any]]) -> str:
    return ", ".join(str(op.get("id")) for op in operations)
