"""eBay orders through the runner: the user token, paging, incremental pulls, eBay's 90-day
window, token refresh, throttling, the join to eBay products, and no buyer data anywhere."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from pipelines.config import load_config
from pipelines.errors import ConfigError
from pipelines.lake.lake import Lake
from pipelines.run.options import RunOptions
from pipelines.run.runner import Runner
from providers.ebay import EbayProvider
from providers.ebay import orders as ebay_orders
from providers.ebay.settings import FULFILLMENT_SCOPE
from tests.fakes.ebay import CANARY, TOO_MANY_REQUESTS, FakeEbay, amount, make_order
from tests.written_files import files_holding

SECRET = "buyer-key-secret-for-ebay-tests-01"  # pragma: allowlist secret
BOTH = ("products", "orders")
CONFIG = '[providers.ebay]\nqueries = [{ q = "film camera" }]\npage_size = 10\n'


@pytest.fixture
def workdir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.chdir(tmp_path)
    (tmp_path / "pipeline.toml").write_text(CONFIG)
    return tmp_path


@pytest.fixture
def ebay(fake: FakeEbay, monkeypatch: pytest.MonkeyPatch) -> FakeEbay:
    """Two listings and seven orders, three orders a page."""
    monkeypatch.setattr(ebay_orders, "ORDERS_PAGE_SIZE", 3)
    fake.add_search(q="film camera", total=2, prefix=200_000_000_000)
    fake.orders = [make_order(n) for n in range(1, 8)]
    return fake


def run(fake: FakeEbay, env: dict[str, str] | None = None, **options: Any) -> dict[str, Any]:
    registry = {"ebay": EbayProvider()}
    config = load_config(Path("pipeline.toml"), registry).with_pipeline(http_backoff_seconds=0.01)
    options.setdefault("no_cache", True)
    options.setdefault("datasets", ("orders",))
    environment = {**fake.env(), **(env or {})}
    return Runner(config, registry, environment, RunOptions(**options)).run().record


def table(root: Path, name: str) -> list[dict[str, Any]]:
    lake = Lake(root / name)
    files = lake.committed_files("normalized")
    return lake.parts("normalized", files).to_table().to_pylist() if files else []


def filters(fake: FakeEbay) -> list[str]:
    return [r.args["filter"] for r in fake.order_requests]


def test_orders_land_with_a_user_token_and_join_the_products(workdir: Path, ebay: FakeEbay) -> None:
    record = run(ebay, datasets=BOTH)
    pull = record["datasets"]["orders.ebay"]
    assert record["exit_code"] == 0, pull
    assert pull["tables"]["orders"]["new"] == 7
    assert pull["tables"]["order_lines"]["new"] == 14
    assert [int(r.args["offset"]) for r in ebay.order_requests] == [0, 3, 6]
    grants = [(r.form["grant_type"], r.form["scope"]) for r in ebay.token_requests]
    assert ("refresh_token", FULFILLMENT_SCOPE) in grants
    assert all(r.headers["Authorization"].startswith("Basic ") for r in ebay.token_requests)
    window = datetime.now(UTC) - timedelta(days=90)
    since = datetime.fromisoformat(filters(ebay)[0].removeprefix("lastmodifieddate:[")[:-3])
    assert abs((since - window).total_seconds()) < 60  # a first pull reads eBay's whole window
    first = next(o for o in table(workdir / "data", "orders") if o["source_id"] == "01-12341-56781")
    assert (first["financial_status"], first["fulfillment_status"]) == ("paid", "unfulfilled")
    assert (first["ship_country"], first["ship_region"], first["currency"]) == ("US", "CA", "USD")
    assert str(first["total_amount"]) == "86.0000"
    assert str(first["discount_amount"]) == "2.0000"
    assert (first["order_number"], first["marketplace"], first["buyer_key"]) == (
        "1001", "EBAY_US", None,
    )  # fmt: skip
    lines = table(workdir / "data", "order_lines")
    products = {p["source_id"] for p in table(workdir, "data")}
    plain = next(ln for ln in lines if ln["sku"] == "EB-SKU-1")
    variation = next(ln for ln in lines if ln["sku"] == "EB-SKU-2")
    assert (plain["variant_id"], plain["product_id"]) == ("v1|200000000001|0", None)
    assert (variation["variant_id"], variation["product_id"]) == (
        "v1|200000000002|20000", "200000000002",
    )  # fmt: skip
    assert plain["variant_id"] in products  # the same id form as eBay's product rows
    assert str(plain["unit_price_amount"]) == "20.0000"


def test_incremental_pull_from_the_watermark(workdir: Path, ebay: FakeEbay) -> None:
    run(ebay)
    newest = ebay.orders[6]["lastModifiedDate"]
    changed = datetime.fromisoformat(newest) + timedelta(hours=5)
    ebay.orders[6] = make_order(
        7, lastModifiedDate=changed.strftime("%Y-%m-%dT%H:%M:%S.000Z"),
        orderPaymentStatus="PARTIALLY_REFUNDED",
        paymentSummary={"refunds": [{"refundStatus": "REFUNDED", "amount": amount("20.00")}]},
    )  # fmt: skip
    ebay.order_requests.clear()
    tables = run(ebay)["datasets"]["orders.ebay"]["tables"]
    since = datetime.fromisoformat(newest) - timedelta(hours=ebay_orders.ORDERS_LOOKBACK_HOURS)
    assert filters(ebay) == [f"lastmodifieddate:[{ebay_orders.format_time(since)}..]"]
    assert tables["orders"] == {"new": 0, "changed": 1, "unchanged": 0}
    refunded = [o for o in table(workdir / "data", "orders") if o["change_type"] == "changed"]
    assert [(o["financial_status"], str(o["refunded_amount"])) for o in refunded] == [
        ("partially_refunded", "20.0000"),
    ]  # fmt: skip


def test_a_gap_older_than_the_window_is_reported(fetch_context, ebay: FakeEbay) -> None:
    provider = EbayProvider()
    ctx = fetch_context(provider, ebay.env())
    old = datetime.now(UTC) - timedelta(days=120)
    ctx.state = {ebay_orders.WATERMARK_KEY: ebay_orders.format_time(old)}
    assert len(list(provider.fetch_dataset("orders", ctx))) == 7
    (count,) = ctx.counts
    assert count.note
    assert "not readable" in count.note
    assert "90-day" in count.note
    assert ebay_orders.format_time(old - timedelta(hours=2)) in count.note
    since = filters(ebay)[0].removeprefix("lastmodifieddate:[")[:-3]
    assert datetime.fromisoformat(since) > old + timedelta(days=29)  # eBay's window, no further


def test_a_limited_pull_moves_no_watermark(fetch_context, ebay: FakeEbay) -> None:
    provider = EbayProvider()
    ctx = fetch_context(provider, ebay.env(), limit=2)
    assert len(list(provider.fetch_dataset("orders", ctx))) == 2
    assert ctx.next_state == {}
    ctx = fetch_context(provider, ebay.env())
    assert len(list(provider.fetch_dataset("orders", ctx))) == 7
    assert ctx.next_state == {ebay_orders.WATERMARK_KEY: ebay.orders[6]["lastModifiedDate"]}


def test_an_expired_user_token_is_refreshed(workdir: Path, ebay: FakeEbay) -> None:
    ebay.expire_tokens_after(1)
    record = run(ebay)
    assert record["datasets"]["orders.ebay"]["status"] == "ok"
    user_tokens = [t for t in ebay.minted if "user" in t]
    assert len(user_tokens) == 2
    assert len(table(workdir / "data", "orders")) == 7


def test_throttled_pages_are_waited_out(workdir: Path, ebay: FakeEbay) -> None:
    ebay.order_faults = [None, (429, TOO_MANY_REQUESTS, {"Retry-After": "0"})]
    record = run(ebay)
    assert record["datasets"]["orders.ebay"]["status"] == "ok"
    assert [int(r.args["offset"]) for r in ebay.order_requests] == [0, 3, 3, 6]


def test_without_the_refresh_token_one_line_names_it(workdir: Path, ebay: FakeEbay) -> None:
    record = run(ebay, env={"EBAY_REFRESH_TOKEN": ""})
    pull = record["datasets"]["orders.ebay"]
    assert (pull["status"], record["exit_code"]) == ("failed", 1)
    assert "EBAY_REFRESH_TOKEN" in str(pull)
    assert ebay.order_requests == []


def test_a_revoked_refresh_token_says_what_to_do(workdir: Path, ebay: FakeEbay) -> None:
    record = run(ebay, env={"EBAY_REFRESH_TOKEN": "v^1.1#revoked"})  # pragma: allowlist secret
    text = str(record["datasets"]["orders.ebay"])
    assert "invalid_grant" in text
    assert "consent again" in text
    assert "v^1.1#revoked" not in text


def test_doctor_checks_the_user_token(fetch_context, ebay: FakeEbay) -> None:
    provider = EbayProvider()
    options = {"queries": [{"q": "film camera"}]}
    ctx = fetch_context(provider, ebay.env(), options)
    ctx.datasets = BOTH
    facts = provider.probe(ctx).facts
    assert facts == (
        "orders: 7 modified in the last 90 days (user token with sell.fulfillment.readonly; "
        "getOrders reads no further back)",
    )
    ctx = fetch_context(provider, {**ebay.env(), "EBAY_REFRESH_TOKEN": ""}, options)
    ctx.datasets = BOTH
    with pytest.raises(ConfigError, match="set EBAY_REFRESH_TOKEN"):
        provider.probe(ctx)
    ctx.datasets = ("products",)
    assert provider.probe(ctx).facts == ()


def test_no_buyer_data_anywhere(workdir: Path, ebay: FakeEbay) -> None:
    """Canary buyer data in every order (buyer, ship-to, notes, gift message): none of it, nor
    the key's secret or the refresh token, in any file the run writes."""
    record = run(ebay, env={"PIPELINE_BUYER_KEY_SECRET": SECRET}, datasets=BOTH, no_cache=False)
    assert record["exit_code"] == 0
    written = [p for p in workdir.rglob("*") if p.is_file()]
    assert any("orders" in p.parts and "raw" in p.parts for p in written)
    needles = [*CANARY.values(), SECRET, ebay.refresh_token, "Canaryville", "94000-C4N",
               "Canary Holdings", "Flat 3"]  # fmt: skip
    assert files_holding(workdir, needles) == {}
    keys = {o["buyer_key"] for o in table(workdir / "data", "orders")}
    assert len(keys) == 1
    assert len(next(iter(keys))) == 64
