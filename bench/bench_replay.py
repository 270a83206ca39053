"""Benchmark: ``--replay`` of N synthetic Shopify records, end to end.

Generates N Shopify product nodes (one variant each, so N canonical rows; ``--variants``
gives 1 to 4 per product, with compare-at prices) in the raw landing format, then times
``run_pipeline.py --replay`` on them in a child process and reads its CPU time and peak RSS
from ``wait4``'s resource usage. CPU time (user + system) is the figure to compare on a busy
machine; wall time also counts the waits for the other processes.

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
from dataclasses import dataclass
from pathlib import Path

import orjson
import zstandard

REPO = Path(__file__).resolve().parent.parent
DEFAULT_SIZES = (10_000, 100_000, 1_000_000)


def synthetic_variant(number: int, index: int) -> dict:
    """Variant ``index`` of product ``number``; every third one has a compare-at price."""
    serial = number * 4 + index
    price = 10 + serial % 500
    return {
        "id": f"gid://shopify/ProductVariant/{40_000_000_000 + serial}",
        "title": "Default Title" if index == 0 else f"Option {index}",
        "sku": f"SKU-{number}-{index}",
        "barcode": f"{serial:013d}",
        "price": f"{price}.99",
        "compareAtPrice": f"{price + 5}.99" if serial % 3 == 0 else None,
        "inventoryQuantity": serial % 50,
        "availableForSale": True,
        "createdAt": "2026-01-01T00:00:00Z",
        "updatedAt": "2026-11-01T12:00:00Z",
    }


def synthetic_product(number: int, variants: int = 1) -> dict:
    """One Shopify product node with ``variants`` variants, as the GraphQL Admin API returns it."""
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
            "nodes": [synthetic_variant(number, index) for index in range(variants)],
            "pageInfo": {"hasNextPage": False},
        },
        "__shop": {"currencyCode": "USD", "myshopifyDomain": "bench.myshopify.com"},
    }


def variants_of(number: int, mixed: bool) -> int:
    """1 variant per product, or 1 to 4 (2.5 on average) when ``mixed``."""
    return 1 + number % 4 if mixed else 1


def write_raw(directory: Path, rows: int, mixed: bool = False) -> Path:
    """Write products giving ``rows`` variant rows to one landing file; returns ``raw/``."""
    folder = directory / "raw" / "dt=2026-11-01" / "source=shopify"
    folder.mkdir(parents=True)
    with (folder / "20261101T000000Z-000000.jsonl.zst").open("wb") as handle:
        writer = zstandard.ZstdCompressor(level=3).stream_writer(handle)
        number = written = 0
        while written < rows:
            variants = min(variants_of(number, mixed), rows - written)
            writer.write(orjson.dumps(synthetic_product(number, variants)) + b"\n")
            number, written = number + 1, written + variants
        writer.close()
    return directory / "raw"


@dataclass(frozen=True)
class Timing:
    """One child process: wall seconds, CPU seconds (user + system), peak RSS, exit code."""

    wall: float
    cpu: float
    rss_mib: float
    code: int


def time_child(command: list[str], cwd: Path, env: dict[str, str] | None = None) -> Timing:
    """Run ``command`` and read its resources from ``wait4``."""
    started = time.perf_counter()
    child = subprocess.Popen(command, cwd=cwd, env=env, stdout=subprocess.DEVNULL)
    _, status, usage = os.wait4(child.pid, 0)
    elapsed = time.perf_counter() - started
    cpu = usage.ru_utime + usage.ru_stime
    return Timing(elapsed, cpu, usage.ru_maxrss / 1024, os.waitstatus_to_exitcode(status))


def time_replay(raw: Path, lake: Path) -> Timing:
    """One ``--replay`` of ``raw`` into ``lake`` in a child process."""
    command = [
        sys.executable, str(REPO / "pipelines" / "run_pipeline.py"),
        "--replay", str(raw), "--data-dir", str(lake), "--providers", "shopify",
    ]  # fmt: skip
    return time_child(command, lake.parent, {**os.environ, "PYTHONPATH": str(REPO)})


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=list(DEFAULT_SIZES))
    parser.add_argument("--variants", action="store_true", help="1 to 4 variants per product")
    args = parser.parse_args()
    print(f"{'rows':>10} {'wall s':>7} {'CPU s':>7} {'rows/CPU s':>11} {'peak RSS':>10}  exit")
    for size in args.sizes:
        workdir = Path(tempfile.mkdtemp(prefix=f"bench-{size}-"))
        try:
            raw = write_raw(workdir / "input", size, args.variants)
            t = time_replay(raw, workdir / "lake")
            print(f"{size:>10} {t.wall:>7.1f} {t.cpu:>7.1f} {size / t.cpu:>11,.0f} "
                  f"{t.rss_mib:>6.0f} MiB  {t.code}")  # fmt: skip
        finally:
            shutil.rmtree(workdir, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
