"""Bulk operations in the fake, and the download of their JSONL result.

An operation runs in "ticks" (one per poll or listing) and leaves a JSONL file, ungrouped,
behind a signed loopback URL that refuses requests carrying the shop's token.
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
_BULK_SEARCH_RE = re.compile(r"products\(query: (\"(?:[^\"\\]|\\.)*\")\)")


@dataclass
class BulkOp:
    """One bulk query operation the fake runs."""

    number: int
    query: str
    ticks_left: int
    status: str = "CREATED"
    error_code: str | None = None
    lines: list[str] = field(default_factory=list)

    @property
    def gid(self) -> str:
        return f"gid://shopify/BulkOperation/{self.number}"


class BulkOperations:
    """``FakeShopify``'s bulk operations: started, polled and listed, their results served."""

    products: list[dict[str, Any]]
    bulk_ops: list[BulkOp]
    bulk_limit: int
    bulk_ticks: int
    bulk_failures: deque[str]
    bulk_cut: int  # lines left out of every result file served (a truncated download)
    faults: deque[Fault]
    base_url: str

    def fail_next_bulk(self, error_code: str) -> None:
        """The next bulk operation started ends FAILED with ``error_code``."""
        self.bulk_failures.append(error_code)

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
            op.error_code = self.bulk_failures.popleft()
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
                op.status = "FAILED" if op.error_code else "COMPLETED"
                op.lines = [] if op.error_code else self._bulk_lines(op.query)

    def _bulk_poll(self, gid: Any) -> dict[str, Any]:
        self._tick()
        op = next((o for o in self.bulk_ops if o.gid == gid), None)
        if op is None:
            return {"data": {"bulkOperation": None}}
        done = op.status == "COMPLETED" and op.lines
        node = {
            "id": op.gid,
            "status": op.status,
            "errorCode": op.error_code,
            "objectCount": str(len(op.lines)),
            "rootObjectCount": str(sum('"__parentId"' not in line for line in op.lines)),
            "url": self.bulk_file_url(op) if done else None,
        }
        return {"data": {"bulkOperation": node}}

    def _bulk_list(self) -> dict[str, Any]:
        self._tick()
        nodes = [{"id": o.gid, "status": o.status, "query": o.query} for o in self.bulk_ops]
        return {"data": {"bulkOperations": {"nodes": nodes[::-1][:10]}}}

    def _bulk_lines(self, document: str) -> list[str]:
        """The JSONL of a bulk products query: one line per product and per variant, shuffled."""
        found = _BULK_SEARCH_RE.search(document)
        lines = []
        for product in matching(self.products, json.loads(found[1]) if found else None):
            node = {k: v for k, v in product.items() if k != "variants"}
            lines.append(json.dumps(node))
            for variant in product["variants"]["nodes"]:
                lines.append(json.dumps({**variant, "__parentId": product["id"]}))
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
