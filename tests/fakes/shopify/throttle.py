"""Shopify's rate limits in the fake: the leaky cost bucket, THROTTLED and MAX_COST_EXCEEDED.

The bucket restores in real time: a query runs only when the bucket holds its requested cost,
the unused part is refunded, ``extensions.cost`` reports the bucket, and a query it cannot pay
for is answered THROTTLED. Above 1,000 requested points a query is refused unrun.
"""

from __future__ import annotations

import re
import time
from dataclasses import dataclass, field
from typing import Any

THROTTLED_ERROR = {
    "message": "Throttled",
    "extensions": {
        "code": "THROTTLED",
        "documentation": "https://shopify.dev/api/usage/rate-limits",
    },
}
MAX_COST = 1000


@dataclass
class CostBucket:
    """Shopify's leaky bucket of query cost points, restoring in real time."""

    maximum: float = 2000.0
    restore_rate: float = 100.0
    available: float = -1.0  # full unless given
    last: float = field(default_factory=time.monotonic)

    def __post_init__(self) -> None:
        if self.available < 0:
            self.available = self.maximum

    def refill(self) -> None:
        now = time.monotonic()
        self.available = min(self.maximum, self.available + (now - self.last) * self.restore_rate)
        self.last = now

    def status(self) -> dict[str, float]:
        return {
            "maximumAvailable": self.maximum,
            "currentlyAvailable": round(self.available, 1),
            "restoreRate": self.restore_rate,
        }


def requested_cost(products: int, variants: int) -> int:
    """Shopify's requested cost for the products query: objects 1, connections 2 + first × node."""
    return 2 + products * (1 + 4 + 2 + variants)


def orders_cost(first: int, lines: int) -> int:
    """The requested cost of ``orders(first:)`` with ``lineItems(first: lines)``."""
    return 2 + first * (11 + lines * 9)


class CostMeter:
    """``FakeShopify``'s metering: every query is paid for from ``bucket`` before it runs."""

    bucket: CostBucket
    throttled: int
    charged: int

    def _metered(self, body: dict[str, Any]) -> tuple[dict[str, Any], int]:
        """Answer if the bucket can pay the requested cost, else THROTTLED; add ``extensions``."""
        requested = self._requested(body)
        self.bucket.refill()
        if self.bucket.available < requested <= MAX_COST:  # over MAX_COST is refused unrun
            self.throttled += 1
            return {"errors": [THROTTLED_ERROR], "extensions": self._cost(requested, None)}, 200
        payload, status, actual = self._answer(body)
        if actual is None:
            return payload, status
        self.bucket.available -= actual
        self.charged += actual
        return {**payload, "extensions": self._cost(requested, actual)}, status

    def _requested(self, body: dict[str, Any]) -> int:
        variables = body.get("variables") or {}
        if re.search(r"\bproducts\s*\(", body["query"]):
            first, variants = variables.get("first"), variables.get("variantsFirst")
            if isinstance(first, int) and isinstance(variants, int):
                return requested_cost(first, variants)
        if re.search(r"\borders\s*\(", body["query"]):
            first, lines = variables.get("first"), variables.get("linesFirst")
            if isinstance(first, int) and isinstance(lines, int):
                return orders_cost(first, lines)
        if re.search(r"\bproduct\s*\(", body["query"]):
            first = variables.get("first")
            return 3 + first if isinstance(first, int) else 1
        if "bulkOperationRunQuery" in body["query"]:
            return 10
        return 12 if "bulkOperations(" in body["query"] else 1

    def _cost(self, requested: int, actual: int | None) -> dict[str, Any]:
        """``extensions`` with the cost and the throttle bucket, as on every real answer."""
        return {
            "cost": {
                "requestedQueryCost": requested,
                "actualQueryCost": actual,
                "throttleStatus": self.bucket.status(),
            }
        }


def _max_cost_exceeded(cost: int) -> dict[str, Any]:
    message = (
        f"Query cost is {cost}, which exceeds the single query max cost limit ({MAX_COST}).\n\n"
        "See https://shopify.dev/concepts/about-apis/rate-limits for more information on how "
        "the\ncost of a query is calculated.\n"
    )
    extensions = {"code": "MAX_COST_EXCEEDED", "cost": cost, "maxCost": MAX_COST}
    return {"errors": [{"message": message, "extensions": extensions}]}
