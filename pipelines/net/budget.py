"""A provider's daily API budget: what it may still spend today, checked before each call.

A budget counts ``calls`` or, for an API that prices each query (Shopify's GraphQL cost),
``points``. For calls, the HTTP client (and the Amazon wrapper's call site) charges one call
before it sends. For points, the provider's client asks ``afford`` with the query's requested
cost before it sends and charges the actual cost the answer reports (``spend``). A call that
would pass the limit is not sent and raises ``BudgetExhaustedError``, which the extract step
turns into a partial pull (``pipelines/run/extract.py``). What earlier runs and shards spent
today is read from the lake (``pipelines/lake/budget_usage.py``).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from pipelines.errors import BudgetExhaustedError

BudgetUnit = Literal["calls", "points"]


@dataclass
class CallBudget:
    """``limit`` units a UTC day (0: none); ``used`` by earlier runs, ``spent`` by this one."""

    provider: str
    limit: int
    used: int = 0
    spent: int = 0
    day: str = ""  # the UTC day ``used`` was read for
    unit: BudgetUnit = "calls"

    def to_dict(self) -> dict[str, int | str]:
        """What the run log keeps: the day, the unit, the limit, used so far and left."""
        return {"day": self.day, "unit": self.unit, "limit": self.limit,
                "used": self.used + self.spent, "remaining": self.remaining or 0}  # fmt: skip

    def charge(self, what: str) -> None:
        """Count one call of a calls budget, or refuse it (nothing is sent) when it would pass
        the limit; a points budget is charged by the provider's client instead."""
        if self.unit == "calls":
            self.afford(what, 1)
            self.spent += 1

    def afford(self, what: str, cost: int) -> None:
        """Refuse (``BudgetExhaustedError``: do not send) a call whose ``cost`` would pass the
        limit; charge nothing."""
        if self.limit and self.used + self.spent + cost > self.limit:
            raise BudgetExhaustedError(
                f"{self.provider} {what}: not sent, it would cost {cost} {self.unit} and the daily "
                f"API budget of {self.limit} {self.unit} has {self.remaining} left "
                f"({self.used} used by earlier runs today, {self.spent} by this one)"
                if self.unit == "points"
                else f"{self.provider} {what}: not sent, the daily API budget of {self.limit} "
                f"calls is spent ({self.used} by earlier runs today, {self.spent} by this one)"
            )

    def spend(self, cost: int) -> None:
        """Charge what a sent call cost (a points budget's actual query cost)."""
        self.spent += max(cost, 0)

    @property
    def remaining(self) -> int | None:
        """Units left today; None without a limit."""
        return max(self.limit - self.used - self.spent, 0) if self.limit else None

    def describe(self) -> str:
        """One line for ``--status`` and the doctor: used, limit and what is left today."""
        if not self.limit:
            return f"{self.provider}: no daily API budget"
        used = self.used + self.spent
        left = (
            f"{self.remaining} left" if self.remaining else "SPENT: runs fetch nothing more today"
        )
        return (
            f"{self.provider}: {used} of {self.limit} API {self.unit} used on {self.day} (UTC), "
            f"{left}"
        )
