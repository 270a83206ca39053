"""Google Merchant Center's product data specification, as far as the feed uses it.

From Google's product data specification (https://support.google.com/merchants/answer/7052112)
and its attribute pages: price and sale price (answers 6324371, 6324471: a number and an ISO
4217 currency, ``15.00 USD``, above 0), availability date (6324470: required for
``preorder`` and ``backorder``), GTIN (6324461: 8, 12, 13 or 14 digits, spaces and dashes
ignored, a correct GS1 check digit, none of the restricted prefixes 02, 04 and 2 nor the
coupon prefixes 05 and 98-99). docs/exports.md lists each rule with its source.

Pure functions: ``problems`` says why a feed item cannot qualify, an empty list when it can.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from decimal import Decimal

from providers.identifiers import gtin14

REQUIRED = ("id", "title", "description", "link", "image_link", "availability", "price")
MAX_LENGTHS = {
    "id": 50, "title": 150, "description": 5000, "link": 2000, "image_link": 2000,
    "brand": 70, "mpn": 70, "item_group_id": 50,
}  # fmt: skip
AVAILABILITIES = ("in_stock", "out_of_stock", "preorder", "backorder")
NEEDS_AVAILABILITY_DATE = ("preorder", "backorder")
CONDITIONS = ("new", "refurbished", "used")
# The GTIN-13 form's prefixes Google refuses: restricted circulation (02, 04, 2) and coupons
# (05, 98, 99). A UPC-A (12 digits) is its GTIN-13 form with a leading 0.
RESTRICTED_GTIN_PREFIXES = ("02", "04", "2", "05", "98", "99")
PRICE = re.compile(r"(?P<amount>\d+(?:\.\d+)?) (?P<currency>[A-Z]{3})")
URL = re.compile(r"https?://[^\s/?#]+\S*")
_SEPARATORS = re.compile(r"[\s-]")


def problems(item: Mapping[str, str]) -> list[str]:
    """Why ``item`` (attribute -> text, '' when absent) cannot go into the feed."""
    found = [f"{name} is missing" for name in REQUIRED if not item.get(name)]
    found += [
        f"{name} has {len(item[name])} characters (at most {limit})"
        for name, limit in MAX_LENGTHS.items()
        if len(item.get(name, "")) > limit
    ]
    for name in ("link", "image_link"):
        if item.get(name) and not URL.fullmatch(item[name]):
            found.append(f"{name} is not an http(s) URL")
    found += _availability_problems(item.get("availability", ""))
    if item.get("condition") and item["condition"] not in CONDITIONS:
        found.append(f"condition {item['condition']} is not one of {', '.join(CONDITIONS)}")
    found += _price_problems(item)
    if item.get("gtin") and (problem := gtin_problem(item["gtin"])):
        found.append(problem)
    return found


def _availability_problems(availability: str) -> list[str]:
    if not availability:
        return []
    if availability not in AVAILABILITIES:
        return [f"availability {availability} is not one of {', '.join(AVAILABILITIES)}"]
    if availability in NEEDS_AVAILABILITY_DATE:
        return [f"availability {availability} needs an availability_date, which the lake "
                "does not hold"]  # fmt: skip
    return []


def _price_problems(item: Mapping[str, str]) -> list[str]:
    found = []
    prices = {name: PRICE.fullmatch(item.get(name, "")) for name in ("price", "sale_price")}
    for name, match in prices.items():
        if item.get(name) and match is None:
            found.append(f"{name} {item[name]} is not a number and a currency code")
        elif match and Decimal(match["amount"]) <= 0:
            found.append(f"{name} {item[name]} is not above 0")
    price, sale = prices["price"], prices["sale_price"]
    if price and sale and sale["currency"] != price["currency"]:
        found.append("sale_price and price are in different currencies")
    elif price and sale and Decimal(sale["amount"]) >= Decimal(price["amount"]):
        found.append("sale_price is not below price")
    return found


def gtin_problem(value: str) -> str | None:
    """Why ``value`` is not a GTIN Merchant Center takes, or None."""
    checked = gtin14(value)
    if checked is None:
        return (f"gtin {value} is not 8, 12, 13 or 14 digits with a correct GS1 check "
                "digit")  # fmt: skip
    if len(_SEPARATORS.sub("", value)) > 8 and checked[1:].startswith(RESTRICTED_GTIN_PREFIXES):
        return f"gtin {value} is in a restricted or coupon range (prefix 02, 04, 05, 2, 98 or 99)"
    return None


def gtin_digits(value: str) -> str:
    """A GTIN as digits only (the feed's form): spaces and dashes dropped."""
    return _SEPARATORS.sub("", value)
