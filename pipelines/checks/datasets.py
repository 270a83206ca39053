"""The rules of each dataset beyond products, one function per dataset.

A rule function takes one raw record's rows by table (``{"orders": [...], "order_lines":
[...]}``) and returns the reasons they fail; the record's rows pass or are quarantined
together. Products keep their own vectorised rules (``quality.py``).
"""

from __future__ import annotations

from collections.abc import Callable

from pipelines.checks.order_quality import order_problems

RecordRows = dict[str, list[dict]]


def _orders(rows: RecordRows) -> list[str]:
    orders = rows.get("orders") or []
    if len(orders) != 1:
        return ["not_one_order_row"]
    return order_problems(orders[0], rows.get("order_lines") or [])


RECORD_RULES: dict[str, Callable[[RecordRows], list[str]]] = {"orders": _orders}
