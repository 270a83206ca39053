"""Amazon seller orders (SP-API Orders v2026-01-01, refunds from Finances v2024-06-19) through
the runner: paging by paginationToken, incremental pulls, refunds as changes, pacing and 429s,
token refresh, errors and no buyer data anywhere."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from pytest_httpserver import HTTPServer

from pipelines.config import load_config
from pipelines.errors import FatalProviderError, ProviderError, SkippableRecordError
from pipelines.lake.lake import Lake
from pipelines.net.pacing import RatePacer
from pipelines.net.stats import ProviderStats
from pipelines.run.options import RunOptions
from pipelines.run.runner import Runner
from providers.amazon_sp import AmazonSpProvider
from providers.amazon_sp.normalize import normalize_order
from providers.amazon_sp.refunds import refund_totals
from tests.fakes.amazon_sp import (
    CANARY,
    CLIENT_SECRET,
    REFRESH_TOKEN,
    FakeSellingPartner,
    make_order,
    make_refund,
    make_shipment,
    money,
)
from tests.fakes.amazon_sp.server import TRANSACTIONS_PATH
from tests.written_files import files_holding

ORDERS = ("orders",)
NOW = datetime(2026, 12, 1, tzinfo=UTC)


class Clock:
    """A clock that only moves when something sleeps on it."""

    def __init__(self) -> None:
        self.now = 1000.0
        self.sleeps: list[float] = []

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds


@pytest.fixture
def amazon(http_server: HTTPServer) -> Iterator[FakeSellingPartner]:
    """Five orders (three searchOrders pages of two), two items each; the shipped ones have
    their payment transaction (one listTransactions page each)."""
    orders = [make_order(1, "SHIPPED"), make_order(2), make_order(3, "CANCELLED"),
              make_order(4, "PARTIALLY_SHIPPED"), make_order(5, "PENDING")]  # fmt: skip
    with FakeSellingPartner(orders, http_server) as fake:
        fake.transactions = {o["orderId"]: [make_shipment(o)] for o in (orders[0], orders[3])}
        yield fake


def run(fake: FakeSellingPartner, clock: Clock | None = None, env: dict[str, str] | None = None,
        toml: str = "", **options: Any) -> dict[str, Any]:  # fmt: skip
    clock = clock or Clock()
    registry = {"amazon_sp": AmazonSpProvider(clock=clock, sleep=clock.sleep, now=lambda: NOW)}
    Path("pipeline.toml").write_text(f"[providers.amazon_sp]\n{toml}")
    config = load_config(Path("pipeline.toml"), registry).with_pipeline(http_backoff_seconds=0.01)
    options.setdefault("no_cache", True)
    options.setdefault("datasets", ORDERS)
    result = Runner(config, registry, {**fake.env(), **(env or {})}, RunOptions(**options)).run()
    return result.record


def table(root: Path, name: str) -> list[dict[str, Any]]:
    lake = Lake(root / name)
    files = lake.committed_files("normalized")
    return lake.parts("normalized", files).to_table().to_pylist() if files else []


def test_orders_and_items_land_with_pagination_token_paging(workdir: Path, amazon) -> None:
    record = run(amazon, toml="recipient = true")
    pull = record["datasets"]["orders.amazon_sp"]
    assert record["exit_code"] == 0, record
    assert pull["tables"]["orders"]["new"] == 4  # the Pending one has no prices yet
    assert pull["tables"]["order_lines"]["new"] == 8
    pages = [c.args for c in amazon.calls()]
    assert len(pages) == 3
    assert pages[0]["includedData"] == "PROCEEDS,FULFILLMENT,RECIPIENT"
    assert {"marketplaceIds", "lastUpdatedAfter", "maxResultsPerPage"} <= set(pages[0])
    assert pages[1]["paginationToken"]
    assert pages[1]["includedData"] == pages[0]["includedData"]
    # one listTransactions call for each shipped order, none for the others
    asked = [c.args["relatedIdentifierValue"] for c in amazon.calls(TRANSACTIONS_PATH)]
    assert asked == ["902-0000001-0000001", "902-0000004-0000004"]
    orders = {o["source_id"]: o for o in table(workdir / "data", "orders")}
    shipped = orders["902-0000001-0000001"]
    assert (shipped["financial_status"], shipped["fulfillment_status"]) == ("paid", "fulfilled")
    assert (shipped["ship_country"], shipped["ship_region"], shipped["currency"]) == (
        "US",
        "WA",
        "USD",
    )
    assert str(shipped["total_amount"]) == "56.0000"  # 2×11.50 + 2×12.50 + 2×(2 + 3 − 1)
    assert (str(shipped["refunded_amount"]), orders["902-0000002-0000002"]["refunded_amount"]) == (
        "0.0000",
        None,  # not shipped: not looked up
    )
    assert orders["902-0000003-0000003"]["financial_status"] == "voided"
    assert "902-0000005-0000005" not in orders
    lines = table(workdir / "data", "order_lines")
    first = next(ln for ln in lines if ln["source_id"] == "00001000000001")
    assert (first["variant_id"], first["product_id"], first["sku"]) == ("B000010001",) * 2 + (
        "SKU-1-1",
    )
    assert str(first["unit_price_amount"]) == "11.5000"
    assert (first["quantity"], str(first["discount_amount"]), first["refunded_quantity"]) == (
        2,
        "1.0000",
        0,
    )


def test_without_the_recipient_option_no_address_is_asked_for(workdir: Path, amazon) -> None:
    record = run(amazon)
    assert record["exit_code"] == 0
    assert amazon.calls()[0].args["includedData"] == "PROCEEDS,FULFILLMENT"
    orders = table(workdir / "data", "orders")
    assert {(o["ship_country"], o["ship_region"]) for o in orders} == {(None, None)}


def test_a_refund_writes_one_changed_order_and_line(workdir: Path, amazon) -> None:
    """Finances listTransactions (paged) gives the refund; the order's content changes."""
    run(amazon)
    first = amazon.orders[0]
    amazon.transactions[first["orderId"]].append(make_refund(first, item=0, quantity=1))
    first["lastUpdatedTime"] = "2026-11-29T08:00:00Z"  # the return updated the order
    record = run(amazon)
    tables = record["datasets"]["orders.amazon_sp"]["tables"]
    assert (tables["orders"]["changed"], tables["orders"]["new"]) == (1, 0)
    assert (tables["order_lines"]["changed"], tables["order_lines"]["new"]) == (1, 0)
    assert len(amazon.calls(TRANSACTIONS_PATH)) == 2 + 2  # first run, then two pages
    rows = [o for o in table(workdir / "data", "orders") if o["source_id"] == first["orderId"]]
    latest = max(rows, key=lambda o: o["source_updated_at"])
    # the unit's price (11.50) and its tax (1.00) went back; Amazon's fee refund is not counted
    assert (str(latest["refunded_amount"]), latest["financial_status"]) == (
        "12.5000",
        "partially_refunded",
    )
    lines = [ln for ln in table(workdir / "data", "order_lines") if ln["refunded_quantity"]]
    assert [(ln["source_id"], ln["refunded_quantity"]) for ln in lines] == [("00001000000001", 1)]
    again = run(amazon)["datasets"]["orders.amazon_sp"]["tables"]
    assert (again["orders"]["changed"], again["order_lines"]["changed"]) == (0, 0)


def test_refunds_off_asks_the_finances_api_nothing(workdir: Path, amazon) -> None:
    record = run(amazon, toml="refunds = false")
    assert record["exit_code"] == 0
    assert amazon.calls(TRANSACTIONS_PATH) == []
    assert {o["refunded_amount"] for o in table(workdir / "data", "orders")} == {None}


def test_incremental_pull_starts_at_the_watermark_less_the_lookback(workdir, amazon) -> None:
    run(amazon)
    amazon.orders[1]["fulfillment"]["fulfillmentStatus"] = "SHIPPED"
    amazon.orders[1]["lastUpdatedTime"] = "2026-11-30T08:00:00Z"
    amazon.seen.clear()
    record = run(amazon)
    pull = record["datasets"]["orders.amazon_sp"]
    assert pull["tables"]["orders"]["changed"] == 1
    assert pull["tables"]["orders"]["new"] == 0
    # the first pull's newest update was 2026-11-06T12:00:05Z; two hours' lookback
    assert amazon.calls()[0].args["lastUpdatedAfter"] == "2026-11-06T10:00:05Z"


def test_429_slows_to_the_stated_rate_and_waits(workdir: Path, amazon) -> None:
    amazon.throttle(2)
    clock = Clock()
    record = run(amazon, clock)
    assert record["exit_code"] == 0
    assert len(amazon.calls()) == 5  # two refused, three pages
    # Each 429 empties the bucket: the two retries and the two later pages each wait a period.
    waits = [s for s in clock.sleeps if s > 50]
    assert len(waits) == 4
    assert all(abs(w - 1 / 0.0056) < 0.01 for w in waits)


def test_too_many_429s_fail_the_pull(workdir: Path, amazon) -> None:
    amazon.throttle(10)
    record = run(amazon)
    pull = record["datasets"]["orders.amazon_sp"]
    assert record["exit_code"] == 1
    assert "429 QuotaExceeded" in pull["error"]


def test_the_pacer_keeps_to_rate_and_burst() -> None:
    clock = Clock()
    stats = ProviderStats()
    pacer = RatePacer(0.0167, 20, stats, clock=clock, sleep=clock.sleep)
    assert [pacer.wait() for _ in range(20)] == [0.0] * 20
    assert pacer.wait() == pytest.approx(1 / 0.0167)
    pacer.observe("0.01")
    pacer.observe("5")  # never faster than documented
    pacer.observe("broken")
    assert pacer.wait() == pytest.approx(100.0)
    assert stats.throttle_waits == 2


def test_a_refused_token_is_minted_again_once(workdir: Path, amazon) -> None:
    amazon.revoke_at = 4
    record = run(amazon)
    assert record["exit_code"] == 0
    assert amazon.minted == 2
    assert record["datasets"]["orders.amazon_sp"]["tables"]["orders"]["new"] == 4


def test_a_bad_refresh_token_fails_with_one_clear_line(workdir: Path, amazon) -> None:
    record = run(amazon, env={"AMAZON_SP_REFRESH_TOKEN": "Atzr|revoked"})
    error = record["datasets"]["orders.amazon_sp"]["error"]
    assert record["exit_code"] == 1
    assert "invalid_grant" in error
    assert "AMAZON_SP_REFRESH_TOKEN" in error
    assert "Atzr|revoked" not in error


def test_no_buyer_data_anywhere(workdir: Path, amazon) -> None:
    amazon.transactions[amazon.orders[0]["orderId"]].append(make_refund(amazon.orders[0]))
    record = run(amazon, no_cache=False, toml="recipient = true")
    assert record["exit_code"] == 0
    written = [p for p in workdir.rglob("*") if p.is_file()]
    assert any("orders" in p.parts and "raw" in p.parts for p in written)
    needles = [*CANARY.values(), "98101-1234", CLIENT_SECRET, REFRESH_TOKEN, "Atza|fake-access"]
    assert files_holding(workdir, needles) == {}


def test_products_are_not_offered(workdir: Path, amazon) -> None:
    record = run(amazon, datasets=("products", "orders"))
    assert "amazon_sp" not in record.get("providers", {})
    assert record["datasets"]["orders.amazon_sp"]["status"] == "ok"
    provider = AmazonSpProvider()
    with pytest.raises(FatalProviderError, match="orders dataset only"):
        provider.fetch_dataset("products", None)


def test_doctor_probe_is_one_authenticated_call(fetch_context, amazon) -> None:
    provider = AmazonSpProvider(now=lambda: NOW)
    ctx = fetch_context(provider, amazon.env())
    result = provider.probe(ctx)
    assert "searchOrders answered" in result.detail
    assert len(amazon.calls()) == 1
    assert amazon.calls()[0].args["maxResultsPerPage"] == "1"
    amazon.revoke_tokens()
    bad = fetch_context(provider, amazon.env(AMAZON_SP_LWA_CLIENT_SECRET="wrong"))
    with pytest.raises(ProviderError, match="invalid_client"):
        provider.probe(bad)


def test_a_pending_order_without_prices_is_dropped_with_its_reason() -> None:
    """Amazon sends no proceeds nor item prices while an order is Pending; it comes back
    with them once it moves on (its lastUpdatedTime changes)."""
    with pytest.raises(SkippableRecordError, match="no prices yet"):
        normalize_order(make_order(9, "PENDING"))


def test_the_offline_demo_lands_amazon_orders_beside_the_others(workdir: Path) -> None:
    """Two providers' orders in one run: both commit to the shared tables (one manifest)."""
    from providers.registry import load_providers

    registry = load_providers()
    config = load_config(None, registry)
    record = Runner(config, registry, {}, RunOptions(offline=True, datasets=ORDERS)).run().record
    assert record["exit_code"] == 0
    assert record["datasets"]["orders.amazon_sp"]["tables"]["orders"]["new"] == 5
    assert record["datasets"]["orders.shopify"]["tables"]["orders"]["new"] > 0
    orders = table(workdir / "data" / "demo", "orders")
    assert {o["source"] for o in orders} == {"shopify", "ebay", "amazon_sp"}
    lines = table(workdir / "data" / "demo", "order_lines")
    amazon_lines = [ln for ln in lines if ln["source"] == "amazon_sp"]
    assert len(amazon_lines) == 7
    assert all(ln["variant_id"].startswith("B0") for ln in amazon_lines)
    assert "amazon_sp" not in record.get("providers", {})  # no products step


def test_shipping_tax_and_discount_count_on_the_order_not_the_line() -> None:
    """A line's tax and discount are the ITEM parts of their detailed breakdowns; the
    order's sums hold the whole (shipping parts too)."""
    order = make_order(7)
    parts = {b["type"]: b for b in order["orderItems"][0]["proceeds"]["breakdowns"]}
    parts["DISCOUNT"]["subtotal"] = money("-1.50")
    parts["DISCOUNT"]["detailedBreakdowns"].append({"subtype": "SHIPPING", "value": money("-0.50")})
    parts["TAX"]["subtotal"] = money("2.30")
    parts["TAX"]["detailedBreakdowns"].append({"subtype": "SHIPPING", "value": money("0.30")})
    rows = normalize_order(order)
    line, row = rows["order_lines"][0], rows["orders"][0]
    assert (str(line["discount_amount"]), str(line["tax_amount"])) == ("1.00", "2.00")
    assert (str(row["discount_amount"]), str(row["tax_amount"])) == ("2.50", "4.30")
    assert row["refunded_amount"] is None  # not looked up


def test_a_refund_without_a_sales_breakdown_counts_its_buyer_charges() -> None:
    refund = make_refund(make_order(8, "SHIPPED"), quantity=2)
    sales, expenses = refund["breakdowns"]
    refund["breakdowns"] = [*sales["breakdowns"], expenses]  # ProductCharges and Tax on top
    amount, quantities = refund_totals([refund], "amazon_sp order 8")
    assert amount == Decimal("25.00")  # 2 × 11.50 + 2 × 1.00 tax; the fee refund left out
    assert quantities == {"SKU-8-1": 2, "B000080001": 2}
