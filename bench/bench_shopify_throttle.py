"""Benchmark: reading a Shopify catalog through a cost bucket, against the ideal.

Serves N variants from the fake Shopify (tests/fakes/shopify/) on 127.0.0.1, with a real
leaky cost bucket (by default 1,000 points, restoring 100 a second: a standard plan), and
reads them with the provider's own fetch: paged (pacing by ``extensions.cost``) and as a
bulk operation. Reports calls, THROTTLED answers, pacing waits and wall time; the ideal is
the total actual cost charged divided by the restore rate (what the bucket lets through).
The bucket starts full, so the floor (cost minus the bucket, over the rate) is the true
lower bound. The fake completes a bulk operation at once, so the bulk row measures our side
only (start, poll, download and re-join of the JSONL), not Shopify's time to build the file.

    python bench/bench_shopify_throttle.py                        # 10k and 50k variants
    python bench/bench_shopify_throttle.py --sizes 2000 --restore-rate 1000
"""

from __future__ import annotations

import argparse
import logging
import sys
import time
from dataclasses import dataclass
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from pipelines.net.http import HttpClient  # noqa: E402
from providers.base import FetchContext, ProviderStats  # noqa: E402
from providers.shopify import ShopifyProvider  # noqa: E402
from tests.fakes.shopify import CostBucket, FakeShopify, make_product  # noqa: E402

DEFAULT_SIZES = (10_000, 50_000)


@dataclass
class Result:
    variants: int
    products: int
    mode: str
    calls: int
    throttled: int
    waits: int
    waited: float
    wall: float
    cost: int
    restore_rate: float
    maximum: float

    @property
    def ideal(self) -> float:
        """Total cost over the restore rate (the figure asked for)."""
        return self.cost / self.restore_rate

    @property
    def floor(self) -> float:
        """The true lower bound: the bucket starts full, so its first points are free."""
        return max(0.0, self.cost - self.maximum) / self.restore_rate


def catalog(variants: int, per_product: int) -> list[dict]:
    """Products of ``per_product`` variants (the last one may have fewer), ``variants`` in all.

    The fake numbers variants product × 100 + n, so ``per_product`` stays under 100.
    """
    sizes = [per_product] * (variants // per_product)
    if variants % per_product:
        sizes.append(variants % per_product)
    return [make_product(number, variants=count) for number, count in enumerate(sizes, 1)]


def read(products: list[dict], mode: str, args: argparse.Namespace) -> Result:
    """Fetch every product once through a fresh fake with a full bucket."""
    provider = ShopifyProvider()
    bucket = CostBucket(maximum=args.maximum, restore_rate=args.restore_rate)
    with FakeShopify(products, bucket=bucket) as fake:
        stats = ProviderStats()
        options = {o.name: o.default for o in provider.options}
        options["bulk"] = mode
        ctx = FetchContext(
            settings=provider.resolve_settings(fake.env()),
            options=options,
            http=HttpClient("shopify", stats),
            stats=stats,
            log=logging.getLogger("pipeline.shopify"),
        )
        started = time.perf_counter()
        records = list(provider.fetch(ctx))
        wall = time.perf_counter() - started
    variants = sum(len(r["variants"]["nodes"]) for r in records)
    return Result(
        variants=variants,
        products=len(records),
        mode="paged" if mode == "never" else "bulk",
        calls=stats.api_calls,
        throttled=fake.throttled,
        waits=stats.throttle_waits,
        waited=stats.throttle_wait_seconds,
        wall=wall,
        cost=fake.charged,
        restore_rate=args.restore_rate,
        maximum=args.maximum,
    )


def print_table(results: list[Result]) -> None:
    print(
        "| variants | products | mode | calls | THROTTLED | waits | waited s | wall s "
        "| cost (points) | ideal s | floor s | wall / ideal |"
    )
    print("|---" * 12 + "|")
    for r in results:
        ratio = f"{r.wall / r.ideal:.2f}" if r.mode == "paged" else "n/a"
        print(
            f"| {r.variants:,} | {r.products:,} | {r.mode} | {r.calls:,} | {r.throttled} "
            f"| {r.waits:,} | {r.waited:,.1f} | {r.wall:,.1f} | {r.cost:,} | {r.ideal:,.1f} "
            f"| {r.floor:,.1f} | {ratio} |"
        )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=list(DEFAULT_SIZES))
    parser.add_argument("--variants-per-product", type=int, default=5, choices=range(1, 100))
    parser.add_argument("--restore-rate", type=float, default=100.0, help="points per second")
    parser.add_argument("--maximum", type=float, default=1000.0, help="bucket size in points")
    parser.add_argument("--modes", nargs="+", default=["never", "always"], help="bulk option")
    args = parser.parse_args()
    logging.getLogger("werkzeug").setLevel(logging.ERROR)  # the fake's access log
    print(
        f"bucket: {args.maximum:g} points, restoring {args.restore_rate:g}/s; "
        f"{args.variants_per_product} variants per product; provider defaults otherwise",
        flush=True,
    )
    results = []
    for size in args.sizes:
        products = catalog(size, args.variants_per_product)
        for mode in args.modes:
            results.append(read(products, mode, args))
            print(f"  done: {size:,} variants, bulk={mode}", file=sys.stderr, flush=True)
    print_table(results)
    return 0


if __name__ == "__main__":
    sys.exit(main())
