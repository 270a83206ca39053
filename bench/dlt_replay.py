"""dlt's side of ``bench_targets.py``: the same raw landing files to Parquet, one row per variant.

Runs in dlt's own virtual environment, ``.venv-dlt`` (``make bench`` installs it from
``bench/requirements-dlt.lock``; dlt is no dependency of the project):

    .venv-dlt/bin/python bench/dlt_replay.py RAW_FOLDER OUTPUT_FOLDER

Each product node is read from the zstd JSON lines, and each of its variants becomes one row
holding the variant's fields and its product's (the shape our canonical table has); dlt infers
the schema, normalizes and loads Parquet files to a local ``filesystem`` destination.
"""

from __future__ import annotations

import io
import sys
from collections.abc import Iterator
from pathlib import Path

import dlt
import orjson
import zstandard


def variant_rows(raw: Path) -> Iterator[dict]:
    """Every variant of every product in the landing files under ``raw``, flattened."""
    for path in sorted(raw.rglob("*.jsonl.zst")):
        with path.open("rb") as handle:
            reader = io.BufferedReader(zstandard.ZstdDecompressor().stream_reader(handle))
            for line in reader:
                product = orjson.loads(line)
                shop = product.get("__shop") or {}
                media = ((product.get("featuredMedia") or {}).get("preview") or {}).get("image")
                parent = {
                    "product_id": product["id"], "product_title": product.get("title"),
                    "vendor": product.get("vendor"), "product_type": product.get("productType"),
                    "status": product.get("status"), "tags": product.get("tags"),
                    "description": product.get("description"),
                    "url": product.get("onlineStoreUrl"),
                    "image_url": (media or {}).get("url"),
                    "currency": shop.get("currencyCode"), "shop": shop.get("myshopifyDomain"),
                }  # fmt: skip
                for variant in product["variants"]["nodes"]:
                    yield {**parent, **variant}


def main() -> int:
    raw, output = Path(sys.argv[1]), Path(sys.argv[2])
    pipeline = dlt.pipeline(
        pipeline_name="bench_vs_dlt",
        pipelines_dir=str(output / "_dlt"),
        destination=dlt.destinations.filesystem(bucket_url=(output / "lake").as_uri()),
        dataset_name="shopify",
    )
    resource = dlt.resource(variant_rows(raw), name="variants", primary_key="id")
    pipeline.run(resource, loader_file_format="parquet")
    return 0


if __name__ == "__main__":
    sys.exit(main())
