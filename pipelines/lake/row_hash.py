"""``hash_content`` over a whole table: the same sha256 values, the JSON built column by column.

``hash_content(row)`` hashes the orjson bytes of a row's hashed business columns, keys sorted.
Here each column's JSON text is made with Arrow compute (strings escaped as orjson escapes
them, decimals normalized, timestamps in ISO form) and the pieces joined per row, so Python
only runs the sha256 itself. A test holds the two to the same values.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable

import pyarrow as pa
import pyarrow.compute as pc

from pipelines.lake.schema import _HASHED_SORTED

_SHORT_ESCAPES = {"\n": "\\n", "\r": "\\r", "\t": "\\t", "\b": "\\b", "\f": "\\f"}
_NEEDS_ESCAPE = r'[\x00-\x1f"\\]'


def content_hashes(table: pa.Table) -> pa.Array:
    """``hash_content`` of every row of ``table`` (its business columns), as hex strings."""
    parts: list[pa.Array | str] = []
    for number, name in enumerate(_HASHED_SORTED):
        parts.append(("{" if number == 0 else ",") + f'"{name}":')
        parts.append(_json(table.column(name).combine_chunks()))
    parts.append("}")
    texts = pc.binary_join_element_wise(*parts, "").cast(pa.binary())
    return pa.array([hashlib.sha256(text).hexdigest() for text in texts.to_pylist()], pa.string())


def _json(values: pa.Array) -> pa.Array:
    """Each value's JSON text as orjson writes it ("null" for nulls)."""
    kind = values.type
    if pa.types.is_string(kind):
        text = _quoted(values)
    elif pa.types.is_list(kind):
        text = _json_list(values)
    elif pa.types.is_decimal(kind):
        text = pc.binary_join_element_wise('"', _decimal(values), '"', "")
    elif pa.types.is_integer(kind):
        text = values.cast(pa.string())
    elif pa.types.is_timestamp(kind) and kind.tz == "UTC":
        text = _per_value(values, _timestamp)
    else:
        raise TypeError(f"no JSON form for a {kind} column")
    return pc.fill_null(text, "null")


def _per_value(values: pa.Array, make: Callable[[pa.Array], pa.Array]) -> pa.Array:
    """``make(values)``, computed once per distinct value (timestamps repeat a lot)."""
    encoded = values.dictionary_encode()
    return pc.take(make(encoded.dictionary), encoded.indices)


def _timestamp(values: pa.Array) -> pa.Array:
    """``"2026-01-01T00:00:00+00:00"``, microseconds shown only when there are some."""
    iso = pc.replace_substring_regex(pc.strftime(values, "%Y-%m-%dT%H:%M:%S"), r"\.000000$", "")
    return pc.binary_join_element_wise('"', iso, '+00:00"', "")


def _quoted(values: pa.Array) -> pa.Array:
    """``"text"``, escaped as orjson does: quote, backslash and control characters."""
    if pc.any(pc.match_substring_regex(values, _NEEDS_ESCAPE)).as_py():
        values = pc.replace_substring(values, "\\", "\\\\")
        values = pc.replace_substring(values, '"', '\\"')
        for code in range(0x20):
            char = chr(code)
            values = pc.replace_substring(values, char, _SHORT_ESCAPES.get(char, f"\\u{code:04x}"))
    return pc.binary_join_element_wise('"', values, '"', "")


def _json_list(values: pa.Array) -> pa.Array:
    """``["a","b"]`` for a list of strings."""
    flat = pc.list_flatten(values)
    quoted = _quoted(flat) if len(flat) else flat
    lists = pa.ListArray.from_arrays(_offsets(values), quoted, mask=values.is_null())
    return pc.binary_join_element_wise("[", pc.binary_join(lists, ","), "]", "")


def _offsets(values: pa.ListArray) -> pa.Array:
    """Offsets of ``values`` into its flattened form (starting at 0)."""
    offsets = values.offsets
    return pc.subtract(offsets, offsets[0])


def _decimal(values: pa.Array) -> pa.Array:
    """``format(amount.normalize(), "f")`` (a string in the JSON): trailing zeros dropped."""
    text = values.cast(pa.string())
    text = pc.replace_substring_regex(text, r"(\.[0-9]*?)0+$", r"\1")
    return pc.replace_substring_regex(text, r"\.$", "")
