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
    """``gtin14`` of every string of ``values``, with Arrow compute (the same results); the
    check digits of the padded digits (14 ASCII bytes each) summed as one numpy matrix."""
    import numpy as np  # here: the command line imports this module, and not numpy
    import pyarrow as pa
    import pyarrow.compute as pc

    if isinstance(values, pa.ChunkedArray):
        values = values.combine_chunks()
    text, digits = values, pc.ascii_is_decimal(values)
    if not pc.all(pc.fill_null(digits, True)).as_py():  # not digits only: drop separators
        text = pc.replace_substring_regex(values, _ARROW_SEPARATORS, "")
        digits = pc.match_substring_regex(text, "^[0-9]+$")
    length = pc.utf8_length(text)
    valid = pc.fill_null(
        pc.and_(pc.is_in(length, pa.array(sorted(GTIN_LENGTHS), length.type)), digits), False
    )
    padded = pc.utf8_lpad(pc.if_else(valid, text, "0" * GTIN14_LENGTH), GTIN14_LENGTH, "0")
    matrix = _digits(padded, np)
    total = matrix[:, :-1] @ np.resize([3, 1], GTIN14_LENGTH - 1)  # from the right: 3, 1, 3, …
    ok = np.asarray(valid) & ((10 - total % 10) % 10 == matrix[:, -1]) & matrix.any(axis=1)
    return pc.if_else(pa.array(ok), padded, pa.scalar(None, pa.string()))


def _digits(padded: pa.Array, np: Any) -> Any:
    """The digits of ``padded`` (every value 14 ASCII digits) as a rows x 14 int matrix."""
    rows = len(padded)
    if not rows:
        return np.zeros((0, GTIN14_LENGTH), np.int64)
    start = int(np.frombuffer(padded.buffers()[1], np.int32, 1, padded.offset * 4)[0])
    data = np.frombuffer(padded.buffers()[2], np.uint8, rows * GTIN14_LENGTH, start)
    return data.reshape(rows, GTIN14_LENGTH).astype(np.int64) - ord("0")
