"""Refunds of an Amazon order: Finances API v2024-06-19 listTransactions by order id.

The Orders API v2026-01-01 carries no refunds (its ``PROCEEDS`` are the sale), so for every
order the pull reads that has shipped (``SHIPPED`` or ``PARTIALLY_SHIPPED``: Amazon charges the
buyer at shipment, so nothing else can be refunded) one listTransactions call
(``relatedIdentifierName=ORDER_ID``, paged by ``nextToken``) reads its transactions, paced to
the operation's documented 0.5 requests a second (burst 10). The ones whose
``transactionType`` is ``Refund`` land in the raw record under ``__refunds``; none is an empty
list, an order not looked up (not shipped, or the ``refunds`` option off) has no list at all.

What the rows take from them (``refund_totals``): the refunded amount is what went back to the
buyer, the ``Sales`` breakdown of each refund (or, where a transaction has none, its
``ProductCharges``, ``ShippingCharges`` and ``Tax`` breakdowns), refunds being negative to the
seller; Amazon's own fee reversals are left out. The refunded quantity of a line is the
``quantityShipped`` of the refund items' ``ProductContext`` with the line's SKU (else ASIN).
Financial events can take up to 48 hours to appear: a refund shows once a later pull reads its
order again (Amazon updates the order, or the lookback or a full refresh covers it).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from decimal import Decimal, InvalidOperation
from typing import Any

from pipelines.errors import SkippableRecordError
from pipelines.net.pacing import RatePacer
from providers.amazon_sp.client import SpClient
from providers.amazon_sp.settings import LIST_TRANSACTIONS_LIMIT, PROVIDER, TRANSACTIONS_PATH
from providers.base import CursorPaginator, FetchContext

REFUNDS_KEY = "__refunds"
SHIPPED = frozenset({"SHIPPED", "PARTIALLY_SHIPPED"})
REFUND_TYPE = "Refund"
BUYER_CHARGES = frozenset({"Sales", "ProductCharges", "ShippingCharges", "Tax"})
ZERO = Decimal(0)


class RefundsPull:
    """listTransactions calls of one pull, on their own pacer."""

    def __init__(
        self,
        ctx: FetchContext,
        client: SpClient,
        clock: Callable[[], float],
        sleep: Callable[[float], None],
    ) -> None:
        self.ctx = ctx
        self.client = client
        self.enabled = bool(ctx.options.get("refunds", True))
        self.pacer = RatePacer(*LIST_TRANSACTIONS_LIMIT, ctx.stats, clock=clock, sleep=sleep)

    def of(self, order: dict[str, Any]) -> list[dict[str, Any]] | None:
        """The refund transactions of ``order``; None when it is not looked up."""
        order_id = str(order.get("orderId") or "")
        status = (order.get("fulfillment") or {}).get("fulfillmentStatus")
        if not (self.enabled and order_id and status in SHIPPED):
            return None
        first = {"relatedIdentifierName": "ORDER_ID", "relatedIdentifierValue": order_id}
        paginator = CursorPaginator(f"{PROVIDER} order {order_id} transactions", self.ctx.paging)
        refunds: list[dict[str, Any]] = []
        while paginator.has_more:
            params = first if paginator.cursor is None else {**first, "nextToken": paginator.cursor}
            what = f"listTransactions {order_id} page {paginator.pages + 1}"
            payload = self.client.get(TRANSACTIONS_PATH, params, what, self.pacer).get("payload")
            payload = payload if isinstance(payload, dict) else {}
            page = [t for t in payload.get("transactions") or [] if isinstance(t, dict)]
            refunds += [t for t in page if t.get("transactionType") == REFUND_TYPE]
            token = payload.get("nextToken")
            paginator.update(bool(token), token or None, len(page))
        return refunds


def refund_totals(refunds: list[dict[str, Any]], where: str) -> tuple[Decimal, dict[str, int]]:
    """The amount refunded to the buyer and the refunded quantity by SKU and by ASIN."""
    amount = ZERO
    quantities: dict[str, int] = {}
    for refund in refunds:
        amount += sum((_value(node, where) for node in _buyer_charges(refund.get("breakdowns"))),
                      ZERO)  # fmt: skip
        for item in refund.get("items") or []:
            for context in (item or {}).get("contexts") or []:
                if (context or {}).get("contextType") != "ProductContext":
                    continue
                quantity = context.get("quantityShipped")
                if not isinstance(quantity, int) or isinstance(quantity, bool):
                    raise SkippableRecordError(f"{where} refund quantity {quantity!r}")
                for key in {context.get("sku"), context.get("asin")} - {None, ""}:
                    quantities[str(key)] = quantities.get(str(key), 0) + quantity
    return abs(amount), quantities


def _buyer_charges(breakdowns: Any) -> Iterable[dict[str, Any]]:
    """The outermost breakdowns that are buyer charges (a ``Sales`` node holds the others)."""
    for node in breakdowns or []:
        if not isinstance(node, dict):
            continue
        if node.get("breakdownType") in BUYER_CHARGES:
            yield node
        else:
            yield from _buyer_charges(node.get("breakdowns"))


def _value(node: dict[str, Any], where: str) -> Decimal:
    """A breakdown's amount, else the sum of its parts."""
    money = node.get("breakdownAmount")
    if isinstance(money, dict) and money.get("currencyAmount") is not None:
        try:
            value = Decimal(str(money["currencyAmount"]))
        except InvalidOperation:
            value = Decimal("NaN")
        if not value.is_finite():
            raise SkippableRecordError(f"{where} refund {money['currencyAmount']!r} is no number")
        return value
    return sum((_value(n, where) for n in node.get("breakdowns") or [] if isinstance(n, dict)),
               ZERO)  # fmt: skip
