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
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import pyarrow as pa

GTIN_LENGTHS = frozenset({8, 12, 13, 14})
GTIN14_LENGTH = 14
_SEPARATORS = re.compile(r"[\s\-]")
# What Python's str.strip() and re's \s take for whitespace (str.isspace), for Arrow compute.
PY_WHITESPACE = (
    "\t\n\x0b\x0c\r\x1c\x1d\x1e\x1f \x85\xa0\u1680"
    + "".join(chr(c) for c in range(0x2000, 0x200B))
    + "\u2028\u2029\u202f\u205f\u3000"
)
_ARROW_SEPARATORS = "[" + "".join(f"\\x{{{ord(c):x}}}" for c in PY_WHITESPACE) + "\\-]"  # RE2


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


def gtin14_array(values: pa.Array) -> pa.Array:
    """``gtin14`` of every string of ``values``, with Arrow compute (the same results)."""
    import pyarrow as pa  # here: the command line imports this module, and not pyarrow
    import pyarrow.compute as pc

    text = pc.replace_substring_regex(values, _ARROW_SEPARATORS, "")
    length = pc.utf8_length(text)
    digits = pc.match_substring_regex(text, "^[0-9]+$")
    valid = pc.and_(pc.is_in(length, pa.array(sorted(GTIN_LENGTHS), length.type)), digits)
    padded = pc.utf8_lpad(pc.if_else(valid, text, "0" * GTIN14_LENGTH), GTIN14_LENGTH, "0")
    total = pa.repeat(pa.scalar(0, pa.int64()), len(values))
    for i in range(GTIN14_LENGTH - 1):  # from the right the body weighs 3, 1, 3, …
        digit = pc.cast(pc.utf8_slice_codeunits(padded, i, i + 1), pa.int64())
        total = pc.add(total, pc.multiply(digit, 3 if i % 2 == 0 else 1))
    check = pc.remainder(pc.subtract(10, pc.remainder(total, 10)), 10)
    last = pc.cast(pc.utf8_slice_codeunits(padded, 13, 14), pa.int64())
    ok = pc.and_(pc.and_(valid, pc.equal(check, last)), pc.not_equal(padded, "0" * GTIN14_LENGTH))
    return pc.if_else(pc.fill_null(ok, False), padded, pa.scalar(None, pa.string()))
