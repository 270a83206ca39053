"""Pacing by Shopify's cost bucket, and THROTTLED answers waited out, against the fake."""

from __future__ import annotations

import logging
import re
from typing import Any

import pytest

from pipelines.net.cache import ResponseCache
from pipelines.net.http import HttpClient
from pipelines.net.offline import Recording, offline_env, replay_server
from providers.base import FetchContext, ProviderStats
from providers.shopify import ShopifyProvider
from providers.shopify.client import ShopifyClient
from providers.shopify.queries import SHOP_OPERATION, SHOP_QUERY
from providers.shopify.throttle import CostPacer
from tests.fakes.shopify import CostBucket, FakeShopify, make_product

LOG = logging.getLogger("pipeline.shopify")


def catalog(products: int) -> list[dict[str, Any]]:
    return [make_product(n) for n in range(1, products + 1)]


def ids(records: list[dict[str, Any]]) -> list[str]:
    """Product ids in a stable order: each once, unless fetched twice."""
    return sorted(r["id"] for r in records)


# --- pacing --------------------------------------------------------------------------------------


def test_pacing_waits_before_the_bucket_runs_dry(provider, fetch_context, http_server, caplog):
    """A 1,000-point bucket and 965-point pages: each page must wait for the last one's cost.

    Without pacing the second call would come back THROTTLED (935 points left, 965 asked).
    """
    caplog.set_level(logging.INFO)
    products = catalog(45)  # 9 products per page: 5 pages
    bucket = CostBucket(maximum=1000, restore_rate=2000)
    with FakeShopify(products, bucket=bucket, server=http_server) as fake:
        ctx = fetch_context(provider, fake.env())
        records = list(provider.fetch(ctx))

    assert ids(records) == ids(products)
    assert fake.throttled == 0
    assert ctx.stats.throttle_waits == 4  # before pages 2 to 5
    # Each wait lets the bucket win back about the last page's actual cost (65 points).
    assert 4 * 0.01 < ctx.stats.throttle_wait_seconds < 4 * 65 / 2000 + 0.01
    assert "waiting" in caplog.text
    assert "for Shopify's cost bucket (about" in caplog.text


def test_a_full_bucket_never_waits(provider, fetch_context, http_server):
    with FakeShopify(catalog(20), server=http_server) as fake:  # 2,000 points, 965 a page
        ctx = fetch_context(provider, fake.env())
        list(provider.fetch(ctx))

    assert (ctx.stats.throttle_waits, ctx.stats.throttle_wait_seconds) == (0, 0.0)


def test_offline_recording_replays_without_waiting(provider, fetch_context):
    """The recorded bucket is nearly full, so the offline demo never sleeps."""
    recording = Recording(provider.recording_path())
    with replay_server(recording) as base_url:
        ctx = fetch_context(provider, offline_env(recording, base_url), options=recording.options)
        records = list(provider.fetch(ctx))

    assert len(records) == 42
    assert (ctx.stats.throttle_waits, ctx.stats.throttle_wait_seconds) == (0, 0.0)


def test_cached_answers_do_not_feed_the_pacer(http_server, tmp_path):
    """A cached bucket status is stale: only live answers are read."""
    bucket = CostBucket(maximum=1000, restore_rate=0.001)
    with FakeShopify([], bucket=bucket, server=http_server) as fake:
        cache = ResponseCache(tmp_path, 3600)
        live, cached = (client_with_cache(fake, cache) for _ in range(2))
        live.execute(SHOP_QUERY, SHOP_OPERATION, {}, "shop", cacheable=True)
        cached.execute(SHOP_QUERY, SHOP_OPERATION, {}, "shop", cacheable=True)

    assert live.pacer.reading is not None
    assert live.pacer.reading.available == 999
    assert cached.ctx.stats.cache_hits == 1
    assert cached.pacer.reading is None


def client_with_cache(fake: FakeShopify, cache: ResponseCache) -> ShopifyClient:
    stats = ProviderStats()
    http = HttpClient("shopify", stats, timeout=(2.0, 5.0), max_retries=0, cache=cache)
    settings = ShopifyProvider().resolve_settings(fake.env())
    return ShopifyClient(
        FetchContext(settings=settings, options={}, http=http, stats=stats, log=LOG)
    )


# --- THROTTLED -------------------------------------------------------------------------------


@pytest.mark.parametrize("status", [200, 429])
def test_throttled_is_waited_out_with_no_lost_or_duplicated_rows(
    provider, fetch_context, http_server, caplog, status
):
    caplog.set_level(logging.INFO)
    products = catalog(30)
    bucket = CostBucket(maximum=2000, restore_rate=1000)
    with FakeShopify(products, bucket=bucket, server=http_server) as fake:
        fake.throttle_next(times=2, status=status, after=3, short_by=5)  # page 2, twice
        ctx = fetch_context(provider, fake.env(), options={"page_size": 10})
        records = list(provider.fetch(ctx))

    assert ids(records) == ids(products)
    assert fake.throttled == 2
    assert ctx.stats.retries == 0  # a THROTTLED 429 is Shopify's pacing, not a failure
    # Twice 5 points short of the 965 asked for, at 1,000 points a second: 5 ms each.
    page_2_waits = re.findall(r"waiting ([\d.]+) s before products page 2 ", caplog.text)
    assert [float(s) for s in page_2_waits] == [pytest.approx(0.005, abs=0.002)] * 2
    assert ctx.stats.throttle_waits >= 2  # later pages may wait for the drained bucket


def test_http_429_without_bucket_status_waits_for_retry_after(
    provider, fetch_context, http_server, caplog
):
    caplog.set_level(logging.INFO)
    with FakeShopify(catalog(5), server=http_server) as fake:
        fake.fail_next(429, after=2, retry_after="0.05")
        ctx = fetch_context(provider, fake.env())
        records = list(provider.fetch(ctx))

    assert len(records) == 5
    assert (ctx.stats.throttle_waits, ctx.stats.throttle_wait_seconds) == (1, 0.05)
    assert "products page 1 was throttled (Retry-After); waiting 0.050 s" in caplog.text


# --- the pacer's arithmetic ------------------------------------------------------------------


class Clock:
    """A clock the test moves; sleeping moves it too."""

    def __init__(self) -> None:
        self.now = 100.0
        self.slept: list[float] = []

    def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)
        self.now += seconds


def pacer_with(clock: Clock) -> CostPacer:
    return CostPacer(ProviderStats(), LOG, clock=lambda: clock.now, sleep=clock.sleep)


def answer(available: float, maximum: float = 1000, rate: float = 50) -> dict[str, Any]:
    status = {"currentlyAvailable": available, "maximumAvailable": maximum, "restoreRate": rate}
    return {"extensions": {"cost": {"throttleStatus": status}}}


@pytest.mark.parametrize(
    ("available", "elapsed", "cost", "slept"),
    [
        (100, 0, 600, [10.0]),  # 500 points short at 50/s
        (100, 4, 600, [6.0]),  # 4 s since the reading restored 200 of them
        (700, 0, 600, []),  # enough already
        (100, 0, 5000, [18.0]),  # more than the bucket holds: wait for a full bucket
    ],
)
def test_pacer_waits_for_the_requested_cost(available, elapsed, cost, slept):
    clock = Clock()
    pacer = pacer_with(clock)
    pacer.observe(answer(available))
    clock.now += elapsed

    pacer.wait_for(cost, "products page 2")

    assert clock.slept == pytest.approx(slept)
    assert pacer.stats.throttle_waits == len(slept)
    assert pacer.stats.throttle_wait_seconds == pytest.approx(sum(slept))


@pytest.mark.parametrize("payload", [{}, {"extensions": {"cost": {}}}, answer(10, rate=0)])
def test_pacer_without_a_usable_reading_does_not_wait(payload):
    clock = Clock()
    pacer = pacer_with(clock)
    pacer.observe(payload)

    pacer.wait_for(900, "products page 1")

    assert clock.slept == []


def test_throttled_without_bucket_status_backs_off_doubling():
    clock = Clock()
    pacer = pacer_with(clock)

    for attempt in range(3):
        pacer.wait_after_throttled({}, 900, "products page 1", attempt)

    assert clock.slept == [1.0, 2.0, 4.0]
    assert pacer.stats.throttle_waits == 3
