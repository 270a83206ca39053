"""The rules of each dataset beyond products, one function per dataset.

A rule function takes one raw record's rows by table (``{"orders": [...], "order_lines":
[...]}``) and returns the reasons they fail; the record's rows pass or are quarantined
together. Products keep their own vectorised rules (``quality.py``).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping

from pipelines.checks.order_quality import order_problems

RecordRows = dict[str, list[dict]]


def _orders(rows: RecordRows) -> list[str]:
    orders = rows.get("orders") or []
    if len(orders) != 1:
        return ["not_one_order_row"]
    return order_problems(orders[0], rows.get("order_lines") or [])


RECORD_RULES: dict[str, Callable[[RecordRows], list[str]]] = {"orders": _orders}


def dataset_gate_verdict(
    dataset: str,
    provider: str,
    records: int,
    rejected: int,
    reasons: Mapping[str, int],
    reject_threshold: float,
) -> str | None:
    """None when the share of ``provider``'s ``dataset`` records rejected (quarantined) is
    within ``reject_threshold``, else why the gate failed, in one line naming both: the
    products gate (``quality.gate_verdict``) per dataset. For example: "quality gate failed
    for orders from shopify: 3 of 6 records rejected (50.0% > 5.0%); top reasons:
    totals_mismatch 3"."""
    if records <= 0 or rejected / records <= reject_threshold:
        return None
    top = sorted(reasons.items(), key=lambda item: (-item[1], item[0]))[:3]
    return (
        f"quality gate failed for {dataset} from {provider}: {rejected} of {records} records "
        f"rejected ({rejected / records:.1%} > {reject_threshold:.1%}); top reasons: "
        + (", ".join(f"{reason} {count}" for reason, count in top) or "none")
    )
