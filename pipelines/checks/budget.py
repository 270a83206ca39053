"""The API budget table of a run report: each provider's daily API budget after the run.

The extract step records it under each provider's ``budget`` (``day``, ``unit``, ``limit``,
``used``, ``remaining``); the unit is ``calls`` or (Shopify) ``points``, and records written
before budgets had units count calls. A provider whose budget ran out mid-pull has the status
``budget_exhausted``.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

BUDGET_HEADERS = ("Provider", "Day (UTC)", "Unit", "Budget", "Used", "Left", "Verdict")


def budget_rows(record: Mapping[str, Any]) -> list[list[str]]:
    """One row per provider with a daily budget; the verdict says whether it cut the pull."""
    rows = []
    providers = record.get("providers")
    for name, entry in (providers if isinstance(providers, Mapping) else {}).items():
        budget = entry.get("budget") if isinstance(entry, Mapping) else None
        if not isinstance(budget, Mapping):
            continue
        cut = entry.get("status") == "budget_exhausted"
        verdict = "SPENT: partial pull, the next run goes on" if cut else "ok"
        numbers = (budget.get(key) for key in ("limit", "used", "remaining"))
        unit = str(budget.get("unit") or "calls")
        rows.append([name, str(budget.get("day")), unit, *(str(n) for n in numbers), verdict])
    return rows
