"""JSON numbers as they were sent: ``NaN``, ``Infinity`` and ``1e999`` are kept, never turned
into null.

Python's ``json`` reads ``NaN`` and ``Infinity`` (not JSON) as floats and ``1e999`` as infinity,
and orjson then writes all three as ``null``: a record would land with a value it never had.
Here such a number is parsed as an ``InvalidNumber`` holding its exact text, written back by
``dumps`` as that same text, so the raw landing zone keeps what the API sent. A raw line that
holds one reads back (``loads_record``) as an ``InvalidNumberRecord``, which the normalize step
drops with the reason ``invalid_json_number``. Strict lines take orjson's fast path.
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterator
from typing import Any

import orjson


class InvalidNumber:
    """A number JSON does not allow or a double cannot hold, as its text (``NaN``)."""

    __slots__ = ("text",)

    def __init__(self, text: str) -> None:
        self.text = text

    def __repr__(self) -> str:
        return f"InvalidNumber({self.text!r})"

    def __eq__(self, other: object) -> bool:
        return isinstance(other, InvalidNumber) and other.text == self.text

    def __hash__(self) -> int:
        return hash(self.text)


class InvalidNumberRecord(dict):
    """A raw record holding at least one ``InvalidNumber``; ``problems`` says where."""

    problems: list[str]


def _number(text: str) -> float | InvalidNumber:
    value = float(text)
    return value if math.isfinite(value) else InvalidNumber(text)


def loads(data: bytes | str) -> Any:
    """Parse JSON like ``json.loads``, with non-finite numbers as ``InvalidNumber``.

    Raises ``ValueError`` (``json.JSONDecodeError``) for a document that is not JSON.
    """
    return json.loads(data, parse_constant=InvalidNumber, parse_float=_number)


def dumps(value: Any, canonical: bool = False) -> bytes:
    """Compact JSON (orjson), each ``InvalidNumber`` written back as the text it was sent as;
    ``canonical``: keys sorted at every level (``pipelines.lake.schema.canonical_json``'s bytes)."""
    return orjson.dumps(value, default=_fragment, option=orjson.OPT_SORT_KEYS if canonical else 0)


def _fragment(value: Any) -> orjson.Fragment:
    if isinstance(value, InvalidNumber):
        return orjson.Fragment(value.text.encode())
    raise TypeError(f"{type(value).__name__} is not JSON serializable")


def loads_record(line: bytes) -> Any:
    """One raw landing line: orjson when strict, else ``loads``; a dict holding an
    ``InvalidNumber`` comes back as an ``InvalidNumberRecord``."""
    try:
        return orjson.loads(line)
    except orjson.JSONDecodeError:
        value = loads(line)  # raises when the line is not JSON at all
    problems = list(invalid_numbers(value))
    if problems and isinstance(value, dict):
        record = InvalidNumberRecord(value)
        record.problems = problems
        return record
    return value


def invalid_numbers(value: Any, path: str = "") -> Iterator[str]:
    """``path = text`` of every ``InvalidNumber`` in ``value`` (``price.value = NaN``)."""
    if isinstance(value, InvalidNumber):
        yield f"{path or '(the record)'} = {value.text}"
    elif isinstance(value, dict):
        for key, item in value.items():
            yield from invalid_numbers(item, f"{path}.{key}" if path else str(key))
    elif isinstance(value, list):
        for index, item in enumerate(value):
            yield from invalid_numbers(item, f"{path}[{index}]")
