"""What a provider's batch normalizer returns (``Provider.normalize_batch``), and the column
helpers the built-in ones share (each the Arrow form of a per-record step, with the values it
cannot compute exactly marked for the reference)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc

from providers.identifiers import PY_WHITESPACE


@dataclass
class NormalizedBlock:
    """What ``normalize_batch`` made of a block of raw records.

    ``rows``: the canonical business columns (``pipelines.lake.schema.BUSINESS_FIELDS``) of
    the records it mapped, in record order, plus ``__record`` (int64, the record's index in
    the block); None when it mapped none. ``rest``: the indices of the records it left to
    ``normalize``, the reference (a record it cannot map exactly as ``normalize`` would,
    including every record ``normalize`` refuses), in ascending order.
    """

    rows: pa.Table | None
    rest: list[int]

    def join(self, other: NormalizedBlock, offset: int) -> NormalizedBlock:
        """This block followed by ``other``, whose records start at ``offset``."""
        tables = [] if self.rows is None else [self.rows]
        if other.rows is not None:
            shifted = pc.add(other.rows.column("__record"), offset)
            index = other.rows.schema.get_field_index("__record")
            tables.append(other.rows.set_column(index, "__record", shifted))
        rows = pa.concat_tables(tables) if tables else None
        return NormalizedBlock(rows, self.rest + [offset + i for i in other.rest])


@dataclass(frozen=True)
class RawTable:
    """How a provider's landed lines are read straight into Arrow (``raw_table()``).

    ``schema``: the explicit schema of the fields it reads (``pyarrow.json``: a line whose
    values do not fit it exactly is read as a dict and left to ``normalize``, so nothing is
    lost or changed). ``key_schema``: the fields ``keys`` reads, a cheaper read when only the
    keys are wanted. ``keys(table)``: every record's row ids without normalizing, as the ids and
    the index of the record giving each (``raw_keys`` column by column), from a table read with
    either schema. ``normalize(table)``: the batch normalizer over a table read with ``schema``
    (``__record`` indexes the table's records).
    """

    schema: pa.Schema
    key_schema: pa.Schema
    keys: Callable[[pa.Table], tuple[pa.Array, pa.Array]]
    normalize: Callable[[pa.Table], NormalizedBlock]


# --- column helpers shared by the built-in batch normalizers ---------------------------------

MONEY = pa.decimal128(18, 4)
TIMESTAMP = pa.timestamp("us", tz="UTC")
PRICE = r"^[0-9]{1,14}(\.[0-9]{1,4})?$"  # a plain decimal string that fits decimal(18,4) exactly
_SECONDS = "%Y-%m-%dT%H:%M:%S"
_NO_TEXT = pa.scalar(None, pa.string())


def split_block(
    raws: list[dict[str, Any]], normalize: Callable[[list[dict[str, Any]]], NormalizedBlock]
) -> NormalizedBlock:
    """A block Arrow refuses (a value of an unexpected type): halves, down to the records."""
    if len(raws) == 1:
        return NormalizedBlock(None, [0])
    middle = len(raws) // 2
    first, second = normalize(raws[:middle]), normalize(raws[middle:])
    return first.join(second, middle)


def present(values: Any) -> pa.Array:
    """Not null and not empty (Python truthiness of a string)."""
    return pc.fill_null(pc.not_equal(values, ""), False)


def text(values: Any) -> pa.Array:
    """``value.strip() or None``: stripped as str.strip() does, blank to null."""
    trimmed = pc.utf8_trim(values, PY_WHITESPACE)
    return pc.if_else(pc.equal(trimmed, ""), _NO_TEXT, trimmed)


def case(values: Any, change: Any) -> pa.Array:
    """``value.upper()``/``.lower()`` of an ASCII value, blank to null (not stripped)."""
    return pc.if_else(present(values), change(values), _NO_TEXT)


def money(values: Any) -> tuple[pa.Array, pa.Array]:
    """Decimal amounts of the plain decimal strings, and where another form needs the reference."""
    plain = pc.fill_null(pc.match_substring_regex(values, PRICE), False)
    amounts = pc.cast(pc.if_else(plain, values, _NO_TEXT), MONEY)
    return amounts, pc.and_(present(values), pc.invert(plain))


def utc_times(values: Any, pattern: str) -> tuple[pa.Array, pa.Array]:
    """UTC timestamps of the values matching ``pattern``, and where another form needs the
    reference. A pattern allows ``YYYY-MM-DDTHH:MM:SS``, then at most a fraction of up to six
    digits (``.123``) and a ``Z``: the forms ``datetime.fromisoformat`` reads as this does.
    Each distinct text is parsed once (a catalog's timestamps repeat a lot)."""
    encoded = pc.dictionary_encode(values)
    if isinstance(encoded, pa.ChunkedArray):
        encoded = encoded.combine_chunks()
    parsed, bad = _utc_times(encoded.dictionary, pattern)
    return pc.take(parsed, encoded.indices), pc.fill_null(pc.take(bad, encoded.indices), False)


def _utc_times(values: pa.Array, pattern: str) -> tuple[pa.Array, pa.Array]:
    plain = pc.fill_null(pc.match_substring_regex(values, pattern), False)
    chosen = pc.if_else(plain, values, _NO_TEXT)
    parsed = pc.strptime(pc.utf8_slice_codeunits(chosen, 0, 19), _SECONDS, "us", error_is_null=True)
    fraction = pc.replace_substring_regex(chosen, r"^.{19}\.?([0-9]*).*$", r"\1")
    micros = pc.cast(pc.utf8_rpad(fraction, 6, "0"), pa.int64())
    parsed = pc.add(parsed, pc.cast(micros, pa.duration("us")))
    # strptime rolls 30 February over to 2 March: a day that does not read back is not one.
    day = pc.cast(pc.utf8_slice_codeunits(chosen, 8, 10), pa.int64())
    exact = pc.fill_null(pc.equal(pc.day(parsed), day), False)
    return parsed.cast(TIMESTAMP), pc.and_(present(values), pc.invert(exact))


def records_in(parents: pa.Array, count: int) -> pa.Array:
    """A boolean per record: is its index among ``parents``."""
    found = pc.unique(parents).cast(pa.int64())
    return pc.is_in(pa.array(range(count), pa.int64()), value_set=found)


def keep_in_lists(lists: pa.Array, values: pa.Array, keep: pa.Array) -> pa.Array:
    """Per list of ``lists``, its ``values`` (one per element of ``list_flatten``) that ``keep``
    marks; a list left empty (or null) to null."""
    return lists_of(values.filter(keep), pc.list_parent_indices(lists).filter(keep), len(lists))


def lists_of(values: pa.Array, parents: pa.Array, count: int) -> pa.Array:
    """``count`` lists: list ``i`` holds the ``values`` whose parent is ``i`` (``parents`` in
    ascending order), null when none."""
    sizes = group_sizes(parents, count)
    offsets = pa.concat_arrays([pa.array([0], pa.int64()), pc.cumulative_sum(sizes)])
    return pa.ListArray.from_arrays(offsets.cast(pa.int32()), values, mask=pc.equal(sizes, 0))


def group_sizes(parents: pa.Array, count: int) -> pa.Array:
    """How many of ``parents`` (ascending) name each of ``count`` records."""
    counts = pc.value_counts(parents)
    sizes = pa.array([0] * count, pa.int64())
    if not len(counts):
        return sizes
    found = records_in(counts.field("values"), count)
    return pc.replace_with_mask(sizes, found, counts.field("counts").cast(pa.int64()))


def holding(raws: list[dict[str, Any]], path: tuple[str | int, ...], kind: type) -> pa.Array:
    """A boolean per record: is its value at ``path`` (keys, and list positions) a ``kind``.

    Arrow converts a few values the reference reads otherwise without complaint (a string
    where a list of strings is read becomes its characters, ``true`` where a number is read
    becomes 1.0): a batch normalizer leaves such records to the reference.
    """
    return pa.array([isinstance(_dig(raw, path), kind) for raw in raws], pa.bool_())


def _dig(value: Any, path: tuple[str | int, ...]) -> Any:
    for step in path:
        if isinstance(step, int):
            value = value[step] if isinstance(value, list) and len(value) > step else None
        else:
            value = value.get(step) if isinstance(value, dict) else None
    return value
