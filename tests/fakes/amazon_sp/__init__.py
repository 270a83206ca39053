"""A fake Amazon Selling Partner API (Orders v2026-01-01, Finances v2024-06-19) with its LWA
token endpoint."""

from tests.fakes.amazon_sp.payloads import (
    CANARY,
    make_item,
    make_order,
    make_refund,
    make_shipment,
    money,
)
from tests.fakes.amazon_sp.server import CLIENT_SECRET, REFRESH_TOKEN, FakeSellingPartner

__all__ = [
    "CANARY", "CLIENT_SECRET", "REFRESH_TOKEN", "FakeSellingPartner", "make_item", "make_order",
    "make_refund", "make_shipment", "money",
]  # fmt: skip
