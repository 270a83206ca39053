"""What passes between a client and the fake Shopify: the requests it saw, the faults queued."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass
class SeenRequest:
    """What the fake received: for asserting what the client sent."""

    method: str
    path: str
    headers: dict[str, str]
    body: dict[str, Any] | None


@dataclass
class Fault:
    """A queued answer replacing the next normal one."""

    kind: str  # "pass", "status", "throttled", "errors", "errors_with_data"
    status: int = 200
    retry_after: str | None = None
    errors: list[dict[str, Any]] = field(default_factory=list)
    short_by: float = 10.0
