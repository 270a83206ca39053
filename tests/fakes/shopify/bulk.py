"""Bulk operations in the fake, and the download of their JSONL result.

An operation runs in "ticks" (one per poll or listing) and leaves a JSONL file, ungrouped,
behind a signed loopback URL that refuses requests carrying the shop's token. A products
query gives a line per product and per variant, an orders query a line per order (with all
the buyer data the fake's orders carry) and per line item, children pointing at their parent
with ``__parentId``. An operation can be made to end FAILED (with an ``errorCode``, and a
``partialDataUrl`` when it leaves partial data), CANCELED or EXPIRED.
"""

from __future__ import annotations

import json
import random
import re
from collections import deque
from dataclasses import dataclass, field
from typing import Any

from werkzeug import Request, Response

from tests.fakes.shopify.graphql import matching
from tests.fakes.shopify.wire import Fault

_BULK_FILE_RE = re.compile(r"^/bulk-results/(?P<number>\d+)\.jsonl$")
_BULK_SEARCH_RE = re.compile(r"(?:products|orders)\(query: (\"(?:[^\"\\]|\\.)*\")\)")
_BULK_ORDERS_RE = re.compile(r"^\{\s*orders\b")


@dataclass(frozen=True)
class BulkEnd:
    """How an operation ends instead of COMPLETED."""

    status: str = "FAILED"
    error_code: str | None = None
    partial: bool = False  # leaves the first half of its lines behind partialDataUrl


@dataclass
class BulkOp:
    """One bulk query operation the fake runs."""

    number: int
    query: str
    ticks_left: int
    status: str = "CREATED"
    ending: BulkEnd | None = None
    lines: list[str] = field(default_factory=list)

    @property
    def error_code(self) -> str | None:
        return self.ending.error_code if self.ending and self.status == "FAILED" else None

    @property
    def gid(self) -> str:
        return f"gid://shopify/BulkOperation/{self.number}"


class BulkOperations:
    """``FakeShopify``'s bulk operations: started, polled and listed, their results served."""

    products: list[dict[str, Any]]
    orders: list[dict[str, Any]]
    bulk_ops: list[BulkOp]
    bulk_limit: int
    bulk_ticks: int
    bulk_failures: deque[BulkEnd]
    bulk_cut: int  # lines left out of every result file served (a truncated download)
    faults: deque[Fault]
    base_url: str

    def fail_next_bulk(self, error_code: str | None, partial: bool = False) -> None:
        """The next bulk operation started ends FAILED with ``error_code`` (and partial data)."""
        self.bulk_failures.append(BulkEnd("FAILED", error_code, partial))

    def end_next_bulk(self, status: str) -> None:
        """The next bulk operation started ends ``status`` (CANCELED, EXPIRED) instead."""
        self.bulk_failures.append(BulkEnd(status))

    def start_bulk(self, query: str, ticks: int) -> BulkOp:
        """A bulk operation already running (a killed run's, or another job's of this app)."""
        op = BulkOp(len(self.bulk_ops) + 1, query, ticks, status="RUNNING")
        self.bulk_ops.append(op)
        return op

    def bulk_file_url(self, op: BulkOp) -> str:
        """The signed URL of an operation's result; only the fake knows the signature."""
        return f"{self.base_url}/bulk-results/{op.number}.jsonl?signature=sig-{op.number}-secret"

    def _bulk_run(self, document: Any) -> dict[str, Any]:
        running = [op for op in self.bulk_ops if op.status in ("CREATED", "RUNNING")]
        if len(running) >= self.bulk_limit:
            error = {
                "field": None,
                "message": "A bulk query operation for this app and shop is already in progress: "
                + running[0].gid,
                "code": "OPERATION_IN_PROGRESS",
            }
            return {
                "data": {"bulkOperationRunQuery": {"bulkOperation": None, "userErrors": [error]}}
            }
        op = BulkOp(len(self.bulk_ops) + 1, str(document), self.bulk_ticks)
        if self.bulk_failures:
            op.ending = self.bulk_failures.popleft()
        self.bulk_ops.append(op)
        created = {"id": op.gid, "status": op.status}
        return {"data": {"bulkOperationRunQuery": {"bulkOperation": created, "userErrors": []}}}

    def _tick(self) -> None:
        """Bulk operations make progress whenever the app asks about them."""
        for op in self.bulk_ops:
            if op.status not in ("CREATED", "RUNNING"):
                continue
            op.ticks_left -= 1
            op.status = "RUNNING"
            if op.ticks_left <= 0:
                op.status = op.ending.status if op.ending else "COMPLETED"
                lines = self._bulk_lines(op.query)
                partial = op.ending is not None and op.ending.partial
                op.lines = lines[: len(lines) // 2] if partial else [] if op.ending else lines

    def _bulk_poll(self, gid: Any) -> dict[str, Any]:
        self._tick()
        op = next((o for o in self.bulk_ops if o.gid == gid), None)
        if op is None:
            return {"data": {"bulkOperation": None}}
        done = op.status == "COMPLETED" and op.lines
        partial = op.status == "FAILED" and op.lines
        node = {
            "id": op.gid,
            "status": op.status,
            "errorCode": op.error_code,
            "objectCount": str(len(op.lines)),
            "rootObjectCount": str(sum('"__parentId"' not in line for line in op.lines)),
            "url": self.bulk_file_url(op) if done else None,
            "partialDataUrl": self.bulk_file_url(op) if partial else None,
        }
        return {"data": {"bulkOperation": node}}

    def _bulk_list(self) -> dict[str, Any]:
        self._tick()
        nodes = [{"id": o.gid, "status": o.status, "query": o.query} for o in self.bulk_ops]
        return {"data": {"bulkOperations": {"nodes": nodes[::-1][:10]}}}

    def _bulk_lines(self, document: str) -> list[str]:
        """The JSONL of a bulk query: one line per root (product, order) and per child
        (variant, line item), shuffled."""
        found = _BULK_SEARCH_RE.search(document)
        search = json.loads(found[1]) if found else None
        roots, children = (
            (self.orders, "lineItems")
            if _BULK_ORDERS_RE.match(document)
            else (self.products, "variants")
        )
        lines = []
        for root in matching(roots, search):
            lines.append(json.dumps({k: v for k, v in root.items() if k != children}))
            for child in root[children]["nodes"]:
                lines.append(json.dumps({**child, "__parentId": root["id"]}))
        random.Random(len(lines)).shuffle(lines)  # ungrouped output promises no order
        return lines

    def _download(self, request: Request, number: int) -> Response:
        op = next((o for o in self.bulk_ops if o.number == number), None)
        signed = request.args.get("signature") == f"sig-{number}-secret"
        if op is None or not signed or "X-Shopify-Access-Token" in request.headers:
            return Response("<Error><Code>AccessDenied</Code></Error>", 403)
        fault = self.faults.popleft() if self.faults else Fault("pass")
        if fault.kind == "status":
            return Response("<Error><Code>Unavailable</Code></Error>", fault.status)
        lines = op.lines[: len(op.lines) - self.bulk_cut]
        return Response("".join(line + "\n" for line in lines), 200)
