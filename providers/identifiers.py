"""Product identifiers across marketplaces: any GTIN form as the one 14-digit GTIN-14.

GS1 numbers a trade item with a GTIN of 8, 12, 13 or 14 digits: GTIN-8 (EAN-8), GTIN-12
(UPC-A), GTIN-13 (EAN-13, and ISBN-13 for books: prefix 978/979) and GTIN-14. Padded on the
left with zeros to 14 digits they name the same item, so ``012345678905`` (UPC-A) and
``0012345678905`` (the EAN-13 form) both become ``00012345678905``. The last digit is the
GS1 mod-10 check digit (https://www.gs1.org/services/how-calculate-check-digit-manually):
from the right, the digits before it are weighted 3, 1, 3, 1, …; the check digit brings
the weighted sum up to a multiple of 10.

Pure functions, no I/O: providers and the normalize stage may both call them.
"""

from __future__ import annotations

import re
from typing import Any

GTIN_LENGTHS = frozenset({8, 12, 13, 14})
GTIN14_LENGTH = 14
_SEPARATORS = re.compile(r"[\s\-]")


def gs1_check_digit(digits: str) -> int:
    """The GS1 mod-10 check digit for ``digits`` (the number without its check digit)."""
    # From the right: the last digit and every second one before it weigh 3, the others 1.
    total = 3 * sum(map(int, digits[-1::-2])) + sum(map(int, digits[-2::-2]))
    return (10 - total % 10) % 10


def gtin14(value: Any) -> str | None:
    """``value`` as a 14-digit GTIN-14, or None when it is not a valid GTIN.

    Spaces and hyphens are dropped (``978-3-16-148410-0``); what remains must be 8, 12, 13
    or 14 ASCII digits, not all zeros, whose last digit is the GS1 check digit of the rest.
    ISBN-10, UPC-E and anything else give None.
    """
    if value is None or isinstance(value, bool):
        return None
    text = _SEPARATORS.sub("", str(value))
    if len(text) not in GTIN_LENGTHS or not (text.isascii() and text.isdigit()):
        return None
    padded = text.zfill(GTIN14_LENGTH)
    if not padded.strip("0") or gs1_check_digit(padded[:-1]) != int(padded[-1]):
        return None
    return padded
