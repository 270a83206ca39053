"""Amazon seller orders (SP-API Orders v0) through the runner: paging by NextToken, items per
order, incremental pulls, pacing and 429s, token refresh, errors and no buyer data anywhere."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
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
from tests.fakes.amazon_sp import (
    CANARY,
    CLIENT_SECRET,
    REFRESH_TOKEN,
    FakeSellingPartner,
    make_order,
)
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
def workdir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.chdir(tmp_path)
    return tmp_path


@pytest.fixture
def amazon(http_server: HTTPServer) -> Iterator[FakeSellingPartner]:
    """Five orders (three getOrders pages of two), two items each (one a page)."""
    orders = [make_order(1, "Shipped"), make_order(2), make_order(3, "Canceled"),
              make_order(4, "PartiallyShipped"), make_order(5, "Pending")]  # fmt: skip
    with FakeSellingPartner(orders, http_server) as fake:
        yield fake


def run(fake: FakeSellingPartner, clock: Clock | None = None, env: dict[str, str] | None = None,
        **options: Any) -> dict[str, Any]:  # fmt: skip
    clock = clock or Clock()
    registry = {"amazon_sp": AmazonSpProvider(clock=clock, sleep=clock.sleep, now=lambda: NOW)}
    config = load_config(None, registry).with_pipeline(http_backoff_seconds=0.01)
    options.setdefault("no_cache", True)
    options.setdefault("datasets", ORDERS)
    result = Runner(config, registry, {**fake.env(), **(env or {})}, RunOptions(**options)).run()
    return result.record


def table(root: Path, name: str) -> list[dict[str, Any]]:
    lake = Lake(root / name)
    files = lake.committed_files("normalized")
    return lake.parts("normalized", files).to_table().to_pylist() if files else []


def test_orders_and_items_land_with_nexttoken_paging(workdir: Path, amazon) -> None:
    record = run(amazon)
    pull = record["datasets"]["orders.amazon_sp"]
    assert record["exit_code"] == 0, record
    assert pull["tables"]["orders"]["new"] == 4  # the Pending one has no prices yet
    assert pull["tables"]["order_lines"]["new"] == 8
    pages = [c.args for c in amazon.calls()]
    assert len(pages) == 3
    assert {"MarketplaceIds", "LastUpdatedAfter", "MaxResultsPerPage"} <= set(pages[0])
    assert set(pages[1]) == {"MarketplaceIds", "NextToken"}
    assert len([s for s in amazon.seen if s.path.endswith("/orderItems")]) == 10
    orders = {o["source_id"]: o for o in table(workdir / "data", "orders")}
    shipped = orders["902-0000001-0000001"]
    assert (shipped["financial_status"], shipped["fulfillment_status"]) == ("paid", "fulfilled")
    assert (shipped["ship_country"], shipped["ship_region"], shipped["currency"]) == (
        "US",
        "WA",
        "USD",
    )
    assert str(shipped["total_amount"]) == "56.0000"  # 2×11.50 + 2×12.50 + 2×(2 + 3 − 1)
    assert orders["902-0000003-0000003"]["financial_status"] == "voided"
    assert "902-0000005-0000005" not in orders
    lines = table(workdir / "data", "order_lines")
    first = next(ln for ln in lines if ln["source_id"] == "00001000000001")
    assert (first["variant_id"], first["product_id"], first["sku"]) == ("B000010001",) * 2 + (
        "SKU-1-1",
    )
    assert str(first["unit_price_amount"]) == "11.5000"
    assert first["quantity"] == 2


def test_incremental_pull_starts_at_the_watermark_less_the_lookback(workdir, amazon) -> None:
    run(amazon)
    amazon.orders[1]["OrderStatus"] = "Shipped"
    amazon.orders[1]["LastUpdateDate"] = "2026-11-30T08:00:00Z"
    amazon.seen.clear()
    record = run(amazon)
    pull = record["datasets"]["orders.amazon_sp"]
    assert pull["tables"]["orders"]["changed"] == 1
    assert pull["tables"]["orders"]["new"] == 0
    # the first pull's newest update was 2026-11-06T12:00:05Z; two hours' lookback
    assert amazon.calls()[0].args["LastUpdatedAfter"] == "2026-11-06T10:00:05Z"


def test_429_slows_to_the_stated_rate_and_waits(workdir: Path, amazon) -> None:
    amazon.throttle(2)
    clock = Clock()
    record = run(amazon, clock)
    assert record["exit_code"] == 0
    assert len(amazon.calls()) == 5  # two refused, three pages
    # Each 429 empties the bucket: the two retries and the two later pages each wait a period.
    waits = [s for s in clock.sleeps if s > 50]
    assert len(waits) == 4
    assert all(abs(w - 1 / 0.0167) < 0.01 for w in waits)


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
    record = run(amazon, no_cache=False)
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
    assert "getOrders answered" in result.detail
    assert len(amazon.calls()) == 1
    assert amazon.calls()[0].args["MaxResultsPerPage"] == "1"
    amazon.revoke_tokens()
    bad = fetch_context(provider, amazon.env(AMAZON_SP_LWA_CLIENT_SECRET="wrong"))
    with pytest.raises(ProviderError, match="invalid_client"):
        provider.probe(bad)


def test_a_pending_order_without_prices_is_dropped_with_its_reason() -> None:
    """Amazon sends no OrderTotal nor item prices while an order is Pending; it comes back
    with them once it moves on (its LastUpdateDate changes)."""
    with pytest.raises(SkippableRecordError, match="no prices yet"):
        normalize_order(make_order(9, "Pending"))


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
