"""``hash_content`` over a whole table: the same sha256 values, the JSON built column by column.

``hash_content(row)`` hashes the orjson bytes of a row's hashed business columns, keys sorted.
Here each column's JSON text is made with Arrow compute (strings escaped as orjson escapes
them, decimals normalized, timestamps in ISO form) and the pieces joined per row, so Python
only runs the sha256 itself. A test holds the two to the same values.

Most columns need little of that work: a column without nulls is joined as it is, between
literal quotes; a column of nulls only is the literal ``null``; a string column is escaped
only when one byte of its data needs it, and only for the characters present.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from pipelines.lake.schema import _HASHED_SORTED

_ESCAPES = {"\n": "\\n", "\r": "\\r", "\t": "\\t", "\b": "\\b", "\f": "\\f", '"': '\\"'}
_BACKSLASH, _QUOTE = 0x5C, 0x22
_SCAN = 1 << 18  # bytes compared at a time


def content_hashes(table: pa.Table) -> pa.Array:
    """``hash_content`` of every row of ``table`` (its business columns), as hex strings."""
    text = _RowText()
    for number, name in enumerate(_HASHED_SORTED):
        text.literal(("{" if number == 0 else ",") + f'"{name}":')
        _add_json(text, table.column(name).combine_chunks())
    text.literal("}")
    texts = text.joined(table.num_rows).cast(pa.binary())
    return pa.array([hashlib.sha256(value).hexdigest() for value in texts.to_pylist()], pa.string())


class _RowText:
    """The parts of every row's JSON text: literal text (the same in every row) and arrays."""

    def __init__(self) -> None:
        self.parts: list[pa.Array | str] = []
        self.pending = ""

    def literal(self, text: str) -> None:
        self.pending += text

    def values(self, values: pa.Array) -> None:
        self.parts += [self.pending, values]
        self.pending = ""

    def joined(self, rows: int) -> pa.Array:
        """Each row's parts joined in order."""
        if not self.parts:
            return pa.repeat(self.pending, rows)
        return pc.binary_join_element_wise(*self.parts, self.pending, "")


def _add_json(text: _RowText, values: pa.Array) -> None:
    """Each value's JSON text as orjson writes it ("null" for nulls)."""
    if values.null_count == len(values):
        text.literal("null")
        return
    kind = values.type
    if pa.types.is_string(kind):
        body, before, after = _escaped(values), '"', '"'
    elif pa.types.is_list(kind):
        body, before, after = _json_list(values), "", ""
    elif pa.types.is_decimal(kind):
        body, before, after = _per_value(values, _decimal), "", ""
    elif pa.types.is_integer(kind):
        body, before, after = values.cast(pa.string()), "", ""
    elif pa.types.is_timestamp(kind) and kind.tz == "UTC":
        body, before, after = _per_value(values, _timestamp), "", ""
    else:
        raise TypeError(f"no JSON form for a {kind} column")
    if values.null_count:
        text.values(pc.fill_null(_enclosed(body, before, after), "null"))
    else:
        text.literal(before)
        text.values(body)
        text.literal(after)


def _enclosed(values: pa.Array, before: str, after: str) -> pa.Array:
    if not before and not after:
        return values
    return pc.binary_join_element_wise(before, values, after, "")


def _per_value(values: pa.Array, make: Callable[[pa.Array], pa.Array]) -> pa.Array:
    """``make(values)``, computed once per distinct value (timestamps and prices repeat)."""
    encoded = values.dictionary_encode()
    return pc.take(make(encoded.dictionary), encoded.indices)


def _timestamp(values: pa.Array) -> pa.Array:
    """``"2026-01-01T00:00:00+00:00"``, microseconds shown only when there are some."""
    iso = pc.replace_substring_regex(pc.strftime(values, "%Y-%m-%dT%H:%M:%S"), r"\.000000$", "")
    return _enclosed(iso, '"', '+00:00"')


def _escaped(values: pa.Array) -> pa.Array:
    """``values`` escaped as orjson escapes them: quote, backslash and control characters.

    UTF-8 continuation bytes are never below 0x80, so a byte scan finds exactly these."""
    present = _special_bytes(_data(values))
    if not present:
        return values
    if _BACKSLASH in present:  # first: the escapes below add backslashes
        values = pc.replace_substring(values, "\\", "\\\\")
    for code in sorted(present - {_BACKSLASH}):
        char = chr(code)
        values = pc.replace_substring(values, char, _ESCAPES.get(char, f"\\u{code:04x}"))
    return values


def _special_bytes(data: np.ndarray) -> set[int]:
    """The bytes of ``data`` that need an escape, scanned a cache-sized part at a time: most
    columns have none, and a minimum and two comparisons per part tell."""
    for start in range(0, len(data), _SCAN):
        part = data[start : start + _SCAN]
        if part.min() < 0x20 or (part == _QUOTE).any() or (part == _BACKSLASH).any():
            rest = data[start:]
            return set(
                np.unique(rest[(rest < 0x20) | (rest == _QUOTE) | (rest == _BACKSLASH)]).tolist()
            )
    return set()


def _data(values: pa.Array) -> np.ndarray:
    """The bytes of a string array's values (those of null slots too, if any)."""
    _, offsets, data = values.buffers()
    if not len(values) or data is None:
        return np.zeros(0, np.uint8)
    ends = np.frombuffer(offsets, np.int32, len(values) + 1, values.offset * 4)
    return np.frombuffer(data, np.uint8)[ends[0] : ends[-1]]


def _json_list(values: pa.ListArray) -> pa.Array:
    """``["a","b"]`` for a list of strings (a null item: ``null``); without null items, the
    items are joined by ``","`` as they are, not quoted one by one."""
    flat = pc.list_flatten(values)
    if flat.null_count:
        flat = pc.fill_null(_enclosed(_escaped(flat), '"', '"'), "null")
        lists = pa.ListArray.from_arrays(_offsets(values), flat, mask=values.is_null())
        return pc.binary_join_element_wise("[", pc.binary_join(lists, ","), "]", "")
    lists = pa.ListArray.from_arrays(_offsets(values), _escaped(flat), mask=values.is_null())
    text = pc.binary_join_element_wise('["', pc.binary_join(lists, '","'), '"]', "")
    return pc.if_else(pc.equal(pc.list_value_length(values), 0), "[]", text)


def _offsets(values: pa.ListArray) -> pa.Array:
    """Offsets of ``values`` into its flattened form (starting at 0)."""
    offsets = values.offsets
    return pc.subtract(offsets, offsets[0])


def _decimal(values: pa.Array) -> pa.Array:
    """``"12.5"``: ``format(amount.normalize(), "f")``, a string in the JSON, trailing zeros
    dropped, then a trailing point (with a positive scale the text always has a point)."""
    text = values.cast(pa.string())
    if values.type.scale > 0:
        text = pc.utf8_rtrim(pc.utf8_rtrim(text, "0"), ".")
    return _enclosed(text, '"', '"')
