"""Benchmark: ``--replay`` of N synthetic Shopify records, end to end.

Generates N Shopify product nodes (one variant each, so N canonical rows) in
the raw landing format, then times ``run_pipeline.py --replay`` on them in a
child process and reads its peak RSS from ``wait4``'s resource usage.

    python bench/bench_replay.py                 # 10k, 100k, 1M
    python bench/bench_replay.py --sizes 10000   # one size
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import orjson
import zstandard

REPO = Path(__file__).resolve().parent.parent
DEFAULT_SIZES = (10_000, 100_000, 1_000_000)


def synthetic_product(number: int) -> dict:
    """One Shopify product node with one variant, as the GraphQL Admin API returns it."""
    return {
        "id": f"gid://shopify/Product/{8_000_000_000 + number}",
        "title": f"Synthetic product {number}",
        "handle": f"synthetic-product-{number}",
        "vendor": f"Vendor {number % 97}",
        "productType": "Benchmark",
        "status": "ACTIVE",
        "tags": ["bench", f"group-{number % 13}"],
        "createdAt": "2026-01-01T00:00:00Z",
        "updatedAt": "2026-11-01T12:00:00Z",
        "onlineStoreUrl": f"https://bench.myshopify.com/products/synthetic-product-{number}",
        "description": "A product generated for the replay benchmark. " * 3,
        "featuredMedia": {"preview": {"image": {"url": f"https://cdn.example.com/{number}.jpg"}}},
        "variants": {
            "nodes": [
                {
                    "id": f"gid://shopify/ProductVariant/{40_000_000_000 + number}",
                    "title": "Default Title",
                    "sku": f"SKU-{number}",
                    "barcode": f"{number:013d}",
                    "price": f"{10 + number % 500}.99",
                    "compareAtPrice": None,
                    "inventoryQuantity": number % 50,
                    "availableForSale": True,
                    "createdAt": "2026-01-01T00:00:00Z",
                    "updatedAt": "2026-11-01T12:00:00Z",
                }
            ],
            "pageInfo": {"hasNextPage": False},
        },
        "__shop": {"currencyCode": "USD", "myshopifyDomain": "bench.myshopify.com"},
    }


def write_raw(directory: Path, count: int) -> Path:
    """Write ``count`` records to one landing file; returns the ``raw/`` folder."""
    folder = directory / "raw" / "dt=2026-11-01" / "source=shopify"
    folder.mkdir(parents=True)
    with (folder / "20261101T000000Z-000000.jsonl.zst").open("wb") as handle:
        writer = zstandard.ZstdCompressor(level=3).stream_writer(handle)
        for number in range(count):
            writer.write(orjson.dumps(synthetic_product(number)) + b"\n")
        writer.close()
    return directory / "raw"


def time_replay(raw: Path, lake: Path) -> tuple[float, int, int]:
    """Seconds, peak RSS (KiB) and exit code of one replay in a child process."""
    command = [
        sys.executable, str(REPO / "pipelines" / "run_pipeline.py"),
        "--replay", str(raw), "--data-dir", str(lake), "--providers", "shopify",
    ]  # fmt: skip
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    started = time.perf_counter()
    child = subprocess.Popen(command, cwd=lake.parent, env=env, stdout=subprocess.DEVNULL)
    _, status, usage = os.wait4(child.pid, 0)
    elapsed = time.perf_counter() - started
    return elapsed, usage.ru_maxrss, os.waitstatus_to_exitcode(status)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=list(DEFAULT_SIZES))
    args = parser.parse_args()
    print(f"{'records':>10} {'seconds':>8} {'rows/s':>9} {'peak RSS':>10}  exit")
    for size in args.sizes:
        workdir = Path(tempfile.mkdtemp(prefix=f"bench-{size}-"))
        try:
            raw = write_raw(workdir / "input", size)
            seconds, rss_kib, code = time_replay(raw, workdir / "lake")
            print(f"{size:>10} {seconds:>8.1f} {size / seconds:>9,.0f} "
                  f"{rss_kib / 1024:>7.0f} MiB  {code}")  # fmt: skip
        finally:
            shutil.rmtree(workdir, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
