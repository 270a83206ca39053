"""A provider's daily API budget: the calls it may still make today, checked before each call.

The HTTP client (and the Amazon wrapper's call site) charges one call to the budget before it
sends; a call that would pass the limit is not sent and raises ``BudgetExhaustedError``, which
the extract step turns into a partial pull (``pipelines/run/extract.py``). What earlier runs
and shards spent today is read from the lake (``pipelines/lake/budget_usage.py``).
"""

from __future__ import annotations

from dataclasses import dataclass

from pipelines.errors import BudgetExhaustedError


@dataclass
class CallBudget:
    """``limit`` calls a UTC day (0: none); ``used`` by earlier runs, ``spent`` by this one."""

    provider: str
    limit: int
    used: int = 0
    spent: int = 0
    day: str = ""  # the UTC day ``used`` was read for

    def to_dict(self) -> dict[str, int | str]:
        """What the run log keeps: the day, the limit, calls used so far and calls left."""
        return {"day": self.day, "limit": self.limit, "used": self.used + self.spent,
                "remaining": self.remaining or 0}  # fmt: skip

    def charge(self, what: str) -> None:
        """Count one call, or refuse it (nothing is sent) when it would pass the limit."""
        if self.limit and self.used + self.spent >= self.limit:
            raise BudgetExhaustedError(
                f"{self.provider} {what}: not sent, the daily API budget of {self.limit} calls "
                f"is spent ({self.used} by earlier runs today, {self.spent} by this one)"
            )
        self.spent += 1

    @property
    def remaining(self) -> int | None:
        """Calls left today; None without a limit."""
        return max(self.limit - self.used - self.spent, 0) if self.limit else None

    def describe(self) -> str:
        """One line for ``--status`` and the doctor: used, limit and what is left today."""
        if not self.limit:
            return f"{self.provider}: no daily API budget"
        used = self.used + self.spent
        left = (
            f"{self.remaining} left" if self.remaining else "SPENT: runs fetch nothing more today"
        )
        return f"{self.provider}: {used} of {self.limit} API calls used on {self.day} (UTC), {left}"
