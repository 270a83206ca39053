"""The order rules (reconciliation, quantities, currencies, timestamps) and the PII scrubber."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import pytest

from pipelines.checks.order_quality import order_problems
from pipelines.errors import ConfigError
from pipelines.lake.datasets import parse_datasets
from pipelines.net.pii import BUYER_KEY_FIELD, Scrubber
from pipelines.net.secrets import mask

T0 = datetime(2026, 10, 1, 9, tzinfo=UTC)
KEY = "a-buyer-key-secret-of-tests"  # pragma: allowlist secret


def order(**overrides: Any) -> dict[str, Any]:
    row = {
        "currency": "EUR", "financial_status": "paid", "fulfillment_status": "fulfilled",
        "taxes_included": False, "shipping_amount": Decimal("5"), "tax_amount": Decimal("3"),
        "discount_amount": Decimal("2"), "total_amount": Decimal("46"), "created_at": T0,
        "source_updated_at": T0, "closed_at": None, "cancelled_at": None,
    }  # fmt: skip
    return {**row, **overrides}


def line(**overrides: Any) -> dict[str, Any]:
    return {"quantity": 2, "unit_price_amount": Decimal("20"), "currency": "EUR", **overrides}


def test_a_reconciling_order_passes() -> None:
    assert order_problems(order(), [line()]) == []
    assert order_problems(order(total_amount=Decimal("46.01")), [line()]) == []  # within 0.01


@pytest.mark.parametrize(
    ("changes", "lines", "reason"),
    [
        ({"total_amount": Decimal("46.02")}, [line()], "totals_do_not_reconcile"),
        ({"total_amount": None}, [line()], "totals_do_not_reconcile"),
        ({}, [line(quantity=0), line(quantity=2)], "quantity_not_positive"),
        ({}, [line(currency="USD")], "line_currency_mismatch"),
        ({"closed_at": datetime(2026, 9, 30, tzinfo=UTC)}, [line()], "timestamps_out_of_order"),
        ({"currency": "euro"}, [], "invalid_currency"),
        ({"financial_status": "PAID"}, [line()], "unknown_financial_status"),
    ],
)
def test_each_rule_names_its_reason(changes: dict, lines: list, reason: str) -> None:
    assert reason in order_problems(order(**changes), lines)


def test_tax_included_in_prices_is_not_added_again() -> None:
    assert order_problems(order(taxes_included=True, total_amount=Decimal("43")), [line()]) == []


def test_scrubber_drops_buyer_data_and_keeps_country_and_region() -> None:
    raw = {
        "id": "gid://shopify/Order/1", "orderNumber": "#1001", "email": "a@b.example",
        "note": "ring twice", "phone": "+1 555",
        "customer": {"id": "gid://shopify/Customer/9", "firstName": "Ann"},
        "shippingAddress": {"name": "Ann Lee", "address1": "1 Main St", "zip": "123",
                            "countryCodeV2": "CA", "provinceCode": "ON"},
        "billingAddress": {"address1": "1 Main St"},
        "lineItems": {"nodes": [{"name": "Blue mug", "customAttributes": [{"key": "gift"}]}]},
    }  # fmt: skip
    clean = Scrubber("shopify", {}).scrub(raw)
    assert clean == {
        "id": "gid://shopify/Order/1", "orderNumber": "#1001",
        "shippingAddress": {"countryCodeV2": "CA", "provinceCode": "ON"},
        "lineItems": {"nodes": [{"name": "Blue mug"}]},
    }  # fmt: skip
    assert raw["customer"]["firstName"] == "Ann"  # the record itself is left alone


def test_buyer_key_is_a_keyed_hash_only_with_the_secret() -> None:
    raw = {"id": "1", "customer": {"id": "gid://shopify/Customer/9"}}
    keyed = Scrubber("shopify", {"PIPELINE_BUYER_KEY_SECRET": KEY}).scrub(raw)
    again = Scrubber("shopify", {"PIPELINE_BUYER_KEY_SECRET": KEY}).scrub(dict(raw))
    other = Scrubber("shopify", {"PIPELINE_BUYER_KEY_SECRET": KEY + "x"}).scrub(dict(raw))
    assert len(keyed[BUYER_KEY_FIELD]) == 64
    assert keyed == again
    assert other[BUYER_KEY_FIELD] != keyed[BUYER_KEY_FIELD]
    assert "9" not in keyed[BUYER_KEY_FIELD] or "Customer" not in str(keyed)
    assert BUYER_KEY_FIELD not in Scrubber("shopify", {}).scrub(raw)
    assert KEY not in mask(f"secret is {KEY}")


def test_dataset_names_are_checked() -> None:
    assert parse_datasets("products, orders,orders", "--datasets") == ("products", "orders")
    with pytest.raises(ConfigError, match=r"pipeline\.datasets: no such dataset invoices"):
        parse_datasets(["products", "invoices"], "pipeline.datasets")
