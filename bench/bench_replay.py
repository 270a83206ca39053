"""The benchmark's input: synthetic Shopify product nodes in the raw landing format, and one
``--replay`` of them timed in a child process (``measure.time_child``).

The records have the shape the products query returns (``providers/shopify/queries.py``) plus
the ``__shop`` context the fetch adds: 1 to 4 variants per product (2.5 on average), about a
third of the variants with a compare-at price above the price, barcodes (mostly valid EAN-13,
some missing or with a wrong check digit), nested featured media (missing on one product in
twenty), drafts and archived products, tags, descriptions of varying length. Every value is a
function of the product's number and the seed, so the same arguments give the same bytes, and
the file is written as it is generated (memory stays flat in the row count).

``write_changes`` writes a later landing file in which ``changes`` of the same products come
back changed (new prices, stock and ``updatedAt``): the input of a change run.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Iterator
from pathlib import Path

import orjson
import zstandard

sys.path.insert(0, str(Path(__file__).resolve().parent))
from measure import Timing, time_child

REPO = Path(__file__).resolve().parent.parent
SHOP = {"currencyCode": "USD", "myshopifyDomain": "bench.myshopify.com"}
WORDS = ("Classic", "Organic", "Linen", "Wool", "Travel", "Everyday", "Café", "Merino",
         "Canvas", "Ceramic", "Walnut", "Recycled", "Slim", "Heavy", "Mini", "Pro")  # fmt: skip
SIZES = ("XS", "S", "M", "L", "XL")
COLOURS = ("Black", "White", "Navy", "Sand", "Olive", "Rust")


def mix(seed: int, number: int, salt: int) -> int:
    """A well-spread 32-bit value of (seed, number, salt): the generator's only randomness."""
    x = (seed * 0x9E3779B1 + number * 0x85EBCA77 + salt * 0xC2B2AE3D) & 0xFFFFFFFF
    x = ((x ^ (x >> 16)) * 0x45D9F3B) & 0xFFFFFFFF
    x = ((x ^ (x >> 16)) * 0x45D9F3B) & 0xFFFFFFFF
    return x ^ (x >> 16)


def ean13(serial: int, valid: bool) -> str:
    """A 13-digit barcode with a correct check digit, or an incorrect one."""
    body = f"{serial % 10**12:012d}"
    check = (10 - sum(int(d) * (3 if i % 2 else 1) for i, d in enumerate(body)) % 10) % 10
    return body + str(check if valid else (check + 1) % 10)


def synthetic_variant(
    number: int, index: int, seed: int = 0, revision: int = 0, alone: bool = False
) -> dict:
    """Variant ``index`` of product ``number`` (``alone``: its only one, "Default Title");
    ``revision`` > 0 changes its price and stock."""
    serial = number * 4 + index
    draw = mix(seed, serial, 1)
    price = 5 + draw % 495 + revision
    quantity = (draw >> 9) % 120 + revision
    barcode = None if draw % 10 == 0 else ean13(40_000_000_000 + serial, draw % 20 != 1)
    return {
        "id": f"gid://shopify/ProductVariant/{40_000_000_000 + serial}",
        "title": "Default Title" if alone else f"{SIZES[index]} / {COLOURS[draw % 6]}",
        "sku": f"SKU-{number}-{index}",
        "barcode": barcode,
        "price": f"{price}.{draw % 100:02d}",
        "compareAtPrice": f"{price + 5 + draw % 40}.99" if draw % 3 == 0 else None,
        "inventoryQuantity": quantity if (draw >> 5) % 8 else 0,
        "availableForSale": bool((draw >> 5) % 8) or draw % 2 == 0,
        "createdAt": f"2025-{1 + draw % 12:02d}-{1 + draw % 28:02d}T08:00:00Z",
        "updatedAt": f"2026-{10 + revision:02d}-{1 + draw % 28:02d}T12:00:00Z",
    }


def synthetic_product(number: int, variants: int = 1, seed: int = 0, revision: int = 0) -> dict:
    """One Shopify product node with ``variants`` variants, as the GraphQL Admin API returns it."""
    draw = mix(seed, number, 2)
    title = f"{WORDS[draw % 16]} {WORDS[(draw >> 4) % 16]} product {number}"
    handle = f"product-{number}"
    media = {"preview": {"image": {"url": f"https://cdn.shopify.com/s/files/{number}.jpg"}}}
    status = "ACTIVE" if draw % 100 < 90 else "DRAFT" if draw % 100 < 97 else "ARCHIVED"
    return {
        "id": f"gid://shopify/Product/{8_000_000_000 + number}",
        "title": title,
        "handle": handle,
        "vendor": f"Vendor {draw % 97}",
        "productType": WORDS[(draw >> 8) % 16],
        "status": status,
        "tags": [f"tag-{(draw >> s) % 50}" for s in range(0, (draw >> 12) % 6 * 3, 3)],
        "createdAt": "2025-01-01T00:00:00Z",
        "updatedAt": f"2026-{10 + revision:02d}-01T12:00:00Z",
        "onlineStoreUrl": f"https://bench.myshopify.com/products/{handle}",
        "description": f"{title}. " + "Made to last, easy to care for. " * (1 + draw % 12),
        "featuredMedia": None if draw % 20 == 7 else media,
        "variantsCount": {"count": variants},
        "variants": {
            "nodes": [
                synthetic_variant(number, i, seed, revision, variants == 1) for i in range(variants)
            ],
            "pageInfo": {"hasNextPage": False, "endCursor": f"cursor-{number}-{variants}"},
        },
        "__shop": SHOP,
    }


def catalog(rows: int, mixed: bool = True, seed: int = 0) -> Iterator[tuple[int, int]]:
    """(product number, variant count) of the products giving ``rows`` variant rows: 1 to 4
    variants each when ``mixed``, else 1; the last product is cut to fit."""
    number = written = 0
    while written < rows:
        variants = min(1 + mix(seed, number, 3) % 4 if mixed else 1, rows - written)
        yield number, variants
        number, written = number + 1, written + variants


def _write(folder: Path, name: str, products: Iterator[dict]) -> None:
    folder.mkdir(parents=True)
    with (folder / name).open("wb") as handle:
        writer = zstandard.ZstdCompressor(level=3).stream_writer(handle)
        for product in products:
            writer.write(orjson.dumps(product) + b"\n")
        writer.close()


def write_raw(directory: Path, rows: int, mixed: bool = True, seed: int = 0) -> Path:
    """Write products giving ``rows`` variant rows to one landing file; returns ``raw/``."""
    folder = directory / "raw" / "dt=2026-11-01" / "source=shopify"
    products = (synthetic_product(n, v, seed) for n, v in catalog(rows, mixed, seed))
    _write(folder, "20261101T000000Z-000000.jsonl.zst", products)
    return directory / "raw"


def write_changes(
    directory: Path, rows: int, changes: int, mixed: bool = True, seed: int = 0
) -> tuple[Path, int]:
    """A later landing file holding ``changes`` products of ``write_raw``'s catalog (spread
    evenly over it; all of them if it has fewer) with changed prices and stock; returns its
    ``raw/`` and how many products it holds."""
    products = list(catalog(rows, mixed, seed))
    stride = max(1, len(products) // max(1, changes))
    chosen = products[::stride][:changes]
    folder = directory / "raw" / "dt=2026-11-02" / "source=shopify"
    changed = (synthetic_product(n, v, seed, revision=1) for n, v in chosen)
    _write(folder, "20261102T000000Z-000001.jsonl.zst", changed)
    return directory / "raw", len(chosen)


def replay_command(raw: Path, lake: Path, tree: Path = REPO) -> list[str]:
    """``run_pipeline.py --replay`` of ``raw`` into ``lake`` with the checkout at ``tree``."""
    return [
        sys.executable, str(tree / "pipelines" / "run_pipeline.py"),
        "--replay", str(raw), "--data-dir", str(lake), "--providers", "shopify",
    ]  # fmt: skip


def time_replay(raw: Path, lake: Path) -> Timing:
    """One ``--replay`` of ``raw`` into ``lake`` in a child process (its run log goes to
    ``lake``'s parent folder, ``logs/``)."""
    lake.parent.mkdir(parents=True, exist_ok=True)
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    return time_child(replay_command(raw, lake), lake.parent, env)
