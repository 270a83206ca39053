"""The Google Merchant Center primary feed (``gmc-products.tsv``) and its rejects.

One item per current product, as a tab-separated text feed: UTF-8, a header row of attribute
names, one item per line, no quoting. Values never hold a tab or a line break (control
characters become spaces, runs of them one space). Items that cannot qualify under the
specification (``merchant_rules.problems``) stay out of the feed and go to
``gmc-rejects.csv`` with their reasons.

Mapping: ``id`` is the provider's ``source_id``; ``link`` and ``image_link`` the ``url`` and
``image_url``; a list price above the selling price makes the list price ``price`` and the
selling price ``sale_price``; ``item_group_id`` is the parent product's id when two or more
items of the feed share that parent (variants); ``gtin`` is given as digits. Ids are unique:
of two providers' products with the same id, the first (by provider name) is kept.
"""

from __future__ import annotations

import csv
import re
from collections import Counter
from collections.abc import Mapping
from decimal import Decimal
from pathlib import Path
from typing import Any

from pipelines.exports.catalog import Catalog
from pipelines.exports.cells import text_cell
from pipelines.exports.merchant_rules import gtin_digits, problems

FEED_COLUMNS = (
    "id", "title", "description", "link", "image_link", "availability", "price", "sale_price",
    "condition", "brand", "gtin", "mpn", "item_group_id",
)  # fmt: skip
FEED_FILE = "gmc-products.tsv"
REJECTS_FILE = "gmc-rejects.csv"
REJECT_COLUMNS = ("source", "source_id", "title", "reasons")
_CONTROLS = re.compile(r"[\x00-\x1f\x7f]+")
_CENT = Decimal("0.01")


def write_merchant_feed(catalog: Catalog, folder: Path) -> list[tuple[Path, int]]:
    """Write the feed and the rejects into ``folder``; return each file with its rows."""
    rows = catalog.table.to_pylist()
    groups = Counter((r["source"], r["source_parent_id"]) for r in rows if r["source_parent_id"])
    feed: list[dict[str, str]] = []
    rejects: list[list[Any]] = []
    owners: dict[str, str] = {}
    for row in rows:
        item = feed_item(row, shared_parent=groups[(row["source"], row["source_parent_id"])] > 1)
        reasons = problems(item)
        if not reasons and item["id"] in owners:
            reasons = [f"id {item['id']} is also the id of {owners[item['id']]}"]
        if reasons:
            rejects.append([row["source"], row["source_id"], row["title"], "; ".join(reasons)])
            continue
        owners[item["id"]] = f"{row['source']} {row['source_id']}"
        feed.append(item)
    _drop_lone_groups(feed)
    feed_path, rejects_path = folder / FEED_FILE, folder / REJECTS_FILE
    with feed_path.open("w", encoding="utf-8", newline="") as handle:
        handle.write("\t".join(FEED_COLUMNS) + "\n")
        handle.writelines("\t".join(item[c] for c in FEED_COLUMNS) + "\n" for item in feed)
    with rejects_path.open("w", encoding="utf-8", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(REJECT_COLUMNS)
        writer.writerows([text_cell(value) for value in reject] for reject in rejects)
    return [(feed_path, len(feed)), (rejects_path, len(rejects))]


def _drop_lone_groups(feed: list[dict[str, str]]) -> None:
    """A group whose other variants were rejected is one product: no ``item_group_id``."""
    sizes = Counter(item["item_group_id"] for item in feed)
    for item in feed:
        if sizes[item["item_group_id"]] < 2:
            item["item_group_id"] = ""


def feed_item(row: Mapping[str, Any], shared_parent: bool) -> dict[str, str]:
    """The feed attributes of one product row ('' where there is no value)."""
    price, sale_price = _prices(row)
    return {
        "id": feed_text(row["source_id"]),
        "title": feed_text(row["title"]),
        "description": feed_text(row["description"]),
        "link": feed_text(row["url"]),
        "image_link": feed_text(row["image_url"]),
        "availability": row["availability"],
        "price": price,
        "sale_price": sale_price,
        "condition": row["condition"],
        "brand": feed_text(row["brand"]),
        "gtin": gtin_digits(feed_text(row["gtin"])),
        "mpn": feed_text(row["mpn"]),
        "item_group_id": feed_text(row["source_parent_id"]) if shared_parent else "",
    }


def feed_text(value: str | None) -> str:
    """``value`` on one line: control characters (tabs, line breaks) become one space."""
    return _CONTROLS.sub(" ", value).strip() if value else ""


def _prices(row: Mapping[str, Any]) -> tuple[str, str]:
    """``price`` and ``sale_price``: the list price and the selling price when the list price
    is higher, else the selling price alone."""
    amount, listed = row["price_amount"], row["list_price_amount"]
    if amount is None:
        return "", ""
    currency = row["currency"] or ""
    if listed is not None and listed > amount:
        return money(listed, currency), money(amount, currency)
    return money(amount, currency), ""


def money(amount: Decimal, currency: str) -> str:
    """``12.34 USD``: two places, or every place when a price has more (never rounded)."""
    cents = amount.quantize(_CENT)
    number = format(cents if cents == amount else amount.normalize(), "f")
    return f"{number} {currency}".strip()
