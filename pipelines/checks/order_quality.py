"""The order rules: an order and its lines pass together or are quarantined together.

``order_problems`` names each rule an order breaks (the reasons kept in the quarantine):

* ``totals_do_not_reconcile``: lines (unit price × quantity) + shipping + tax (unless the
  prices include it) − discounts differs from the total by more than ``TOLERANCE``;
* ``quantity_not_positive``: a line with a quantity of zero or less;
* ``line_currency_mismatch``: a line in another currency than its order;
* ``timestamps_out_of_order``: updated, closed or cancelled before the order was created;
* ``invalid_currency``, ``unknown_financial_status``, ``unknown_fulfillment_status``.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from decimal import Decimal
from typing import Any

from pipelines.lake.order_schema import FINANCIAL_STATUSES, FULFILLMENT_STATUSES

TOLERANCE = Decimal("0.01")
_CURRENCY = re.compile(r"^[A-Z]{3}$")
ZERO = Decimal(0)


def order_problems(order: dict[str, Any], lines: Sequence[dict[str, Any]]) -> list[str]:
    """The rules ``order`` (with its ``lines``) breaks, in a fixed order; [] when it passes."""
    problems = []
    if not _reconciles(order, lines):
        problems.append("totals_do_not_reconcile")
    if any((line.get("quantity") or 0) <= 0 for line in lines):
        problems.append("quantity_not_positive")
    if any(line.get("currency") != order.get("currency") for line in lines):
        problems.append("line_currency_mismatch")
    if not _ordered(order):
        problems.append("timestamps_out_of_order")
    if not _CURRENCY.match(order.get("currency") or ""):
        problems.append("invalid_currency")
    if order.get("financial_status") not in FINANCIAL_STATUSES:
        problems.append("unknown_financial_status")
    if order.get("fulfillment_status") not in FULFILLMENT_STATUSES:
        problems.append("unknown_fulfillment_status")
    return problems


def expected_total(order: dict[str, Any], lines: Sequence[dict[str, Any]]) -> Decimal:
    """What the total should be: lines + shipping + tax (unless included) − discounts."""
    goods = sum(
        ((line.get("unit_price_amount") or ZERO) * (line.get("quantity") or 0) for line in lines),
        ZERO,
    )
    tax = ZERO if order.get("taxes_included") else order.get("tax_amount") or ZERO
    return (
        goods
        + (order.get("shipping_amount") or ZERO)
        + tax
        - (order.get("discount_amount") or ZERO)
    )


def _reconciles(order: dict[str, Any], lines: Sequence[dict[str, Any]]) -> bool:
    total = order.get("total_amount")
    return total is not None and abs(expected_total(order, lines) - total) <= TOLERANCE


def _ordered(order: dict[str, Any]) -> bool:
    created = order.get("created_at")
    if created is None:
        return False
    later = (order.get(k) for k in ("source_updated_at", "closed_at", "cancelled_at"))
    return all(moment is None or moment >= created for moment in later)
